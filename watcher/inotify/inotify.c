/*
 * inotify backend (Linux). One inotify instance per watcher, one watch per
 * directory of interest (never per file: a file watch dies with a rename or
 * a delete). Events are filtered by (directory, name) against the current
 * set, so a busy directory (/etc) only wakes us for the names we care about.
 *
 * Lost watches: the kernel sends IN_IGNORED when a watched directory is
 * removed (or its file system unmounted); IN_DELETE_SELF / IN_MOVE_SELF when
 * it goes away or moves; IN_Q_OVERFLOW when the queue overflowed. All of
 * them ask the common layer to re-resolve (and the overflow to poll for a
 * while, since events were lost).
 *
 * Watches we remove ourselves (inotify_rm_watch) also produce IN_IGNORED;
 * by then the descriptor is gone from our table, so the event is ignored.
 *
 * Thread rules: used by one thread at a time (the watcher's).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "../watcher.h"

#define WATCH_MASK                                                                       \
  (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_MODIFY |    \
   IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

typedef struct ino_watch {
  int wd;
  char *dir;
} ino_watch;

typedef struct ino_be {
  int fd;
  ino_watch *w;
  size_t n;
  const hotssl__watch_set *set;
} ino_be;

static int ino_open(void **out) {
  ino_be *b;
  *out = NULL;
  if ((b = calloc(1, sizeof *b)) == NULL)
    return HOTSSL_ENOMEM;
  b->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (b->fd < 0) {
    free(b);
    return HOTSSL_ESYS;
  }
  *out = b;
  return 0;
}

static void free_watches(ino_watch *w, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    free(w[i].dir);
  free(w);
}

static void ino_close(void *p) {
  ino_be *b = p;
  if (b == NULL)
    return;
  if (b->fd >= 0)
    close(b->fd);
  free_watches(b->w, b->n);
  free(b);
}

static int ino_sync(void *p, const hotssl__watch_set *set) {
  ino_be *b = p;
  ino_watch *nw;
  size_t i, j, k = 0;
  int incomplete = 0;

  if ((nw = calloc(set->n_iv + 1, sizeof *nw)) == NULL)
    return HOTSSL_ENOMEM;
  for (i = 0; i < set->n_iv; i++) {
    const char *dir = set->iv[i].dir;
    int wd, dup = 0;
    for (j = 0; j < k; j++)
      if (strcmp(nw[j].dir, dir) == 0)
        dup = 1;
    if (dup)
      continue;
    /* Same mask every time, so re-adding an existing watch changes nothing
     * and returns the same descriptor. */
    wd = inotify_add_watch(b->fd, dir, WATCH_MASK);
    if (wd < 0) {
      incomplete = 1; /* ENOENT (raced with a removal), ENOSPC (watch limit), EACCES */
      continue;
    }
    if ((nw[k].dir = hotssl__strdup(dir)) == NULL) {
      free_watches(nw, k);
      return HOTSSL_ENOMEM;
    }
    nw[k++].wd = wd;
  }
  for (i = 0; i < b->n; i++) {
    int keep = 0;
    for (j = 0; j < k; j++)
      if (nw[j].wd == b->w[i].wd)
        keep = 1;
    for (j = 0; j < i; j++)
      if (b->w[j].wd == b->w[i].wd)
        keep = 1; /* already removed */
    if (!keep)
      inotify_rm_watch(b->fd, b->w[i].wd);
  }
  free_watches(b->w, b->n);
  b->w = nw;
  b->n = k;
  b->set = set;
  return incomplete;
}

static int ino_fd(const void *p) { return ((const ino_be *)p)->fd; }

static void forget_wd(ino_be *b, int wd) {
  size_t i = 0;
  while (i < b->n) {
    if (b->w[i].wd == wd) {
      free(b->w[i].dir);
      b->w[i] = b->w[--b->n];
    } else {
      i++;
    }
  }
}

static int ino_read(void *p, uint64_t now_ms) {
  ino_be *b = p;
  _Alignas(struct inotify_event) char buf[16384];
  int flags = 0;
  (void)now_ms;
  for (;;) {
    ssize_t n = read(b->fd, buf, sizeof buf);
    char *q;
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    if (n <= 0)
      return HOTSSL_ESYS;
    for (q = buf; q < buf + n;) {
      const struct inotify_event *ev = (const struct inotify_event *)(void *)q;
      size_t i;
      q += sizeof *ev + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {
        flags |= HOTSSL__WATCH_CHANGED | HOTSSL__WATCH_RESYNC | HOTSSL__WATCH_LOST;
        continue;
      }
      if (ev->mask & IN_IGNORED) {
        for (i = 0; i < b->n; i++)
          if (b->w[i].wd == ev->wd) {
            flags |= HOTSSL__WATCH_CHANGED | HOTSSL__WATCH_RESYNC;
            break;
          }
        forget_wd(b, ev->wd);
        continue;
      }
      for (i = 0; i < b->n; i++) {
        if (b->w[i].wd != ev->wd)
          continue;
        if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT))
          flags |= HOTSSL__WATCH_CHANGED | HOTSSL__WATCH_RESYNC;
        else if (ev->len > 0 && b->set != NULL && hotssl__watch_match(b->set, b->w[i].dir, ev->name))
          flags |= HOTSSL__WATCH_CHANGED;
      }
    }
  }
  return flags;
}

static int ino_timeout(const void *p, uint64_t now_ms) {
  (void)p;
  (void)now_ms;
  return -1;
}

const hotssl__watch_ops hotssl__watch_inotify_ops = {
    "inotify", ino_open, ino_close, ino_sync, ino_fd, ino_read, ino_timeout,
};
