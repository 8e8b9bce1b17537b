/*
 * A generation's own identity: its certificate chain and private key (with
 * the passphrase command and PostgreSQL's start and reload rules), their
 * pairing, the leaf's validity and the chain's static warnings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/error.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>

#include "../os/os.h"
#include "generation.h"
#include "identity.h"
#include "log.h"
#include "objcache.h"
#include "parse.h"
#include "pkcs8.h"
#include "util.h"

#ifndef MBEDTLS_PRIVATE
#  define MBEDTLS_PRIVATE(member) member
#endif

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

/* The passphrase of in's encrypted key, from ssl_passphrase_command, with
 * PostgreSQL's rules for a start and a reload. *pass: free with
 * hotssl__secure_free. */
static int get_passphrase(const hotssl__inputs *in, int is_reload, char **pass, char *errbuf,
                          size_t errlen) {
  const hotssl__blob *b = &in->key;
  char t[300];
  char *cmd;
  int r;
  if (in->s.passphrase_command == NULL) {
    hotssl__fmt(errbuf, errlen,
                "private key file \"%s\" cannot be %s because it requires a passphrase and ssl_passphrase_command is not set",
                b->path, is_reload ? "reloaded" : "loaded");
    return HOTSSL_EPASSPHRASE;
  }
  if (is_reload && !in->s.passphrase_supports_reload) {
    hotssl__fmt(errbuf, errlen,
                "private key file \"%s\" cannot be reloaded because it requires a passphrase (ssl_passphrase_command_supports_reload is off)",
                b->path);
    return HOTSSL_EPASSPHRASE;
  }
  if ((cmd = expand_command(in->s.passphrase_command, "Enter PEM pass phrase:")) == NULL)
    return HOTSSL_ENOMEM;
  r = hotssl__run_passphrase_command(cmd, in->s.passphrase_timeout_ms, in->ctx.spawn_lock, pass,
                                     t, sizeof t);
  if (r != 0)
    hotssl__fmt(errbuf, errlen, "could not load private key file \"%s\": ssl_passphrase_command: %s",
                b->path, t);
  hotssl__secret_free(cmd);
  return r;
}

static int load_key(mbedtls_pk_context *pk, hotssl__inputs *in, int is_reload,
                    mbedtls_ctr_drbg_context *drbg, char *errbuf, size_t errlen) {
  const hotssl__blob *b = &in->key;
  size_t len;
  unsigned char *p8 = NULL, *plain = NULL;
  size_t p8len = 0, plainlen = 0;
  char *pass = NULL;
  char t[300];
  int ret, r, encrypted_pkcs8 = 0;

  if (hotssl__parse_unread(b, "private key file", errbuf, errlen))
    return HOTSSL_EKEY;
  len = hotssl__parse_looks_pem(b) ? b->len + 1 : b->len;
  if (b->len == 0) {
    hotssl__fmt(errbuf, errlen, "could not load private key file \"%s\": file is empty", b->path);
    return HOTSSL_EKEY;
  }
  if (hotssl__parse_truncated_pem(b, "private key file", errbuf, errlen))
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
  if ((encrypted_pkcs8 || !hotssl__parse_looks_pem(b)) &&
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
      hotssl__parse_error_text(t, sizeof t, b, "key", ret);
      hotssl__fmt(errbuf, errlen, "could not load private key file \"%s\": %s", b->path, t);
      return HOTSSL_EKEY;
    }
  }
  /* The key is encrypted. */
  if ((r = get_passphrase(in, is_reload, &pass, errbuf, errlen)) != 0)
    goto out;
  if (encrypted_pkcs8 || !hotssl__parse_looks_pem(b)) {
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
  hotssl__secure_free(plain); /* zeroizes */
  hotssl__secure_free(pass);
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

/* Problems that do not depend on the time: a weak key, a chain whose
 * certificates after the leaf did not issue the one before them. */
unsigned hotssl__identity_warnings(const mbedtls_x509_crt *chain, const char *path,
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
        memcmp(c->issuer_raw.p, up->subject_raw.p, c->issuer_raw.len) != 0 || !hotssl__crt_is_ca(up)) {
      char subj[256];
      mbedtls_x509_dn_gets(subj, sizeof subj, &up->subject);
      w |= HOTSSL_WARN_CHAIN;
      hotssl__logf(log, HOTSSL_LOG_WARNING,
                   "server certificate file \"%s\": the chain does not lead to a CA: certificate %u (\"%s\") %s certificate %u",
                   path, i + 1, subj, hotssl__crt_is_ca(up) ? "did not issue" : "is not a CA certificate, so cannot have issued",
                   i);
      break;
    }
  }
  return w;
}

/* The certificate chain: the previous generation's or a recent one when the
 * bytes are the same, else parsed. */
static int identity_cert(hotssl_generation *g, const hotssl__inputs *in,
                         const hotssl_generation *prev, char *errbuf, size_t errlen) {
  g->cert = hotssl__shared_reuse_any(prev ? prev->cert : NULL, in->ctx.recent, in->ctx.n_recent,
                                     HOTSSL__KIND_CRT, in->fp_cert);
  if (g->cert != NULL)
    return 0;
  if ((g->cert = hotssl__shared_new(HOTSSL__KIND_CRT, in->fp_cert)) == NULL)
    return HOTSSL_ENOMEM;
  if (hotssl__parse_crt_file(&g->cert->u.crt, &in->cert, in->der_list.cert, "server certificate file",
                             errbuf, errlen) != 0)
    return HOTSSL_ECERT;
  return 0;
}

/* The private key (an unchanged key is reused: no passphrase needed).
 * *is_new: parsed by this build. */
static int identity_key(hotssl_generation *g, hotssl__inputs *in, const hotssl_generation *prev,
                        int is_reload, int *is_new, char *errbuf, size_t errlen) {
  int r;
  *is_new = 0;
  g->key = hotssl__shared_reuse_any(prev ? prev->key : NULL, in->ctx.recent, in->ctx.n_recent,
                                    HOTSSL__KIND_PK, in->fp_key);
  if (g->key != NULL)
    return 0;
  if ((g->key = hotssl__shared_new(HOTSSL__KIND_PK, in->fp_key)) == NULL)
    return HOTSSL_ENOMEM;
  if ((r = load_key(&g->key->u.pk, in, is_reload, &g->drbg, errbuf, errlen)) != 0)
    return r;
  *is_new = 1;
  return 0;
}

/* The key must pair with the certificate. A key's pairing with the same
 * certificate bytes was checked when it was parsed: the same bytes give the
 * same answer; a snapshot's pair was checked by the parent's build. */
static int identity_pair(hotssl_generation *g, const hotssl__inputs *in, int key_is_new,
                         char *errbuf, size_t errlen) {
  if (in->pair_checked || (g->key->paired && memcmp(g->key->paired_cert_fp, in->fp_cert, 32) == 0))
    return 0;
  if (check_pair(&g->cert->u.crt, &g->key->u.pk, &g->drbg) != 0) {
    hotssl__fmt(errbuf, errlen,
                "check of private key failed: private key file \"%s\" does not match server certificate file \"%s\"",
                in->key.path, in->cert.path);
    return HOTSSL_EMISMATCH;
  }
  if (key_is_new) {
    /* Parsed by this build and not shared yet: record the check. */
    memcpy(g->key->paired_cert_fp, in->fp_cert, 32);
    g->key->paired = 1;
  }
  return 0;
}

/* The leaf's facts for the stats, and its validity period: refused when
 * hotssl_refuse_expired is on, else a warning. */
static int identity_leaf(hotssl_generation *g, const hotssl__inputs *in, const hotssl__log *log,
                         char *errbuf, size_t errlen) {
  const mbedtls_x509_crt *leaf = &g->cert->u.crt;
  const char *problem = NULL;
  fill_cert_info(&g->cert_info, leaf);
  if (mbedtls_x509_time_is_past(&leaf->valid_to))
    problem = "has expired";
  else if (mbedtls_x509_time_is_future(&leaf->valid_from))
    problem = "is not yet valid";
  if (problem == NULL)
    return 0;
  if (in->s.refuse_expired) {
    hotssl__fmt(errbuf, errlen,
                "server certificate file \"%s\": certificate %s (not before %s, not after %s) and hotssl_refuse_expired is on",
                in->cert.path, problem, g->cert_info.not_before, g->cert_info.not_after);
    return HOTSSL_EEXPIRED;
  }
  hotssl__logf(log, HOTSSL_LOG_WARNING,
               "server certificate file \"%s\": certificate %s (not before %s, not after %s)",
               in->cert.path, problem, g->cert_info.not_before, g->cert_info.not_after);
  return 0;
}

int hotssl__identity_build(hotssl_generation *g, hotssl__inputs *in, const hotssl_generation *prev,
                           int is_reload, const hotssl__log *log, char *errbuf, size_t errlen) {
  int r, key_is_new = 0;
  if ((r = identity_cert(g, in, prev, errbuf, errlen)) != 0 ||
      (r = identity_key(g, in, prev, is_reload, &key_is_new, errbuf, errlen)) != 0 ||
      (r = identity_pair(g, in, key_is_new, errbuf, errlen)) != 0)
    return r;
  return identity_leaf(g, in, log, errbuf, errlen);
}
