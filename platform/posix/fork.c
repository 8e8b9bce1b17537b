/*
 * Fork support (POSIX): the explicit before/after-fork calls of
 * include/hotssl/platform.h and the prefork workers' shared generation
 * counter. The library installs no pthread_atfork handlers; the host calls
 * these around its own fork().
 *
 * Why the child re-creates its random generator instead of only reseeding
 * it. Debian's mbedTLS is built with MBEDTLS_THREADING_C: the CTR-DRBG holds
 * a pthread mutex, taken on every mbedtls_ctr_drbg_random() call (its
 * entropy source is the OS's CSPRNG directly, os/posix/random.c, with no
 * context or lock of its own). fork() copies
 * those mutexes in whatever state they had: if a parent thread was in the
 * middle of a handshake (thread-mode hosts that also fork) the child holds
 * a mutex locked by a thread that does not exist there, and its first
 * handshake deadlocks; the DRBG state itself may be half-updated. Calling
 * mbedtls_ctr_drbg_reseed() would take that mutex. So, in the child, which
 * is single-threaded right after fork(), we overwrite the DRBG context
 * (zeroized first: the old state must not survive anywhere) and initialize
 * it anew (mbedtls_ctr_drbg_init creates a fresh mutex in place; the
 * context owns no heap memory, so nothing leaks), then seed the DRBG from
 * fresh OS entropy personalized with the child's pid, parent pid, clock
 * readings and a per-manager fork counter (hotssl__generation_rng_recreate,
 * core/rng.c). The generation's
 * mbedtls_ssl_config keeps pointing at the same (re-created) DRBG. The
 * inherited state is never used again, so two children can never produce
 * the same randoms, and no inherited mutex is ever touched.
 *
 * The explicit calls are the fast path, not the guarantee: every generation
 * records the process id its DRBG was seeded in and its random callback
 * (core/rng.c) compares it on each use, re-creating the DRBG there
 * before producing a byte in a process that made no after-fork call, or for
 * a generation (an open connection's, from before a reload) that
 * hotssl_manager_after_fork_child does not touch. Known limit of a pid check:
 * a descendant whose pid recycles that of a dead ancestor that seeded the
 * state, with no process in between having used it, is not detected.
 *
 * The manager's short locks (reload_lock, then spawn_lock) are handled the
 * classic atfork way: before_fork takes them, the parent releases them
 * after fork, the child releases its copies. Neither is held while a reload
 * builds (core/manager.c), so a fork never waits for a reload in progress,
 * e.g. in a watcher thread. The child may therefore inherit build_lock held
 * by a parent thread that does not exist there: the child then replaces it
 * with a new mutex (the old one is left alone, locked forever). What that
 * half-done build had allocated stays unreachable in the child; it touches
 * no state the child uses (the current generation, the configuration and the
 * counters only change under reload_lock). A child never runs the parent's
 * passphrase command: spawn_lock is held across its creation.
 * The reader-in-flight counters of the publication scheme are reset in the
 * child: a reader that was in flight in another parent thread does not
 * exist there, and a stale count would stall a later publication (prefork).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <apr_pools.h>
#include <apr_shm.h>


#include "../../core/manager.h"
#include "../../core/rng.h"
#include "../prefork.h"
#include "../../core/snapshot.h"
#include "hotssl/platform.h"

HOTSSL__HOT int hotssl_manager_before_fork(hotssl_manager *m) {
  if (m == NULL)
    return HOTSSL_EINVAL;
  hotssl__mutex_lock(m->reload_lock);
  hotssl__mutex_lock(m->spawn_lock);
  m->fork_locked = 1;
  atomic_fetch_add(&m->fork_count, 1);
  return 0;
}

HOTSSL__HOT void hotssl_manager_after_fork_parent(hotssl_manager *m) {
  if (m == NULL || !m->fork_locked)
    return;
  m->fork_locked = 0;
  hotssl__mutex_unlock(m->spawn_lock);
  hotssl__mutex_unlock(m->reload_lock);
}

HOTSSL__HOT int hotssl_generation_after_fork_child(hotssl_generation *g) {
  if (g == NULL)
    return HOTSSL_EINVAL;
  return hotssl__generation_rng_recreate(g, 0);
}

HOTSSL__HOT int hotssl_manager_after_fork_child(hotssl_manager *m) {
  int r;
  if (m == NULL)
    return HOTSSL_EINVAL;
  /* Single-threaded now: no reader is in flight. */
  atomic_store(&m->readers[0], 0);
  atomic_store(&m->readers[1], 0);
  r = hotssl__generation_rng_recreate(atomic_load(&m->current), atomic_load(&m->fork_count));
  /* The parent's wake-up pipe is the parent's: a child writing to it would
   * trigger the parent's reloads, a child reading it would steal them. */
  hotssl__wakeup_close(&m->wakeup);
  /* The generation-change counter is the parent's to write: the child's
   * own reloads must not move what the other children read. The mapping
   * stays; its descriptor (for spawned backends) is the parent's. */
  m->gen_writer = 0;
  if (m->gen_page.fd >= 0) {
    close(m->gen_page.fd);
    m->gen_page.fd = -1;
  }
  if (m->fork_locked) {
    m->fork_locked = 0;
    hotssl__mutex_unlock(m->spawn_lock);
    hotssl__mutex_unlock(m->reload_lock);
  }
  if (r != 0)
    hotssl__logf(&m->log, HOTSSL_LOG_ERROR,
                 "could not seed the random generator after fork: this process must not use TLS");
  if (atomic_load(&m->building) != 0) {
    /* A parent thread may hold build_lock: its copy here stays locked. */
    void *mx = NULL, *pool = NULL;
    atomic_store(&m->building, 0);
    if (hotssl__mutex_create(&mx, &pool) == 0) {
      m->build_lock = mx;
      m->build_pool = pool;
    } else {
      hotssl__logf(&m->log, HOTSSL_LOG_ERROR,
                   "could not create a lock after fork: this process cannot reload");
      if (r == 0)
        r = HOTSSL_ENOMEM;
    }
  }
  return r;
}

/* ---- prefork workers ---- */

/* Shared region. The parent is the only writer (seqlock: seq is odd while
 * it writes); `published` is what workers check at each accept. 64-bit
 * lock-free atomics work across processes sharing the mapping. */
typedef struct prefork_shm {
  _Atomic uint64_t published;
  _Atomic uint64_t seq;
  uint64_t generation;
  uint64_t len;
  unsigned char data[];
} prefork_shm;

struct hotssl_prefork {
  hotssl_manager *m; /* the parent's */
  apr_pool_t *pool;
  apr_shm_t *shm;
  prefork_shm *base;
  size_t capacity;
  _Atomic uint64_t seen; /* per process (copied at fork) */
  pid_t owner;           /* the parent: zeroizes the region at destroy */
  /* Test hook (hotssl__prefork_set_copy_hook): called in hotssl_prefork_check
   * after each copy out of the region, before the seqlock re-check. */
  void (*copy_hook)(void *);
  void *copy_arg;
};

void hotssl__prefork_set_copy_hook(hotssl_prefork *p, void (*fn)(void *), void *arg) {
  p->copy_hook = fn;
  p->copy_arg = arg;
}

#define PREFORK_DEFAULT_CAPACITY ((size_t)64 << 20)

int hotssl_prefork_create(hotssl_prefork **out, hotssl_manager *m, size_t capacity) {
  hotssl_prefork *p;
  int r;
  if (out == NULL || m == NULL)
    return HOTSSL_EINVAL;
  *out = NULL;
  if (capacity == 0)
    capacity = PREFORK_DEFAULT_CAPACITY;
  if ((r = hotssl__runtime_acquire()) != 0)
    return r;
  if ((p = calloc(1, sizeof *p)) == NULL) {
    hotssl__runtime_release();
    return HOTSSL_ENOMEM;
  }
  p->m = m;
  p->capacity = capacity;
  p->owner = getpid();
  if (apr_pool_create(&p->pool, NULL) != APR_SUCCESS) {
    free(p);
    hotssl__runtime_release();
    return HOTSSL_ENOMEM;
  }
  /* Anonymous (filename NULL): no name, no file; inherited by fork only. */
  if (apr_shm_create(&p->shm, sizeof(prefork_shm) + capacity, NULL, p->pool) != APR_SUCCESS) {
    hotssl__logf(&m->log, HOTSSL_LOG_ERROR, "could not create shared memory for prefork workers");
    apr_pool_destroy(p->pool);
    free(p);
    hotssl__runtime_release();
    return HOTSSL_ESYS;
  }
  p->base = apr_shm_baseaddr_get(p->shm);
  /* The region holds the snapshot, key included: out of core dumps (not
   * locked: it is large, and mostly unused). */
  hotssl__pages_protect(p->base, sizeof(prefork_shm) + capacity, HOTSSL__PAGES_NODUMP);
  atomic_init(&p->base->published, 0);
  atomic_init(&p->base->seq, 0);
  if ((r = hotssl_prefork_publish(p)) != 0) {
    hotssl_prefork_destroy(p);
    return r;
  }
  *out = p;
  return 0;
}

int hotssl_prefork_publish(hotssl_prefork *p) {
  unsigned char *bytes;
  size_t len;
  uint64_t gen;
  int r;
  if (p == NULL)
    return HOTSSL_EINVAL;
  if ((r = hotssl__snapshot_encode(p->m, HOTSSL_SNAPSHOT_CONTENTS, &bytes, &len, &gen)) != 0)
    return r;
  if (gen == atomic_load(&p->base->published)) {
    hotssl__snapshot_bytes_free(bytes, len);
    return 0;
  }
  if (len > p->capacity) {
    hotssl__logf(&p->m->log, HOTSSL_LOG_ERROR,
                 "prefork workers keep their generation: snapshot of generation %llu needs %zu bytes, shared memory holds %zu",
                 (unsigned long long)gen, len, p->capacity);
    hotssl__snapshot_bytes_free(bytes, len);
    return HOTSSL_ENOMEM;
  }
  atomic_fetch_add(&p->base->seq, 1); /* odd: writing */
  /* Zeroize what an earlier, longer snapshot left behind. */
  if (p->base->len > len)
    mbedtls_platform_zeroize(p->base->data + len, (size_t)p->base->len - len);
  memcpy(p->base->data, bytes, len);
  p->base->len = len;
  p->base->generation = gen;
  atomic_fetch_add(&p->base->seq, 1); /* even: consistent */
  atomic_store(&p->base->published, gen);
  atomic_store(&p->seen, gen);
  hotssl__snapshot_bytes_free(bytes, len);
  return 0;
}

int hotssl_prefork_check(hotssl_prefork *p, hotssl_manager *wm) {
  uint64_t pub, gen = 0, start;
  unsigned char *buf = NULL;
  size_t len = 0, cap = 0; /* cap: the allocation, wiped whole when freed */
  hotssl_generation *cur, *g = NULL;
  hotssl_config *cfg = NULL;
  char err[HOTSSL__ERRLEN];
  int r;

  if (p == NULL || wm == NULL)
    return HOTSSL_EINVAL;
  pub = atomic_load_explicit(&p->base->published, memory_order_acquire);
  if (pub == atomic_load_explicit(&p->seen, memory_order_relaxed))
    return 0; /* the per-accept cost: one shared load, one local load */
  /* Copy a consistent snapshot out of the seqlock (bounded wait). */
  start = hotssl__now_ms();
  for (;;) {
    uint64_t s1 = atomic_load_explicit(&p->base->seq, memory_order_acquire), s2;
    if ((s1 & 1u) == 0) {
      uint64_t l = p->base->len;
      if (l > p->capacity || l < HOTSSL__SNAPSHOT_HEADER)
        goto retry;
      if (buf == NULL || cap < l) {
        /* An earlier, retried copy may hold key DER anywhere in the old
         * buffer: wipe all of it, not the length last copied. */
        hotssl__snapshot_bytes_free(buf, cap);
        cap = 0;
        if ((buf = hotssl__snapshot_bytes_alloc((size_t)l)) == NULL)
          return HOTSSL_ENOMEM;
        cap = (size_t)l;
      }
      len = (size_t)l;
      gen = p->base->generation;
      memcpy(buf, p->base->data, len);
      if (p->copy_hook != NULL)
        p->copy_hook(p->copy_arg);
      atomic_thread_fence(memory_order_acquire);
      s2 = atomic_load_explicit(&p->base->seq, memory_order_relaxed);
      if (s1 == s2)
        break;
    }
  retry:
    if (hotssl__now_ms() - start > 10000) {
      hotssl__snapshot_bytes_free(buf, cap);
      hotssl__logf(&wm->log, HOTSSL_LOG_WARNING,
                   "could not read the parent's snapshot: it kept changing; keeping the current generation");
      return HOTSSL_EBUSY;
    }
    hotssl__yield();
  }
  atomic_store(&p->seen, gen);
  cur = hotssl_manager_acquire(wm);
  if (gen <= cur->number) {
    hotssl_generation_release(cur);
    hotssl__snapshot_bytes_free(buf, cap);
    return 0;
  }
  r = hotssl__snapshot_build(buf, len, cur, &wm->log, &g, &cfg, err, sizeof err);
  hotssl_generation_release(cur);
  hotssl__snapshot_bytes_free(buf, cap);
  if (r == 0 && (r = hotssl__manager_build_hook(&wm->opts, g, g->number, err, sizeof err)) != 0) {
    hotssl__generation_free(g);
    hotssl_config_destroy(cfg);
  }
  if (r != 0) {
    hotssl__logf(&wm->log, HOTSSL_LOG_WARNING,
                 "SSL configuration was not updated from the parent's snapshot (generation %llu): %s",
                 (unsigned long long)gen, err);
    return r;
  }
  hotssl__manager_install(wm, g, cfg);
  return 1;
}

void hotssl_prefork_destroy(hotssl_prefork *p) {
  if (p == NULL)
    return;
  if (p->shm != NULL) {
    /* The region may hold key material: the parent wipes it when done. */
    if (p->owner == getpid())
      mbedtls_platform_zeroize(p->base->data, (size_t)p->base->len);
    apr_shm_destroy(p->shm);
  }
  apr_pool_destroy(p->pool);
  free(p);
  hotssl__runtime_release();
}
