/*
 * A generation's random generator: its own CTR-DRBG, seeded from the OS,
 * and fork safety by construction (a DRBG seeded in another process is
 * re-created before it produces a byte).
 */
#include <stdio.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/platform_util.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
#  include <psa/crypto.h>
#endif

#include "../os/os.h"
#include "generation.h"
#include "rng.h"
#include "util.h"

int hotssl__rng_seed(hotssl_generation *g, char *errbuf, size_t errlen) {
  unsigned char pers[64];
  char t[300];
  int ret;
  /* Each generation has its own DRBG, personalized with its identity. */
  hotssl__fmt((char *)pers, sizeof pers, "hotssl generation %llu %p",
              (unsigned long long)g->number, (void *)g);
  ret = mbedtls_ctr_drbg_seed(&g->drbg, hotssl__os_entropy, NULL, pers, strlen((char *)pers));
  if (ret != 0) {
    hotssl__mbedtls_err(t, sizeof t, ret);
    hotssl__fmt(errbuf, errlen, "could not seed the random generator: %s", t);
    return HOTSSL_ETLS;
  }
  atomic_init(&g->rng_pid, hotssl__process_id());
  atomic_init(&g->rng_lock, 0);
  return 0;
}

/* TLS 1.3 (mbedTLS 3.x) draws its ECDHE key shares from PSA's one global
 * random generator, not from the generation's DRBG. 3.6.6 reseeds it by
 * itself when it sees a new pid; reseed it explicitly too (the same
 * personalization as the DRBG's), so a child never depends on that check.
 * Versions of 3.x before 3.6.6 are refused at build time (core/internal.h). */
HOTSSL__HOT static int reseed_psa(const char *pers, size_t n) {
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
HOTSSL__HOT int hotssl__generation_rng_recreate(hotssl_generation *g, unsigned count) {
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
HOTSSL__HOT int hotssl__rng_random(void *ctx, unsigned char *out, size_t len) {
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
