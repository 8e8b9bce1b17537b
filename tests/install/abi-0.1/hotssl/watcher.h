/*
 * hotssl watcher: turns changes of the TLS files (and of the configuration
 * file) into reloads of a hotssl_manager, the way real deployments change
 * files: in-place rewrites, rename over, Kubernetes `..data` symlink swaps,
 * certbot `live/` -> `archive/` links, delete and recreate, whole directory
 * replaced.
 *
 * It watches the *directories* holding the files and the directories of
 * their symlink targets (re-resolved after each change), coalesces a burst
 * of events (hotssl_debounce_ms quiet period), then reloads through the
 * manager (trigger "file change"). A failure right after an event (a cert
 * paired with the old key, a half-written file) is retried with backoff for
 * hotssl_retry_window_ms; only the last attempt's failure is logged. When a
 * watch cannot be set or is lost (directory removed, event queue overflow),
 * it polls content fingerprints every hotssl_poll_interval_ms until the
 * watches are back.
 *
 * Two ways to run:
 *  - own_thread = 1: the watcher runs its own thread. That thread also
 *    serves hotssl_manager_request_reload() (signal path).
 *  - own_thread = 0: the host's event loop waits for hotssl_watcher_fd() and
 *    hotssl_manager_wakeup_fd() to become readable, or for the timeout that
 *    hotssl_watcher_dispatch() returned, then calls hotssl_watcher_dispatch()
 *    (which also runs a requested signal reload). All in one thread.
 *
 * The watcher never installs signal handlers.
 */
#ifndef HOTSSL_WATCHER_H
#define HOTSSL_WATCHER_H

#include "hotssl/hotssl.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hotssl_watcher hotssl_watcher;

typedef enum hotssl_watcher_backend {
  HOTSSL_WATCHER_AUTO = 0,    /* the platform's notification API, else polling */
  HOTSSL_WATCHER_NOTIFY = 1,  /* the platform's notification API (inotify,
                                 ReadDirectoryChangesW); fail if none */
  HOTSSL_WATCHER_POLL = 2     /* content fingerprints only */
} hotssl_watcher_backend;

typedef struct hotssl_watcher_options {
  hotssl_watcher_backend backend;
  int own_thread; /* 1: run a watcher thread; 0: the host calls dispatch */
} hotssl_watcher_options;

/*
 * Start watching the files of m's configuration. opts may be NULL (AUTO, own
 * thread). m must outlive the watcher. Errors: HOTSSL_EINVAL, HOTSSL_ENOMEM,
 * HOTSSL_ENOTSUP (NOTIFY asked where the platform has none), HOTSSL_ESYS.
 * Thread rules: create/destroy from one thread; with own_thread = 0,
 * fd/dispatch from that same thread only.
 */
HOTSSL_EXTERN int hotssl_watcher_create(hotssl_watcher **out, hotssl_manager *m,
                                        const hotssl_watcher_options *opts);

/* Descriptor that becomes readable when file events are pending; -1 when
 * the watcher only polls (rely on the dispatch timeout). Owned by w. On
 * Windows an event HANDLE value: wait with (HANDLE)(intptr_t)fd. */
HOTSSL_EXTERN int hotssl_watcher_fd(const hotssl_watcher *w);

/*
 * Host-loop mode: process pending events, timers and a requested signal
 * reload without blocking (a reload itself takes as long as a reload).
 * Returns the number of milliseconds after which it must be called again
 * even if nothing became readable, or -1 for no deadline. When the watcher
 * runs its own thread it does nothing and returns -1.
 */
HOTSSL_EXTERN int hotssl_watcher_dispatch(hotssl_watcher *w);

/* "inotify", "poll" or "inotify+poll" (fallback polling active); on
 * Windows "ReadDirectoryChangesW" or "notify+poll". Static
 * text. Any thread (a snapshot). */
HOTSSL_EXTERN const char *hotssl_watcher_backend_name(const hotssl_watcher *w);

/* Stop the thread (if any), close every descriptor, free w. NULL ok. */
HOTSSL_EXTERN void hotssl_watcher_destroy(hotssl_watcher *w);

/*
 * In a child after fork(): close the watcher's descriptors (inotify, pipes)
 * and free its memory without touching its thread (threads do not survive
 * fork), so the inherited descriptor cannot steal the parent's events. The
 * parent keeps watching. NULL ok. Afterwards w is gone.
 */
HOTSSL_EXTERN void hotssl_watcher_after_fork_child(hotssl_watcher *w);

#ifdef __cplusplus
}
#endif
#endif /* HOTSSL_WATCHER_H */
