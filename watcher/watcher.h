/*
 * Internal interface of the watcher (watcher/). Never installed.
 *
 * watcher.c holds the common logic (what to watch, debounce, retry window,
 * fallback to polling, the thread or the host-loop dispatch) and talks to
 * a backend only through a hotssl__watch_ops table chosen at run time:
 * inotify/ (Linux), poll/ (content fingerprints, everywhere), win32/
 * (ReadDirectoryChangesW, Windows). Tests can plug a fake
 * backend with hotssl__watcher_create_ops().
 *
 * The few calls that depend on the operating system and are not a backend
 * (resolving symlinks component by component, waiting on descriptors) live
 * in paths_posix.c (paths_win32.c on Windows).
 */
#ifndef HOTSSL_WATCHER_WATCHER_H
#define HOTSSL_WATCHER_WATCHER_H

#include <stddef.h>
#include <stdint.h>

#include "../core/config.h"
#include "../core/manager.h"
#include "hotssl/watcher.h"

/* What a backend's read() reports (bit flags). */
#define HOTSSL__WATCH_CHANGED 1 /* a watched name changed: debounce, then reload */
#define HOTSSL__WATCH_RESYNC 2  /* a watched directory went away or moved: re-resolve now */
#define HOTSSL__WATCH_LOST 4    /* events were lost (queue overflow): poll for a while */
#define HOTSSL__WATCH_TICK 8    /* the poller ran a check (retry missing watches) */

/* One thing to watch: entry `name` of directory `dir` (canonical, absolute,
 * no symlinks), or every entry of dir when name is NULL. */
typedef struct hotssl__watch_interest {
  char *dir;
  char *name;
} hotssl__watch_interest;

/* Everything one resolution of the configured paths produced. A backend may
 * keep a pointer to the set it was given until the next sync() or close(). */
typedef struct hotssl__watch_set {
  char **paths;          /* configured files and directories, absolute */
  size_t n_paths;
  hotssl__watch_interest *iv;
  size_t n_iv;
  int missing_dir;       /* a directory on some path does not exist now */
  unsigned poll_interval_ms;
  uint64_t max_file_size;
} hotssl__watch_set;

typedef struct hotssl__watch_ops {
  const char *name;
  /* Create the backend's state. HOTSSL_ENOTSUP / HOTSSL_ESYS when unusable. */
  int (*open)(void **be);
  /* Close descriptors and free the state. Must be safe in a forked child. */
  void (*close)(void *be);
  /* Watch exactly `set` from now on (replaces the previous set). 0: all
   * directories watched; 1: some could not be (the caller polls meanwhile);
   * negative: the backend is unusable. */
  int (*sync)(void *be, const hotssl__watch_set *set);
  /* Descriptor readable when read() has something; -1 if none. */
  int (*fd)(const void *be);
  /* Consume what is pending without blocking: HOTSSL__WATCH_* flags, or a
   * negative code when the backend broke (the caller falls back to polling). */
  int (*read)(void *be, uint64_t now_ms);
  /* Milliseconds until read() must run again without the descriptor
   * becoming readable; -1 for never. */
  int (*timeout)(const void *be, uint64_t now_ms);
} hotssl__watch_ops;

#ifdef HOTSSL_HAVE_INOTIFY
extern const hotssl__watch_ops hotssl__watch_inotify_ops;
#endif
#ifdef HOTSSL_HAVE_RDCW
extern const hotssl__watch_ops hotssl__watch_rdcw_ops;
#endif
extern const hotssl__watch_ops hotssl__watch_poll_ops;

/* Create a watcher around an explicit primary backend (NULL: polling only).
 * The poller is always available as the fallback. */
int hotssl__watcher_create_ops(hotssl_watcher **out, hotssl_manager *m,
                               const hotssl_watcher_options *opts,
                               const hotssl__watch_ops *primary);

/* Does (dir, name) match an interest of set? */
int hotssl__watch_match(const hotssl__watch_set *set, const char *dir,
                        const char *name);
/* Add an interest (deduplicated). 0 or HOTSSL_ENOMEM. */
int hotssl__watch_set_add(hotssl__watch_set *set, const char *dir,
                          const char *name);
void hotssl__watch_set_free(hotssl__watch_set *set);

/* paths_posix.c (paths_win32.c): add to set the interests for one configured path: every
 * symlink met while resolving it component by component (its directory and
 * name), the final entry, and for a directory every entry in it. Sets
 * set->missing_dir when a directory on the way does not exist. */
int hotssl__watch_resolve(hotssl__watch_set *set, const char *path);
/* Wait until one of fds (entries < 0 ignored) is readable or timeout_ms
 * passed (-1: no timeout). Returns a bit mask of the readable entries. */
unsigned hotssl__watch_wait(const int *fds, size_t n, int timeout_ms);

/* Fingerprint of the contents (and permissions) of set->paths; a directory
 * contributes its hashed CRL entries. Used by the poller. */
void hotssl__watch_fingerprint(const hotssl__watch_set *set, unsigned char out[32]);

#endif /* HOTSSL_WATCHER_WATCHER_H */
