/*
 * The builder of one identity: turns hotssl__inputs into a complete,
 * validated generation (its own seeded CTR-DRBG, certificate chain, private
 * key, CA chain, CRL set, and the mbedtls_ssl_config that points to all of
 * them), applying PostgreSQL's checks, as a sequence of named steps. Parsed
 * objects are shared with the previous generation when their bytes are
 * identical (core/objcache.h).
 *
 * Every failure frees what was built and leaves nothing behind; the caller
 * decides whether it is fatal (start) or logged (reload).
 */
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/ssl.h>

#include "../os/os.h"
#include "build_one.h"
#include "dh.h"
#include "generation.h"
#include "identity.h"
#include "rng.h"
#include "trust.h"
#include "util.h"

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

/* The ssl config that points to all of the above: defaults, the random
 * generator, the own certificate, the CA set and the client-certificate
 * mode. */
static int conf_base(hotssl_generation *g, const hotssl__inputs *in, char *errbuf, size_t errlen) {
  char t[300];
  int ret;

  ret = mbedtls_ssl_config_defaults(&g->conf, MBEDTLS_SSL_IS_SERVER,
                                    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret != 0) {
    hotssl__mbedtls_err(t, sizeof t, ret);
    hotssl__fmt(errbuf, errlen, "could not initialize SSL configuration: %s", t);
    return HOTSSL_ETLS;
  }
  mbedtls_ssl_conf_rng(&g->conf, hotssl__rng_random, g);
  ret = in->ctx.no_own_cert ? 0 : mbedtls_ssl_conf_own_cert(&g->conf, &g->cert->u.crt, &g->key->u.pk);
  if (ret != 0) {
    hotssl__mbedtls_err(t, sizeof t, ret);
    hotssl__fmt(errbuf, errlen, "could not use server certificate file \"%s\": %s", in->cert.path, t);
    return HOTSSL_ETLS;
  }
  /* mbedTLS gets no CRL: the verifier (core/verify.c) checks revocation as
   * PostgreSQL does, from the revocation table. */
  if (g->ca != NULL)
    mbedtls_ssl_conf_ca_chain(&g->conf, &g->ca->u.crt, NULL);
  g->client_cert = in->s.client_cert;
  g->crl_stale = in->s.crl_stale;
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
  return 0;
}

/* The TLS settings: cipher suites, groups, versions, DH parameters, and
 * whose cipher order wins. */
static int conf_tls(hotssl_generation *g, hotssl__inputs *in, const hotssl_generation *prev,
                    char *errbuf, size_t errlen) {
  int r;
  if (in->s.ciphersuites != NULL) {
    /* The config keeps the pointer: the generation owns the array. */
    g->ciphersuites = in->s.ciphersuites;
    in->s.ciphersuites = NULL;
    mbedtls_ssl_conf_ciphersuites(&g->conf, g->ciphersuites);
  }
  if (in->s.groups != NULL && (r = set_groups(g, in->s.groups)) != 0)
    return r;
  set_versions(&g->conf, in->s.min_minor, in->s.max_minor);
  /* ssl_dh_params_file; empty: mbedTLS's default, set by
   * mbedtls_ssl_config_defaults (RFC 3526 group 14, 2048 bits). */
  if (HOTSSL__BLOB_SET(in->dh) && (r = hotssl__dh_apply(g, in, prev, errbuf, errlen)) != 0)
    return r;
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
  return 0;
}

/* An empty generation for in's fingerprint, with one reference. */
static hotssl_generation *generation_new(const hotssl__inputs *in, uint64_t number) {
  hotssl_generation *g = calloc(1, sizeof *g);
  if (g == NULL)
    return NULL;
  atomic_init(&g->refs, 1);
  g->number = number;
  memcpy(g->fingerprint, in->fingerprint, 32);
  mbedtls_ctr_drbg_init(&g->drbg);
  mbedtls_ssl_config_init(&g->conf);
  return g;
}

/* Warnings that do not stop the load. The time-dependent ones ("expires
 * in") are logged by the manager at start and reload (not by every spawned
 * backend's build). */
static void note_warnings(hotssl_generation *g, const hotssl__inputs *in, const hotssl__log *log) {
  g->cert_info.expiry_warning_days = in->s.expiry_warning_days;
  hotssl__trust_info(&g->cert_info, g);
  g->cert_info.warnings = hotssl__identity_warnings(&g->cert->u.crt, in->cert.path, log);
}

int hotssl__generation_build_one(hotssl_generation **out, hotssl__inputs *in,
                                 const hotssl_generation *prev, int is_reload,
                                 uint64_t number, const hotssl__log *log,
                                 char *errbuf, size_t errlen) {
  hotssl_generation *g;
  int r;

  *out = NULL;
  if ((g = generation_new(in, number)) == NULL)
    return HOTSSL_ENOMEM;
  if ((r = hotssl__rng_seed(g, errbuf, errlen)) != 0 ||
      (r = hotssl__identity_build(g, in, prev, is_reload, log, errbuf, errlen)) != 0 ||
      (r = hotssl__trust_build(g, in, prev, errbuf, errlen)) != 0)
    goto fail;
  note_warnings(g, in, log);
  if ((r = conf_base(g, in, errbuf, errlen)) != 0 || (r = conf_tls(g, in, prev, errbuf, errlen)) != 0)
    goto fail;
  *out = g;
  return 0;
fail:
  hotssl__generation_free(g);
  return r;
}
