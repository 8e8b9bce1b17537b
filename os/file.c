/*
 * Reading files, on APR: every file is opened once (non-blocking, so a FIFO
 * cannot hang us), checked with fstat on the open descriptor (regular file,
 * size limit, key-file permissions) and read from that descriptor, so there
 * is no check-then-open race; a file whose identity (os/posix/fileid.c) the
 * caller already knows is not read at all. The read gives bytes and
 * identity; what they mean (hashes, memos) is the caller's. Also lists a
 * directory's names that a caller's predicate accepts.
 * Called by core/ (loader, configuration files) with no locks held; no state.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "hotssl/hotssl.h"
#include "os.h"

void hotssl__os_file_free(hotssl__os_file *f) {
  if (f == NULL)
    return;
  if (f->data != NULL && f->secure) {
    hotssl__secure_free(f->data);
  } else if (f->data != NULL) {
    hotssl__zeroize(f->data, f->len);
    free(f->data);
  }
  memset(f, 0, sizeof *f);
}

static void apr_err(char *buf, size_t len, apr_status_t rv) {
  char t[256];
  hotssl__os_strerror(rv, t, sizeof t);
  hotssl__fmt(buf, len, "%s", t);
}

static const char *type_name(apr_filetype_e t) {
  switch (t) {
  case APR_DIR:
    return "a directory";
  case APR_CHR:
    return "a character device";
  case APR_BLK:
    return "a block device";
  case APR_PIPE:
    return "a FIFO";
  case APR_SOCK:
    return "a socket";
  default:
    return "not a regular file";
  }
}

static int id_equal(const hotssl__file_id *a, const hotssl__file_id *b) {
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
         a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

int hotssl__os_file_read(const char *path, unsigned flags, uint64_t max_size,
                         const hotssl__file_id *skip_if, hotssl__os_file *out, char *errbuf,
                         size_t errlen) {
  apr_pool_t *pool = NULL;
  apr_file_t *f = NULL;
  apr_finfo_t fi;
  apr_status_t rv;
  unsigned char *data = NULL;
  size_t got = 0;
  int r, secure = 0;

  memset(out, 0, sizeof *out);
  /* Every failure fills errbuf: callers print it after the file's name. */
  hotssl__fmt(errbuf, errlen, "out of memory");
  if (apr_pool_create(&pool, NULL) != APR_SUCCESS)
    return HOTSSL_ENOMEM;
  rv = hotssl__os()->file_open(&f, path, HOTSSL__OPEN_FLAGS, APR_OS_DEFAULT, pool);
  if (rv != APR_SUCCESS && (flags & HOTSSL__READ_MISSING_OK) && APR_STATUS_IS_ENOENT(rv)) {
    r = 0; /* out->data stays NULL: the file does not exist */
    goto out;
  }
  if (rv != APR_SUCCESS) {
    apr_err(errbuf, errlen, rv);
    r = HOTSSL_EFILE;
    goto out;
  }
  /* The clock before the fstat: a change after it has a ctime >= this. */
  out->seen_ns = hotssl__wall_ns();
  rv = hotssl__os()->file_info_get(&fi, APR_FINFO_TYPE | APR_FINFO_SIZE | APR_FINFO_PROT | APR_FINFO_OWNER, f);
  if (rv != APR_SUCCESS && rv != APR_INCOMPLETE) {
    apr_err(errbuf, errlen, rv);
    r = HOTSSL_EFILE;
    goto out;
  }
  if (fi.filetype != APR_REG) {
    hotssl__fmt(errbuf, errlen, "is %s, not a regular file", type_name(fi.filetype));
    r = HOTSSL_EFILE;
    goto out;
  }
  if (fi.size < 0 || (uint64_t)fi.size > max_size) {
    hotssl__fmt(errbuf, errlen, "file is too large (%lld bytes, limit %llu)",
                (long long)fi.size, (unsigned long long)max_size);
    r = HOTSSL_EFILE;
    goto out;
  }
  if ((flags & HOTSSL__READ_KEYFILE) &&
      (r = hotssl__keyfile_check(f, &fi, errbuf, errlen)) != 0)
    goto out;
  if (hotssl__file_id_get(f, &out->id) != 0) {
    hotssl__fmt(errbuf, errlen, "could not get the file's status");
    r = HOTSSL_EFILE;
    goto out;
  }
  if (skip_if != NULL && id_equal(skip_if, &out->id)) {
    out->same = 1;
    r = 0;
    goto out;
  }
  /* Read at most size + 1 bytes: a file that grew since fstat is caught.
   * A key file's bytes go into pages kept out of core dumps. */
  secure = (flags & HOTSSL__READ_KEYFILE) != 0;
  data = secure ? hotssl__secure_alloc((size_t)fi.size + 2) : malloc((size_t)fi.size + 2);
  if (data == NULL) {
    r = HOTSSL_ENOMEM;
    goto out;
  }
  for (;;) {
    apr_size_t n = (apr_size_t)fi.size + 1 - got;
    if (n == 0)
      break;
    rv = hotssl__os()->file_read(f, data + got, &n);
    got += n;
    if (rv == APR_EOF || (rv == APR_SUCCESS && n == 0))
      break;
    if (rv != APR_SUCCESS) {
      apr_err(errbuf, errlen, rv);
      r = HOTSSL_EFILE;
      goto out;
    }
  }
  if (got != (size_t)fi.size) {
    hotssl__fmt(errbuf, errlen, "file changed size while being read");
    r = HOTSSL_EFILE;
    goto out;
  }
  data[got] = '\0';
  out->data = data;
  out->len = got;
  out->secure = secure;
  data = NULL;
  r = 0;
out:
  if (data != NULL && secure) {
    hotssl__secure_free(data);
  } else if (data != NULL) {
    hotssl__zeroize(data, got);
    free(data);
  }
  if (f != NULL)
    apr_file_close(f);
  apr_pool_destroy(pool);
  return r;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int hotssl__dir_list(const char *dir, int (*accept)(const char *name, void *ctx), void *ctx,
                     size_t max, char ***names, size_t *count, char *errbuf, size_t errlen) {
  apr_pool_t *pool = NULL;
  apr_dir_t *d = NULL;
  apr_finfo_t fi;
  apr_status_t rv;
  char **list = NULL;
  size_t n = 0, cap = 0;
  int r = 0;

  *names = NULL;
  *count = 0;
  hotssl__fmt(errbuf, errlen, "out of memory"); /* replaced by any other reason */
  if (apr_pool_create(&pool, NULL) != APR_SUCCESS)
    return HOTSSL_ENOMEM;
  if ((rv = hotssl__os()->dir_open(&d, dir, pool)) != APR_SUCCESS) {
    apr_err(errbuf, errlen, rv);
    r = HOTSSL_EFILE;
    goto out;
  }
  while ((rv = apr_dir_read(&fi, APR_FINFO_NAME, d)) == APR_SUCCESS || rv == APR_INCOMPLETE) {
    if (fi.name == NULL || !accept(fi.name, ctx))
      continue;
    if (n == max) {
      hotssl__fmt(errbuf, errlen, "too many files (limit %lu)", (unsigned long)max);
      r = HOTSSL__DIR_TOO_MANY;
      goto out;
    }
    if (n == cap) {
      char **bigger;
      cap = cap ? 2 * cap : 16;
      if ((bigger = realloc(list, cap * sizeof *list)) == NULL) {
        r = HOTSSL_ENOMEM;
        goto out;
      }
      list = bigger;
    }
    if ((list[n] = hotssl__strdup(fi.name)) == NULL) {
      r = HOTSSL_ENOMEM;
      goto out;
    }
    n++;
  }
  if (!APR_STATUS_IS_ENOENT(rv)) {
    apr_err(errbuf, errlen, rv);
    r = HOTSSL_EFILE;
    goto out;
  }
  if (n > 1)
    qsort(list, n, sizeof *list, cmp_str);
  *names = list;
  *count = n;
  list = NULL;
out:
  if (list != NULL) {
    while (n > 0)
      free(list[--n]);
    free(list);
  }
  if (d != NULL)
    apr_dir_close(d);
  apr_pool_destroy(pool);
  return r;
}
