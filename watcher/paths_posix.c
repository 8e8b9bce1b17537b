/*
 * POSIX pieces of the watcher that are not a backend: resolving a configured
 * path component by component to learn which directory entries matter
 * (symlinks on the way, the final file), and waiting on descriptors.
 *
 * Why component by component: with Kubernetes secret volumes the file is
 * `dir/server.crt -> ..data/server.crt` and `..data -> ..2024_01_01_xx`;
 * a rotation only renames a new `..data` symlink into `dir`. realpath()
 * would tell us the final directory but not that `..data` in `dir` matters.
 * Every symlink met is recorded as (directory it lives in, its name).
 *
 * Called only from the watcher's own thread (or the host's loop thread).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "watcher.h"

#define MAX_LINKS 40

/* Drop the last component of an absolute canonical path ("" is the root). */
static void parent_of(char *cur) {
  char *s = strrchr(cur, '/');
  if (s != NULL)
    *s = '\0';
}

int hotssl__watch_resolve(hotssl__watch_set *set, const char *path) {
  char cur[PATH_MAX];      /* resolved prefix, no trailing '/', "" = root */
  char rest[2 * PATH_MAX]; /* what is left to walk */
  char next[PATH_MAX + 256];
  char tgt[PATH_MAX];
  int links = 0, r;

  if (path == NULL || path[0] != '/' || strlen(path) >= sizeof rest)
    return 0;
  cur[0] = '\0';
  memcpy(rest, path, strlen(path) + 1);
  for (;;) {
    char *p = rest, *c, *more;
    struct stat st;
    size_t clen;
    while (*p == '/')
      p++;
    if (*p == '\0')
      return 0; /* the path named a directory we fully walked ("/" or "x/") */
    c = p;
    clen = strcspn(c, "/");
    more = c + clen;
    while (*more == '/')
      more++;
    if (clen == 1 && c[0] == '.') {
      memmove(rest, more, strlen(more) + 1);
      continue;
    }
    if (clen == 2 && c[0] == '.' && c[1] == '.') {
      parent_of(cur);
      memmove(rest, more, strlen(more) + 1);
      continue;
    }
    if (strlen(cur) + 1 + clen + 1 > sizeof cur)
      return 0;
    snprintf(next, sizeof next, "%s/%.*s", cur, (int)clen, c);
    {
      char name[NAME_MAX + 1];
      const char *dir = cur[0] != '\0' ? cur : "/";
      if (clen > NAME_MAX)
        return 0;
      memcpy(name, c, clen);
      name[clen] = '\0';
      if (lstat(next, &st) != 0) {
        /* Missing: watch for it to appear. A missing directory on the way
         * also means the directories below cannot be watched yet. */
        if ((r = hotssl__watch_set_add(set, dir, name)) != 0)
          return r;
        if (*more != '\0')
          set->missing_dir = 1;
        return 0;
      }
      if (S_ISLNK(st.st_mode)) {
        ssize_t n;
        char tmp[2 * PATH_MAX];
        if ((r = hotssl__watch_set_add(set, dir, name)) != 0)
          return r;
        if (++links > MAX_LINKS)
          return 0; /* a loop: the loader will report it */
        n = readlink(next, tgt, sizeof tgt - 1);
        if (n < 0)
          return 0;
        tgt[n] = '\0';
        if (tgt[0] == '/')
          cur[0] = '\0';
        {
          size_t ml = strlen(more);
          if ((size_t)n + 1 + ml + 1 > sizeof tmp)
            return 0;
          memcpy(tmp, tgt, (size_t)n);
          tmp[n] = '/';
          memcpy(tmp + n + 1, more, ml + 1);
          memcpy(rest, tmp, (size_t)n + ml + 2);
        }
        continue;
      }
      if (*more == '\0') {
        if ((r = hotssl__watch_set_add(set, dir, name)) != 0)
          return r;
        if (S_ISDIR(st.st_mode))
          return hotssl__watch_set_add(set, next, NULL);
        return 0;
      }
      memcpy(cur, next, strlen(next) + 1);
      memmove(rest, more, strlen(more) + 1);
    }
  }
}

unsigned hotssl__watch_wait(const int *fds, size_t n, int timeout_ms) {
  struct pollfd p[8];
  size_t i, k = 0;
  int map[8];
  unsigned mask = 0;
  for (i = 0; i < n && k < 8; i++) {
    if (fds[i] < 0)
      continue;
    p[k].fd = fds[i];
    p[k].events = POLLIN;
    p[k].revents = 0;
    map[k++] = (int)i;
  }
  if (poll(p, (nfds_t)k, timeout_ms) <= 0)
    return 0; /* timeout or EINTR: the caller re-dispatches anyway */
  for (i = 0; i < k; i++)
    if (p[i].revents != 0)
      mask |= 1u << map[i];
  return mask;
}
