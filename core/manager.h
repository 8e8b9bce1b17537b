/*
 * The manager (core/manager.c): publication of generations, reloads, and
 * the hooks tests use. Shared with the layers above core/ (platform/,
 * watcher/).
 */
#ifndef HOTSSL_CORE_MANAGER_H
#define HOTSSL_CORE_MANAGER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "../os/os.h"
#include "config.h"
#include "generation.h"
#include "inputs.h"
#include "internal.h"
#include "log.h"

struct hotssl_manager {
  /* Publication (see the comment above hotssl_manager_acquire). */
  /* Read-mostly by every acquire; the counters every acquire writes live on
   * their own cache lines so they do not evict `current`. */
  _Atomic(hotssl_generation *) current;
  atomic_uint epoch;
  char pad_before_readers_[64];
  atomic_uint readers[2];
  /* Fork support (platform/posix/fork.c): before_fork counts forks (the
   * count personalizes each child's reseed) and holds reload_lock until
   * after_fork_parent / after_fork_child. Beside the readers: a forking
   * host writes both per connection (acquire, fork), and after each fork()
   * every page the parent writes again costs a copy-on-write fault. */
  atomic_uint fork_count;
  int fork_locked;
  char pad_after_readers_[64];
  /* Test hook: called between the load and the increment in acquire. */
  void (*acquire_delay_hook)(void *);
  void *acquire_delay_arg;

  hotssl_config *cfg;
  hotssl__log log;
  hotssl_manager_options opts;
  /* hotssl_manager_options_ex's fields beyond base (create_ex). */
  void (*on_reload_ex)(void *userdata, const hotssl_reload_event *ev);
  void *on_reload_ex_userdata;
  hotssl__file_memos memos; /* under build_lock */
  /* Paths and hashes of the files the served generation was loaded from
   * (the reload audit's "changed files" compare against them). Under
   * build_lock. */
  hotssl__file_memos served_files;
  /* Session tickets: the seed generated keys derive from and the counters,
   * shared with every generation this manager builds (core/tickets.h). */
  struct hotssl__ticket_shared *tickets_shared;
  /* The certificate and key of the generation last replaced, kept so that a
   * rotation back to them (A -> B -> A) does not parse and check them again.
   * Under build_lock. */
  hotssl__shared *recent[2];
  hotssl__wakeup wakeup;
  atomic_int reload_flag; /* lock-free: set from signal handlers */

  /* Locks, in this order when nested: build_lock, then reload_lock.
   * build_lock serializes reloads for their whole length (re-reading the
   * configuration, loading files, the passphrase command, parsing).
   * reload_lock guards the manager's state (cfg, counters, next_number,
   * last_error) and publication; it is only held for short steps, never
   * during a build, so snapshots, spawns, forks, stats and the watcher never
   * wait for a reload in progress. spawn_lock is held while a process is
   * created (hotssl_spawn's inheritable duplicates, the passphrase command),
   * so no child inherits another's descriptors. */
  void *build_lock, *build_pool;
  /* Reloads waiting for or holding build_lock (incremented before locking,
   * decremented after unlocking): 0 in a fork child means its copy of
   * build_lock is free. */
  atomic_int building;
  void *reload_lock;
  void *pool; /* for reload_lock (hotssl__mutex_create) */
  void *spawn_lock, *spawn_pool;

  /* Counts replacements of cfg by other settings (reload_with, a prefork
   * install): a watcher compares it at each turn and re-resolves its paths
   * when it moved. Read without a lock. */
  atomic_uint settings_changes;

  uint64_t next_number;
  uint64_t attempted, succeeded, unchanged, failed;
  /* Metrics (core/metrics.c), under reload_lock: reported reload attempts
   * by trigger (hotssl_trigger) and result (HOTSSL__RELOAD_*), when the
   * last one ended and when the served generation was published (Unix
   * seconds; 0: never). */
  uint64_t reloads_by[4][3];
  int64_t last_reload_at, last_success_at;
  char last_error[HOTSSL__ERRLEN];
  /* Expiry warnings repeated from the watcher's loop (hotssl__manager_expiry_tick):
   * when the last one was logged (Unix seconds; 0: never) and how often. */
  int64_t expiry_warned_at;
  int64_t expiry_repeat_s;

  /* The generation-change counter (hotssl_manager_generation_counter): the
   * number of the generation last published, in a page shared with forked
   * children (and, through its descriptor, spawned backends), else in
   * gen_local. gen_writer: this process publishes into it; 0 in a fork
   * child (platform/posix/fork.c) and in a backend that attached its
   * parent's page read-only (hotssl__manager_attach_counter). */
  hotssl__shpage gen_page;
  _Atomic uint64_t gen_local;
  _Atomic uint64_t *gen_counter;
  int gen_writer;
};

#define HOTSSL__GEN_PAGE 4096
/* A spawned backend: read the generation-change counter from the parent's
 * page (fd inherited; closed here). 0, or -1 (the manager keeps its own). */
int hotssl__manager_attach_counter(hotssl_manager *m, int fd);
/* The descriptor of the counter's page, -1 when it has none. */
int hotssl__manager_counter_fd(const hotssl_manager *m);
/* HOTSSL_INFO_GENERATION_COUNTER_FD into out (a hotssl_os_fd). */
int hotssl__manager_counter_info(const hotssl_manager *m, void *out, size_t outlen);
/* Results counted in hotssl_manager.reloads_by. */
enum { HOTSSL__RELOAD_SUCCESS = 0, HOTSSL__RELOAD_UNCHANGED = 1, HOTSSL__RELOAD_FAILURE = 2 };

void hotssl__manager_set_acquire_hook(hotssl_manager *m, void (*fn)(void *),
                                      void *arg);
/* hotssl_manager_reload with a choice: with (may be NULL: the manager's
 * settings) is what the build starts from (hotssl_manager_reload_with); it
 * becomes the manager's configuration on 0 or HOTSSL_UNCHANGED, and then
 * settings_changes counts up. When final is 0 a failure is neither
 * logged nor counted (the watcher retries inside its window and reports only
 * the last failure). errbuf gets the reason. */
int hotssl__manager_reload_ex(hotssl_manager *m, const hotssl_config *with,
                              hotssl_trigger trigger, int final, char *errbuf, size_t errlen);
/* The options' build_hook (if any) on g's served configuration: 0, or
 * HOTSSL_ECONFIG with "SSL build hook failed: <its text>" in errbuf. */
int hotssl__manager_build_hook(const hotssl_manager_options *opts, hotssl_generation *g,
                               uint64_t number, char *errbuf, size_t errlen);
/* Absolute paths the watcher must watch (cert, key, CA, CRL file, CRL dir,
 * the configuration file), from the current configuration and, when it came
 * from a file, from that file as it is on disk now. malloc'ed array of
 * malloc'ed strings; free with hotssl__manager_watch_paths_free. Takes
 * reload_lock. Returns 0 or HOTSSL_ENOMEM. */
int hotssl__manager_watch_paths(hotssl_manager *m, char ***paths, size_t *n);
void hotssl__manager_watch_paths_free(char **paths, size_t n);
/* Spawned backends and prefork workers (core/snapshot.c, platform/):
 * create a manager whose first generation is built from in (already loaded,
 * e.g. decoded from a snapshot; NULL: load from cfg) with the given number;
 * is_reload picks the passphrase rules (a backend re-reading an encrypted
 * key follows PostgreSQL's EXEC_BACKEND rule: reload rules). in is freed. */
int hotssl__manager_create_with(hotssl_manager **out, const hotssl_config *cfg,
                                hotssl__inputs *in, uint64_t number, int is_reload,
                                const hotssl_manager_options *opts, char *errbuf,
                                size_t errlen);
/* Publish an already built generation g (takes the caller's reference), e.g.
 * a prefork worker's rebuild from the parent's snapshot; cfg (may be NULL)
 * becomes the manager's configuration. Takes reload_lock; logs one line. */
void hotssl__manager_install(hotssl_manager *m, hotssl_generation *g, hotssl_config *cfg);

/* Repeat the expiry warnings of the served generation (certificate expiring
 * within hotssl_expiry_warning_days, CRL next update near or past) when the
 * last ones were logged expiry_repeat_s (default one day) ago or more; a
 * load or reload that logs them resets the clock. Called by the watcher's
 * loop. Returns the milliseconds until it wants to run again. */
int hotssl__manager_expiry_tick(hotssl_manager *m);
/* Tests: repeat every `seconds` instead of once a day. */
void hotssl__manager_set_expiry_repeat(hotssl_manager *m, int64_t seconds);

#endif /* HOTSSL_CORE_MANAGER_H */
