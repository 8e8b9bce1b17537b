/*
 * The manager: start rules, reload rules, and the lock-free publication of
 * generations.
 *
 * Publication. `current` holds the manager's own reference to the served
 * generation. A reader (hotssl_manager_acquire) must turn "I loaded this
 * pointer" into "I hold a reference" without the publisher freeing the
 * generation in between: the classic hole is load -> (publisher swaps and
 * drops the last reference) -> increment on freed memory. We close it with
 * reader-in-flight counters, a two-slot form of the scheme userspace RCU
 * uses:
 *
 *   reader:    e = epoch & 1; readers[e]++; g = current; g->refs++; readers[e]--
 *   publisher: old = xchg(current, new); for each slot s, after flipping the
 *              epoch so new readers use the other slot: wait until readers[s]
 *              is seen 0; then drop the manager's reference to old.
 *
 * All of these are sequentially consistent. Argument: if a reader loaded
 * `old`, its load precedes the publisher's xchg in the single total order S,
 * so its increment of readers[e] does too. The publisher reads each slot
 * after the xchg, so a read of 0 from slot e must come after the reader's
 * decrement in that slot's modification order, and the reader's decrement
 * comes after its g->refs++. So old->refs already counts the reader when the
 * publisher drops its reference. A reader that loads after the xchg sees
 * `new`. The epoch flip only bounds the wait: readers arriving during a wait
 * go to the other slot, so the slot being drained can only shrink.
 *
 * The handshake path therefore costs four atomic operations and never waits.
 * Publishers serialize on reload_lock and may spin briefly.
 *
 * Reloads. A reload holds build_lock from start to end (one reload at a
 * time) but reload_lock only to copy the configuration and take a reference
 * to the current generation at the start, and to publish and count at the
 * end: everything slow (files, passphrase command, parsing) runs with no
 * lock that anyone else takes. The reference keeps the previous generation
 * (whose parsed objects the build may reuse) alive even if a prefork
 * worker's install publishes meanwhile.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "build.h"
#include "hosts.h"
#include "manager.h"
#include "tickets.h"
#include "tls_settings.h"
#include "verify.h"

HOTSSL__HOT hotssl_generation *hotssl_manager_acquire(hotssl_manager *m) {
  hotssl_generation *g;
  unsigned slot;
  if (m == NULL)
    return NULL;
  slot = atomic_load(&m->epoch) & 1u;
  atomic_fetch_add(&m->readers[slot], 1);
  g = atomic_load(&m->current);
  if (m->acquire_delay_hook != NULL)
    m->acquire_delay_hook(m->acquire_delay_arg);
  atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
  atomic_fetch_sub(&m->readers[slot], 1);
  return g;
}

hotssl_generation *hotssl_generation_ref(hotssl_generation *g) {
  if (g != NULL)
    atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
  return g;
}

void hotssl__manager_set_acquire_hook(hotssl_manager *m, void (*fn)(void *), void *arg) {
  m->acquire_delay_arg = arg;
  m->acquire_delay_hook = fn;
}

/* Keep the certificate and key of old (the generation being replaced) for a
 * rotation back to them. Caller holds build_lock. */
static void keep_recent(hotssl_manager *m, const hotssl_generation *old) {
  hotssl__shared *keep[2] = {old->cert, old->key};
  int i;
  for (i = 0; i < 2; i++) {
    atomic_fetch_add_explicit(&keep[i]->refs, 1, memory_order_relaxed);
    hotssl__shared_release(m->recent[i]);
    m->recent[i] = keep[i];
  }
}

/* Caller holds reload_lock. Takes over the caller's reference to g. */
static void publish(hotssl_manager *m, hotssl_generation *g) {
  hotssl_generation *old = atomic_exchange(&m->current, g);
  int pass;
  for (pass = 0; pass < 2; pass++) {
    unsigned slot = atomic_fetch_add(&m->epoch, 1) & 1u; /* slot readers used before the flip */
    while (atomic_load(&m->readers[slot]) != 0)
      hotssl__yield();
  }
  hotssl_generation_release(old);
  if (m->gen_writer)
    atomic_store(m->gen_counter, g->number);
}

/* The counter lives in a shared page when one can be made (forked
 * children then see the parent's publications), else in the manager. */
static void gen_counter_init(hotssl_manager *m) {
  m->gen_page.p = NULL;
  m->gen_page.fd = -1;
  m->gen_counter = &m->gen_local;
  m->gen_writer = 1;
  if (hotssl__shpage_create(&m->gen_page, HOTSSL__GEN_PAGE) == 0)
    m->gen_counter = m->gen_page.p;
}

int hotssl__manager_attach_counter(hotssl_manager *m, int fd) {
  hotssl__shpage pg;
  if (hotssl__shpage_attach(&pg, fd, HOTSSL__GEN_PAGE) != 0)
    return -1;
  hotssl__shpage_free(&m->gen_page, HOTSSL__GEN_PAGE);
  m->gen_page = pg;
  m->gen_writer = 0;
  m->gen_counter = pg.p;
  return 0;
}

int hotssl__manager_counter_fd(const hotssl_manager *m) { return m->gen_page.fd; }

int hotssl__manager_counter_info(const hotssl_manager *m, void *out, size_t outlen) {
  hotssl_os_fd h = HOTSSL_OS_FD_INVALID;
  if (out == NULL || outlen != sizeof h)
    return HOTSSL_EINVAL;
  if (m->gen_page.fd >= 0)
    h = (hotssl_os_fd)(intptr_t)m->gen_page.fd;
  memcpy(out, &h, sizeof h);
  return 0;
}

int hotssl_manager_attach_generation_counter(hotssl_manager *m, hotssl_os_fd fd) {
  if (m == NULL || fd == HOTSSL_OS_FD_INVALID)
    return HOTSSL_EINVAL;
  if (hotssl__os_shpage_supported() != 0)
    return HOTSSL_ENOTSUP;
  return hotssl__manager_attach_counter(m, (int)(intptr_t)fd) == 0 ? 0 : HOTSSL_ESYS;
}

const volatile uint64_t *hotssl_manager_generation_counter(const hotssl_manager *m) {
  return m != NULL ? (const volatile uint64_t *)m->gen_counter : NULL;
}

static void free_manager(hotssl_manager *m) {
  hotssl_generation *g;
  if (m == NULL)
    return;
  g = atomic_load(&m->current);
  hotssl_generation_release(g);
  hotssl__wakeup_close(&m->wakeup);
  hotssl__shpage_free(&m->gen_page, HOTSSL__GEN_PAGE);
  hotssl__mutex_destroy(m->build_lock, m->build_pool);
  hotssl__mutex_destroy(m->reload_lock, m->pool);
  hotssl__mutex_destroy(m->spawn_lock, m->spawn_pool);
  hotssl__file_memos_free(&m->memos);
  hotssl__file_memos_free(&m->served_files);
  hotssl__ticket_shared_release(m->tickets_shared);
  hotssl__shared_release(m->recent[0]);
  hotssl__shared_release(m->recent[1]);
  hotssl_config_destroy(m->cfg);
  free(m);
  hotssl__runtime_release();
}

/* Log the expiry warnings of g (just published or loaded) and start the
 * daily repeat clock when there were any. Caller holds reload_lock or is
 * the only user of m. */
static void expiry_warnings(hotssl_manager *m, const hotssl_generation *g) {
  int64_t now = (int64_t)time(NULL);
  if (hotssl__generation_time_warnings(g, now, &m->log) & (HOTSSL_WARN_EXPIRING | HOTSSL_WARN_CRL_STALE))
    m->expiry_warned_at = now;
}

int hotssl_manager_create(hotssl_manager **out, const hotssl_config *cfg,
                          const hotssl_manager_options *opts, char *errbuf,
                          size_t errlen) {
  /* Start rules: generation 1, read from the files, passphrase allowed. */
  int r = hotssl__manager_create_with(out, cfg, NULL, 1, 0, opts, errbuf, errlen);
  if (r == 0) {
    hotssl__generation_config_warnings(atomic_load(&(*out)->current), &(*out)->log);
    expiry_warnings(*out, atomic_load(&(*out)->current));
  }
  return r;
}

void hotssl_manager_destroy(hotssl_manager *m) { free_manager(m); }

int hotssl_manager_create_ex(hotssl_manager **out, const hotssl_config *cfg,
                             const hotssl_manager_options_ex *opts, char *errbuf,
                             size_t errlen) {
  hotssl_manager_options_ex o;
  int r;
  /* Read what the caller's version of the struct has; the rest is zero. */
  memset(&o, 0, sizeof o);
  if (opts != NULL) {
    if (opts->size < offsetof(hotssl_manager_options_ex, base) + sizeof opts->base) {
      if (out != NULL)
        *out = NULL;
      hotssl__fmt(errbuf, errlen, "hotssl_manager_options_ex.size is %lu: initialize it with HOTSSL_MANAGER_OPTIONS_EX_INIT",
                  (unsigned long)opts->size);
      return HOTSSL_EINVAL;
    }
    if (opts->size > sizeof o) {
      /* A newer caller's struct: what this library does not know must be
       * unset (zero), else the caller asked for an option it would lose. */
      const unsigned char *extra = (const unsigned char *)opts + sizeof o;
      size_t i;
      for (i = 0; i < opts->size - sizeof o; i++)
        if (extra[i] != 0) {
          if (out != NULL)
            *out = NULL;
          hotssl__fmt(errbuf, errlen, "hotssl_manager_options_ex sets an option this hotssl (%s) does not know",
                      hotssl_version_string());
          return HOTSSL_ENOTSUP;
        }
    }
    memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);
  }
  if ((r = hotssl_manager_create(out, cfg, opts != NULL ? &o.base : NULL, errbuf, errlen)) != 0)
    return r;
  (*out)->on_reload_ex = o.on_reload_ex;
  (*out)->on_reload_ex_userdata = o.on_reload_ex_userdata;
  return 0;
}

int hotssl__manager_build_hook(const hotssl_manager_options *opts, hotssl_generation *g,
                               uint64_t number, char *errbuf, size_t errlen) {
  char why[HOTSSL__ERRLEN];
  if (opts == NULL || opts->build_hook == NULL)
    return 0;
  why[0] = '\0';
  if (opts->build_hook(opts->build_hook_userdata, &g->conf, number, why, sizeof why) == 0)
    return 0;
  why[sizeof why - 1] = '\0';
  hotssl__fmt(errbuf, errlen, "SSL build hook failed: %s", why[0] != '\0' ? why : "(no reason given)");
  return HOTSSL_ECONFIG;
}

/* The reload callbacks, after a reload attempt that was reported (logged
 * and counted), with no lock held. */
static void notify_reload(hotssl_manager *m, int r, hotssl_trigger trigger, uint64_t number,
                          const char *reason, const hotssl_reload_audit *audit) {
  if (m->opts.on_reload != NULL)
    m->opts.on_reload(m->opts.on_reload_userdata, r, number);
  if (m->on_reload_ex != NULL) {
    hotssl_reload_event ev;
    memset(&ev, 0, sizeof ev);
    ev.size = sizeof ev;
    ev.result = r;
    ev.trigger = trigger;
    ev.generation = number;
    ev.reason = reason;
    ev.audit = audit;
    m->on_reload_ex(m->on_reload_ex_userdata, &ev);
  }
}

static void count_reload(hotssl_manager *m, hotssl_trigger trigger, int r);

/* Count and log one reported reload attempt: its one result line. err is
 * the reason of a failure (set to the code's text when empty). Caller holds
 * reload_lock. */
static void report(hotssl_manager *m, int r, hotssl_trigger trigger, const hotssl_generation *g,
                   const hotssl_generation *cur, char *err, size_t errlen) {
  m->attempted++;
  count_reload(m, trigger, r);
  if (r == 0) {
    m->succeeded++;
    m->last_error[0] = '\0';
    hotssl__logf(&m->log, HOTSSL_LOG_INFO,
                 "SSL configuration reloaded (generation %llu); trigger: %s; certificate serial %s, not after %s",
                 (unsigned long long)g->number, hotssl_trigger_name(trigger),
                 g->cert_info.serial, g->cert_info.not_after);
  } else if (r == HOTSSL_UNCHANGED) {
    m->unchanged++;
    hotssl__logf(&m->log, HOTSSL_LOG_INFO,
                 "SSL configuration unchanged (generation %llu); trigger: %s",
                 (unsigned long long)cur->number, hotssl_trigger_name(trigger));
  } else {
    if (err[0] == '\0')
      hotssl__fmt(err, errlen, "%s", hotssl_strerror(r));
    m->failed++;
    hotssl__fmt(m->last_error, sizeof m->last_error, "%s", err);
    hotssl__logf(&m->log, HOTSSL_LOG_WARNING,
                 "SSL configuration was not reloaded: %s; trigger: %s", err,
                 hotssl_trigger_name(trigger));
  }
}

/* The metrics' counters and times of one reported reload attempt. Caller
 * holds reload_lock. */
static void count_reload(hotssl_manager *m, hotssl_trigger trigger, int r) {
  int64_t now = (int64_t)time(NULL);
  int res = r == 0 ? HOTSSL__RELOAD_SUCCESS : r == HOTSSL_UNCHANGED ? HOTSSL__RELOAD_UNCHANGED
                                                                   : HOTSSL__RELOAD_FAILURE;
  if ((unsigned)trigger < 4)
    m->reloads_by[trigger][res]++;
  m->last_reload_at = now;
  if (r == 0)
    m->last_success_at = now;
}

int hotssl__manager_reload_ex(hotssl_manager *m, const hotssl_config *with,
                              hotssl_trigger trigger, int final, char *errbuf, size_t errlen) {
  hotssl_config *base = NULL, *cfg = NULL;
  hotssl__inputs in;
  hotssl_generation *cur, *g = NULL;
  char err[HOTSSL__ERRLEN];
  int r, have_inputs = 0, notify = 0;
  uint64_t number;
  hotssl__audit audit;

  if (m == NULL)
    return HOTSSL_EINVAL;
  err[0] = '\0';
  atomic_fetch_add(&m->building, 1);
  hotssl__mutex_lock(m->build_lock);
  /* Short: what the build starts from. */
  hotssl__mutex_lock(m->reload_lock);
  cur = hotssl_generation_ref(atomic_load(&m->current));
  number = m->next_number;
  hotssl__audit_init(&audit, trigger, cur->number);
  /* reload_with: the new settings instead of the manager's own. */
  r = hotssl__config_copy(&base, with != NULL ? with : m->cfg);
  hotssl__mutex_unlock(m->reload_lock);
  /* Long: no lock anyone else takes. */
  if (r != 0 || (r = hotssl__config_reread(base, &cfg, err, sizeof err)) != 0)
    goto done;
  if ((r = hotssl__inputs_load_memo(&in, cfg, &m->memos, cur, err, sizeof err)) != 0)
    goto done;
  have_inputs = 1;
  hotssl__audit_files(&audit, &m->served_files, &in);
  in.ctx.spawn_lock = m->spawn_lock;
  in.ctx.recent = m->recent;
  in.ctx.n_recent = 2;
  in.ctx.tickets_shared = m->tickets_shared;
  if (memcmp(in.fingerprint, cur->fingerprint, 32) == 0) {
    r = HOTSSL_UNCHANGED;
    goto done;
  }
  r = hotssl__generation_build(&g, &in, cur, 1, number, &m->log, err, sizeof err);
  if (r == 0 && (r = hotssl__manager_build_hook(&m->opts, g, number, err, sizeof err)) != 0) {
    hotssl__generation_free(g);
    g = NULL;
  }
done:
  if (have_inputs)
    hotssl__inputs_free(&in);
  hotssl_config_destroy(base);
  /* Short again: publish and count. */
  hotssl__mutex_lock(m->reload_lock);
  if (r == 0) {
    /* A prefork install may have used numbers meanwhile; g is not yet
     * visible to anyone, so its number can still change. */
    g->number = m->next_number++;
    keep_recent(m, cur);
    publish(m, g);
    hotssl__generation_config_warnings(g, &m->log);
    expiry_warnings(m, g);
  }
  if (r < 0 && !final) {
    /* A retry will follow: report nothing yet. */
    hotssl__fmt(errbuf, errlen, "%s", err);
    hotssl__mutex_unlock(m->reload_lock);
    goto out;
  }
  if (r >= 0 && cfg != NULL) {
    /* Keep the configuration that produced what is served (or that matched
     * it), so later reloads and watchers see its current paths. */
    hotssl_config_destroy(m->cfg);
    m->cfg = cfg;
    cfg = NULL;
    if (with != NULL) {
      /* New settings: a watcher re-resolves its paths at its next turn;
       * wake it (its loop, or the host's, waits on the wake-up). */
      atomic_fetch_add(&m->settings_changes, 1);
      hotssl__wakeup_signal(&m->wakeup);
    }
  }
  report(m, r, trigger, g, cur, err, sizeof err);
  hotssl__fmt(errbuf, errlen, "%s", r < 0 ? err : "");
  if (r >= 0)
    hotssl__audit_take_files(&audit, &m->served_files);
  hotssl__audit_finish(&audit, r, cur, atomic_load(&m->current), err);
  number = atomic_load(&m->current)->number;
  hotssl__mutex_unlock(m->reload_lock);
  notify = 1;
out:
  hotssl_generation_release(cur);
  hotssl_config_destroy(cfg);
  hotssl__mutex_unlock(m->build_lock);
  atomic_fetch_sub(&m->building, 1);
  if (notify)
    notify_reload(m, r, trigger, number, r < 0 ? err : "", hotssl__audit_record(&audit));
  hotssl__audit_free(&audit);
  return r;
}

int hotssl_manager_reload(hotssl_manager *m, hotssl_trigger trigger) {
  return hotssl__manager_reload_ex(m, NULL, trigger, 1, NULL, 0);
}

int hotssl_manager_reload_with(hotssl_manager *m, const hotssl_config *cfg,
                               hotssl_trigger trigger) {
  if (m == NULL || cfg == NULL)
    return HOTSSL_EINVAL;
  return hotssl__manager_reload_ex(m, cfg, trigger, 1, NULL, 0);
}

int hotssl_manager_reload_ex(hotssl_manager *m, hotssl_trigger trigger, char *errbuf,
                             size_t errlen) {
  hotssl__fmt(errbuf, errlen, "%s", "");
  if (m == NULL) {
    hotssl__fmt(errbuf, errlen, "%s", hotssl_strerror(HOTSSL_EINVAL));
    return HOTSSL_EINVAL;
  }
  return hotssl__manager_reload_ex(m, NULL, trigger, 1, errbuf, errlen);
}

int hotssl_manager_reload_with_ex(hotssl_manager *m, const hotssl_config *cfg,
                                  hotssl_trigger trigger, char *errbuf, size_t errlen) {
  hotssl__fmt(errbuf, errlen, "%s", "");
  if (m == NULL || cfg == NULL) {
    hotssl__fmt(errbuf, errlen, "%s", hotssl_strerror(HOTSSL_EINVAL));
    return HOTSSL_EINVAL;
  }
  return hotssl__manager_reload_ex(m, cfg, trigger, 1, errbuf, errlen);
}

void hotssl_manager_request_reload(hotssl_manager *m) {
  /* Lock-free atomic store and write(2): both async-signal-safe. */
  atomic_store(&m->reload_flag, 1);
  hotssl__wakeup_signal(&m->wakeup);
}

int hotssl_manager_wakeup_fd(const hotssl_manager *m) {
  return m != NULL ? m->wakeup.rfd : -1;
}

hotssl_os_fd hotssl_manager_wakeup_handle(const hotssl_manager *m) {
  if (m == NULL || m->wakeup.rfd == HOTSSL__OS_FD_NONE)
    return HOTSSL_OS_FD_INVALID;
  /* The OS layer's descriptor is an int that holds the HANDLE's value on
   * Windows: widen it through intptr_t, valid for both kinds. */
  return (hotssl_os_fd)(intptr_t)m->wakeup.rfd;
}

int hotssl_manager_dispatch(hotssl_manager *m) {
  if (m == NULL)
    return HOTSSL_EINVAL;
  hotssl__wakeup_drain(&m->wakeup);
  if (!atomic_exchange(&m->reload_flag, 0))
    return HOTSSL_UNCHANGED;
  return hotssl_manager_reload(m, HOTSSL_TRIGGER_SIGNAL);
}

/* ---- what the watcher watches ---- */

static int add_path(char ***v, size_t *n, char *p) {
  char **nv;
  size_t i;
  if (p == NULL)
    return HOTSSL_ENOMEM;
  for (i = 0; i < *n; i++)
    if (strcmp((*v)[i], p) == 0) {
      free(p);
      return 0;
    }
  if ((nv = realloc(*v, (*n + 1) * sizeof *nv)) == NULL) {
    free(p);
    return HOTSSL_ENOMEM;
  }
  nv[(*n)++] = p;
  *v = nv;
  return 0;
}

struct paths_vec {
  char ***v;
  size_t *n;
};

static int add_path_cb(void *ctx, char *p) {
  struct paths_vec *pv = ctx;
  return add_path(pv->v, pv->n, p);
}

static int add_config_paths(char ***v, size_t *n, const hotssl_config *cfg) {
  static const int ids[] = {HOTSSL__S_SSL_CERT_FILE, HOTSSL__S_SSL_KEY_FILE, HOTSSL__S_SSL_CA_FILE,
                            HOTSSL__S_SSL_CRL_FILE, HOTSSL__S_SSL_CRL_DIR,
                            HOTSSL__S_SSL_DH_PARAMS_FILE, HOTSSL__S_TICKET_KEY_FILE};
  size_t i;
  int r;
  for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    const char *val = hotssl__config_value(cfg, ids[i]);
    char *p, *abs;
    if (val[0] == '\0')
      continue;
    if ((p = hotssl__path_join(cfg->base_dir, val)) == NULL)
      return HOTSSL_ENOMEM;
    abs = hotssl__path_absolute(p);
    free(p);
    if ((r = add_path(v, n, abs)) != 0)
      return r;
  }
  if (cfg->source_file != NULL && (r = add_path(v, n, hotssl__strdup(cfg->source_file))) != 0)
    return r;
  /* Files and folders it included. */
  for (i = 0; i < cfg->n_included; i++)
    if ((r = add_path(v, n, hotssl__strdup(cfg->included[i]))) != 0)
      return r;
  {
    /* ssl_sni: the hosts file, its @files and every entry's files. */
    struct paths_vec pv = {v, n};
    return hotssl__hosts_watch_paths(cfg, add_path_cb, &pv);
  }
}

void hotssl__manager_watch_paths_free(char **paths, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    free(paths[i]);
  free(paths);
}

int hotssl__manager_watch_paths(hotssl_manager *m, char ***paths, size_t *n) {
  hotssl_config *disk = NULL;
  char **v = NULL;
  size_t k = 0;
  int r;
  *paths = NULL;
  *n = 0;
  hotssl__mutex_lock(m->reload_lock);
  r = add_config_paths(&v, &k, m->cfg);
  /* The file on disk may already name other files (a reload that has not
   * succeeded yet): watch those too. A file that does not parse adds none. */
  if (r == 0 && m->cfg->source_file != NULL &&
      hotssl__config_reread(m->cfg, &disk, NULL, 0) == 0)
    r = add_config_paths(&v, &k, disk);
  hotssl__mutex_unlock(m->reload_lock);
  hotssl_config_destroy(disk);
  if (r != 0) {
    hotssl__manager_watch_paths_free(v, k);
    return r;
  }
  *paths = v;
  *n = k;
  return 0;
}

/* ---- spawned backends and prefork workers ---- */

int hotssl__manager_create_with(hotssl_manager **out, const hotssl_config *cfg,
                                hotssl__inputs *in, uint64_t number, int is_reload,
                                const hotssl_manager_options *opts, char *errbuf,
                                size_t errlen) {
  hotssl_manager *m;
  hotssl__inputs loaded;
  hotssl_generation *g = NULL;
  char err[HOTSSL__ERRLEN];
  int r;

  if (out == NULL || cfg == NULL || number == 0) {
    hotssl__inputs_free(in);
    return HOTSSL_EINVAL;
  }
  *out = NULL;
  err[0] = '\0';
  if ((r = hotssl__runtime_acquire()) != 0) {
    hotssl__inputs_free(in);
    hotssl__fmt(errbuf, errlen, "could not initialize the APR runtime");
    return r;
  }
  if (hotssl__psa_init() != 0) {
    hotssl__inputs_free(in);
    hotssl__runtime_release();
    hotssl__fmt(errbuf, errlen, "could not initialize mbedTLS's PSA crypto (psa_crypto_init)");
    return HOTSSL_ETLS;
  }
  if ((m = calloc(1, sizeof *m)) == NULL) {
    hotssl__inputs_free(in);
    hotssl__runtime_release();
    hotssl__fmt(errbuf, errlen, "could not create the manager: out of memory");
    return HOTSSL_ENOMEM;
  }
  m->wakeup.rfd = m->wakeup.wfd = -1;
  gen_counter_init(m);
  if (opts != NULL) {
    m->opts = *opts;
    m->log.fn = opts->log;
    m->log.ud = opts->log_userdata;
  }
  if ((r = hotssl__config_copy(&m->cfg, cfg)) != 0 ||
      (r = hotssl__mutex_create(&m->build_lock, &m->build_pool)) != 0 ||
      (r = hotssl__mutex_create(&m->reload_lock, &m->pool)) != 0 ||
      (r = hotssl__mutex_create(&m->spawn_lock, &m->spawn_pool)) != 0 ||
      (r = hotssl__wakeup_open(&m->wakeup)) != 0) {
    hotssl__inputs_free(in);
    hotssl__fmt(err, sizeof err, "could not create the manager: %s", hotssl_strerror(r));
    goto fail;
  }
  if (in == NULL) {
    if ((r = hotssl__inputs_load_memo(&loaded, m->cfg, &m->memos, NULL, err, sizeof err)) != 0)
      goto fail;
    in = &loaded;
  }
  in->ctx.spawn_lock = m->spawn_lock;
  hotssl__audit_served_files(&m->served_files, in);
  /* Ticket keys: a spawned backend's from its snapshot, else fresh. */
  if ((m->tickets_shared = hotssl__ticket_shared_new(in->has_seed ? in->ticket_seed : NULL)) == NULL) {
    hotssl__inputs_free(in);
    r = HOTSSL_ENOMEM;
    goto fail;
  }
  in->ctx.tickets_shared = m->tickets_shared;
  r = hotssl__generation_build(&g, in, NULL, is_reload, number, &m->log, err, sizeof err);
  hotssl__inputs_free(in);
  if (r != 0)
    goto fail;
  if ((r = hotssl__manager_build_hook(&m->opts, g, number, err, sizeof err)) != 0) {
    hotssl__generation_free(g);
    goto fail;
  }
  atomic_init(&m->current, g);
  atomic_store(m->gen_counter, number);
  m->next_number = number + 1;
  m->expiry_repeat_s = 86400;
  m->last_success_at = (int64_t)time(NULL);
  hotssl__logf(&m->log, HOTSSL_LOG_INFO,
               "SSL configuration loaded (generation %llu): certificate subject \"%s\", serial %s, not after %s",
               (unsigned long long)number, g->cert_info.subject, g->cert_info.serial,
               g->cert_info.not_after);
  *out = m;
  return 0;
fail:
  if (err[0] == '\0')
    hotssl__fmt(err, sizeof err, "%s", hotssl_strerror(r));
  hotssl__logf(&m->log, HOTSSL_LOG_ERROR, "%s", err);
  hotssl__fmt(errbuf, errlen, "%s", err);
  free_manager(m);
  return r;
}

int hotssl__manager_expiry_tick(hotssl_manager *m) {
  int64_t now = (int64_t)time(NULL), next;
  hotssl_generation *g;
  hotssl__mutex_lock(m->reload_lock);
  g = atomic_load(&m->current); /* stable while we hold the lock */
  if (m->expiry_warned_at == 0 || now - m->expiry_warned_at >= m->expiry_repeat_s) {
    if (hotssl__generation_time_warnings(g, now, &m->log) & (HOTSSL_WARN_EXPIRING | HOTSSL_WARN_CRL_STALE))
      m->expiry_warned_at = now;
  }
  /* Look again when the next repeat is due, and at least every minute (a
   * certificate can enter the window while nothing changes). */
  next = m->expiry_warned_at != 0 ? m->expiry_warned_at + m->expiry_repeat_s - now : 60;
  hotssl__mutex_unlock(m->reload_lock);
  if (next > 60)
    next = 60;
  return next <= 0 ? 1 : (int)(next * 1000);
}

void hotssl__manager_set_expiry_repeat(hotssl_manager *m, int64_t seconds) {
  hotssl__mutex_lock(m->reload_lock);
  m->expiry_repeat_s = seconds > 0 ? seconds : 1;
  hotssl__mutex_unlock(m->reload_lock);
}

void hotssl__manager_install(hotssl_manager *m, hotssl_generation *g, hotssl_config *cfg) {
  hotssl__mutex_lock(m->reload_lock);
  if (cfg != NULL) {
    hotssl_config_destroy(m->cfg);
    m->cfg = cfg;
    atomic_fetch_add(&m->settings_changes, 1);
  }
  if (g->number >= m->next_number)
    m->next_number = g->number + 1;
  m->last_success_at = (int64_t)time(NULL);
  hotssl__logf(&m->log, HOTSSL_LOG_INFO,
               "SSL configuration updated from the parent's snapshot (generation %llu); certificate serial %s, not after %s",
               (unsigned long long)g->number, g->cert_info.serial, g->cert_info.not_after);
  publish(m, g);
  hotssl__mutex_unlock(m->reload_lock);
}
