/*
 * Polling backend: every poll interval, a SHA-256 over the contents and
 * permissions of the configured files (following symlinks, as the loader
 * does) and of the hashed CRL entries of a CRL directory. A different
 * fingerprint is a change. Content, not mtime: a touch or a rewrite with the
 * same bytes is no change, and a change within the same second is seen.
 *
 * Used alone (HOTSSL_WATCHER_POLL, or no notification API), and as the
 * fallback of the notification backend while a watch cannot be set, was
 * lost, or events overflowed. Portable: files are read through the platform
 * layer (APR), so the same code runs on Windows.
 *
 * Thread rules: used by one thread at a time (the watcher's).
 */
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_pools.h>
#include <mbedtls/sha256.h>

#include "../watcher.h"

#if HOTSSL__MBEDTLS3
#  define SHA_START(c) mbedtls_sha256_starts((c), 0)
#  define SHA_UPDATE(c, d, l) mbedtls_sha256_update((c), (d), (l))
#  define SHA_FINISH(c, o) mbedtls_sha256_finish((c), (o))
#else
#  define SHA_START(c) mbedtls_sha256_starts_ret((c), 0)
#  define SHA_UPDATE(c, d, l) mbedtls_sha256_update_ret((c), (d), (l))
#  define SHA_FINISH(c, o) mbedtls_sha256_finish_ret((c), (o))
#endif

static void sha_str(mbedtls_sha256_context *c, const char *s) {
  SHA_UPDATE(c, (const unsigned char *)s, strlen(s) + 1);
}

static void sha_file(mbedtls_sha256_context *c, const char *path, uint64_t max) {
  hotssl__blob b;
  int r = hotssl__file_read(path, 0, max, NULL, &b, NULL, 0);
  if (r != 0) {
    SHA_UPDATE(c, (const unsigned char *)&r, sizeof r);
    return;
  }
  SHA_UPDATE(c, b.data, b.len);
  hotssl__blob_free(&b);
}

void hotssl__watch_fingerprint(const hotssl__watch_set *set, unsigned char out[32]) {
  mbedtls_sha256_context c;
  apr_pool_t *pool = NULL;
  size_t i;

  mbedtls_sha256_init(&c);
  SHA_START(&c);
  if (apr_pool_create(&pool, NULL) != APR_SUCCESS)
    pool = NULL;
  for (i = 0; i < set->n_paths; i++) {
    const char *path = set->paths[i];
    apr_finfo_t fi;
    sha_str(&c, path);
    if (pool == NULL ||
        apr_stat(&fi, path, APR_FINFO_TYPE | APR_FINFO_PROT | APR_FINFO_OWNER, pool) != APR_SUCCESS) {
      sha_str(&c, "(missing)");
      continue;
    }
    {
      /* Permissions matter: fixing a key's mode must trigger a reload. */
#ifdef _WIN32
      /* apr_uid_t is a pointer to a SID in the pool there: not a value. */
      unsigned long meta[3] = {(unsigned long)fi.filetype, (unsigned long)fi.protection, 0};
#else
      unsigned long meta[3] = {(unsigned long)fi.filetype, (unsigned long)fi.protection,
                               (unsigned long)fi.user};
#endif
      SHA_UPDATE(&c, (const unsigned char *)meta, sizeof meta);
    }
    if (fi.filetype == APR_DIR) {
      char **names = NULL;
      size_t n = 0, k;
      if (hotssl__crl_dir_list(path, &names, &n, NULL, 0) != 0) {
        sha_str(&c, "(unreadable)");
        continue;
      }
      for (k = 0; k < n; k++) {
        char *full = hotssl__path_join(path, names[k]);
        sha_str(&c, names[k]);
        if (full != NULL)
          sha_file(&c, full, set->max_file_size);
        free(full);
        free(names[k]);
      }
      free(names);
    } else {
      sha_file(&c, path, set->max_file_size);
    }
  }
  if (pool != NULL)
    apr_pool_destroy(pool);
  SHA_FINISH(&c, out);
  mbedtls_sha256_free(&c);
}

typedef struct poll_be {
  const hotssl__watch_set *set;
  unsigned interval;
  uint64_t next;
  unsigned char fp[32];
  int have_fp;
  char *paths_key; /* the path list the fingerprint was taken over */
} poll_be;

static int poll_open(void **out) {
  poll_be *b = calloc(1, sizeof *b);
  *out = b;
  return b != NULL ? 0 : HOTSSL_ENOMEM;
}

static void poll_close(void *p) {
  poll_be *b = p;
  if (b == NULL)
    return;
  free(b->paths_key);
  free(b);
}

static char *paths_key(const hotssl__watch_set *set) {
  size_t i, len = 1;
  char *k;
  for (i = 0; i < set->n_paths; i++)
    len += strlen(set->paths[i]) + 1;
  if ((k = malloc(len)) == NULL)
    return NULL;
  k[0] = '\0';
  for (i = 0; i < set->n_paths; i++) {
    strcat(k, set->paths[i]);
    strcat(k, "\n");
  }
  return k;
}

static int poll_sync(void *p, const hotssl__watch_set *set) {
  poll_be *b = p;
  char *key = paths_key(set);
  b->set = set;
  b->interval = set->poll_interval_ms > 0 ? set->poll_interval_ms : 1;
  /* New list of files (configuration changed): take a new baseline, or the
   * next check would see a "change" that is only the new list. */
  if (!b->have_fp || key == NULL || b->paths_key == NULL || strcmp(key, b->paths_key) != 0) {
    hotssl__watch_fingerprint(set, b->fp);
    b->have_fp = 1;
    b->next = hotssl__now_ms() + b->interval;
  }
  free(b->paths_key);
  b->paths_key = key;
  return 0;
}

static int poll_fd(const void *p) {
  (void)p;
  return -1;
}

static int poll_read(void *p, uint64_t now_ms) {
  poll_be *b = p;
  unsigned char fp[32];
  if (b->set == NULL || now_ms < b->next)
    return 0;
  b->next = now_ms + b->interval;
  hotssl__watch_fingerprint(b->set, fp);
  if (b->have_fp && memcmp(fp, b->fp, 32) == 0)
    return HOTSSL__WATCH_TICK;
  memcpy(b->fp, fp, 32);
  b->have_fp = 1;
  return HOTSSL__WATCH_TICK | HOTSSL__WATCH_CHANGED;
}

static int poll_timeout(const void *p, uint64_t now_ms) {
  const poll_be *b = p;
  if (b->set == NULL)
    return -1;
  return b->next > now_ms ? (int)(b->next - now_ms) : 0;
}

const hotssl__watch_ops hotssl__watch_poll_ops = {
    "poll", poll_open, poll_close, poll_sync, poll_fd, poll_read, poll_timeout,
};
