/*
 * File identity for the loader's memos (core/inputs.c): fstat on the open
 * descriptor, with nanosecond mtime and ctime (APR's apr_finfo_t only has
 * microseconds), and the wall clock those times compare with.
 */
#include <sys/stat.h>
#include <time.h>

#include <apr_file_io.h>
#include <apr_portable.h>

#include "hotssl/hotssl.h"
#include "../os.h"

int hotssl__file_id_get(struct apr_file_t *f, hotssl__file_id *id) {
  apr_os_file_t fd;
  struct stat st;
  if (apr_os_file_get(&fd, f) != APR_SUCCESS || fstat(fd, &st) != 0)
    return HOTSSL_EFILE;
  id->dev = (uint64_t)st.st_dev;
  id->ino = (uint64_t)st.st_ino;
  id->size = (uint64_t)st.st_size;
  id->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
  id->ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
  return 0;
}

HOTSSL__HOT int64_t hotssl__wall_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
