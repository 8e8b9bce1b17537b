/*
 * The builder: turns hotssl__inputs into a complete, validated generation
 * (certificate chain, private key, CA chain, CRL set, its own seeded
 * CTR-DRBG, and the mbedtls_ssl_config that points to all of them), applying
 * PostgreSQL's checks. Parsed objects are shared, reference-counted, with the
 * previous generation when their bytes are identical, so a rotation of the
 * certificate alone does not re-parse a large CA bundle or CRL, and an
 * unchanged encrypted key needs no passphrase at reload.
 *
 * Every failure frees what was built and leaves nothing behind; the caller
 * (the manager, under its reload lock) decides whether it is fatal (start) or
 * logged (reload). A generation is immutable once built, except for its DRBG.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/bignum.h>
#include <mbedtls/dhm.h>
#include <mbedtls/ecp.h>
#include <mbedtls/asn1.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
#  include <psa/crypto.h>
#endif

#include "../os/os.h"
#include "generation.h"
#include "log.h"
#include "pkcs8.h"
#include "revocation.h"
#include "tls_settings.h"
#include "util.h"

#ifndef MBEDTLS_PRIVATE
#  define MBEDTLS_PRIVATE(member) member
#endif

enum { KIND_CRT = 0, KIND_PK = 1, KIND_CRL = 2 };

static hotssl__shared *shared_new(int kind, const unsigned char fp[32]) {
  hotssl__shared *o = calloc(1, sizeof *o);
  if (o == NULL)
    return NULL;
  atomic_init(&o->refs, 1);
  o->kind = kind;
  memcpy(o->fp, fp, 32);
  switch (kind) {
  case KIND_CRT:
    mbedtls_x509_crt_init(&o->u.crt);
    break;
  case KIND_PK:
    mbedtls_pk_init(&o->u.pk);
    break;
  default:
    mbedtls_x509_crl_init(&o->u.crl);
    break;
  }
  return o;
}

static hotssl__shared *shared_ref(hotssl__shared *o) {
  atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
  return o;
}

void hotssl__shared_release(hotssl__shared *o) {
  if (o == NULL)
    return;
  if (atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1)
    return;
  switch (o->kind) {
  case KIND_CRT:
    mbedtls_x509_crt_free(&o->u.crt);
    break;
  case KIND_PK:
    mbedtls_pk_free(&o->u.pk); /* zeroizes the key */
    break;
  default:
    mbedtls_x509_crl_free(&o->u.crl);
    hotssl__revocation_free(o->revocation);
    break;
  }
  mbedtls_platform_zeroize(o, sizeof *o);
  free(o);
}

/* The previous generation's object if its bytes were the same. */
static hotssl__shared *reuse(hotssl__shared *prev, const unsigned char fp[32]) {
  if (prev != NULL && memcmp(prev->fp, fp, 32) == 0)
    return shared_ref(prev);
  return NULL;
}

/* The same, also looking at the manager's recently replaced objects. */
static hotssl__shared *reuse_any(hotssl__shared *prev, const hotssl__inputs *in, int kind,
                                 const unsigned char fp[32]) {
  hotssl__shared *o = reuse(prev, fp);
  size_t i;
  for (i = 0; o == NULL && i < in->n_recent; i++)
    if (in->recent[i] != NULL && in->recent[i]->kind == kind)
      o = reuse(in->recent[i], fp);
  return o;
}

/* The loader skips reading a file only when its parsed object is reused
 * (core/inputs.c); one that reaches a parser unread is a bug, refused. */
static int unread(const hotssl__blob *b, const char *what, char *errbuf, size_t errlen) {
  if (b->data != NULL)
    return 0;
  hotssl__fmt(errbuf, errlen, "could not load %s \"%s\": internal error: file was not read", what,
              b->path != NULL ? b->path : "");
  return 1;
}

static int looks_pem(const hotssl__blob *b) {
  return strstr((const char *)b->data, "-----BEGIN ") != NULL;
}

static size_t count_of(const char *s, const char *needle) {
  size_t n = 0;
  while ((s = strstr(s, needle)) != NULL) {
    n++;
    s += strlen(needle);
  }
  return n;
}

/* What kind of file a PEM label says it is. */
static const char *pem_kind(const hotssl__blob *b) {
  const char *t = (const char *)b->data;
  if (strstr(t, "-----BEGIN X509 CRL-----") != NULL)
    return "crl";
  if (strstr(t, "-----BEGIN CERTIFICATE REQUEST-----") != NULL ||
      strstr(t, "-----BEGIN NEW CERTIFICATE REQUEST-----") != NULL)
    return "csr";
  if (strstr(t, "-----BEGIN CERTIFICATE-----") != NULL ||
      strstr(t, "-----BEGIN TRUSTED CERTIFICATE-----") != NULL)
    return "crt";
  if (strstr(t, "PRIVATE KEY-----") != NULL)
    return "key";
  if (strstr(t, "-----BEGIN PUBLIC KEY-----") != NULL)
    return "pub";
  if (strstr(t, "-----BEGIN DH PARAMETERS-----") != NULL)
    return "dh";
  if (strstr(t, "-----BEGIN X9.42 DH PARAMETERS-----") != NULL)
    return "x942";
  return looks_pem(b) ? "other" : NULL;
}

/* A DER SEQUENCE whose length says more bytes than the file has. */
static int der_truncated(const hotssl__blob *b) {
  unsigned char *p = b->data + 1;
  size_t len;
  return mbedtls_asn1_get_len(&p, b->data + b->len, &len) == MBEDTLS_ERR_ASN1_OUT_OF_DATA;
}

/*
 * A parse failure of b, which should hold `want` ("crt", "key", "crl" or
 * "dh"), said in the user's words, with mbedTLS's text and code in
 * parentheses: "this is a private key, not a certificate (X509 - ... (-0x2180))".
 */
static void parse_error_text(char *buf, size_t len, const hotssl__blob *b, const char *want, int ret) {
  static const struct { const char *kind, *name, *noun; } names[] = {
      {"crt", "a certificate", "certificate"}, {"key", "a private key", "private key"},
      {"crl", "a certificate revocation list", "CRL"}, {"dh", "DH parameters", "DH parameters"},
      {"csr", "a certificate signing request", NULL}, {"pub", "a public key", NULL},
      {"x942", "X9.42 DH parameters (mbedTLS reads PKCS#3 \"DH PARAMETERS\" only)", NULL}};
  const char *kind = pem_kind(b), *want_name = "", *noun = "", *is_name = NULL;
  char t[300], why[200];
  size_t i;
  hotssl__mbedtls_err(t, sizeof t, ret);
  for (i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (strcmp(names[i].kind, want) == 0) {
      want_name = names[i].name;
      noun = names[i].noun;
    }
    if (kind != NULL && strcmp(names[i].kind, kind) == 0)
      is_name = names[i].name;
  }
  if (kind != NULL && strcmp(kind, want) != 0 && is_name != NULL)
    hotssl__fmt(why, sizeof why, "this is %s, not %s", is_name, want_name);
  else if (kind != NULL && strcmp(kind, want) == 0)
    hotssl__fmt(why, sizeof why, "the PEM block does not hold valid %s data (damaged base64 or DER inside)", noun);
  else if (kind != NULL)
    hotssl__fmt(why, sizeof why, "no PEM %s found (the file holds other PEM blocks)", noun);
  else if (b->len > 0 && b->data[0] == 0x30 && der_truncated(b))
    hotssl__fmt(why, sizeof why, "DER data is truncated");
  else if (b->len > 0 && b->data[0] == 0x30)
    hotssl__fmt(why, sizeof why, "the DER data is not %s", want_name);
  else
    hotssl__fmt(why, sizeof why, "no PEM %s found, and the file is not DER either", noun);
  hotssl__fmt(buf, len, "%s (%s)", why, t);
}

/* A PEM block cut short (a half-written file) gets its own clear reason. */
static int truncated_pem(const hotssl__blob *b, const char *what, char *errbuf, size_t errlen) {
  const char *t = (const char *)b->data;
  if (!looks_pem(b) || count_of(t, "-----BEGIN ") == count_of(t, "-----END "))
    return 0;
  hotssl__fmt(errbuf, errlen, "could not load %s \"%s\": truncated PEM (a BEGIN line without its END line)",
              what, b->path);
  return 1;
}

/* Strict chain parse: every certificate must parse (mbedTLS returns a
 * positive count of failures and keeps the rest). */
/* A snapshot's DER list (hotssl__blob.der_list), each certificate parsed as
 * DER. */
static int parse_der_list(mbedtls_x509_crt *crt, const hotssl__blob *b, const char *what,
                          char *errbuf, size_t errlen) {
  size_t off = 0;
  while (off < b->len) {
    const unsigned char *p = b->data + off;
    size_t n;
    int ret;
    char t[300];
    if (b->len - off < 4 ||
        (n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3]) > b->len - off - 4) {
      hotssl__fmt(errbuf, errlen, "could not load %s \"%s\": malformed certificate list", what, b->path);
      return -1;
    }
    if ((ret = mbedtls_x509_crt_parse_der(crt, p + 4, n)) != 0) {
      parse_error_text(t, sizeof t, b, "crt", ret);
      hotssl__fmt(errbuf, errlen, "could not load %s \"%s\": %s", what, b->path, t);
      return -1;
    }
    off += 4 + n;
  }
  return 0;
}

static int parse_crt_file(mbedtls_x509_crt *crt, const hotssl__blob *b,
                          const char *what, char *errbuf, size_t errlen) {
  int ret;
  char t[300];
  if (unread(b, what, errbuf, errlen))
    return -1;
  if (b->der_list && b->len > 0)
    return parse_der_list(crt, b, what, errbuf, errlen);
  if (b->len == 0) {
    hotssl__fmt(errbuf, errlen, "could not load %s \"%s\": file is empty", what, b->path);
    return -1;
  }
  if (truncated_pem(b, what, errbuf, errlen))
    return -1;
  ret = mbedtls_x509_crt_parse(crt, b->data, looks_pem(b) ? b->len + 1 : b->len);
  if (ret < 0) {
    parse_error_text(t, sizeof t, b, "crt", ret);
    hotssl__fmt(errbuf, errlen, "could not load %s \"%s\": %s", what, b->path, t);
    return -1;
  }
  if (ret > 0) {
    hotssl__fmt(errbuf, errlen,
                "could not load %s \"%s\": %d certificate(s) in the file could not be parsed",
                what, b->path, ret);
    return -1;
  }
  if (crt->raw.p == NULL) {
    hotssl__fmt(errbuf, errlen, "could not load %s \"%s\": no certificate found", what, b->path);
    return -1;
  }
  return 0;
}

static int pk_parse(mbedtls_pk_context *pk, const unsigned char *data, size_t len,
                    const unsigned char *pwd, size_t pwdlen, mbedtls_ctr_drbg_context *drbg) {
#if HOTSSL__MBEDTLS3
  return mbedtls_pk_parse_key(pk, data, len, pwd, pwdlen, mbedtls_ctr_drbg_random, drbg);
#else
  (void)drbg;
  return mbedtls_pk_parse_key(pk, data, len, pwd, pwdlen);
#endif
}

/* Replace %p with the prompt and %% with %, as PostgreSQL does. */
static char *expand_command(const char *cmd, const char *prompt) {
  size_t n = 1, pl = strlen(prompt);
  const char *p;
  char *out, *w;
  for (p = cmd; *p; p++)
    n += (p[0] == '%' && p[1] == 'p') ? pl : 1;
  if ((out = malloc(n)) == NULL)
    return NULL;
  for (p = cmd, w = out; *p; p++) {
    if (p[0] == '%' && p[1] == 'p') {
      memcpy(w, prompt, pl);
      w += pl;
      p++;
    } else if (p[0] == '%' && p[1] == '%') {
      *w++ = '%';
      p++;
    } else {
      *w++ = *p;
    }
  }
  *w = '\0';
  return out;
}


/* After mbedTLS decrypted a key with the passphrase, an error from the key
 * decoder means the passphrase was wrong: legacy PEM encryption and PBES1
 * check only the CBC padding, which a wrong passphrase passes about once in
 * 256 tries, and the garbage then fails as DER (an ASN.1 or key error). Errors
 * of the PEM layer (the file itself), a missing feature, an unknown algorithm
 * and memory keep their own text. */
static int decrypted_garbage(int ret) {
  int high = -((-ret) & 0xFF80);
  if (ret >= 0)
    return 0;
  if (high <= MBEDTLS_ERR_PEM_NO_HEADER_FOOTER_PRESENT && high >= MBEDTLS_ERR_PEM_BAD_INPUT_DATA)
    return 0;
  switch (high) {
  case MBEDTLS_ERR_PK_ALLOC_FAILED:
  case MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE:
  case MBEDTLS_ERR_PK_UNKNOWN_PK_ALG:
    return 0;
  default:
    break;
  }
  return -((-ret) & 0x7F) != MBEDTLS_ERR_ASN1_ALLOC_FAILED;
}

static int load_key(mbedtls_pk_context *pk, hotssl__inputs *in, int is_reload,
                    mbedtls_ctr_drbg_context *drbg, char *errbuf, size_t errlen) {
  const hotssl__blob *b = &in->key;
  size_t len;
  unsigned char *p8 = NULL, *plain = NULL;
  size_t p8len = 0, plainlen = 0;
  char *pass = NULL, *cmd = NULL;
  char t[300];
  int ret, r, encrypted_pkcs8 = 0;

  if (unread(b, "private key file", errbuf, errlen))
    return HOTSSL_EKEY;
  len = looks_pem(b) ? b->len + 1 : b->len;
  if (b->len == 0) {
    hotssl__fmt(errbuf, errlen, "could not load private key file \"%s\": file is empty", b->path);
    return HOTSSL_EKEY;
  }
  if (truncated_pem(b, "private key file", errbuf, errlen))
    return HOTSSL_EKEY;
  ret = hotssl__pkcs8_pem_extract((const char *)b->data, b->len, &p8, &p8len);
  if (ret < 0) {
    hotssl__fmt(errbuf, errlen, "could not load private key file \"%s\": %s", b->path,
                ret == HOTSSL__PKCS8_NOMEM ? "out of memory" : "malformed PEM block");
    return ret == HOTSSL__PKCS8_NOMEM ? HOTSSL_ENOMEM : HOTSSL_EKEY;
  }
  encrypted_pkcs8 = ret == 1;
  /* Bounded work: a password-based key's iteration count and estimated
   * derivation time are checked here, before the passphrase command runs and
   * before any decoder (ours or mbedTLS's, which has no limit) derives. */
  if ((encrypted_pkcs8 || !looks_pem(b)) &&
      hotssl__pkcs8_cost_check(encrypted_pkcs8 ? p8 : b->data, encrypted_pkcs8 ? p8len : b->len,
                               HOTSSL__PKCS8_BUDGET_MS, t, sizeof t) != HOTSSL__PKCS8_OK) {
    hotssl__fmt(errbuf, errlen, "could not load private key file \"%s\": %s", b->path, t);
    r = HOTSSL_EKEY;
    goto out;
  }
  if (!encrypted_pkcs8) {
    ret = pk_parse(pk, b->data, len, NULL, 0, drbg);
    if (ret == 0)
      return 0;
    if (ret != MBEDTLS_ERR_PK_PASSWORD_REQUIRED) {
      parse_error_text(t, sizeof t, b, "key", ret);
      hotssl__fmt(errbuf, errlen, "could not load private key file \"%s\": %s", b->path, t);
      return HOTSSL_EKEY;
    }
  }
  /* The key is encrypted. */
  if (in->s.passphrase_command == NULL) {
    hotssl__fmt(errbuf, errlen,
                "private key file \"%s\" cannot be %s because it requires a passphrase and ssl_passphrase_command is not set",
                b->path, is_reload ? "reloaded" : "loaded");
    r = HOTSSL_EPASSPHRASE;
    goto out;
  }
  if (is_reload && !in->s.passphrase_supports_reload) {
    hotssl__fmt(errbuf, errlen,
                "private key file \"%s\" cannot be reloaded because it requires a passphrase (ssl_passphrase_command_supports_reload is off)",
                b->path);
    r = HOTSSL_EPASSPHRASE;
    goto out;
  }
  if ((cmd = expand_command(in->s.passphrase_command, "Enter PEM pass phrase:")) == NULL) {
    r = HOTSSL_ENOMEM;
    goto out;
  }
  r = hotssl__run_passphrase_command(cmd, in->s.passphrase_timeout_ms, in->spawn_lock, &pass,
                                     t, sizeof t);
  if (r != 0) {
    hotssl__fmt(errbuf, errlen, "could not load private key file \"%s\": ssl_passphrase_command: %s",
                b->path, t);
    goto out;
  }
  if (encrypted_pkcs8 || !looks_pem(b)) {
    /* PEM "ENCRYPTED PRIVATE KEY", or DER that may be an EncryptedPrivateKeyInfo. */
    ret = hotssl__pkcs8_decrypt(encrypted_pkcs8 ? p8 : b->data, encrypted_pkcs8 ? p8len : b->len,
                                (const unsigned char *)pass, strlen(pass),
                                &plain, &plainlen, t, sizeof t);
    if (ret == HOTSSL__PKCS8_OK) {
      ret = pk_parse(pk, plain, plainlen, NULL, 0, drbg);
      if (ret != 0) {
        hotssl__fmt(errbuf, errlen, "could not load private key file \"%s\": wrong passphrase", b->path);
        r = HOTSSL_EPASSPHRASE;
        goto out;
      }
      r = 0;
      goto out;
    }
    if (ret == HOTSSL__PKCS8_BAD_PASSWORD) {
      hotssl__fmt(errbuf, errlen, "could not load private key file \"%s\": wrong passphrase", b->path);
      r = HOTSSL_EPASSPHRASE;
      goto out;
    }
    if (encrypted_pkcs8 && ret != HOTSSL__PKCS8_NOT_PBES2 && ret != HOTSSL__PKCS8_UNSUPPORTED) {
      hotssl__fmt(errbuf, errlen, "could not load private key file \"%s\": %s",
                  b->path, ret == HOTSSL__PKCS8_NOMEM ? "out of memory" : t);
      r = ret == HOTSSL__PKCS8_NOMEM ? HOTSSL_ENOMEM : HOTSSL_EKEY;
      goto out;
    }
    /* PBES1 / PKCS#12 schemes: mbedTLS handles those itself. */
  }
  ret = pk_parse(pk, b->data, len, (const unsigned char *)pass, strlen(pass), drbg);
  if (ret == 0) {
    r = 0;
  } else if (ret == MBEDTLS_ERR_PK_PASSWORD_MISMATCH || decrypted_garbage(ret)) {
    hotssl__fmt(errbuf, errlen, "could not load private key file \"%s\": wrong passphrase", b->path);
    r = HOTSSL_EPASSPHRASE;
  } else {
    hotssl__mbedtls_err(t, sizeof t, ret);
    hotssl__fmt(errbuf, errlen, "could not load private key file \"%s\": %s", b->path, t);
    r = HOTSSL_EKEY;
  }
out:
  if (p8 != NULL) {
    mbedtls_platform_zeroize(p8, p8len);
    free(p8);
  }
  if (plain != NULL) {
    mbedtls_platform_zeroize(plain, plainlen);
    free(plain);
  }
  hotssl__secret_free(pass);
  hotssl__secret_free(cmd);
  return r;
}

static int crt_is_ca(const mbedtls_x509_crt *c) {
#if HOTSSL__MBEDTLS3
  if (mbedtls_x509_crt_get_ca_istrue(c) == 1)
    return 1;
#else
  if (c->ca_istrue)
    return 1;
#endif
  /* A v1 self-signed root has no basicConstraints. */
  return c->version == 1 && c->subject_raw.len == c->issuer_raw.len &&
         memcmp(c->subject_raw.p, c->issuer_raw.p, c->subject_raw.len) == 0;
}

/* A CRL issued by a CA of the CA file must verify with its key: refuse it at
 * load otherwise. A CRL whose issuer is not in the CA file is kept: it
 * belongs to an intermediate that clients send, and its signature is checked
 * against that intermediate at the first handshake that presents it
 * (core/revocation.c), as PostgreSQL (OpenSSL) checks it. */
static int check_crl(const mbedtls_x509_crl *crl, const mbedtls_x509_crt *ca,
                     const char *path, char *errbuf, size_t errlen) {
  const mbedtls_x509_crt *c;
  unsigned char hash[MBEDTLS_MD_MAX_SIZE];
  const mbedtls_md_info_t *md = mbedtls_md_info_from_type(crl->MBEDTLS_PRIVATE(sig_md));
  char t[300];
  int ret, named = 0;

  if (md == NULL || mbedtls_md(md, crl->tbs.p, crl->tbs.len, hash) != 0) {
    hotssl__fmt(errbuf, errlen,
                "could not load SSL certificate revocation list file \"%s\": unsupported signature algorithm", path);
    return HOTSSL_ECRL;
  }
  for (c = ca; c != NULL && c->raw.p != NULL; c = c->next) {
    if ((c->subject_raw.len != crl->issuer_raw.len ||
         memcmp(c->subject_raw.p, crl->issuer_raw.p, crl->issuer_raw.len) != 0) &&
        !hotssl__name_equal(&c->subject, &crl->issuer))
      continue;
    named = 1;
    ret = mbedtls_pk_verify_ext(crl->MBEDTLS_PRIVATE(sig_pk), crl->MBEDTLS_PRIVATE(sig_opts),
                                (mbedtls_pk_context *)&c->pk, crl->MBEDTLS_PRIVATE(sig_md),
                                hash, mbedtls_md_get_size(md), crl->MBEDTLS_PRIVATE(sig).p,
                                crl->MBEDTLS_PRIVATE(sig).len);
    if (ret == 0)
      return 0;
  }
  if (!named)
    return 0;
  mbedtls_x509_dn_gets(t, sizeof t, &crl->issuer);
  hotssl__fmt(errbuf, errlen,
              "could not load SSL certificate revocation list file \"%s\": its signature does not verify with the key of its issuer in ssl_ca_file (issuer: %s)",
              path, t);
  return HOTSSL_ECRL;
}

static int parse_crl_blob(mbedtls_x509_crl *crl, const hotssl__blob *b,
                          const mbedtls_x509_crt *ca, char *errbuf, size_t errlen) {
  mbedtls_x509_crl *last = NULL, *c;
  char t[300];
  int ret;
  if (unread(b, "SSL certificate revocation list file", errbuf, errlen))
    return HOTSSL_ECRL;
  if (b->len == 0) {
    hotssl__fmt(errbuf, errlen,
                "could not load SSL certificate revocation list file \"%s\": file is empty", b->path);
    return HOTSSL_ECRL;
  }
  if (truncated_pem(b, "SSL certificate revocation list file", errbuf, errlen))
    return HOTSSL_ECRL;
  /* Remember where this file's CRLs start in the chain. */
  for (c = crl; c != NULL && c->raw.p != NULL; c = c->next)
    last = c;
  ret = mbedtls_x509_crl_parse(crl, b->data, looks_pem(b) ? b->len + 1 : b->len);
  if (ret != 0) {
    parse_error_text(t, sizeof t, b, "crl", ret);
    hotssl__fmt(errbuf, errlen, "could not load SSL certificate revocation list file \"%s\": %s",
                b->path, t);
    return HOTSSL_ECRL;
  }
  for (c = last != NULL ? last->next : crl; c != NULL && c->raw.p != NULL; c = c->next) {
    if ((ret = check_crl(c, ca, b->path, errbuf, errlen)) != 0)
      return ret;
  }
  return 0;
}

static void time_str(char *buf, size_t len, const mbedtls_x509_time *t) {
  hotssl__fmt(buf, len, "%04d-%02d-%02d %02d:%02d:%02d", t->year, t->mon, t->day,
              t->hour, t->min, t->sec);
}

static void fill_cert_info(hotssl_stats *st, const mbedtls_x509_crt *c) {
  unsigned char h[32];
  size_t i, start = 0, off = 0;
  mbedtls_x509_dn_gets(st->subject, sizeof st->subject, &c->subject);
  mbedtls_x509_dn_gets(st->issuer, sizeof st->issuer, &c->issuer);
  while (start + 1 < c->serial.len && c->serial.p[start] == 0)
    start++;
  for (i = start; i < c->serial.len && off + 3 < sizeof st->serial; i++)
    off += (size_t)snprintf(st->serial + off, sizeof st->serial - off, "%02X", c->serial.p[i]);
  time_str(st->not_before, sizeof st->not_before, &c->valid_from);
  time_str(st->not_after, sizeof st->not_after, &c->valid_to);
  st->not_after_unix = hotssl__x509_time_unix(&c->valid_to);
  hotssl__sha256(c->raw.p, c->raw.len, h);
  for (i = 0, off = 0; i < 32; i++)
    off += (size_t)snprintf(st->sha256 + off, sizeof st->sha256 - off, i ? ":%02X" : "%02X", h[i]);
  st->not_before_unix = hotssl__x509_time_unix(&c->valid_from);
  hotssl__fmt(st->key_type, sizeof st->key_type, "%s", mbedtls_pk_get_name(&c->pk));
  st->key_bits = (unsigned)mbedtls_pk_get_bitlen(&c->pk);
}

static unsigned count_crts(const mbedtls_x509_crt *c) {
  unsigned n = 0;
  for (; c != NULL && c->raw.p != NULL; c = c->next)
    n++;
  return n;
}

/* Entries and earliest next update of a parsed CRL set, into o (once, when
 * it is parsed: walking 100,000 entries at every rotation would cost more
 * than the rest of the reload). */
static void count_crls(hotssl__shared *o) {
  const mbedtls_x509_crl *c;
  o->crl_entries = 0;
  o->crl_next_update = 0;
  for (c = &o->u.crl; c != NULL && c->raw.p != NULL; c = c->next) {
    const mbedtls_x509_crl_entry *e;
    /* An absent next update counts as already past, as mbedTLS sees it. */
    int64_t nu = c->next_update.year == 0 ? 1 : hotssl__x509_time_unix(&c->next_update);
    for (e = &c->entry; e != NULL && e->raw.p != NULL; e = e->next)
      o->crl_entries++;
    if (o->crl_next_update == 0 || nu < o->crl_next_update)
      o->crl_next_update = nu;
  }
}

/* The CRL set of in into o: from the files (parsed, each CRL's signature
 * checked against ca, then the revocation table built), or a spawn
 * snapshot's table (built, and its CRLs' signatures checked, by the parent
 * against this same CA list: taken as is). */
static int crl_set_build(hotssl__shared *o, hotssl__inputs *in, const mbedtls_x509_crt *ca,
                         char *errbuf, size_t errlen) {
  size_t i;
  int r;
  if (in->rev != NULL) {
    if (in->rev->n_ca != count_crts(ca)) {
      hotssl__fmt(errbuf, errlen, "the revocation table does not match ssl_ca_file");
      return HOTSSL_ECRL;
    }
    o->revocation = in->rev;
    in->rev = NULL;
    o->crl_entries = in->crl_entries;
    o->crl_next_update = in->crl_next_update;
    return 0;
  }
  if (HOTSSL__BLOB_SET(in->crl) && (r = parse_crl_blob(&o->u.crl, &in->crl, ca, errbuf, errlen)) != 0)
    return r;
  for (i = 0; i < in->n_crl_dir_files; i++)
    if ((r = parse_crl_blob(&o->u.crl, &in->crl_dir_files[i], ca, errbuf, errlen)) != 0)
      return r;
  /* The profile is the one mbedtls_ssl_config_defaults sets below. */
  r = hotssl__revocation_build(&o->revocation, &o->u.crl, ca, &mbedtls_x509_crt_profile_default);
  if (r != 0) {
    hotssl__fmt(errbuf, errlen, "could not build the revocation table of the CRL set: %s",
                hotssl_strerror(r));
    return r;
  }
  count_crls(o);
  /* The table (with each CRL's digest and signature) answers every question
   * of the verifier and the snapshot: the parsed CRLs and their DER copies
   * (about 100 bytes + malloc overhead per entry) go, unless the walk is
   * wanted (tests, bench). */
  if (!in->s.keep_crl_walk) {
    mbedtls_x509_crl_free(&o->u.crl);
    mbedtls_x509_crl_init(&o->u.crl);
  }
  return 0;
}

/* Facts about the CA file and CRL set, for the stats. */
static void fill_set_info(hotssl_stats *st, const hotssl_generation *g) {
  st->chain_length = count_crts(&g->cert->u.crt);
  st->ca_count = g->ca != NULL ? count_crts(&g->ca->u.crt) : 0;
  st->crl_entries = g->crl != NULL ? g->crl->crl_entries : 0;
  st->crl_next_update_unix = g->crl != NULL ? g->crl->crl_next_update : 0;
}

/* Problems that do not depend on the time: a weak key, a chain whose
 * certificates after the leaf did not issue the one before them. */
static unsigned static_warnings(const mbedtls_x509_crt *chain, const char *path,
                                const hotssl__log *log) {
  const mbedtls_x509_crt *c;
  unsigned w = 0, i;
  size_t bits = mbedtls_pk_get_bitlen(&chain->pk);
  mbedtls_pk_type_t type = mbedtls_pk_get_type(&chain->pk);
  if (((type == MBEDTLS_PK_RSA || type == MBEDTLS_PK_RSASSA_PSS) && bits < 2048) ||
      ((type == MBEDTLS_PK_ECKEY || type == MBEDTLS_PK_ECDSA) && bits < 224)) {
    w |= HOTSSL_WARN_WEAK_KEY;
    hotssl__logf(log, HOTSSL_LOG_WARNING,
                 "server certificate file \"%s\": weak key (%s, %u bits; use RSA 2048 or EC 256 and up)",
                 path, mbedtls_pk_get_name(&chain->pk), (unsigned)bits);
  }
  for (c = chain, i = 1; c->next != NULL && c->next->raw.p != NULL; c = c->next, i++) {
    const mbedtls_x509_crt *up = c->next;
    if (c->issuer_raw.len != up->subject_raw.len ||
        memcmp(c->issuer_raw.p, up->subject_raw.p, c->issuer_raw.len) != 0 || !crt_is_ca(up)) {
      char subj[256];
      mbedtls_x509_dn_gets(subj, sizeof subj, &up->subject);
      w |= HOTSSL_WARN_CHAIN;
      hotssl__logf(log, HOTSSL_LOG_WARNING,
                   "server certificate file \"%s\": the chain does not lead to a CA: certificate %u (\"%s\") %s certificate %u",
                   path, i + 1, subj, crt_is_ca(up) ? "did not issue" : "is not a CA certificate, so cannot have issued",
                   i);
      break;
    }
  }
  return w;
}

unsigned hotssl__generation_time_warnings_one(const hotssl_generation *g, int64_t now,
                                              const hotssl__log *log) {
  const hotssl_stats *st = &g->cert_info;
  int64_t window = (int64_t)st->expiry_warning_days * 86400;
  unsigned w = 0;
  if (now > st->not_after_unix) {
    w |= HOTSSL_WARN_EXPIRED;
  } else if (now < st->not_before_unix) {
    w |= HOTSSL_WARN_NOT_YET_VALID;
  } else if (window > 0 && st->not_after_unix - now <= window) {
    int64_t left = st->not_after_unix - now;
    w |= HOTSSL_WARN_EXPIRING;
    hotssl__logf(log, HOTSSL_LOG_WARNING,
                 "server certificate (subject \"%s\", serial %s) expires in %lld day(s) %lld hour(s), on %s UTC (hotssl_expiry_warning_days = %u)",
                 st->subject, st->serial, (long long)(left / 86400), (long long)(left % 86400 / 3600),
                 st->not_after, st->expiry_warning_days);
  }
  if (g->crl != NULL && st->crl_next_update_unix != 0 &&
      (now > st->crl_next_update_unix || (window > 0 && st->crl_next_update_unix - now <= window))) {
    w |= HOTSSL_WARN_CRL_STALE;
    if (now > st->crl_next_update_unix)
      hotssl__logf(log, HOTSSL_LOG_WARNING,
                   "certificate revocation list is past its next update (%lld day(s) ago): install a fresh CRL",
                   (long long)((now - st->crl_next_update_unix) / 86400));
    else
      hotssl__logf(log, HOTSSL_LOG_WARNING,
                   "certificate revocation list's next update is in %lld day(s) %lld hour(s) (hotssl_expiry_warning_days = %u): install a fresh CRL by then",
                   (long long)((st->crl_next_update_unix - now) / 86400),
                   (long long)((st->crl_next_update_unix - now) % 86400 / 3600), st->expiry_warning_days);
  }
  return w;
}

/* ---- ssl_dh_params_file ---- */

#define DH_WHAT "DH parameters file"
#define DH_MIN_BITS 2048
#define DH_MAX_BITS 8192
/* Miller-Rabin rounds for p and again for (p-1)/2, each with random bases
 * after mbedTLS's trial division, by the size of p so that the whole check
 * stays within about two seconds at 8192 bits on a 2020s core (measured:
 * README, "DH parameters"). A composite passes with probability at most
 * 4^-rounds; one that was not built to fool the test (a wrong file, a
 * damaged one) passes with a probability far below that. The file is as
 * trusted as the private key: the check catches mistakes, as PostgreSQL's
 * DH_check does. */
static int dh_rounds(size_t bits) {
  return bits <= 2048 ? 32 : bits <= 3072 ? 16 : bits <= 4096 ? 8 : 2;
}

/* Groups whose primes are published and known safe (RFC 7919 FFDHE, and RFC
 * 3526 group 14, mbedTLS's and PostgreSQL's built-in default): their
 * parameters are compared, not tested, as OpenSSL's DH_check does for named
 * groups. */
static int dh_known_group(const mbedtls_mpi *P, const mbedtls_mpi *G) {
  static const unsigned char f2048[] = MBEDTLS_DHM_RFC7919_FFDHE2048_P_BIN,
                             f3072[] = MBEDTLS_DHM_RFC7919_FFDHE3072_P_BIN,
                             f4096[] = MBEDTLS_DHM_RFC7919_FFDHE4096_P_BIN,
                             f6144[] = MBEDTLS_DHM_RFC7919_FFDHE6144_P_BIN,
                             f8192[] = MBEDTLS_DHM_RFC7919_FFDHE8192_P_BIN,
                             m2048[] = MBEDTLS_DHM_RFC3526_MODP_2048_P_BIN;
  static const struct { const unsigned char *p; size_t len; } groups[] = {
      {f2048, sizeof f2048}, {f3072, sizeof f3072}, {f4096, sizeof f4096},
      {f6144, sizeof f6144}, {f8192, sizeof f8192}, {m2048, sizeof m2048}};
  unsigned char buf[DH_MAX_BITS / 8];
  size_t i, n = mbedtls_mpi_size(P);
  if (mbedtls_mpi_cmp_int(G, 2) != 0 || n > sizeof buf || mbedtls_mpi_write_binary(P, buf, n) != 0)
    return 0;
  for (i = 0; i < sizeof groups / sizeof groups[0]; i++)
    if (groups[i].len == n && memcmp(groups[i].p, buf, n) == 0)
      return 1;
  return 0;
}

/* PostgreSQL's checks (be-secure-openssl.c load_dh_file, OpenSSL's
 * DH_check): p prime, a safe prime, g a usable generator; plus a size
 * window. tested: run the primality tests (not when the same bytes were
 * tested already). A reason for "invalid DH parameters: %s", or NULL. */
static const char *dh_check(const mbedtls_mpi *P, const mbedtls_mpi *G, int tested,
                            mbedtls_ctr_drbg_context *drbg, char *why, size_t len, int *err) {
  size_t bits = mbedtls_mpi_bitlen(P);
  mbedtls_mpi Q, top;
  const char *r = NULL;
  int ret;
  *err = 0;
  if (bits < DH_MIN_BITS) {
    hotssl__fmt(why, len, "p is too small (%zu bits; at least %d are required)", bits, DH_MIN_BITS);
    return why;
  }
  if (bits > DH_MAX_BITS) {
    hotssl__fmt(why, len, "p is too large (%zu bits; at most %d are accepted, so that checking it takes bounded time)",
                bits, DH_MAX_BITS);
    return why;
  }
  mbedtls_mpi_init(&Q);
  mbedtls_mpi_init(&top);
  /* 2 <= g <= p - 2 */
  if ((ret = mbedtls_mpi_sub_int(&top, P, 2)) != 0)
    goto mpi_fail;
  if (mbedtls_mpi_cmp_int(G, 2) < 0 || mbedtls_mpi_cmp_mpi(G, &top) > 0) {
    r = "unsuitable generator (g must be between 2 and p - 2)";
    goto out;
  }
  if (!tested && !dh_known_group(P, G)) {
    ret = mbedtls_mpi_is_prime_ext(P, dh_rounds(bits), mbedtls_ctr_drbg_random, drbg);
    if (ret == MBEDTLS_ERR_MPI_NOT_ACCEPTABLE) {
      r = "p is not prime";
      goto out;
    }
    if (ret != 0 || (ret = mbedtls_mpi_copy(&Q, P)) != 0 || (ret = mbedtls_mpi_shift_r(&Q, 1)) != 0)
      goto mpi_fail;
    ret = mbedtls_mpi_is_prime_ext(&Q, dh_rounds(bits), mbedtls_ctr_drbg_random, drbg);
    if (ret == MBEDTLS_ERR_MPI_NOT_ACCEPTABLE) {
      r = "p is not a safe prime ((p - 1) / 2 is not prime)";
      goto out;
    }
    if (ret != 0)
      goto mpi_fail;
  }
  goto out;
mpi_fail:
  *err = ret;
  hotssl__mbedtls_err(why, len, ret);
  r = why;
out:
  mbedtls_mpi_free(&Q);
  mbedtls_mpi_free(&top);
  return r;
}

/* Parse and check the DH parameters of in->dh and give them to g's config
 * (TLS 1.2 DHE suites; TLS 1.3 in mbedTLS uses no finite-field group). The
 * generation keeps the bytes (a snapshot carries them). */
static int dh_apply(hotssl_generation *g, const hotssl__inputs *in, const hotssl_generation *prev,
                    char *errbuf, size_t errlen) {
  const hotssl__blob *b = &in->dh;
  mbedtls_dhm_context dhm;
  mbedtls_mpi P, G;
  char t[300], why[300];
  const char *bad;
  int ret, r = HOTSSL_EDH, mpi_err = 0;
  int tested = in->dh_checked ||
               (prev != NULL && prev->dh_bytes != NULL && memcmp(prev->dh_fp, in->fp_dh, 32) == 0);

  if (unread(b, DH_WHAT, errbuf, errlen))
    return HOTSSL_EDH;
  if (b->len == 0) {
    hotssl__fmt(errbuf, errlen, "could not load %s \"%s\": file is empty", DH_WHAT, b->path);
    return HOTSSL_EDH;
  }
  if (truncated_pem(b, DH_WHAT, errbuf, errlen))
    return HOTSSL_EDH;
  mbedtls_dhm_init(&dhm);
  mbedtls_mpi_init(&P);
  mbedtls_mpi_init(&G);
  ret = mbedtls_dhm_parse_dhm(&dhm, b->data, looks_pem(b) ? b->len + 1 : b->len);
  if (ret != 0) {
    parse_error_text(t, sizeof t, b, "dh", ret);
    hotssl__fmt(errbuf, errlen, "could not load %s \"%s\": %s", DH_WHAT, b->path, t);
    goto out;
  }
#if HOTSSL__MBEDTLS3
  if ((ret = mbedtls_dhm_get_value(&dhm, MBEDTLS_DHM_PARAM_P, &P)) != 0 ||
      (ret = mbedtls_dhm_get_value(&dhm, MBEDTLS_DHM_PARAM_G, &G)) != 0)
#else
  if ((ret = mbedtls_mpi_copy(&P, &dhm.P)) != 0 || (ret = mbedtls_mpi_copy(&G, &dhm.G)) != 0)
#endif
  {
    r = HOTSSL_ENOMEM;
    goto out;
  }
  if ((bad = dh_check(&P, &G, tested, &g->drbg, why, sizeof why, &mpi_err)) != NULL) {
    if (mpi_err == MBEDTLS_ERR_MPI_ALLOC_FAILED)
      r = HOTSSL_ENOMEM;
    hotssl__fmt(errbuf, errlen, "invalid DH parameters in %s \"%s\": %s", DH_WHAT, b->path, bad);
    goto out;
  }
  if ((ret = mbedtls_ssl_conf_dh_param_ctx(&g->conf, &dhm)) != 0) {
    hotssl__mbedtls_err(t, sizeof t, ret);
    hotssl__fmt(errbuf, errlen, "could not set DH parameters from %s \"%s\": %s", DH_WHAT, b->path, t);
    goto out;
  }
  if ((g->dh_bytes = malloc(b->len + 1)) == NULL) {
    r = HOTSSL_ENOMEM;
    goto out;
  }
  memcpy(g->dh_bytes, b->data, b->len);
  g->dh_bytes[b->len] = '\0';
  g->dh_len = b->len;
  memcpy(g->dh_fp, in->fp_dh, 32);
  g->dh_bits = (unsigned)mbedtls_mpi_bitlen(&P);
  r = 0;
out:
  mbedtls_mpi_free(&P);
  mbedtls_mpi_free(&G);
  mbedtls_dhm_free(&dhm);
  return r;
}

static int check_pair(const mbedtls_x509_crt *crt, const mbedtls_pk_context *key,
                      mbedtls_ctr_drbg_context *drbg) {
#if HOTSSL__MBEDTLS3
  return mbedtls_pk_check_pair(&crt->pk, key, mbedtls_ctr_drbg_random, drbg);
#else
  (void)drbg;
  return mbedtls_pk_check_pair(&crt->pk, key);
#endif
}

/* The group list the config points to (owned by the generation). */
static int set_groups(hotssl_generation *g, const uint16_t *ids) {
  size_t n = 0, i;
  while (ids[n] != 0)
    n++;
  if ((g->groups = calloc(n + 1, sizeof *g->groups)) == NULL)
    return HOTSSL_ENOMEM;
  for (i = 0; i < n; i++) {
#if HOTSSL__MBEDTLS3
    g->groups[i] = ids[i];
#else
    g->groups[i] = mbedtls_ecp_curve_info_from_tls_id(ids[i])->grp_id; /* checked by the config */
#endif
  }
#if HOTSSL__MBEDTLS3
  g->groups[n] = 0;
  mbedtls_ssl_conf_groups(&g->conf, g->groups);
#else
  g->groups[n] = MBEDTLS_ECP_DP_NONE;
  mbedtls_ssl_conf_curves(&g->conf, g->groups);
#endif
  return 0;
}

static void set_versions(mbedtls_ssl_config *conf, int min_minor, int max_minor) {
#if HOTSSL__MBEDTLS3
  mbedtls_ssl_conf_min_tls_version(conf, (mbedtls_ssl_protocol_version)(0x0300 | min_minor));
  mbedtls_ssl_conf_max_tls_version(conf, (mbedtls_ssl_protocol_version)(0x0300 | max_minor));
#else
  mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, min_minor);
  mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, max_minor);
#endif
}

/* TLS 1.3 (mbedTLS 3.x) draws its ECDHE key shares from PSA's one global
 * random generator, not from the generation's DRBG. 3.6.6 reseeds it by
 * itself when it sees a new pid; reseed it explicitly too (the same
 * personalization as the DRBG's), so a child never depends on that check.
 * Versions of 3.x before 3.6.6 are refused at build time (core/internal.h). */
static int reseed_psa(const char *pers, size_t n) {
#if HOTSSL__MBEDTLS3 && defined(MBEDTLS_PSA_CRYPTO_C) && !defined(MBEDTLS_PSA_CRYPTO_EXTERNAL_RNG)
  return psa_random_reseed((const uint8_t *)pers, n) == PSA_SUCCESS ? 0 : HOTSSL_ETLS;
#else
  (void)pers;
  (void)n;
  return 0;
#endif
}

/* In a process that inherited g by fork (single-threaded right after it, or
 * serialized by rng_lock in generation_random): the DRBG context is
 * overwritten (zeroized first: the old state must not survive anywhere) and
 * initialized anew, never reseeded, since reseeding would take its mutex,
 * which fork may have copied locked by a thread that does not exist here.
 * mbedtls_ctr_drbg_init creates a fresh mutex in place and the context owns
 * no heap memory, so nothing leaks. It is then seeded from fresh OS entropy
 * personalized with the process and parent ids, both clocks, the caller's
 * fork count and the generation's number; the generation's
 * mbedtls_ssl_config keeps pointing at the same DRBG. The fork calls
 * (platform/posix/fork.c) call this too. */
int hotssl__generation_rng_recreate(hotssl_generation *g, unsigned count) {
  int64_t rt = hotssl__wall_ns();
  uint64_t mono = hotssl__mono_ns();
  char pers[160];
  int n;
  n = snprintf(pers, sizeof pers,
               "hotssl fork child pid=%ld ppid=%ld rt=%lld.%09ld mono=%llu.%09lu fork=%u gen=%llu",
               hotssl__process_id(), hotssl__parent_process_id(), (long long)(rt / 1000000000),
               (long)(rt % 1000000000), (unsigned long long)(mono / 1000000000u),
               (unsigned long)(mono % 1000000000u), count, (unsigned long long)g->number);
  if (n < 0)
    n = 0;
  if ((size_t)n >= sizeof pers)
    n = (int)sizeof pers - 1;
  mbedtls_platform_zeroize(&g->drbg, sizeof g->drbg);
  mbedtls_ctr_drbg_init(&g->drbg);
  if (mbedtls_ctr_drbg_seed(&g->drbg, hotssl__os_entropy, NULL, (const unsigned char *)pers,
                            (size_t)n) != 0)
    return HOTSSL_ETLS;
  atomic_store(&g->rng_pid, hotssl__process_id());
  return reseed_psa(pers, (size_t)n);
}

/* The random source every handshake of g uses. A generation seeded in
 * another process (inherited by fork) is re-created first, whether or not the
 * host made the after-fork calls: two children can never share bytes. */
static int generation_random(void *ctx, unsigned char *out, size_t len) {
  hotssl_generation *g = ctx;
  long me = hotssl__process_id();
  if (atomic_load_explicit(&g->rng_pid, memory_order_acquire) != me) {
    int r = 0;
    for (;;) {
      long holder = atomic_load(&g->rng_lock);
      if (holder == me) { /* another thread of this process is re-creating it */
        hotssl__yield();
        continue;
      }
      if (atomic_compare_exchange_weak(&g->rng_lock, &holder, me))
        break;
    }
    if (atomic_load(&g->rng_pid) != me)
      r = hotssl__generation_rng_recreate(g, 0);
    atomic_store(&g->rng_lock, 0);
    if (r != 0)
      return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
  }
  return mbedtls_ctr_drbg_random(&g->drbg, out, len);
}

void hotssl__generation_free(hotssl_generation *g) {
  if (g == NULL)
    return;
  mbedtls_ssl_config_free(&g->conf);
  mbedtls_ctr_drbg_free(&g->drbg); /* zeroizes the DRBG state */
  hotssl__shared_release(g->cert);
  hotssl__shared_release(g->key);
  hotssl__shared_release(g->ca);
  hotssl__shared_release(g->crl);
  if (g->hosts != NULL)
    g->hosts_free(g->hosts);
  free(g->ciphersuites);
  free(g->groups);
  free(g->dh_bytes);
  mbedtls_platform_zeroize(g, sizeof *g);
  free(g);
}

hotssl__lender hotssl__generation_lender(const hotssl_generation *g) {
  hotssl__lender l = {NULL, NULL, NULL, NULL};
  if (g != NULL) {
    l.cert = g->cert != NULL ? g->cert->fp : NULL;
    l.key = g->key != NULL ? g->key->fp : NULL;
    l.ca = g->ca != NULL ? g->ca->fp : NULL;
    l.crl = g->crl != NULL ? g->crl->fp : NULL;
  }
  return l;
}

void hotssl_generation_release(hotssl_generation *g) {
  if (g == NULL)
    return;
  if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1)
    hotssl__generation_free(g);
}

const struct mbedtls_ssl_config *hotssl_generation_ssl_config(const hotssl_generation *g) {
  return g != NULL ? &g->conf : NULL;
}

uint64_t hotssl_generation_number(const hotssl_generation *g) {
  return g != NULL ? g->number : 0;
}

void hotssl__generation_config_warnings(const hotssl_generation *g, const hotssl__log *log) {
#if !HOTSSL__MBEDTLS3 && !defined(MBEDTLS_SSL_SRV_RESPECT_CLIENT_PREFERENCE)
  if (!g->prefer_server_ciphers)
    hotssl__logf(log, HOTSSL_LOG_WARNING,
                 "ssl_prefer_server_ciphers = off is not supported by mbedTLS %s; the server's order is used",
                 MBEDTLS_VERSION_STRING);
#elif !HOTSSL__MBEDTLS3
  if (g->prefer_server_ciphers)
    hotssl__logf(log, HOTSSL_LOG_WARNING,
                 "ssl_prefer_server_ciphers = on is not supported by this mbedTLS %s build (MBEDTLS_SSL_SRV_RESPECT_CLIENT_PREFERENCE); the client's order is used",
                 MBEDTLS_VERSION_STRING);
#else
  (void)g;
  (void)log;
#endif
}

int hotssl__generation_use_mbedtls_crl(hotssl_generation *g) {
  if (g->crl != NULL && g->crl->u.crl.raw.p == NULL)
    return HOTSSL_EINVAL; /* not kept: hotssl__config_keep_crl_walk */
  g->crl_walk = 1;
  return 0;
}

int hotssl__generation_build_one(hotssl_generation **out, hotssl__inputs *in,
                                 const hotssl_generation *prev, int is_reload,
                                 uint64_t number, const hotssl__log *log,
                                 char *errbuf, size_t errlen) {
  hotssl_generation *g;
  char t[300];
  int ret, r, key_is_new = 0;
  unsigned char pers[64];

  *out = NULL;
  if ((g = calloc(1, sizeof *g)) == NULL)
    return HOTSSL_ENOMEM;
  atomic_init(&g->refs, 1);
  g->number = number;
  memcpy(g->fingerprint, in->fingerprint, 32);
  mbedtls_ctr_drbg_init(&g->drbg);
  mbedtls_ssl_config_init(&g->conf);

  /* Each generation has its own DRBG, personalized with its identity. */
  hotssl__fmt((char *)pers, sizeof pers, "hotssl generation %llu %p",
              (unsigned long long)number, (void *)g);
  ret = mbedtls_ctr_drbg_seed(&g->drbg, hotssl__os_entropy, NULL, pers, strlen((char *)pers));
  if (ret != 0) {
    hotssl__mbedtls_err(t, sizeof t, ret);
    hotssl__fmt(errbuf, errlen, "could not seed the random generator: %s", t);
    r = HOTSSL_ETLS;
    goto fail;
  }
  atomic_init(&g->rng_pid, hotssl__process_id());
  atomic_init(&g->rng_lock, 0);

  /* Certificate chain. */
  if ((g->cert = reuse_any(prev ? prev->cert : NULL, in, KIND_CRT, in->fp_cert)) == NULL) {
    if ((g->cert = shared_new(KIND_CRT, in->fp_cert)) == NULL) {
      r = HOTSSL_ENOMEM;
      goto fail;
    }
    if (parse_crt_file(&g->cert->u.crt, &in->cert, "server certificate file", errbuf, errlen) != 0) {
      r = HOTSSL_ECERT;
      goto fail;
    }
  }
  /* Private key (an unchanged key is reused: no passphrase needed). */
  if ((g->key = reuse_any(prev ? prev->key : NULL, in, KIND_PK, in->fp_key)) == NULL) {
    if ((g->key = shared_new(KIND_PK, in->fp_key)) == NULL) {
      r = HOTSSL_ENOMEM;
      goto fail;
    }
    if ((r = load_key(&g->key->u.pk, in, is_reload, &g->drbg, errbuf, errlen)) != 0)
      goto fail;
    key_is_new = 1;
  }
  /* A key's pairing with the same certificate bytes was checked when it was
   * parsed: the same bytes give the same answer. */
  if (g->key->paired && memcmp(g->key->paired_cert_fp, in->fp_cert, 32) == 0) {
    /* checked */
  } else if (check_pair(&g->cert->u.crt, &g->key->u.pk, &g->drbg) != 0) {
    hotssl__fmt(errbuf, errlen,
                "check of private key failed: private key file \"%s\" does not match server certificate file \"%s\"",
                in->key.path, in->cert.path);
    r = HOTSSL_EMISMATCH;
    goto fail;
  } else if (key_is_new) {
    /* Parsed by this build and not shared yet: record the check. */
    memcpy(g->key->paired_cert_fp, in->fp_cert, 32);
    g->key->paired = 1;
  }

  /* Expiry of the leaf. */
  fill_cert_info(&g->cert_info, &g->cert->u.crt);
  {
    const mbedtls_x509_crt *leaf = &g->cert->u.crt;
    const char *problem = NULL;
    if (mbedtls_x509_time_is_past(&leaf->valid_to))
      problem = "has expired";
    else if (mbedtls_x509_time_is_future(&leaf->valid_from))
      problem = "is not yet valid";
    if (problem != NULL) {
      if (in->s.refuse_expired) {
        hotssl__fmt(errbuf, errlen,
                    "server certificate file \"%s\": certificate %s (not before %s, not after %s) and hotssl_refuse_expired is on",
                    in->cert.path, problem, g->cert_info.not_before, g->cert_info.not_after);
        r = HOTSSL_EEXPIRED;
        goto fail;
      }
      hotssl__logf(log, HOTSSL_LOG_WARNING,
                   "server certificate file \"%s\": certificate %s (not before %s, not after %s)",
                   in->cert.path, problem, g->cert_info.not_before, g->cert_info.not_after);
    }
  }

  /* CA file. */
  if (HOTSSL__BLOB_SET(in->ca)) {
    if ((g->ca = reuse(prev ? prev->ca : NULL, in->fp_ca)) == NULL) {
      const mbedtls_x509_crt *c;
      int any_ca = 0;
      if ((g->ca = shared_new(KIND_CRT, in->fp_ca)) == NULL) {
        r = HOTSSL_ENOMEM;
        goto fail;
      }
      if (parse_crt_file(&g->ca->u.crt, &in->ca, "root certificate file", errbuf, errlen) != 0) {
        r = HOTSSL_ECA;
        goto fail;
      }
      for (c = &g->ca->u.crt; c != NULL && c->raw.p != NULL; c = c->next)
        any_ca |= crt_is_ca(c);
      if (!any_ca) {
        hotssl__fmt(errbuf, errlen,
                    "could not load root certificate file \"%s\": it contains no CA certificate",
                    in->ca.path);
        r = HOTSSL_ECA;
        goto fail;
      }
    }
  }
  /* CRL file and directory, one set. */
  if (HOTSSL__BLOB_SET(in->crl) || in->n_crl_dir_files > 0 || in->rev != NULL) {
    if (g->ca == NULL) {
      hotssl__fmt(errbuf, errlen,
                  "ssl_crl_file and ssl_crl_dir require ssl_ca_file to be set");
      r = HOTSSL_ECONFIG;
      goto fail;
    }
    if ((g->crl = reuse(prev && prev->ca == g->ca ? prev->crl : NULL, in->fp_crl)) == NULL) {
      if ((g->crl = shared_new(KIND_CRL, in->fp_crl)) == NULL) {
        r = HOTSSL_ENOMEM;
        goto fail;
      }
      if ((r = crl_set_build(g->crl, in, &g->ca->u.crt, errbuf, errlen)) != 0)
        goto fail;
    }
  }

  /* Warnings that do not stop the load. */
  g->cert_info.expiry_warning_days = in->s.expiry_warning_days;
  fill_set_info(&g->cert_info, g);
  g->cert_info.warnings = static_warnings(&g->cert->u.crt, in->cert.path, log);
  /* The time-dependent ones ("expires in") are logged by the manager at
   * start and reload (not by every spawned backend's build). */

  /* The ssl config that points to all of the above. */
  ret = mbedtls_ssl_config_defaults(&g->conf, MBEDTLS_SSL_IS_SERVER,
                                    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret != 0) {
    hotssl__mbedtls_err(t, sizeof t, ret);
    hotssl__fmt(errbuf, errlen, "could not initialize SSL configuration: %s", t);
    r = HOTSSL_ETLS;
    goto fail;
  }
  mbedtls_ssl_conf_rng(&g->conf, generation_random, g);
  ret = in->no_own_cert ? 0 : mbedtls_ssl_conf_own_cert(&g->conf, &g->cert->u.crt, &g->key->u.pk);
  if (ret != 0) {
    hotssl__mbedtls_err(t, sizeof t, ret);
    hotssl__fmt(errbuf, errlen, "could not use server certificate file \"%s\": %s", in->cert.path, t);
    r = HOTSSL_ETLS;
    goto fail;
  }
  /* mbedTLS gets no CRL: the verifier (core/verify.c) checks revocation as
   * PostgreSQL does, from the revocation table. */
  if (g->ca != NULL)
    mbedtls_ssl_conf_ca_chain(&g->conf, &g->ca->u.crt, NULL);
  g->client_cert = in->s.client_cert;
  switch (in->s.client_cert) {
  case HOTSSL__CLIENT_CERT_OFF:
    mbedtls_ssl_conf_authmode(&g->conf, MBEDTLS_SSL_VERIFY_NONE);
    break;
  case HOTSSL__CLIENT_CERT_OPTIONAL:
    mbedtls_ssl_conf_authmode(&g->conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
    break;
  case HOTSSL__CLIENT_CERT_REQUIRE:
    mbedtls_ssl_conf_authmode(&g->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    break;
  }
  if (in->s.ciphersuites != NULL) {
    /* The config keeps the pointer: the generation owns the array. */
    g->ciphersuites = in->s.ciphersuites;
    in->s.ciphersuites = NULL;
    mbedtls_ssl_conf_ciphersuites(&g->conf, g->ciphersuites);
  }
  if (in->s.groups != NULL && (r = set_groups(g, in->s.groups)) != 0)
    goto fail;
  set_versions(&g->conf, in->s.min_minor, in->s.max_minor);
  /* ssl_dh_params_file; empty: mbedTLS's default, set by
   * mbedtls_ssl_config_defaults (RFC 3526 group 14, 2048 bits). */
  if (HOTSSL__BLOB_SET(in->dh) && (r = dh_apply(g, in, prev, errbuf, errlen)) != 0)
    goto fail;
  /* ssl_prefer_server_ciphers (TLS 1.2; mbedTLS's TLS 1.3 server always
   * takes the client's order). mbedTLS 2.28 decides at compile time
   * (MBEDTLS_SSL_SRV_RESPECT_CLIENT_PREFERENCE): off is then only warned
   * about (hotssl__generation_config_warnings). */
#if HOTSSL__MBEDTLS3
  mbedtls_ssl_conf_preference_order(&g->conf, in->s.prefer_server_ciphers
                                                  ? MBEDTLS_SSL_SRV_CIPHERSUITE_ORDER_SERVER
                                                  : MBEDTLS_SSL_SRV_CIPHERSUITE_ORDER_CLIENT);
#endif
  g->prefer_server_ciphers = in->s.prefer_server_ciphers;

  *out = g;
  return 0;
fail:
  hotssl__generation_free(g);
  return r;
}
