/*
 * Path syntax shared by the OS-specific parts: joining a relative path to a
 * folder, the folder of a path, the absolute form of a path (APR) and
 * whether a path exists. What a separator is and what counts as absolute is
 * per OS (os/posix/path.c, os/win32/path.c). No state; any thread may call
 * these.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_pools.h>

#include "os.h"

char *hotssl__path_join(const char *base, const char *path) {
  size_t bl, pl;
  char *r;
  if (path == NULL)
    return NULL;
  if (base == NULL || base[0] == '\0' || hotssl__path_is_absolute(path))
    return hotssl__strdup(path);
  bl = strlen(base);
  pl = strlen(path);
  r = malloc(bl + pl + 2);
  if (r == NULL)
    return NULL;
  memcpy(r, base, bl);
  r[bl] = '/';
  memcpy(r + bl + 1, path, pl + 1);
  return r;
}

char *hotssl__dir_of(const char *path) {
  const char *slash = hotssl__path_last_sep(path);
  char *d;
  if (slash == NULL)
    return hotssl__strdup(".");
  if (slash == path)
    return hotssl__strdup("/");
  d = malloc((size_t)(slash - path) + 1);
  if (d == NULL)
    return NULL;
  memcpy(d, path, (size_t)(slash - path));
  d[slash - path] = '\0';
  return d;
}

char *hotssl__path_absolute(const char *path) {
  apr_pool_t *pool;
  char *merged = NULL, *r;
  if (apr_pool_create(&pool, NULL) != APR_SUCCESS)
    return NULL;
  if (apr_filepath_merge(&merged, NULL, path, APR_FILEPATH_NOTRELATIVE, pool) != APR_SUCCESS)
    merged = (char *)path;
  r = hotssl__strdup(merged);
  apr_pool_destroy(pool);
  return r;
}

int hotssl__path_missing(const char *path) {
  apr_pool_t *pool;
  apr_finfo_t fi;
  int missing;
  if (apr_pool_create(&pool, NULL) != APR_SUCCESS)
    return 0;
  missing = APR_STATUS_IS_ENOENT(apr_stat(&fi, path, APR_FINFO_TYPE, pool));
  apr_pool_destroy(pool);
  return missing;
}
