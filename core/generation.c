/*
 * Generations: the parsed, validated objects of one configuration and the
 * mbedtls_ssl_config that points to them, shared by every connection that
 * acquired them (core/build_one.c builds one). A generation is immutable
 * once built, except for its DRBG; the last release frees it.
 */
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>

#include "generation.h"
#include "log.h"
#include "objcache.h"
#include "x509ext.h"

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
                   "certificate revocation list is past its next update (%lld day(s) ago): install a fresh CRL; %s",
                   (long long)((now - st->crl_next_update_unix) / 86400),
                   g->crl_stale == HOTSSL__CRL_STALE_REFUSE
                       ? "client certificates checked against it are refused (hotssl_crl_stale = refuse)"
                   : g->crl_stale == HOTSSL__CRL_STALE_WARN
                       ? "client certificates checked against it are accepted with a warning (hotssl_crl_stale = warn)"
                       : "client certificates checked against it are accepted (hotssl_crl_stale = ignore)");
    else
      hotssl__logf(log, HOTSSL_LOG_WARNING,
                   "certificate revocation list's next update is in %lld day(s) %lld hour(s) (hotssl_expiry_warning_days = %u): install a fresh CRL by then",
                   (long long)((st->crl_next_update_unix - now) / 86400),
                   (long long)((st->crl_next_update_unix - now) % 86400 / 3600), st->expiry_warning_days);
  }
  return w;
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
  if (g->tickets != NULL) /* before the hosts: it points at their entries */
    g->tickets_free(g->tickets);
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

HOTSSL__HOT void hotssl_generation_release(hotssl_generation *g) {
  if (g == NULL)
    return;
  if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1)
    hotssl__generation_free(g);
}

HOTSSL__HOT const struct mbedtls_ssl_config *hotssl_generation_ssl_config(const hotssl_generation *g) {
  return g != NULL ? &g->conf : NULL;
}

HOTSSL__HOT uint64_t hotssl_generation_number(const hotssl_generation *g) {
  return g != NULL ? g->number : 0;
}

void hotssl__generation_config_warnings(const hotssl_generation *g, const hotssl__log *log) {
  const mbedtls_x509_crt *c;
  /* core/verify.c refuses every chain with nameConstraints (not evaluated):
   * say so at load rather than only at each refused handshake. */
  for (c = g->ca != NULL ? &g->ca->u.crt : NULL; c != NULL && c->raw.p != NULL; c = c->next)
    if (hotssl__crt_has_name_constraints(c)) {
      char name[256];
      if (mbedtls_x509_dn_gets(name, sizeof name, &c->subject) < 0)
        hotssl__fmt(name, sizeof name, "?");
      hotssl__logf(log, HOTSSL_LOG_WARNING,
                   "ssl_ca_file certificate \"%s\" has a nameConstraints extension, which hotssl does not evaluate: every client certificate chain through it is refused",
                   name);
    }
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
#endif
}

int hotssl__generation_use_mbedtls_crl(hotssl_generation *g) {
  if (g->crl != NULL && g->crl->u.crl.raw.p == NULL)
    return HOTSSL_EINVAL; /* not kept: hotssl__config_keep_crl_walk */
  g->crl_walk = 1;
  return 0;
}
