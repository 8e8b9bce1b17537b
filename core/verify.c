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
 *  - a nameConstraints extension, which hotssl does not evaluate: refused;
 *  - with CRLs (fail closed, as CRL_CHECK_ALL): X's issuer (for the root:
 *    itself) must have CRLs ("unable to get certificate CRL"), one of them
 *    in X's scope ("different CRL scope", core/x509ext.h), valid now, none
 *    listing X; the issuer's key must be allowed to sign them (checked
 *    where the issuer appears, at depth d + 1, and charged to X);
 *  - when X is a trust anchor that is not self-issued (an intermediate of
 *    ssl_ca_file, where mbedTLS ends the chain), OpenSSL's chain goes on
 *    through its issuers inside ssl_ca_file up to the root: each gets
 *    OpenSSL's extension checks (a CA, purpose, pathLenConstraint, and no
 *    nameConstraints) and, with CRLs, the CRL checks above.
 *
 * The configuration-wide callback (ctx: the generation) decides at each
 * depth: any problem refuses the certificate (optional mode: an error code
 * that VERIFY_OPTIONAL does not swallow; require mode: the matching mbedTLS
 * flags, so mbedTLS sends its alert for them). A callback bound to one
 * connection (hotssl_client_verify_bind) collects every depth and, at depth
 * 0, picks the error OpenSSL would report first (chain, then extensions and
 * purpose and revocation from the leaf up, then dates from the top down,
 * then name constraints), records it and
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
#include "certname.h"
#include "generation.h"
#include "parse.h"
#include "util.h"
#include "verify.h"
#include "peerrec.h"
#include "revocation.h"
#include "x509ext.h"

#ifndef MBEDTLS_PRIVATE
#  define MBEDTLS_PRIVATE(member) member
#endif

/* OpenSSL's verification errors that hotssl reports: name, OpenSSL's text,
 * the alert OpenSSL's server sends for it, the phase of X509_verify_cert that
 * finds it (0 chain, 1 extensions: CA, purpose, path length, 2 revocation,
 * 3 dates, 4 name constraints), order in a phase at one depth. */
#define VERRS(X)                                                                        \
  X(NONE, "ok", 0, 9, 0)                                                                \
  X(UNSPECIFIED, "unspecified certificate verification error", 46, 0, 0)               \
  X(NO_ISSUER, "unable to get local issuer certificate", 48, 0, 1)                     \
  X(SELF_SIGNED, "self-signed certificate", 48, 0, 1)                                  \
  X(SELF_SIGNED_IN_CHAIN, "self-signed certificate in certificate chain", 48, 0, 1)    \
  X(EE_KEY_TOO_SMALL, "EE certificate key too weak", 42, 0, 2)                         \
  X(CA_KEY_TOO_SMALL, "CA certificate key too weak", 42, 0, 2)                         \
  X(CA_MD_TOO_WEAK, "CA signature digest algorithm too weak", 42, 0, 3)               \
  X(INVALID_CA, "invalid CA certificate", 48, 1, 0)                                   \
  X(INVALID_PURPOSE, "unsuitable certificate purpose", 43, 1, 1)                      \
  X(PATH_LENGTH, "path length constraint exceeded", 48, 1, 2)                         \
  X(UNABLE_TO_GET_CRL, "unable to get certificate CRL", 48, 2, 0)                     \
  X(NO_CRL_SIGN, "key usage does not include CRL signing", 46, 2, 1)                  \
  X(CRL_SCOPE, "different CRL scope", 46, 2, 2)                                        \
  X(CRL_NOT_YET_VALID, "CRL is not yet valid", 42, 2, 3)                               \
  X(CRL_EXPIRED, "CRL has expired", 45, 2, 3)                                          \
  X(CRL_SIGNATURE, "CRL signature failure", 51, 2, 4)                                  \
  X(REVOKED, "certificate revoked", 44, 2, 5)                                          \
  X(NOT_YET_VALID, "certificate is not yet valid", 42, 3, 0)                           \
  X(EXPIRED, "certificate has expired", 45, 3, 1)                                      \
  X(NAME_CONSTRAINTS, "name constraints are not supported", 46, 4, 0)

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
  hotssl__peerrec rec; /* the chain accepted last (hotssl_client_verify_revoked) */
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

/* X as a subject: its issuer's CRLs exist, one is in X's scope, are valid now, do not list it. */
static void subject_checks(const hotssl__crlview *cv, const mbedtls_x509_crt *x, int depth,
                           int64_t now, vacc *a) {
  int tm, scope = hotssl__crlview_scope(cv, x);
  if (scope < 0) {
    offer(a, E_UNABLE_TO_GET_CRL, depth, x);
    return;
  }
  /* Only CRLs outside x's scope (issuingDistributionPoint): OpenSSL takes
   * the nearest and refuses it; CRLs that cover only some reasons leave
   * the others without a CRL. */
  if (scope == HOTSSL__SCOPE_OUT)
    offer(a, E_CRL_SCOPE, depth, x);
  if (scope == HOTSSL__SCOPE_PARTIAL)
    offer(a, E_UNABLE_TO_GET_CRL, depth, x);
  tm = hotssl__crlview_time(cv, x, now);
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

/* OpenSSL's check_extensions for a certificate of the CA file above the
 * trust anchor, at depth d, with plen non-self-issued CA certificates
 * between it and the leaf: a CA that may sign certificates (a v1
 * self-signed root is one), suitable for sslclient, allowing plen CAs
 * below it. mbedTLS checks the certificates up to the anchor itself. */
static void ca_checks(const mbedtls_x509_crt *p, int d, int plen, vacc *a) {
  int max = p->MBEDTLS_PRIVATE(max_pathlen); /* pathLenConstraint + 1; 0: none */
  if (!hotssl__crt_is_ca(p) ||
      mbedtls_x509_crt_check_key_usage(p, MBEDTLS_X509_KU_KEY_CERT_SIGN) != 0)
    offer(a, E_INVALID_CA, d, p);
  if (eku_refuses_client(p))
    offer(a, E_INVALID_PURPOSE, d, p);
  if (d > 1 && max > 0 && plen > max - 1)
    offer(a, E_PATH_LENGTH, d, p);
  if (hotssl__crt_has_name_constraints(p))
    offer(a, E_NAME_CONSTRAINTS, d, p);
}

/*
 * A trust anchor below the root (an intermediate of ssl_ca_file): mbedTLS's
 * chain ends there, OpenSSL's goes on inside the CA file. Each certificate
 * above gets ca_checks and, with CRLs (crls), the CRL checks. The
 * certificates between the anchor and the leaf count as not self-issued
 * (the callback sees them after this one): fail closed.
 */
static void above_anchor(const hotssl__crlview *cv, int crls, const mbedtls_x509_crt *crt, int depth,
                         int64_t now, vacc *a) {
  const mbedtls_x509_crt *x = crt, *p;
  int d = depth, plen = depth;
  while (d < MAX_DEPTH) {
    if ((p = hotssl__crlview_ca_parent(cv, x)) == NULL) {
      /* Its issuer is not in the CA file: no CRL of it can be verified. */
      if (crls)
        offer(a, E_UNABLE_TO_GET_CRL, d, x);
      break;
    }
    ca_checks(p, ++d, plen, a);
    if (!self_issued(p))
      plen++;
    if (crls) {
      offer(a, signer_checks(cv, p), d - 1, x);
      subject_checks(cv, p, d, now, a);
      if (self_issued(p))
        offer(a, signer_checks(cv, p), d, p);
    }
    if (self_issued(p))
      break;
    x = p;
  }
}

/*
 * Everything certificate crt at depth adds (see the top of the file). The
 * problem of crt's key as the signer of the CRLs of the certificate below is
 * returned, not offered: it belongs to depth - 1.
 */
static int check_depth(const hotssl_generation *g, int walk, const mbedtls_x509_crt *crt,
                       int depth, uint32_t mflags, vacc *a) {
  hotssl__crlview cv;
  int64_t now = (int64_t)time(NULL);
  int below = E_NONE, crls = g->crl != NULL && g->ca != NULL;

  flags_err(mflags, depth, crt, a);
  if (eku_refuses_client(crt) ||
      (depth == 0 && mbedtls_x509_crt_check_key_usage(crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) != 0))
    offer(a, E_INVALID_PURPOSE, depth, crt);
  /* mbedTLS ignores a non-critical nameConstraints: refused, not evaluated. */
  if (hotssl__crt_has_name_constraints(crt))
    offer(a, E_NAME_CONSTRAINTS, depth, crt);
  if (g->ca == NULL)
    return E_NONE;

  memset(&cv, 0, sizeof cv);
  cv.ca = &g->ca->u.crt;
  cv.profile = &mbedtls_x509_crt_profile_default;
  cv.walk = 1; /* without CRLs: only ca_parent, searched in the CA file */
  if (crls) {
    cv.t = g->crl->revocation;
    cv.crl = &g->crl->u.crl;
    cv.walk = walk || g->crl_walk;
    cv.crl_stale = g->crl_stale;
    /* Every certificate of the chain, the self-signed root included
     * (OpenSSL checks the root against its own CRL too). */
    subject_checks(&cv, crt, depth, now, a);
    if (depth > 0)
      below = signer_checks(&cv, crt);
    if (self_issued(crt))
      offer(a, signer_checks(&cv, crt), depth, crt); /* it signs its own CRLs */
  }
  if (hotssl__crlview_ca_index(&cv, crt) >= 0 && !self_issued(crt))
    above_anchor(&cv, crls, crt, depth, now, a);
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
  case E_INVALID_CA:
  case E_PATH_LENGTH:
    return MBEDTLS_X509_BADCERT_NOT_TRUSTED;
  case E_NAME_CONSTRAINTS:
    return MBEDTLS_X509_BADCERT_OTHER;
  case E_UNABLE_TO_GET_CRL:
  case E_CRL_SCOPE:
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

static void record(hotssl_client_verify *v, const vacc *a) {
  v->refused = 1;
  v->err = a->err;
  v->depth = a->depth;
  v->alert = verr[a->err].alert;
  hotssl__pg_name(v->subject, sizeof v->subject, &a->crt->subject);
  hotssl__pg_name(v->issuer, sizeof v->issuer, &a->crt->issuer);
  hotssl__serial_dec(v->serial, sizeof v->serial, &a->crt->serial);
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
  hotssl__peerrec_reset(&v->rec);
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
  hotssl__peerrec_add(&v->rec, crt, depth);
  if (depth > 0)
    return 0; /* decide at the leaf, once every depth was seen */
  v->fresh = 1;
  v->rec.ok = v->acc.err == E_NONE;
  if (v->acc.err == E_NONE) {
    if (v->acc.stale != NULL)
      hotssl__pg_name(v->stale_issuer, sizeof v->stale_issuer, &v->acc.stale->issuer);
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
  hotssl__peerrec_free(&v->rec);
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

int hotssl_client_verify_revoked(const hotssl_client_verify *v, const hotssl_generation *g,
                                 int *depth, char *serial, size_t serial_len) {
  const mbedtls_x509_crt *peer;
  hotssl__peerrec once;
  int r;
  if (v == NULL || v->rec.n > 0 || v->refused || v->ssl == NULL ||
      (peer = mbedtls_ssl_get_peer_cert(v->ssl)) == NULL)
    return hotssl__peerrec_revoked(v != NULL ? &v->rec : NULL, g, depth, serial, serial_len);
  /* A resumed session: no verification ran in this handshake, but the
   * session (a ticket's) brings the client's certificate, which the ticket
   * check found unrevoked when it resumed. Its leaf is looked up. */
  memset(&once, 0, sizeof once);
  hotssl__peerrec_add(&once, peer, 0);
  once.ok = 1;
  r = hotssl__peerrec_revoked(&once, g, depth, serial, serial_len);
  hotssl__peerrec_free(&once);
  return r;
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
