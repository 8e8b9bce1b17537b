/*
 * Generations (core/generation.c): the parsed, validated mbedTLS objects of
 * one configuration, shared by every connection that acquired them.
 */
#ifndef HOTSSL_CORE_GENERATION_H
#define HOTSSL_CORE_GENERATION_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "config.h"
#include "objcache.h"
#include "inputs.h"
#include "internal.h"
#include "log.h"

struct hotssl__revocation;
struct hotssl__hosts;
struct hotssl__tickets;


struct hotssl_generation {
  atomic_uint refs;
  uint64_t number;
  unsigned char fingerprint[32];
  hotssl__shared *cert, *key, *ca, *crl; /* ca/crl may be NULL */
  int *ciphersuites;
#if HOTSSL__MBEDTLS3
  uint16_t *groups; /* IANA ids, 0-terminated: mbedtls_ssl_conf_groups */
#else
  mbedtls_ecp_group_id *groups; /* MBEDTLS_ECP_DP_NONE-terminated */
#endif
  hotssl__client_cert client_cert;
  int crl_stale; /* hotssl_crl_stale (HOTSSL__CRL_STALE_*) */
  /* ssl_dh_params_file: the file's bytes as read (a snapshot carries them),
   * their fingerprint (a build with the same bytes skips the primality
   * tests) and the size of p; NULL: mbedTLS's default group. */
  unsigned char *dh_bytes;
  size_t dh_len;
  unsigned char dh_fp[32];
  unsigned dh_bits;
  int prefer_server_ciphers; /* ssl_prefer_server_ciphers as set */
  int crl_walk; /* 1: the CRL walk instead of the revocation table (tests, bench) */
  mbedtls_ctr_drbg_context drbg;
  /* Fork safety by construction: the process id the DRBG was seeded in,
   * compared on every use; a mismatch (a forked child that made no
   * after-fork call) re-creates the DRBG before any byte is produced.
   * rng_lock: 0, or the id of the process one of whose threads is
   * re-creating it (a stale holder from another process is taken over). */
  _Atomic long rng_pid;
  _Atomic long rng_lock;
  mbedtls_ssl_config conf;
  hotssl_stats cert_info; /* subject..sha256 filled */
  struct hotssl__hosts *hosts; /* ssl_sni entries (core/hosts.h), or NULL */
  /* Frees hosts: set by the hosts builder (core/sni.c) with hosts. */
  void (*hosts_free)(struct hotssl__hosts *h);
  /* hotssl_session_tickets: the keys and bindings (core/tickets.h), or
   * NULL; freed through tickets_free, which the tickets module set. */
  struct hotssl__tickets *tickets;
  void (*tickets_free)(struct hotssl__tickets *t);
};



/* Warnings about settings g was built with that this mbedTLS build cannot
 * honour (ssl_prefer_server_ciphers = off with mbedTLS 2.28): logged by the
 * manager at start and at each reload that builds. */
void hotssl__generation_config_warnings(const hotssl_generation *g, const hotssl__log *log);

void hotssl__generation_free(hotssl_generation *g);
/* What g (may be NULL: nothing) lends a load: its parsed objects'
 * fingerprints (hotssl__inputs_settle). */
hotssl__lender hotssl__generation_lender(const hotssl_generation *g);
/* Time-dependent HOTSSL_WARN_* bits of g's own identity at now (Unix
 * seconds), without its hosts entries (hotssl__generation_time_warnings,
 * core/build.h, adds those). */
unsigned hotssl__generation_time_warnings_one(const hotssl_generation *g, int64_t now,
                                              const hotssl__log *log);
/* Tests and benchmarks (bench/bench_crl.c): make g's verifier answer its CRL
 * questions with the walk (every CRL searched and its signature verified on
 * every handshake, as mbedTLS's own CRL check does) instead of the revocation
 * table. Call before any handshake uses g. HOTSSL_EINVAL when g's CRL set was
 * not kept parsed (create the manager from a config marked with
 * hotssl__config_keep_crl_walk). */
int hotssl__generation_use_mbedtls_crl(hotssl_generation *g);

#endif /* HOTSSL_CORE_GENERATION_H */
