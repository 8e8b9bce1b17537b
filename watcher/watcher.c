/*
 * The watcher's common logic: what to watch, debounce, retry window,
 * fallback to polling, and the two ways to run (own thread, host loop).
 * Backends are reached only through hotssl__watch_ops (watcher.h).
 *
 * State machine, driven by dispatch() (non-blocking, one thread):
 *   idle --event--> debouncing (due = last event + debounce, but no later
 *   than first event + max delay, so a storm still reloads about once a
 *   second) --due--> attempt: re-resolve the paths, reload through the
 *   manager. A failure inside the retry window is retried with backoff
 *   (50 ms doubling to 500 ms) without being logged or counted (final = 0);
 *   the attempt at the end of the window is final and logs one line. A new
 *   event restarts debouncing (and the window).
 *
 * Before and after every attempt the configured paths are re-resolved
 * (symlinks may point elsewhere now, the configuration may name other
 * files) and the backends re-synced: watches are set before the files are
 * read, so a change after the read is always seen.
 *
 * Polling runs when there is no notification backend, while a directory on
 * a path is missing or a watch could not be set, and for a while after
 * events were lost (queue overflow). While degraded, every poll tick also
 * retries the watches.
 *
 * Thread rules: with own_thread, only the watcher thread touches the state
 * after create; destroy stops and joins it. Without, the host's thread calls
 * dispatch. The manager serializes reloads itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_pools.h>
#include <apr_thread_proc.h>

#include "watcher.h"

#define RETRY_FIRST_MS 50u
#define RETRY_MAX_MS 500u
#define LOST_POLL_ROUNDS 10u

struct hotssl_watcher {
  hotssl_manager *m;
  const hotssl__watch_ops *ops; /* primary backend, NULL: polling only */
  void *be;
  void *poll_be;
  hotssl__watch_set *set;

  unsigned debounce_ms, retry_window_ms, poll_interval_ms;
  uint64_t max_file_size;
  int degraded;        /* last sync could not watch everything */
  uint64_t poll_until; /* after lost events: poll until then */
  int polling_logged;
  int remote_logged; /* the "polling a remote filesystem" line was logged */

  uint64_t first_event, due; /* debouncing when due != 0 */
  int retrying;
  uint64_t window_end, next_retry;
  unsigned backoff;
  uint64_t expiry_due; /* next hotssl__manager_expiry_tick (monotonic ms) */
  unsigned settings_seen; /* m->settings_changes at the last resync */

  int own_thread;
  apr_pool_t *pool;
  apr_thread_t *thread;
  hotssl__wakeup stop;
  atomic_int stopping;
  atomic_int mode; /* 0 notify, 1 notify+poll, 2 poll: for backend_name */
};

/* ---- interest sets ---- */

int hotssl__watch_match(const hotssl__watch_set *set, const char *dir, const char *name) {
  size_t i;
  for (i = 0; i < set->n_iv; i++)
    if (strcmp(set->iv[i].dir, dir) == 0 &&
        (set->iv[i].name == NULL || strcmp(set->iv[i].name, name) == 0))
      return 1;
  return 0;
}

int hotssl__watch_set_add(hotssl__watch_set *set, const char *dir, const char *name) {
  hotssl__watch_interest *nv;
  size_t i;
  for (i = 0; i < set->n_iv; i++)
    if (strcmp(set->iv[i].dir, dir) == 0 &&
        ((set->iv[i].name == NULL && name == NULL) ||
         (set->iv[i].name != NULL && name != NULL && strcmp(set->iv[i].name, name) == 0)))
      return 0;
  if ((nv = realloc(set->iv, (set->n_iv + 1) * sizeof *nv)) == NULL)
    return HOTSSL_ENOMEM;
  set->iv = nv;
  nv[set->n_iv].dir = hotssl__strdup(dir);
  nv[set->n_iv].name = name != NULL ? hotssl__strdup(name) : NULL;
  if (nv[set->n_iv].dir == NULL || (name != NULL && nv[set->n_iv].name == NULL)) {
    free(nv[set->n_iv].dir);
    free(nv[set->n_iv].name);
    return HOTSSL_ENOMEM;
  }
  set->n_iv++;
  return 0;
}

void hotssl__watch_set_free(hotssl__watch_set *set) {
  size_t i;
  if (set == NULL)
    return;
  for (i = 0; i < set->n_iv; i++) {
    free(set->iv[i].dir);
    free(set->iv[i].name);
  }
  free(set->iv);
  hotssl__manager_watch_paths_free(set->paths, set->n_paths);
  free(set);
}

/* ---- settings and resolution ---- */

static unsigned setting_ms(const hotssl_config *cfg, int id, unsigned def) {
  uint64_t v;
  if (hotssl__parse_uint(hotssl__config_value(cfg, id), 3600000u, &v) != 0)
    return def;
  return (unsigned)v;
}

static void load_settings(hotssl_watcher *w) {
  hotssl_manager *m = w->m;
  uint64_t v;
  hotssl__mutex_lock(m->reload_lock);
  w->debounce_ms = setting_ms(m->cfg, HOTSSL__S_DEBOUNCE_MS, 150);
  w->retry_window_ms = setting_ms(m->cfg, HOTSSL__S_RETRY_WINDOW_MS, 2000);
  w->poll_interval_ms = setting_ms(m->cfg, HOTSSL__S_POLL_INTERVAL_MS, 1000);
  if (hotssl__parse_uint(hotssl__config_value(m->cfg, HOTSSL__S_MAX_FILE_SIZE), UINT64_MAX, &v) != 0)
    v = HOTSSL__DEFAULT_MAX_FILE_SIZE;
  w->max_file_size = v;
  hotssl__mutex_unlock(m->reload_lock);
  if (w->poll_interval_ms < 10)
    w->poll_interval_ms = 10;
}

static int polling_active(const hotssl_watcher *w, uint64_t now) {
  return w->be == NULL || w->degraded || now < w->poll_until;
}

static void update_mode(hotssl_watcher *w, uint64_t now) {
  int mode = w->be == NULL ? 2 : polling_active(w, now) ? 1 : 0;
  if (mode == 1 && !w->polling_logged) {
    hotssl__logf(&w->m->log, HOTSSL_LOG_WARNING,
                 "file watch incomplete or lost (directory missing, watch limit or event overflow); "
                 "polling every %u ms until it is back",
                 w->poll_interval_ms);
    w->polling_logged = 1;
  } else if (mode == 0 && w->polling_logged) {
    hotssl__logf(&w->m->log, HOTSSL_LOG_INFO, "file watch restored (%s)", w->ops->name);
    w->polling_logged = 0;
  }
  atomic_store(&w->mode, mode);
}

static void primary_failed(hotssl_watcher *w) {
  hotssl__logf(&w->m->log, HOTSSL_LOG_WARNING, "file watch backend %s failed; polling every %u ms",
               w->ops->name, w->poll_interval_ms);
  w->ops->close(w->be);
  w->be = NULL;
}

/* A watched folder on a filesystem where inotify misses changes made
 * elsewhere (NFS, CIFS, FUSE, overlay; os/): poll it too, and say so once. */
static int remote_dirs(hotssl_watcher *w, const hotssl__watch_set *set) {
  size_t i;
  for (i = 0; w->be != NULL && i < set->n_iv; i++) {
    hotssl__mount mt;
    char *p = set->iv[i].name != NULL ? hotssl__path_join(set->iv[i].dir, set->iv[i].name) : NULL;
    /* The entry itself when named: on overlay, where it comes from matters. */
    int r = hotssl__mount_of(p != NULL ? p : set->iv[i].dir, &mt);
    free(p);
    if (r != 0 || !(mt.flags & HOTSSL__MOUNT_REMOTE))
      continue;
    if (!w->remote_logged)
      hotssl__logf(&w->m->log, HOTSSL_LOG_WARNING,
                   "file watch: \"%s\" is on a %s filesystem, where inotify misses changes made elsewhere; polling every %u ms as well",
                   set->iv[i].dir, mt.fstype, w->poll_interval_ms);
    w->remote_logged = w->polling_logged = 1;
    return 1;
  }
  return 0;
}

/* Re-resolve every configured path and re-sync the backends. */
static int resync(hotssl_watcher *w) {
  hotssl__watch_set *set;
  size_t i;
  int r, incomplete;

  /* Read before the paths: a change after this is seen at the next turn. */
  w->settings_seen = atomic_load(&w->m->settings_changes);
  load_settings(w);
  if ((set = calloc(1, sizeof *set)) == NULL)
    return HOTSSL_ENOMEM;
  if ((r = hotssl__manager_watch_paths(w->m, &set->paths, &set->n_paths)) != 0) {
    free(set);
    return r;
  }
  for (i = 0; i < set->n_paths; i++)
    if ((r = hotssl__watch_resolve(set, set->paths[i])) != 0) {
      hotssl__watch_set_free(set);
      return r;
    }
  set->poll_interval_ms = w->poll_interval_ms;
  set->max_file_size = w->max_file_size;
  incomplete = set->missing_dir;
  if (w->be != NULL) {
    r = w->ops->sync(w->be, set);
    if (r < 0)
      primary_failed(w);
    else if (r > 0)
      incomplete = 1;
  }
  if (remote_dirs(w, set))
    incomplete = 1;
  hotssl__watch_poll_ops.sync(w->poll_be, set);
  hotssl__watch_set_free(w->set);
  w->set = set;
  w->degraded = incomplete;
  update_mode(w, hotssl__now_ms());
  return 0;
}

/* ---- dispatch ---- */

static void attempt(hotssl_watcher *w) {
  char err[HOTSSL__ERRLEN];
  uint64_t now;
  int final, r;

  resync(w);
  now = hotssl__now_ms();
  final = now >= w->window_end;
  r = hotssl__manager_reload_ex(w->m, NULL, HOTSSL_TRIGGER_FILE, final, err, sizeof err);
  now = hotssl__now_ms();
  if (r < 0 && !final) {
    w->backoff = w->backoff == 0 ? RETRY_FIRST_MS
                 : w->backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : w->backoff * 2;
    w->next_retry = now + w->backoff;
    if (w->next_retry > w->window_end)
      w->next_retry = w->window_end;
    w->retrying = 1;
  } else {
    w->retrying = 0;
    w->backoff = 0;
  }
  resync(w); /* the configuration may name other files now */
}

static int ms_until(uint64_t t, uint64_t now) {
  if (t <= now)
    return 0;
  return t - now > 3600000u ? 3600000 : (int)(t - now);
}

static int min_timeout(int a, int b) {
  if (a < 0)
    return b;
  if (b < 0)
    return a;
  return a < b ? a : b;
}

static int dispatch(hotssl_watcher *w) {
  uint64_t now = hotssl__now_ms();
  int flags = 0, t = -1;

  /* Signal path: a reload requested with hotssl_manager_request_reload. */
  hotssl_manager_dispatch(w->m);

  if (w->be != NULL) {
    int r = w->ops->read(w->be, now);
    if (r < 0) {
      primary_failed(w);
      flags |= HOTSSL__WATCH_CHANGED | HOTSSL__WATCH_RESYNC;
    } else {
      flags |= r;
    }
  }
  if (polling_active(w, now))
    flags |= hotssl__watch_poll_ops.read(w->poll_be, now);
  if (flags & HOTSSL__WATCH_LOST) {
    unsigned span = w->poll_interval_ms * LOST_POLL_ROUNDS;
    w->poll_until = now + (span < 5000u ? 5000u : span);
  }
  /* The manager took other settings (hotssl_manager_reload_with): follow
   * their paths, and reload once as after an event: a file changed between
   * that build and this re-resolution raised no event we could see. */
  if (atomic_load(&w->m->settings_changes) != w->settings_seen)
    flags |= HOTSSL__WATCH_RESYNC | HOTSSL__WATCH_CHANGED;
  if ((flags & HOTSSL__WATCH_RESYNC) || ((flags & HOTSSL__WATCH_TICK) && w->degraded))
    resync(w);
  else
    update_mode(w, now);
  if (flags & HOTSSL__WATCH_CHANGED) {
    uint64_t max_delay = 4u * (uint64_t)w->debounce_ms;
    if (max_delay < 1000u)
      max_delay = 1000u;
    if (w->due == 0)
      w->first_event = now;
    w->due = now + w->debounce_ms;
    if (w->due > w->first_event + max_delay)
      w->due = w->first_event + max_delay > now ? w->first_event + max_delay : now;
    w->retrying = 0;
    w->backoff = 0;
  }
  if (w->due != 0 && now >= w->due) {
    w->due = 0;
    w->window_end = now + w->retry_window_ms;
    attempt(w);
  } else if (w->retrying && now >= w->next_retry) {
    attempt(w);
  }

  now = hotssl__now_ms();
  /* Expiry warnings, repeated once a day while they hold. */
  if (now >= w->expiry_due) {
    w->expiry_due = now + (uint64_t)hotssl__manager_expiry_tick(w->m);
    now = hotssl__now_ms();
  }
  /* The mode again, from the time the timeout below is computed from: the
   * work above (a poll read, a reload) may have run past poll_until. Either
   * polling has ended and is logged as such here, or the wait ends at
   * poll_until; otherwise work that crossed poll_until would leave the mode
   * at "polling" with no wake-up to end it. */
  update_mode(w, now);
  t = min_timeout(t, ms_until(w->expiry_due, now));
  /* The backend may need read() again without its descriptor becoming
   * readable (its own timers): honour its timeout() as the ops promise. */
  if (w->be != NULL)
    t = min_timeout(t, w->ops->timeout(w->be, now));
  if (w->due != 0)
    t = min_timeout(t, ms_until(w->due, now));
  if (w->retrying)
    t = min_timeout(t, ms_until(w->next_retry, now));
  if (polling_active(w, now)) {
    t = min_timeout(t, hotssl__watch_poll_ops.timeout(w->poll_be, now));
    if (w->poll_until > now)
      t = min_timeout(t, ms_until(w->poll_until, now));
  }
  return t;
}

static void *APR_THREAD_FUNC thread_main(apr_thread_t *th, void *arg) {
  hotssl_watcher *w = arg;
  (void)th;
  while (!atomic_load(&w->stopping)) {
    int t = dispatch(w);
    int fds[3];
    fds[0] = w->be != NULL ? w->ops->fd(w->be) : -1;
    fds[1] = hotssl_manager_wakeup_fd(w->m);
    fds[2] = w->stop.rfd;
    if (hotssl__watch_wait(fds, 3, t) & 4u)
      hotssl__wakeup_drain(&w->stop);
  }
  return NULL;
}

/* ---- life cycle ---- */

static void free_state(hotssl_watcher *w) {
  if (w->be != NULL)
    w->ops->close(w->be);
  hotssl__watch_poll_ops.close(w->poll_be);
  hotssl__watch_set_free(w->set);
  hotssl__wakeup_close(&w->stop);
}

int hotssl__watcher_create_ops(hotssl_watcher **out, hotssl_manager *m,
                               const hotssl_watcher_options *opts,
                               const hotssl__watch_ops *primary) {
  hotssl_watcher *w;
  int r;

  if (out == NULL || m == NULL)
    return HOTSSL_EINVAL;
  *out = NULL;
  if ((r = hotssl__runtime_acquire()) != 0)
    return r;
  if ((w = calloc(1, sizeof *w)) == NULL) {
    hotssl__runtime_release();
    return HOTSSL_ENOMEM;
  }
  w->m = m;
  w->stop.rfd = w->stop.wfd = -1;
  w->own_thread = opts == NULL || opts->own_thread;
  atomic_init(&w->stopping, 0);
  atomic_init(&w->mode, 2);
  if ((r = hotssl__watch_poll_ops.open(&w->poll_be)) != 0)
    goto fail;
  if (primary != NULL) {
    w->ops = primary;
    if ((r = primary->open(&w->be)) != 0) {
      if (opts != NULL && opts->backend == HOTSSL_WATCHER_NOTIFY)
        goto fail;
      hotssl__logf(&m->log, HOTSSL_LOG_WARNING,
                   "could not start the %s file watch (%s); polling instead", primary->name,
                   hotssl_strerror(r));
      w->be = NULL;
    }
  }
  if ((r = resync(w)) != 0)
    goto fail;
  hotssl__logf(&m->log, HOTSSL_LOG_INFO,
               "watching %zu configured files for changes (%s; debounce %u ms, retry window %u ms)",
               w->set->n_paths, hotssl_watcher_backend_name(w), w->debounce_ms,
               w->retry_window_ms);
  if (w->own_thread) {
    apr_threadattr_t *attr;
    if ((r = hotssl__wakeup_open(&w->stop)) != 0)
      goto fail;
    if (apr_pool_create(&w->pool, NULL) != APR_SUCCESS) {
      w->pool = NULL;
      r = HOTSSL_ENOMEM;
      goto fail;
    }
    if (apr_threadattr_create(&attr, w->pool) != APR_SUCCESS ||
        apr_thread_create(&w->thread, attr, thread_main, w, w->pool) != APR_SUCCESS) {
      r = HOTSSL_ESYS;
      goto fail;
    }
  }
  *out = w;
  return 0;
fail:
  free_state(w);
  if (w->pool != NULL)
    apr_pool_destroy(w->pool);
  free(w);
  hotssl__runtime_release();
  return r;
}

int hotssl_watcher_create(hotssl_watcher **out, hotssl_manager *m,
                          const hotssl_watcher_options *opts) {
  hotssl_watcher_backend b = opts != NULL ? opts->backend : HOTSSL_WATCHER_AUTO;
  const hotssl__watch_ops *primary = NULL;
  if (out != NULL)
    *out = NULL;
  if (b != HOTSSL_WATCHER_AUTO && b != HOTSSL_WATCHER_NOTIFY && b != HOTSSL_WATCHER_POLL)
    return HOTSSL_EINVAL;
#if defined(HOTSSL_HAVE_INOTIFY)
  if (b != HOTSSL_WATCHER_POLL)
    primary = &hotssl__watch_inotify_ops;
#elif defined(HOTSSL_HAVE_RDCW)
  if (b != HOTSSL_WATCHER_POLL)
    primary = &hotssl__watch_rdcw_ops;
#else
  if (b == HOTSSL_WATCHER_NOTIFY)
    return HOTSSL_ENOTSUP;
#endif
  return hotssl__watcher_create_ops(out, m, opts, primary);
}

int hotssl_watcher_fd(const hotssl_watcher *w) {
  if (w == NULL || w->be == NULL)
    return -1;
  return w->ops->fd(w->be);
}

hotssl_os_fd hotssl_watcher_handle(const hotssl_watcher *w) {
  int fd = hotssl_watcher_fd(w);
  /* An int holding the HANDLE's value on Windows: widen through intptr_t. */
  return fd == -1 ? HOTSSL_OS_FD_INVALID : (hotssl_os_fd)(intptr_t)fd;
}

int hotssl_watcher_dispatch(hotssl_watcher *w) {
  if (w == NULL || w->own_thread)
    return -1;
  return dispatch(w);
}

const char *hotssl_watcher_backend_name(const hotssl_watcher *w) {
  if (w == NULL)
    return "none";
  switch (atomic_load(&((hotssl_watcher *)w)->mode)) {
  case 0:
    return w->ops->name;
  case 1:
    return strcmp(w->ops->name, "inotify") == 0 ? "inotify+poll" : "notify+poll";
  default:
    return "poll";
  }
}

void hotssl_watcher_destroy(hotssl_watcher *w) {
  if (w == NULL)
    return;
  if (w->thread != NULL) {
    apr_status_t st;
    atomic_store(&w->stopping, 1);
    hotssl__wakeup_signal(&w->stop);
    apr_thread_join(&st, w->thread);
  }
  free_state(w);
  if (w->pool != NULL)
    apr_pool_destroy(w->pool);
  free(w);
  hotssl__runtime_release();
}

void hotssl_watcher_after_fork_child(hotssl_watcher *w) {
  if (w == NULL)
    return;
  /* The thread did not survive fork; its stack and the APR pool are the
   * parent's copy: abandon them rather than touch locks another thread may
   * have held at fork time. Descriptors and plain memory are ours. */
  free_state(w);
  free(w);
}
