/*
 * The shared-object cache (core/objcache.c): parsed objects shared between
 * generations whose bytes are identical.
 */
#ifndef HOTSSL_CORE_OBJCACHE_H
#define HOTSSL_CORE_OBJCACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "internal.h"

struct hotssl__revocation;

enum { HOTSSL__KIND_CRT = 0, HOTSSL__KIND_PK = 1, HOTSSL__KIND_CRL = 2 };

/* Parsed objects shared between generations whose bytes are identical. */
typedef struct hotssl__shared {
  atomic_uint refs;
  unsigned char fp[32];
  int kind; /* HOTSSL__KIND_* */
  union {
    mbedtls_x509_crt crt;
    mbedtls_pk_context pk;
    mbedtls_x509_crl crl;
  } u;
  /* kind crl: the revocation table built from u.crl (core/revocation.h),
   * checked by the verify callback instead of mbedTLS's CRL walk. */
  struct hotssl__revocation *revocation;
  /* kind pk: fingerprint of the certificate file this key was checked
   * against (mbedtls_pk_check_pair) by the build that parsed it; a later
   * build pairing the same bytes again skips that check. Written once,
   * before the object is shared. */
  unsigned char paired_cert_fp[32];
  int paired;
  /* kind crl: entries and earliest next update of the set (stats), counted
   * once when parsed, not at every build that reuses it. */
  uint64_t crl_entries;
  int64_t crl_next_update;
} hotssl__shared;

void hotssl__shared_release(hotssl__shared *o);

/* A new object of kind (initialized, empty) for the bytes of fingerprint fp,
 * with one reference; NULL when out of memory. */
hotssl__shared *hotssl__shared_new(int kind, const unsigned char fp[32]);
/* prev with one more reference if its bytes were fp's, else NULL. */
hotssl__shared *hotssl__shared_reuse(hotssl__shared *prev, const unsigned char fp[32]);
/* The same, also looking at recent[0..n_recent) (the manager's recently
 * replaced objects; NULL entries skipped) for one of the given kind. */
hotssl__shared *hotssl__shared_reuse_any(hotssl__shared *prev, struct hotssl__shared *const *recent,
                                         size_t n_recent, int kind, const unsigned char fp[32]);

#endif /* HOTSSL_CORE_OBJCACHE_H */
