/*
 * The client-certificate verifier: PostgreSQL's verdict (OpenSSL's
 * X509_verify_cert with purpose sslclient and, when a CRL is configured,
 * X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL) on top of mbedTLS's chain
 * verification, in the verify callback mbedTLS calls once per certificate of
 * the chain it built, from the top (trust anchor) down to the leaf (depth 0).
 *
 * What each certificate X at depth d adds to mbedTLS's own flags:
 *  - purpose: an extendedKeyUsage without clientAuth; at depth 0 a keyUsage
 *    without digitalSignature (mbedTLS checks these only after the callback,
 *    and VERIFY_OPTIONAL ignores them);
 *  - with CRLs (fail closed, as CRL_CHECK_ALL): X's issuer (for the root:
 *    itself) must have CRLs ("unable to get certificate CRL"), one of them
 *    valid now, none listing X; the issuer's key must be
 *    allowed to sign them (checked where the issuer appears, at depth d + 1,
 *    and charged to X); and when X is a trust anchor that is not self-issued
 *    (an intermediate of ssl_ca_file, where mbedTLS ends the chain), the
 *    same for its issuers inside ssl_ca_file, up to the root.
 *
 * The configuration-wide callback (ctx: the generation) decides at each
 * depth: any problem refuses the certificate (optional mode: an error code
 * that VERIFY_OPTIONAL does not swallow; require mode: the matching mbedTLS
 * flags, so mbedTLS sends its alert for them). A callback bound to one
 * connection (hotssl_client_verify_bind) collects every depth and, at depth
 * 0, picks the error OpenSSL would report first (chain, then purpose, then
 * revocation from the leaf up, then dates from the top down), records it and
 * sends the alert OpenSSL's server sends for it.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509.h>

#include "../os/os.h"
#include "generation.h"
#include "util.h"
#include "verify.h"
#include "revocation.h"

#ifndef MBEDTLS_PRIVATE
#  define MBEDTLS_PRIVATE(member) member
#endif

/* OpenSSL's verification errors that hotssl reports: name, OpenSSL's text,
 * the alert OpenSSL's server sends for it, the phase of X509_verify_cert that
 * finds it (0 chain, 1 purpose, 2 revocation, 3 dates), order in a phase at
 * one depth. */
#define VERRS(X)                                                                        \
  X(NONE, "ok", 0, 9, 0)                                                                \
  X(UNSPECIFIED, "unspecified certificate verification error", 46, 0, 0)               \
  X(NO_ISSUER, "unable to get local issuer certificate", 48, 0, 1)                     \
  X(SELF_SIGNED, "self-signed certificate", 48, 0, 1)                                  \
  X(SELF_SIGNED_IN_CHAIN, "self-signed certificate in certificate chain", 48, 0, 1)    \
  X(EE_KEY_TOO_SMALL, "EE certificate key too weak", 42, 0, 2)                         \
  X(CA_KEY_TOO_SMALL, "CA certificate key too weak", 42, 0, 2)                         \
  X(CA_MD_TOO_WEAK, "CA signature digest algorithm too weak", 42, 0, 3)               \
  X(INVALID_PURPOSE, "unsuitable certificate purpose", 43, 1, 0)                      \
  X(UNABLE_TO_GET_CRL, "unable to get certificate CRL", 48, 2, 0)                     \
  X(NO_CRL_SIGN, "key usage does not include CRL signing", 46, 2, 1)                  \
  X(CRL_NOT_YET_VALID, "CRL is not yet valid", 42, 2, 2)                               \
  X(CRL_EXPIRED, "CRL has expired", 45, 2, 2)                                          \
  X(CRL_SIGNATURE, "CRL signature failure", 51, 2, 3)                                  \
  X(REVOKED, "certificate revoked", 44, 2, 4)                                          \
  X(NOT_YET_VALID, "certificate is not yet valid", 42, 3, 0)                           \
  X(EXPIRED, "certificate has expired", 45, 3, 1)

enum {
#define VERR_ENUM(name, text, alert, phase, order) E_##name,
  VERRS(VERR_ENUM)
#undef VERR_ENUM
  E_COUNT
};

static const struct {
  const char *text;
  int alert, phase, order;
} verr[E_COUNT] = {
#define VERR_ROW(name, text, alert, phase, order) {text, alert, phase, order},
    VERRS(VERR_ROW)
#undef VERR_ROW
};

#define ALERT_HANDSHAKE_FAILURE 40
#define ALERT_CERT_REQUIRED 116
#define MAX_DEPTH 32

/* The error OpenSSL would report first among those offered. */
typedef struct vacc {
  int err, depth;
  const mbedtls_x509_crt *crt;
  /* hotssl_crl_stale = warn: a certificate accepted although its issuer's
   * CRLs are past their nextUpdate (the first one seen), or NULL. */
  const mbedtls_x509_crt *stale;
} vacc;

static int better(int err, int depth, const vacc *a) {
  if (a->err == E_NONE)
    return 1;
  if (verr[err].phase != verr[a->err].phase)
    return verr[err].phase < verr[a->err].phase;
  if (depth != a->depth) /* dates: from the top down; the rest: from the leaf up */
    return verr[err].phase == 3 ? depth > a->depth : depth < a->depth;
  return verr[err].order < verr[a->err].order;
}

static void offer(vacc *a, int err, int depth, const mbedtls_x509_crt *crt) {
  if (err != E_NONE && better(err, depth, a)) {
    a->err = err;
    a->depth = depth;
    a->crt = crt;
  }
}

struct hotssl_client_verify {
  mbedtls_ssl_context *ssl; /* NULL: no alert to send (tests) */
  const hotssl_generation *g;
  /* The generation whose certificate the connection is served: the bound
   * one, or the ssl_sni entry the server name selected (rebind). Not
   * cleared by reset (the verify callback resets at each verification). */
  const hotssl_generation *served;
  int walk;    /* force the CRL walk (tests) */
  int fresh;   /* the next callback starts a new verification */
  vacc acc;
  int pending; /* signer problem found at depth d, charged to depth d - 1 */
  /* result */
  int refused, no_cert, err, depth, alert;
  char subject[1024], issuer[1024], serial[160];
  /* hotssl_crl_stale = warn: the issuer whose stale CRLs the last accepted
   * certificate was checked against ("": none). */
  char stale_issuer[1024];
};

static int self_issued(const mbedtls_x509_crt *c) {
  return (c->subject_raw.len == c->issuer_raw.len &&
          memcmp(c->subject_raw.p, c->issuer_raw.p, c->subject_raw.len) == 0) ||
         hotssl__name_equal(&c->subject, &c->issuer);
}

static int signer_err(int answer) {
  if (answer == HOTSSL__REV_NO_CRL_SIGN)
    return E_NO_CRL_SIGN;
  if (answer == HOTSSL__REV_BAD_SIG)
    return E_CRL_SIGNATURE;
  return E_NONE;
}

/* hotssl_crl_stale on the time answer tm of x's issuer's CRLs: a CRL past
 * its nextUpdate refuses (OpenSSL's and PostgreSQL's rule), or is accepted
 * and noted for a warning, or accepted silently. */
static int crl_stale_policy(const hotssl__crlview *cv, const mbedtls_x509_crt *x, int tm, vacc *a) {
  if (tm != HOTSSL__REV_EXPIRED || cv->crl_stale == HOTSSL__CRL_STALE_REFUSE)
    return tm;
  if (cv->crl_stale == HOTSSL__CRL_STALE_WARN && a->stale == NULL)
    a->stale = x;
  return HOTSSL__REV_TIME_OK;
}

/* X as a subject: its issuer's CRLs exist, are valid now, do not list it. */
static void subject_checks(const hotssl__crlview *cv, const mbedtls_x509_crt *x, int depth,
                           int64_t now, vacc *a) {
  int tm;
  if (!hotssl__crlview_has(cv, &x->issuer_raw, &x->issuer)) {
    offer(a, E_UNABLE_TO_GET_CRL, depth, x);
    return;
  }
  tm = hotssl__crlview_time(cv, &x->issuer_raw, &x->issuer, now);
  tm = crl_stale_policy(cv, x, tm, a);
  offer(a, tm == HOTSSL__REV_NOT_YET_VALID ? E_CRL_NOT_YET_VALID
           : tm == HOTSSL__REV_EXPIRED     ? E_CRL_EXPIRED
                                           : E_NONE,
        depth, x);
  if (hotssl__crlview_revoked(cv, x))
    offer(a, E_REVOKED, depth, x);
}

/* X as an issuer: may its key sign the CRLs named as it? (E_NONE when there
 * are none: the certificate below then has no CRL.) */
static int signer_checks(const hotssl__crlview *cv, const mbedtls_x509_crt *x) {
  if (!hotssl__crlview_has(cv, &x->subject_raw, &x->subject))
    return E_NONE;
  return signer_err(hotssl__crlview_signer(cv, x));
}

/* mbedTLS verification flags with one answer each, in the order offered
 * (after NOT_TRUSTED and the key size, whose answer depends on the
 * certificate). */
static const struct {
  uint32_t flags;
  int err;
} flag_errs[] = {
    {MBEDTLS_X509_BADCERT_BAD_MD, E_CA_MD_TOO_WEAK},
    {MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE | MBEDTLS_X509_BADCERT_NS_CERT_TYPE,
     E_INVALID_PURPOSE},
    {MBEDTLS_X509_BADCERT_REVOKED, E_REVOKED},
    {MBEDTLS_X509_BADCRL_EXPIRED, E_CRL_EXPIRED},
    {MBEDTLS_X509_BADCRL_FUTURE, E_CRL_NOT_YET_VALID},
    {MBEDTLS_X509_BADCRL_NOT_TRUSTED, E_CRL_SIGNATURE},
    {MBEDTLS_X509_BADCERT_FUTURE, E_NOT_YET_VALID},
    {MBEDTLS_X509_BADCERT_EXPIRED, E_EXPIRED},
};

static int flags_err(uint32_t f, int depth, const mbedtls_x509_crt *crt, vacc *a) {
  uint32_t known = MBEDTLS_X509_BADCERT_NOT_TRUSTED | MBEDTLS_X509_BADCERT_BAD_PK | MBEDTLS_X509_BADCERT_BAD_KEY;
  size_t i;
  if (f & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
    offer(a, !self_issued(crt) ? E_NO_ISSUER : depth == 0 ? E_SELF_SIGNED : E_SELF_SIGNED_IN_CHAIN,
          depth, crt);
  if (f & (MBEDTLS_X509_BADCERT_BAD_PK | MBEDTLS_X509_BADCERT_BAD_KEY))
    offer(a, depth == 0 ? E_EE_KEY_TOO_SMALL : E_CA_KEY_TOO_SMALL, depth, crt);
  for (i = 0; i < sizeof flag_errs / sizeof flag_errs[0]; i++) {
    known |= flag_errs[i].flags;
    if (f & flag_errs[i].flags)
      offer(a, flag_errs[i].err, depth, crt);
  }
  if (f & ~known)
    offer(a, E_UNSPECIFIED, depth, crt);
  return a->err;
}

/* OpenSSL's sslclient purpose: an extendedKeyUsage must list clientAuth
 * (anyExtendedKeyUsage alone does not do, unlike mbedTLS's own check). */
static int eku_refuses_client(const mbedtls_x509_crt *c) {
  const mbedtls_x509_sequence *cur;
  if ((c->MBEDTLS_PRIVATE(ext_types) & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE) == 0)
    return 0;
  for (cur = &c->ext_key_usage; cur != NULL; cur = cur->next) /* public in 2.28 and 3.6 */
    if (cur->buf.len == MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH) &&
        memcmp(cur->buf.p, MBEDTLS_OID_CLIENT_AUTH, cur->buf.len) == 0)
      return 0;
  return 1;
}

/*
 * Everything certificate crt at depth adds (see the top of the file). The
 * problem of crt's key as the signer of the CRLs of the certificate below is
 * returned, not offered: it belongs to depth - 1.
 */
static int check_depth(const hotssl_generation *g, int walk, const mbedtls_x509_crt *crt,
                       int depth, uint32_t mflags, vacc *a) {
  hotssl__crlview cv;
  int64_t now;
  int below = E_NONE;

  flags_err(mflags, depth, crt, a);
  if (eku_refuses_client(crt) ||
      (depth == 0 && mbedtls_x509_crt_check_key_usage(crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) != 0))
    offer(a, E_INVALID_PURPOSE, depth, crt);
  if (g->crl == NULL || g->ca == NULL)
    return E_NONE;

  cv.t = g->crl->revocation;
  cv.crl = &g->crl->u.crl;
  cv.ca = &g->ca->u.crt;
  cv.profile = &mbedtls_x509_crt_profile_default;
  cv.walk = walk || g->crl_walk;
  cv.crl_stale = g->crl_stale;
  now = (int64_t)time(NULL);

  /* Every certificate of the chain, the self-signed root included (OpenSSL
   * checks the root against its own CRL too). */
  subject_checks(&cv, crt, depth, now, a);
  if (depth > 0)
    below = signer_checks(&cv, crt);
  if (self_issued(crt))
    offer(a, signer_checks(&cv, crt), depth, crt); /* it signs its own CRLs */
  /* A trust anchor below the root: mbedTLS's chain ends here, OpenSSL's goes
   * on inside the CA file. */
  if (hotssl__crlview_ca_index(&cv, crt) >= 0 && !self_issued(crt)) {
    const mbedtls_x509_crt *x = crt, *p;
    int d = depth;
    while (d < MAX_DEPTH) {
      if ((p = hotssl__crlview_ca_parent(&cv, x)) == NULL) {
        /* Its issuer is not in the CA file: no CRL of it can be verified. */
        offer(a, E_UNABLE_TO_GET_CRL, d, x);
        break;
      }
      offer(a, signer_checks(&cv, p), d, x);
      subject_checks(&cv, p, ++d, now, a);
      if (self_issued(p)) {
        offer(a, signer_checks(&cv, p), d, p);
        break;
      }
      x = p;
    }
  }
  return below;
}

/* ---- the configuration's callback ---- */

static uint32_t err_flag(int err, int depth) {
  switch (err) {
  case E_REVOKED:
    return MBEDTLS_X509_BADCERT_REVOKED;
  case E_CRL_EXPIRED:
    return MBEDTLS_X509_BADCRL_EXPIRED;
  case E_CRL_NOT_YET_VALID:
    return MBEDTLS_X509_BADCRL_FUTURE;
  case E_UNABLE_TO_GET_CRL:
  case E_NO_CRL_SIGN:
  case E_CRL_SIGNATURE:
    return MBEDTLS_X509_BADCRL_NOT_TRUSTED;
  case E_INVALID_PURPOSE:
    return depth == 0 ? MBEDTLS_X509_BADCERT_KEY_USAGE : MBEDTLS_X509_BADCERT_EXT_KEY_USAGE;
  default: /* found in mbedTLS's own flags */
    return 0;
  }
}

int hotssl__verify_conf_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags) {
  const hotssl_generation *g = ctx;
  vacc a = {E_NONE, 0, NULL, NULL};
  int below = check_depth(g, 0, crt, depth, *flags, &a);
  if (below != E_NONE)
    offer(&a, below, depth, crt);
  if (a.err == E_NONE)
    return 0;
  if (g->client_cert == HOTSSL__CLIENT_CERT_OPTIONAL)
    return MBEDTLS_ERR_X509_FATAL_ERROR; /* not swallowed by VERIFY_OPTIONAL */
  *flags |= err_flag(a.err, depth); /* mbedTLS fails on it and sends its alert */
  return 0;
}

/* ---- the per-connection callback and its record ---- */

/* ---- names and serials as OpenSSL prints them ---- */

/* Output with a fixed capacity; over: something did not fit. */
typedef struct sbuf {
  char *p;
  size_t len, cap;
  int over;
} sbuf;

static void put(sbuf *b, const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (b->len + 1 >= b->cap) {
      b->over = 1;
      break;
    }
    b->p[b->len++] = s[i];
  }
  if (b->cap > 0)
    b->p[b->len] = '\0';
}

static void put_hex(sbuf *b, unsigned c) {
  char h[4];
  snprintf(h, sizeof h, "%02X", c & 0xFFu);
  put(b, h, 2);
}

static size_t utf8_enc(unsigned char *o, unsigned long cp) {
  if (cp < 0x80) {
    o[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (unsigned char)(0xC0 | (cp >> 6));
    o[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (unsigned char)(0xE0 | (cp >> 12));
    o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (unsigned char)(0xF0 | ((cp >> 18) & 0x07));
  o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

/* OpenSSL's short names of attribute types (OBJ_nid2sn), by dotted OID. */
static const struct {
  const char *oid, *sn;
} attr_names[] = {
    {"2.5.4.3", "CN"}, {"2.5.4.4", "SN"}, {"2.5.4.5", "serialNumber"}, {"2.5.4.6", "C"},
    {"2.5.4.7", "L"}, {"2.5.4.8", "ST"}, {"2.5.4.9", "street"}, {"2.5.4.10", "O"},
    {"2.5.4.11", "OU"}, {"2.5.4.12", "title"}, {"2.5.4.13", "description"},
    {"2.5.4.14", "searchGuide"}, {"2.5.4.15", "businessCategory"},
    {"2.5.4.16", "postalAddress"}, {"2.5.4.17", "postalCode"}, {"2.5.4.18", "postOfficeBox"},
    {"2.5.4.19", "physicalDeliveryOfficeName"}, {"2.5.4.20", "telephoneNumber"},
    {"2.5.4.21", "telexNumber"}, {"2.5.4.22", "teletexTerminalIdentifier"},
    {"2.5.4.23", "facsimileTelephoneNumber"}, {"2.5.4.24", "x121Address"},
    {"2.5.4.25", "internationaliSDNNumber"}, {"2.5.4.26", "registeredAddress"},
    {"2.5.4.27", "destinationIndicator"}, {"2.5.4.28", "preferredDeliveryMethod"},
    {"2.5.4.29", "presentationAddress"}, {"2.5.4.30", "supportedApplicationContext"},
    {"2.5.4.31", "member"}, {"2.5.4.32", "owner"}, {"2.5.4.33", "roleOccupant"},
    {"2.5.4.34", "seeAlso"}, {"2.5.4.35", "userPassword"}, {"2.5.4.41", "name"},
    {"2.5.4.42", "GN"}, {"2.5.4.43", "initials"}, {"2.5.4.44", "generationQualifier"},
    {"2.5.4.45", "x500UniqueIdentifier"}, {"2.5.4.46", "dnQualifier"},
    {"2.5.4.47", "enhancedSearchGuide"}, {"2.5.4.48", "protocolInformation"},
    {"2.5.4.49", "distinguishedName"}, {"2.5.4.50", "uniqueMember"},
    {"2.5.4.51", "houseIdentifier"}, {"2.5.4.54", "dmdName"}, {"2.5.4.65", "pseudonym"},
    {"2.5.4.72", "role"}, {"2.5.4.97", "organizationIdentifier"},
    {"1.2.840.113549.1.9.1", "emailAddress"}, {"1.2.840.113549.1.9.2", "unstructuredName"},
    {"1.2.840.113549.1.9.8", "unstructuredAddress"},
    {"0.9.2342.19200300.100.1.1", "UID"}, {"0.9.2342.19200300.100.1.3", "mail"},
    {"0.9.2342.19200300.100.1.25", "DC"},
    {"1.3.6.1.4.1.311.60.2.1.1", "jurisdictionL"},
    {"1.3.6.1.4.1.311.60.2.1.2", "jurisdictionST"},
    {"1.3.6.1.4.1.311.60.2.1.3", "jurisdictionC"},
};

/* The attribute type's short name, else its dotted form in num (*known 0). */
static const char *attr_name(const mbedtls_x509_buf *oid, char *num, size_t numlen, int *known) {
  size_t i;
  *known = 0;
  if (mbedtls_oid_get_numeric_string(num, numlen, oid) < 0) {
    hotssl__fmt(num, numlen, "?");
    return num;
  }
  for (i = 0; i < sizeof attr_names / sizeof attr_names[0]; i++)
    if (strcmp(attr_names[i].oid, num) == 0) {
      *known = 1;
      return attr_names[i].sn;
    }
  return num;
}

/* put_value flags: OpenSSL's ASN1_STRFLGS_ESC_MSB, and DUMP_ALL (the value
 * as "#" and the hex of its DER, XN_FLAG_DUMP_UNKNOWN_FIELDS). */
#define VAL_ESC_MSB 1u
#define VAL_DUMP 2u

static void put_dump(sbuf *b, const mbedtls_x509_buf *v) {
  size_t i, n = 0, l = v->len;
  put(b, "#", 1);
  put_hex(b, (unsigned)v->tag);
  if (l < 0x80) {
    put_hex(b, (unsigned)l);
  } else {
    for (; l > 0; l >>= 8)
      n++;
    put_hex(b, 0x80u | (unsigned)n);
    while (n-- > 0)
      put_hex(b, (unsigned)(v->len >> (8 * n)));
  }
  for (i = 0; i < v->len; i++)
    put_hex(b, v->p[i]);
}

/*
 * A value as OpenSSL's ASN1_STRING_print_ex with ASN1_STRFLGS_RFC2253 minus
 * ESC_MSB, plus UTF8_CONVERT (PostgreSQL's X509_NAME_to_cstring); with
 * VAL_ESC_MSB as XN_FLAG_RFC2253. The value as UTF-8 (a UTF8String as its
 * bytes; BMP, Universal and the one-byte types converted), then RFC 2253
 * escapes; a type that is no string: "#" and its DER.
 */
static void put_value(sbuf *b, const mbedtls_x509_buf *v, unsigned fl) {
  unsigned char *u;
  size_t i, w = 1, n = 0;
  if (fl & VAL_DUMP) {
    put_dump(b, v);
    return;
  }
  switch (v->tag) {
  case MBEDTLS_ASN1_UTF8_STRING:
    w = 1;
    break;
  case MBEDTLS_ASN1_BMP_STRING:
    w = 2;
    break;
  case MBEDTLS_ASN1_UNIVERSAL_STRING:
    w = 4;
    break;
  case 0x12: /* NumericString */
  case MBEDTLS_ASN1_PRINTABLE_STRING:
  case MBEDTLS_ASN1_T61_STRING: /* Latin-1, as OpenSSL reads it */
  case MBEDTLS_ASN1_IA5_STRING:
  case MBEDTLS_ASN1_UTC_TIME:
  case MBEDTLS_ASN1_GENERALIZED_TIME:
  case 0x1A: /* VisibleString */
    w = 0;
    break;
  default: /* not a string: "#" and the hex of its DER */
    put_dump(b, v);
    return;
  }
  if ((u = malloc(v->len * 2 + 4)) == NULL) {
    b->over = 1;
    return;
  }
  if (w == 1) {
    memcpy(u, v->p, v->len);
    n = v->len;
  } else if (w == 0) {
    for (i = 0; i < v->len; i++)
      n += utf8_enc(u + n, v->p[i]);
  } else {
    for (i = 0; i + w <= v->len; i += w) {
      unsigned long cp = 0;
      size_t k;
      for (k = 0; k < w; k++)
        cp = cp << 8 | v->p[i + k];
      n += utf8_enc(u + n, cp > 0x10FFFF ? 0xFFFD : cp);
    }
  }
  for (i = 0; i < n; i++) {
    unsigned char c = u[i];
    if (c >= 0x80) {
      if (fl & VAL_ESC_MSB) {
        put(b, "\\", 1);
        put_hex(b, c);
      } else {
        put(b, (const char *)&c, 1);
      }
      continue;
    }
    if (c < 0x20 || c == 0x7F) {
      put(b, "\\", 1);
      put_hex(b, c);
      continue;
    }
    if ((c != '\0' && strchr(",+\"\\<>;", c) != NULL) || (i == 0 && (c == '#' || c == ' ')) ||
        (i + 1 == n && c == ' '))
      put(b, "\\", 1);
    put(b, (const char *)&c, 1);
  }
  free(u);
}

/* X509_NAME_oneline's value: the bytes as they are, '/' and '+' escaped,
 * bytes outside ' '..'~' as \xXX (a GeneralString of 4-byte characters
 * that are all ASCII: their last bytes only). */
static void put_oneline_value(sbuf *b, const mbedtls_x509_buf *v) {
  int doit[4] = {1, 1, 1, 1};
  size_t j;
  if (v->tag == 0x1B && v->len % 4 == 0) { /* GeneralString */
    int any[4] = {0, 0, 0, 0};
    for (j = 0; j < v->len; j++)
      if (v->p[j] != 0)
        any[j & 3] = 1;
    if (!(any[0] | any[1] | any[2]))
      doit[0] = doit[1] = doit[2] = 0;
  }
  for (j = 0; j < v->len; j++) {
    unsigned char c = v->p[j];
    if (!doit[j & 3])
      continue;
    if (c < ' ' || c > '~') {
      put(b, "\\x", 2);
      put_hex(b, c);
    } else {
      if (c == '/' || c == '+')
        put(b, "\\", 1);
      put(b, (const char *)&c, 1);
    }
  }
}

/* A name in one of the public styles into b. */
static int name_text(const mbedtls_x509_name *name, unsigned style, sbuf *b) {
  const mbedtls_x509_name *n, **ents;
  size_t *set, cnt = 0, i, cur = 0;
  for (n = name; n != NULL; n = n->next)
    if (n->oid.p != NULL)
      cnt++;
  if (cnt == 0)
    return 0;
  ents = malloc(cnt * sizeof *ents);
  set = malloc(cnt * sizeof *set);
  if (ents == NULL || set == NULL) {
    free(ents);
    free(set);
    return HOTSSL_ENOMEM;
  }
  i = 0;
  for (n = name; n != NULL; n = n->next) {
    if (n->oid.p == NULL)
      continue;
    ents[i] = n;
    set[i++] = cur;
    if (!n->MBEDTLS_PRIVATE(next_merged)) /* the next one starts a new RDN */
      cur++;
  }
  for (i = 0; i < cnt; i++) {
    size_t k = style == HOTSSL_NAME_RFC2253 ? cnt - 1 - i : i;
    char num[128];
    int known;
    const char *sn = attr_name(&ents[k]->oid, num, sizeof num, &known);
    if (style == HOTSSL_NAME_RFC2253) {
      if (i > 0)
        put(b, set[k] == set[cnt - i] ? "+" : ",", 1);
      put(b, sn, strlen(sn));
      put(b, "=", 1);
      put_value(b, &ents[k]->val, VAL_ESC_MSB | (known ? 0u : VAL_DUMP));
    } else {
      put(b, i > 0 && set[k] == set[k - 1] ? "+" : "/", 1);
      put(b, sn, strlen(sn));
      put(b, "=", 1);
      put_oneline_value(b, &ents[k]->val);
    }
  }
  free(ents);
  free(set);
  return 0;
}

/* PostgreSQL's form of a name (X509_NAME_to_cstring): "/SN=value" per
 * attribute, the value by put_value with raw UTF-8, then kept to its last
 * 71 characters and cleaned to ASCII (prepare_cert_name). */
static void pg_name(char *out, size_t outlen, const mbedtls_x509_name *n) {
  char raw[2048];
  sbuf b = {raw, 0, sizeof raw, 0};
  const char *s;
  size_t i, o = 0;
  raw[0] = '\0';
  for (; n != NULL; n = n->next) {
    char num[128];
    int known;
    const char *sn;
    if (n->oid.p == NULL)
      continue;
    sn = attr_name(&n->oid, num, sizeof num, &known);
    put(&b, "/", 1);
    put(&b, sn, strlen(sn));
    put(&b, "=", 1);
    put_value(&b, &n->val, 0);
  }
  s = raw;
  if (b.len > 71) { /* PostgreSQL keeps the end: the most specific part */
    s = raw + b.len - 71;
    raw[b.len - 71] = raw[b.len - 70] = raw[b.len - 69] = '.';
  }
  for (i = 0; s[i] != '\0' && o + 5 < outlen; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 32 || c > 126)
      o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
    else
      out[o++] = (char)c;
  }
  if (outlen > 0)
    out[o < outlen ? o : outlen - 1] = '\0';
}

/* A serial (DER INTEGER contents) as OpenSSL prints it: decimal as
 * BN_bn2dec, or hex as i2a_ASN1_INTEGER ("-" and the magnitude when
 * negative, upper case, two digits per byte, "00" for zero). */
static int serial_text(const mbedtls_x509_buf *s, unsigned style, sbuf *b) {
  unsigned char *n;
  char *d;
  size_t len = s->len, i, start = 0, nd = 0;
  int neg = len > 0 && (s->p[0] & 0x80);
  if ((n = malloc(len + 1)) == NULL)
    return HOTSSL_ENOMEM;
  if (len > 0)
    memcpy(n, s->p, len);
  if (neg) { /* two's complement */
    int carry = 1;
    for (i = len; i-- > 0;) {
      int v = (unsigned char)~n[i] + carry;
      n[i] = (unsigned char)v;
      carry = v >> 8;
    }
  }
  while (start < len && n[start] == 0)
    start++;
  if (neg)
    put(b, "-", 1);
  if (style == HOTSSL_SERIAL_HEX) {
    if (start == len)
      put(b, "00", 2);
    for (i = start; i < len; i++)
      put_hex(b, n[i]);
    free(n);
    return 0;
  }
  if ((d = malloc((len - start) * 3 + 2)) == NULL) {
    free(n);
    return HOTSSL_ENOMEM;
  }
  for (;;) {
    unsigned rem = 0;
    int zero = 1;
    for (i = start; i < len; i++) {
      unsigned cur = rem << 8 | n[i];
      n[i] = (unsigned char)(cur / 10);
      rem = cur % 10;
      zero &= n[i] == 0;
    }
    d[nd++] = (char)('0' + rem);
    if (zero)
      break;
  }
  while (nd > 0)
    put(b, &d[--nd], 1);
  free(d);
  free(n);
  return 0;
}

/* A serial in decimal for PostgreSQL's log line. */
static void serial_dec(char *out, size_t outlen, const mbedtls_x509_buf *s) {
  sbuf b = {out, 0, outlen, 0};
  if (outlen == 0)
    return;
  out[0] = '\0';
  if (serial_text(s, HOTSSL_SERIAL_DEC, &b) != 0 || b.over)
    hotssl__fmt(out, outlen, "unknown");
}

int hotssl_cert_name(const struct mbedtls_x509_crt *crt, unsigned which, unsigned style,
                     char *buf, size_t len) {
  sbuf b = {buf, 0, len, 0};
  int r;
  if (buf == NULL || len == 0)
    return HOTSSL_EINVAL;
  buf[0] = '\0';
  if (crt == NULL || which > HOTSSL_CERT_ISSUER || style > HOTSSL_NAME_ONELINE)
    return HOTSSL_EINVAL;
  r = name_text(which == HOTSSL_CERT_SUBJECT ? &crt->subject : &crt->issuer, style, &b);
  if (r == 0 && b.over)
    r = HOTSSL_ENOMEM;
  if (r != 0)
    buf[0] = '\0';
  return r;
}

int hotssl_cert_serial(const struct mbedtls_x509_crt *crt, unsigned style, char *buf,
                       size_t len) {
  sbuf b = {buf, 0, len, 0};
  int r;
  if (buf == NULL || len == 0)
    return HOTSSL_EINVAL;
  buf[0] = '\0';
  if (crt == NULL || style > HOTSSL_SERIAL_HEX)
    return HOTSSL_EINVAL;
  r = serial_text(&crt->serial, style, &b);
  if (r == 0 && b.over)
    r = HOTSSL_ENOMEM;
  if (r != 0)
    buf[0] = '\0';
  return r;
}

static void record(hotssl_client_verify *v, const vacc *a) {
  v->refused = 1;
  v->err = a->err;
  v->depth = a->depth;
  v->alert = verr[a->err].alert;
  pg_name(v->subject, sizeof v->subject, &a->crt->subject);
  pg_name(v->issuer, sizeof v->issuer, &a->crt->issuer);
  serial_dec(v->serial, sizeof v->serial, &a->crt->serial);
}

static void reset(hotssl_client_verify *v) {
  v->acc.err = E_NONE;
  v->acc.depth = 0;
  v->acc.crt = NULL;
  v->acc.stale = NULL;
  v->stale_issuer[0] = '\0';
  v->pending = E_NONE;
  v->refused = v->no_cert = v->depth = v->alert = 0;
  v->err = E_NONE;
  v->subject[0] = v->issuer[0] = v->serial[0] = '\0';
}

static int verify_bound(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags) {
  hotssl_client_verify *v = ctx;
  int below;
  if (v->fresh) {
    reset(v);
    v->fresh = 0;
  }
  if (v->pending != E_NONE) /* the key above signs this certificate's CRLs */
    offer(&v->acc, v->pending, depth, crt);
  below = check_depth(v->g, v->walk, crt, depth, *flags, &v->acc);
  v->pending = below;
  if (depth > 0)
    return 0; /* decide at the leaf, once every depth was seen */
  v->fresh = 1;
  if (v->acc.err == E_NONE) {
    if (v->acc.stale != NULL)
      pg_name(v->stale_issuer, sizeof v->stale_issuer, &v->acc.stale->issuer);
    return 0;
  }
  record(v, &v->acc);
  if (v->ssl != NULL)
    (void)mbedtls_ssl_send_alert_message(v->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                         (unsigned char)v->alert);
  return MBEDTLS_ERR_X509_FATAL_ERROR;
}

int hotssl__verify_chain(const hotssl_generation *g, mbedtls_x509_crt *chain, int walk,
                         hotssl_client_verify *v) {
  uint32_t flags = 0;
  int ret;
  if (g == NULL || g->ca == NULL || chain == NULL || v == NULL)
    return HOTSSL_EINVAL;
  if (walk && g->crl != NULL && g->crl->u.crl.raw.p == NULL)
    return HOTSSL_EINVAL; /* the parsed CRL set was not kept (hotssl__config_keep_crl_walk) */
  v->ssl = NULL;
  v->g = g;
  v->walk = walk;
  v->fresh = 1;
  reset(v);
  ret = mbedtls_x509_crt_verify_with_profile(chain, &g->ca->u.crt, NULL,
                                             &mbedtls_x509_crt_profile_default, NULL, &flags,
                                             verify_bound, v);
  if (ret != 0 && !v->refused) { /* no depth-0 call: report what mbedTLS said */
    vacc a = {E_NONE, 0, NULL, NULL};
    if (flags_err(flags == 0 ? MBEDTLS_X509_BADCERT_OTHER : flags, 0, chain, &a) != E_NONE)
      record(v, &a);
  }
  return v->refused ? 1 : 0;
}

/* ---- public API ---- */

int hotssl_client_verify_create(hotssl_client_verify **out) {
  hotssl_client_verify *v;
  if (out == NULL)
    return HOTSSL_EINVAL;
  if ((v = calloc(1, sizeof *v)) == NULL)
    return HOTSSL_ENOMEM;
  reset(v);
  v->fresh = 1;
  *out = v;
  return 0;
}

void hotssl_client_verify_destroy(hotssl_client_verify *v) {
  if (v == NULL)
    return;
  mbedtls_platform_zeroize(v, sizeof *v);
  free(v);
}

int hotssl_client_verify_bind(mbedtls_ssl_context *ssl, const hotssl_generation *g,
                              hotssl_client_verify *v) {
  if (ssl == NULL || g == NULL || v == NULL)
    return HOTSSL_EINVAL;
  v->ssl = ssl;
  v->g = g;
  v->served = g;
  v->walk = 0;
  v->fresh = 1;
  reset(v);
  /* Installed whatever g's mode: an ssl_sni entry chosen during the
   * handshake may ask for client certificates where g does not (see
   * hotssl__verify_rebind). mbedTLS calls it only when it verifies. */
  mbedtls_ssl_set_verify(ssl, verify_bound, v);
  return 0;
}

/* Called from the SNI callback when the server name selects an ssl_sni
 * entry's generation: a connection bound with hotssl_client_verify_bind
 * keeps its record and verifies with the entry's CA set and table. mbedTLS
 * has no accessor for the connection's verify callback, so this reads the
 * two fields (MBEDTLS_PRIVATE on 3.x; listed in the README). Returns 1 when
 * the connection was bound (v->g now the entry), else 0. */
int hotssl__verify_rebind(mbedtls_ssl_context *ssl, const hotssl_generation *g) {
  hotssl_client_verify *v;
  if (ssl->MBEDTLS_PRIVATE(f_vrfy) != verify_bound)
    return 0;
  v = ssl->MBEDTLS_PRIVATE(p_vrfy);
  v->g = g;
  v->served = g;
  return 1;
}

int hotssl_client_verify_served_cert(const hotssl_client_verify *v, const unsigned char **der,
                                     size_t *len) {
  const mbedtls_x509_crt *c;
  if (der != NULL)
    *der = NULL;
  if (len != NULL)
    *len = 0;
  if (v == NULL || der == NULL || len == NULL || v->served == NULL || v->served->cert == NULL)
    return HOTSSL_EINVAL;
  c = &v->served->cert->u.crt;
  *der = c->raw.p;
  *len = c->raw.len;
  return 0;
}

/* RFC 5929 tls-server-end-point, as PostgreSQL's be_tls_get_certificate_hash:
 * the signature's hash, SHA-256 for MD5 and SHA-1; no single hash (PSS,
 * EdDSA): not supported. */
int hotssl_client_verify_server_end_point(const hotssl_client_verify *v, unsigned char *out,
                                          size_t outsize, size_t *outlen) {
  const mbedtls_x509_crt *c;
  const mbedtls_md_info_t *info;
  mbedtls_md_type_t md;
  size_t n;
  if (outlen != NULL)
    *outlen = 0;
  if (v == NULL || out == NULL || outlen == NULL || v->served == NULL || v->served->cert == NULL)
    return HOTSSL_EINVAL;
  c = &v->served->cert->u.crt;
  if (c->MBEDTLS_PRIVATE(sig_pk) == MBEDTLS_PK_RSASSA_PSS)
    return HOTSSL_ENOTSUP;
  md = c->MBEDTLS_PRIVATE(sig_md);
  if (md == MBEDTLS_MD_MD5 || md == MBEDTLS_MD_SHA1)
    md = MBEDTLS_MD_SHA256;
  if (md == MBEDTLS_MD_NONE || (info = mbedtls_md_info_from_type(md)) == NULL)
    return HOTSSL_ENOTSUP;
  n = mbedtls_md_get_size(info);
  if (outsize < n)
    return HOTSSL_EINVAL;
  if (mbedtls_md(info, c->raw.p, c->raw.len, out) != 0)
    return HOTSSL_ETLS;
  *outlen = n;
  return 0;
}

void hotssl_client_verify_finish(mbedtls_ssl_context *ssl, int ret, hotssl_client_verify *v) {
  if (ssl == NULL || ret != MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE)
    return;
  {
    int alert = ALERT_HANDSHAKE_FAILURE;
#if HOTSSL__MBEDTLS3 && defined(MBEDTLS_SSL_PROTO_TLS1_3)
    if (mbedtls_ssl_get_version_number(ssl) == MBEDTLS_SSL_VERSION_TLS1_3)
      alert = ALERT_CERT_REQUIRED;
#endif
    (void)mbedtls_ssl_send_alert_message(ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL, (unsigned char)alert);
    if (v != NULL) {
      reset(v);
      v->refused = 1;
      v->no_cert = 1;
      v->alert = alert;
    }
  }
}

int hotssl_client_verify_refused(const hotssl_client_verify *v) {
  return v != NULL && v->refused;
}

int hotssl_client_verify_alert(const hotssl_client_verify *v) {
  return v != NULL && v->refused ? v->alert : 0;
}

const char *hotssl_client_verify_reason(const hotssl_client_verify *v) {
  if (v == NULL || !v->refused)
    return "";
  return v->no_cert ? "peer did not return a certificate" : verr[v->err].text;
}

int hotssl_client_verify_lines(const hotssl_client_verify *v, char *line1, size_t len1,
                               char *line2, size_t len2) {
  if (line1 == NULL || line2 == NULL)
    return 0;
  if (len1 > 0)
    line1[0] = '\0';
  if (len2 > 0)
    line2[0] = '\0';
  if (v == NULL || !v->refused)
    return 0;
  if (v->no_cert) {
    hotssl__fmt(line1, len1, "peer did not return a certificate");
    return 1;
  }
  hotssl__fmt(line1, len1, "Client certificate verification failed at depth %d: %s.", v->depth,
              verr[v->err].text);
  hotssl__fmt(line2, len2,
              "Failed certificate data (unverified): subject \"%s\", serial number %s, issuer \"%s\".",
              v->subject, v->serial, v->issuer);
  return 2;
}

void hotssl__verify_attach(hotssl_generation *g) {
  if (g->client_cert != HOTSSL__CLIENT_CERT_OFF)
    mbedtls_ssl_conf_verify(&g->conf, hotssl__verify_conf_cb, g);
}

/* ---- SNI (core/sni.c): one entry's identity for one handshake ---- */

#if defined(MBEDTLS_SSL_SERVER_NAME_INDICATION)
/* Replaces the served configuration's callback for a handshake whose entry
 * checks no client certificate (authmode NONE: mbedTLS does not verify). */
static int verify_flags_only(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags) {
  (void)ctx;
  (void)crt;
  (void)depth;
  (void)flags;
  return 0;
}

/* The entry's verifier replaces the per-connection one: a connection bound
 * with hotssl_client_verify_bind() to the served generation would otherwise
 * be checked against that generation's CA set, not the entry's. */
int hotssl__verify_select(mbedtls_ssl_context *ssl, const hotssl_generation *host) {
  hotssl_generation *g = (hotssl_generation *)host; /* mbedTLS takes non-const */
  int authmode = MBEDTLS_SSL_VERIFY_NONE;
  if (mbedtls_ssl_set_hs_own_cert(ssl, &g->cert->u.crt, &g->key->u.pk) != 0)
    return -1;
  if (g->client_cert == HOTSSL__CLIENT_CERT_OPTIONAL)
    authmode = MBEDTLS_SSL_VERIFY_OPTIONAL;
  else if (g->client_cert == HOTSSL__CLIENT_CERT_REQUIRE)
    authmode = MBEDTLS_SSL_VERIFY_REQUIRED;
  /* mbedTLS gets no CRL: the verifier checks revocation (core/verify.c). */
  if (g->ca != NULL)
    mbedtls_ssl_set_hs_ca_chain(ssl, &g->ca->u.crt, NULL);
  mbedtls_ssl_set_hs_authmode(ssl, authmode);
  if (hotssl__verify_rebind(ssl, g))
    ; /* hotssl_client_verify_bind's record follows the entry */
  else if (g->client_cert != HOTSSL__CLIENT_CERT_OFF)
    mbedtls_ssl_set_verify(ssl, hotssl__verify_conf_cb, g);
  else
    mbedtls_ssl_set_verify(ssl, verify_flags_only, NULL);
  return 0;
}
#endif

const char *hotssl_client_verify_stale_crl_issuer(const hotssl_client_verify *v) {
  return v != NULL ? v->stale_issuer : "";
}
