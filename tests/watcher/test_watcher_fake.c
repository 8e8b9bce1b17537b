/*
 * The watcher's fallback paths, driven through a fake notification backend
 * plugged in with hotssl__watcher_create_ops() (watcher/watcher.h). The
 * test decides what the fake reports; the files, the reloads and the
 * handshakes are real (tu_server + mbedTLS client, served serial checked).
 *
 * The fake watches nothing on disk: it reports only the events the test
 * writes, one byte per event, into a pipe whose read end is its descriptor
 * (read() consumes one event per call, so a burst spans many dispatches):
 *   'o'  queue overflow  (CHANGED | RESYNC | LOST, as inotify's IN_Q_OVERFLOW)
 *   'l'  watch lost      (CHANGED | RESYNC, as inotify's IN_IGNORED)
 *   'c'  a watched name changed (CHANGED)
 *   'n'  nothing (a no-op event, used to know a dispatch has run)
 *   'd'  deferred: nothing now, but the backend asks (timeout()) to be read
 *        again in 200 ms without its descriptor becoming readable, and then
 *        reports CHANGED (a backend with timers of its own)
 * Its sync() sets one simulated watch per directory through fake_add_watch(),
 * which fails with ENOSPC once fk.watch_limit watches exist (the kernel's
 * max_user_watches), so sync() returns 1 ("some could not be watched").
 *
 * Scenarios (files a.crt/a.key rotated between TU_SERIAL_A and _B by rename):
 *  1. overflow: one WARNING, polling picks up a rotation that the fake never
 *     reports, then one INFO when polling ends and the fake serves again;
 *  2. a lost watch whose re-add fails with ENOSPC: same; polling lasts while
 *     the limit does, one INFO once the watch can be set again;
 *  2b. the watch cannot be set at start (ENOSPC): same;
 *  3. a burst of 500 events for one rotation: exactly one reload, logged
 *     with "trigger: file change";
 *  4. an event while the key no longer matches the certificate, the
 *     certificate follows 300 ms later with no event: the retry window
 *     picks it up, nothing "was not reloaded";
 *  5. a deferred event: the watcher honours the backend's timeout() and
 *     reads it on time (no descriptor readiness, no polling);
 *  6. a storm of events longer than the storm cap still reloads during it.
 *
 * Argument "loop": host-loop mode (own_thread = 0, the test dispatches);
 * otherwise the watcher runs its own thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../watcher/watcher.h"
#include "hotssl/watcher.h"
#include "testutil.h"

#define DEBOUNCE_MS 100u
#define DEADLINE_MS 30000u

static int checks;

/* ---- the fake backend ---- */

static struct {
  pthread_mutex_t mu;
  int rfd, wfd;         /* events: the test writes, the backend reads */
  int watch_limit;      /* simulated watch limit; < 0: none */
  int n_watches;        /* watches set by the last sync */
  unsigned consumed;    /* events read so far */
  uint64_t first_ms, last_ms; /* when the first / last event was read */
  unsigned syncs;       /* sync() calls */
  unsigned enospc;      /* add-watch calls that failed with ENOSPC */
  int saw_cert;         /* the last set contained (dir, "a.crt") */
  unsigned live;        /* backend states open */
  unsigned deferred;    /* deferred events delivered */
  char dir[PATH_MAX];   /* canonical test directory */
} fk = {PTHREAD_MUTEX_INITIALIZER, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, {0}};

typedef struct fake_be {
  int n;
  uint64_t deferred_at; /* 'd' pending: report CHANGED from then on */
} fake_be;

static int fake_open(void **out) {
  fake_be *b = calloc(1, sizeof *b);
  *out = b;
  if (b == NULL)
    return HOTSSL_ENOMEM;
  pthread_mutex_lock(&fk.mu);
  fk.live++;
  pthread_mutex_unlock(&fk.mu);
  return 0;
}

static void fake_close(void *p) {
  if (p == NULL)
    return;
  free(p);
  pthread_mutex_lock(&fk.mu);
  fk.live--;
  pthread_mutex_unlock(&fk.mu);
}

/* The simulated inotify_add_watch: 0, or -1 with errno = ENOSPC at the limit. */
static int fake_add_watch(fake_be *b, const char *dir) {
  int r = 0;
  (void)dir;
  pthread_mutex_lock(&fk.mu);
  if (fk.watch_limit >= 0 && b->n >= fk.watch_limit) {
    fk.enospc++;
    errno = ENOSPC;
    r = -1;
  }
  pthread_mutex_unlock(&fk.mu);
  if (r == 0)
    b->n++;
  return r;
}

static int fake_sync(void *p, const hotssl__watch_set *set) {
  fake_be *b = p;
  size_t i, j;
  int incomplete = 0;
  b->n = 0; /* replace the previous set */
  for (i = 0; i < set->n_iv; i++) {
    int dup = 0;
    for (j = 0; j < i; j++)
      if (strcmp(set->iv[j].dir, set->iv[i].dir) == 0)
        dup = 1;
    if (!dup && fake_add_watch(b, set->iv[i].dir) != 0)
      incomplete = 1;
  }
  pthread_mutex_lock(&fk.mu);
  fk.syncs++;
  fk.n_watches = b->n;
  fk.saw_cert = hotssl__watch_match(set, fk.dir, "a.crt");
  pthread_mutex_unlock(&fk.mu);
  return incomplete;
}

static int fake_fd(const void *p) {
  (void)p;
  return fk.rfd;
}

static int fake_read(void *p, uint64_t now_ms) {
  fake_be *b = p;
  char c;
  ssize_t n;
  int flags;
  if (b->deferred_at != 0 && now_ms >= b->deferred_at) {
    b->deferred_at = 0;
    pthread_mutex_lock(&fk.mu);
    fk.deferred++;
    pthread_mutex_unlock(&fk.mu);
    return HOTSSL__WATCH_CHANGED;
  }
  do
    n = read(fk.rfd, &c, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1)
    return 0; /* EAGAIN: nothing pending */
  switch (c) {
  case 'o':
    flags = HOTSSL__WATCH_CHANGED | HOTSSL__WATCH_RESYNC | HOTSSL__WATCH_LOST;
    break;
  case 'l':
    flags = HOTSSL__WATCH_CHANGED | HOTSSL__WATCH_RESYNC;
    break;
  case 'c':
    flags = HOTSSL__WATCH_CHANGED;
    break;
  case 'd':
    b->deferred_at = now_ms + 200;
    flags = 0;
    break;
  default:
    flags = 0;
  }
  pthread_mutex_lock(&fk.mu);
  if (fk.consumed++ == 0 || fk.first_ms == 0)
    fk.first_ms = tu_now_ms();
  fk.last_ms = tu_now_ms();
  pthread_mutex_unlock(&fk.mu);
  return flags;
}

static int fake_timeout(const void *p, uint64_t now_ms) {
  const fake_be *b = p;
  if (b->deferred_at == 0)
    return -1;
  return b->deferred_at > now_ms ? (int)(b->deferred_at - now_ms) : 0;
}

static const hotssl__watch_ops fake_ops = {
    "fake", fake_open, fake_close, fake_sync, fake_fd, fake_read, fake_timeout,
};

static unsigned fk_get(const unsigned *field) {
  unsigned v;
  pthread_mutex_lock(&fk.mu);
  v = *field;
  pthread_mutex_unlock(&fk.mu);
  return v;
}

static void fk_set_limit(int limit) {
  pthread_mutex_lock(&fk.mu);
  fk.watch_limit = limit;
  pthread_mutex_unlock(&fk.mu);
}

static void send_events(char c, int n) {
  char buf[512];
  int off = 0;
  memset(buf, c, sizeof buf);
  while (off < n) {
    int k = n - off > (int)sizeof buf ? (int)sizeof buf : n - off;
    ssize_t w = write(fk.wfd, buf, (size_t)k);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      fprintf(stderr, "cannot write events: %s\n", strerror(errno));
      exit(1);
    }
    off += (int)w;
  }
}

/* ---- driving and waiting ---- */

static hotssl_watcher *g_w;
static hotssl_manager *g_m;
static int g_loop, g_port, g_last_t;

/* One step of waiting: in host-loop mode, run the watcher's dispatch. */
static void pump(void) {
  if (g_loop) {
    struct pollfd p[2];
    int t = g_last_t = hotssl_watcher_dispatch(g_w);
    p[0].fd = hotssl_watcher_fd(g_w);
    p[1].fd = hotssl_manager_wakeup_fd(g_m);
    p[0].events = p[1].events = POLLIN;
    poll(p, 2, t < 0 || t > 20 ? 20 : t);
  } else {
    poll(NULL, 0, 10);
  }
}

typedef int (*pred_fn)(const void *arg);

/* Wait (generously) until pred(arg) holds. 0, or -1 on timeout. */
static int wait_for(pred_fn pred, const void *arg, const char *what) {
  uint64_t end = tu_now_ms() + DEADLINE_MS;
  while (!pred(arg)) {
    if (tu_now_ms() > end) {
      fprintf(stderr, "timed out waiting for %s\n", what);
      return -1;
    }
    pump();
  }
  return 0;
}

typedef struct log_goal {
  const char *sub;
  int n;
} log_goal;

static int pred_log(const void *a) {
  const log_goal *g = a;
  return tu_log_count(g->sub) >= g->n;
}

static int wait_log(const char *sub, int n) {
  log_goal g;
  g.sub = sub;
  g.n = n;
  return wait_for(pred_log, &g, sub);
}

static void serial_of(char *out, size_t len) {
  if (tu_client_serial(g_port, NULL, out, len) != 0)
    snprintf(out, len, "error");
}

static int pred_serial(const void *a) {
  char s[80];
  serial_of(s, sizeof s);
  return strcmp(s, (const char *)a) == 0;
}

static int wait_serial(const char *serial) { return wait_for(pred_serial, serial, serial); }

static int pred_consumed(const void *a) { return fk_get(&fk.consumed) >= *(const unsigned *)a; }

static int wait_consumed(unsigned n) { return wait_for(pred_consumed, &n, "events read by the fake"); }

static int pred_syncs(const void *a) { return fk_get(&fk.syncs) >= *(const unsigned *)a; }

static int pred_time(const void *a) { return tu_now_ms() >= *(const uint64_t *)a; }

/* Wait until every dispatch that could still act on earlier events has
 * finished: let `at` pass, then two no-op events read in turn (the second
 * is read by a dispatch that started after the first one's returned). */
static void settle(uint64_t at) {
  unsigned c;
  wait_for(pred_time, &at, "a moment");
  c = fk_get(&fk.consumed);
  send_events('n', 1);
  CHECK(wait_consumed(c + 1) == 0);
  send_events('n', 1);
  CHECK(wait_consumed(c + 2) == 0);
  checks += 2;
}

static const char *name_now(void) { return hotssl_watcher_backend_name(g_w); }

/* Log lines carry their level, so the test can tell WARNING from INFO. */
static void flog(void *ud, hotssl_log_level level, const char *msg) {
  char line[2048];
  snprintf(line, sizeof line, "%s: %s", hotssl_log_level_name(level), msg);
  tu_log(ud, level, line);
}

#define WARN_POLL "WARNING: file watch incomplete or lost"
#define INFO_BACK "INFO: file watch restored (fake)"
#define RELOADED "SSL configuration reloaded"
#define UNCHANGED_FILE "SSL configuration unchanged (generation"
#define NOT_RELOADED "was not reloaded"
#define BACKEND_FAILED "file watch backend fake failed"

/* ---- files ---- */

static const char *g_dir;

static void replace(const char *from_name, const char *to_name, int mode) {
  char *from = tu_path(g_dir, from_name), *tmp = tu_path(g_dir, "incoming.tmp"),
       *to = tu_path(g_dir, to_name);
  tu_copy(from, tmp, mode);
  if (rename(tmp, to) != 0) {
    fprintf(stderr, "rename %s: %s\n", to, strerror(errno));
    exit(1);
  }
  free(from);
  free(tmp);
  free(to);
}

/* Serve pair `which` ("a" or "b") as a.crt/a.key: key first, then cert. */
static void rotate(char which) {
  if (which == 'b') {
    replace("b.key.orig", "a.key", 0600);
    replace("b.crt.orig", "a.crt", 0644);
  } else {
    replace("a.key.orig", "a.key", 0600);
    replace("a.crt.orig", "a.crt", 0644);
  }
}

static void create_watcher(void) {
  hotssl_watcher_options wo;
  memset(&wo, 0, sizeof wo);
  wo.backend = HOTSSL_WATCHER_AUTO;
  wo.own_thread = !g_loop;
  CHECK(hotssl__watcher_create_ops(&g_w, g_m, &wo, &fake_ops) == 0);
  checks++;
  if (g_w == NULL) {
    fprintf(stderr, "no watcher\n");
    exit(1);
  }
}

/* ---- scenarios ---- */

/* Polling must pick up a rotation the fake never reports. Called while the
 * watcher is in fallback; `to` is the pair to rotate to. */
static void rotation_seen_by_polling(char to, const char *serial) {
  unsigned c0 = fk_get(&fk.consumed);
  int r0 = tu_log_count(RELOADED);
  CHECK(strcmp(name_now(), "notify+poll") == 0);
  rotate(to);
  CHECK(wait_serial(serial) == 0);
  CHECK_EQ_INT(fk_get(&fk.consumed), c0); /* no event from the fake */
  CHECK_EQ_INT(tu_log_count(RELOADED), r0 + 1);
  checks += 4;
}

static void scenario_overflow(void) {
  int warn0 = tu_log_count(WARN_POLL), info0 = tu_log_count(INFO_BACK),
      unch0 = tu_log_count(UNCHANGED_FILE);
  unsigned c0 = fk_get(&fk.consumed);
  char line[128];

  printf("1. queue overflow\n");
  CHECK(strcmp(name_now(), "fake") == 0);
  send_events('o', 1);
  CHECK(wait_log(WARN_POLL, warn0 + 1) == 0);
  /* The overflow itself asks for a reload (events were lost): let it run
   * first, so what follows can only be seen by polling. */
  CHECK(wait_log(UNCHANGED_FILE, unch0 + 1) == 0);
  CHECK_EQ_INT(fk_get(&fk.consumed), c0 + 1);
  checks += 4;
  rotation_seen_by_polling('b', TU_SERIAL_B);
  snprintf(line, sizeof line, "trigger: file change; certificate serial %s", TU_SERIAL_B);
  CHECK(tu_log_count(line) >= 1);
  /* Polling ends (5 s after the overflow) and the fake serves again. */
  if (wait_log(INFO_BACK, info0 + 1) != 0) {
    CHECK(!"file watch restored after the overflow");
    fprintf(stderr, "backend now %s; syncs %u, watches %d, enospc %u, live %u, consumed %u\n", name_now(),
            fk_get(&fk.syncs), fk.n_watches, fk_get(&fk.enospc), fk_get(&fk.live), fk_get(&fk.consumed));
  }
  CHECK(strcmp(name_now(), "fake") == 0);
  CHECK_EQ_INT(tu_log_count(WARN_POLL), warn0 + 1); /* exactly one WARNING */
  CHECK_EQ_INT(tu_log_count(INFO_BACK), info0 + 1);
  checks += 5;
}

static void scenario_lost_watch_enospc(void) {
  int warn0 = tu_log_count(WARN_POLL), info0 = tu_log_count(INFO_BACK),
      unch0 = tu_log_count(UNCHANGED_FILE);
  unsigned e0 = fk_get(&fk.enospc), s0;

  printf("2. watch lost, re-adding it fails with ENOSPC\n");
  CHECK(strcmp(name_now(), "fake") == 0);
  fk_set_limit(0);
  send_events('l', 1);
  CHECK(wait_log(WARN_POLL, warn0 + 1) == 0);
  CHECK(fk_get(&fk.enospc) > e0);
  CHECK(wait_log(UNCHANGED_FILE, unch0 + 1) == 0); /* the reload the loss asked for */
  checks += 4;
  rotation_seen_by_polling('a', TU_SERIAL_A);
  /* Still no watch: still polling, and the watch is retried on every tick. */
  s0 = fk_get(&fk.syncs) + 2;
  CHECK(wait_for(pred_syncs, &s0, "watch retries") == 0);
  CHECK(strcmp(name_now(), "notify+poll") == 0);
  CHECK_EQ_INT(tu_log_count(INFO_BACK), info0);
  fk_set_limit(-1);
  CHECK(wait_log(INFO_BACK, info0 + 1) == 0);
  CHECK(strcmp(name_now(), "fake") == 0);
  CHECK_EQ_INT(tu_log_count(WARN_POLL), warn0 + 1);
  checks += 6;
}

static void scenario_enospc_at_start(void) {
  int warn0 = tu_log_count(WARN_POLL), info0 = tu_log_count(INFO_BACK);
  unsigned e0 = fk_get(&fk.enospc);

  printf("2b. the watch cannot be set at start (ENOSPC)\n");
  hotssl_watcher_destroy(g_w);
  g_w = NULL;
  CHECK_EQ_INT(fk_get(&fk.live), 0);
  fk_set_limit(0);
  create_watcher();
  CHECK(fk_get(&fk.enospc) > e0);
  CHECK_EQ_INT(tu_log_count(WARN_POLL), warn0 + 1);
  CHECK(tu_log_count("(notify+poll; debounce 100 ms") >= 1);
  checks += 4;
  rotation_seen_by_polling('b', TU_SERIAL_B);
  fk_set_limit(-1);
  CHECK(wait_log(INFO_BACK, info0 + 1) == 0);
  CHECK(strcmp(name_now(), "fake") == 0);
  CHECK_EQ_INT(tu_log_count(WARN_POLL), warn0 + 1);
  checks += 3;
}

static void scenario_burst(void) {
  int r0 = tu_log_count(RELOADED), unch0 = tu_log_count(UNCHANGED_FILE),
      warn0 = tu_log_count(WARN_POLL), l0;
  unsigned c0;
  uint64_t first, last;
  char line[128], s[80];

  snprintf(line, sizeof line, "trigger: file change; certificate serial %s", TU_SERIAL_A);
  l0 = tu_log_count(line);

  printf("3. burst of 500 events for one rotation\n");
  CHECK(strcmp(name_now(), "fake") == 0);
  pthread_mutex_lock(&fk.mu);
  c0 = fk.consumed;
  fk.first_ms = 0;
  pthread_mutex_unlock(&fk.mu);
  rotate('a');
  /* Nothing reports the rotation yet: no polling, no event. */
  serial_of(s, sizeof s);
  CHECK(strcmp(s, TU_SERIAL_B) == 0);
  send_events('c', 500);
  CHECK(wait_consumed(c0 + 500) == 0);
  pthread_mutex_lock(&fk.mu);
  first = fk.first_ms;
  last = fk.last_ms;
  pthread_mutex_unlock(&fk.mu);
  printf("500 events read over %llu ms\n", (unsigned long long)(last - first));
  /* Within the storm cap (1 s), or a second reload would be right. */
  CHECK(last - first < 1000);
  CHECK(wait_serial(TU_SERIAL_A) == 0);
  settle(last + DEBOUNCE_MS + 100);
  CHECK_EQ_INT(tu_log_count(RELOADED), r0 + 1);
  CHECK_EQ_INT(tu_log_count(UNCHANGED_FILE), unch0);
  CHECK_EQ_INT(tu_log_count(NOT_RELOADED), 0);
  CHECK_EQ_INT(tu_log_count(line), l0 + 1);
  CHECK_EQ_INT(tu_log_count(WARN_POLL), warn0);
  CHECK(strcmp(name_now(), "fake") == 0);
  checks += 10;
}

static void scenario_retry_window(void) {
  int r0 = tu_log_count(RELOADED), warn0 = tu_log_count(WARN_POLL), l0;
  unsigned c0 = fk_get(&fk.consumed), s0;
  uint64_t t_event;
  char s[80], line[128];

  snprintf(line, sizeof line, "trigger: file change; certificate serial %s", TU_SERIAL_B);
  l0 = tu_log_count(line);

  printf("4. event while the pair is mismatched, certificate 300 ms later\n");
  CHECK(strcmp(name_now(), "fake") == 0);
  replace("b.key.orig", "a.key", 0600); /* a.crt (serial A) with key B */
  s0 = fk_get(&fk.syncs);
  send_events('c', 1);
  CHECK(wait_consumed(c0 + 1) == 0);
  t_event = tu_now_ms();
  /* A first attempt runs (re-sync before and after) and fails quietly. */
  s0 += 2;
  CHECK(wait_for(pred_syncs, &s0, "a first attempt") == 0);
  serial_of(s, sizeof s);
  CHECK(strcmp(s, TU_SERIAL_A) == 0);
  CHECK_EQ_INT(tu_log_count(RELOADED), r0);
  {
    uint64_t at = t_event + 300;
    wait_for(pred_time, &at, "300 ms");
  }
  replace("b.crt.orig", "a.crt", 0644); /* consistent again; no event */
  CHECK(wait_serial(TU_SERIAL_B) == 0);
  CHECK_EQ_INT(fk_get(&fk.consumed), c0 + 1);
  CHECK_EQ_INT(tu_log_count(RELOADED), r0 + 1);
  CHECK_EQ_INT(tu_log_count(line), l0 + 1);
  CHECK_EQ_INT(tu_log_count(NOT_RELOADED), 0);
  /* Picked up by the retry window, not by polling. */
  CHECK_EQ_INT(tu_log_count(WARN_POLL), warn0);
  CHECK(strcmp(name_now(), "fake") == 0);
  checks += 11;
}

static void scenario_deferred(void) {
  int r0 = tu_log_count(RELOADED), warn0 = tu_log_count(WARN_POLL);
  unsigned c0 = fk_get(&fk.consumed), d0 = fk_get(&fk.deferred);
  char s[80];

  printf("5. deferred event (the backend's own timeout)\n");
  CHECK(strcmp(name_now(), "fake") == 0);
  rotate('a');
  serial_of(s, sizeof s);
  CHECK(strcmp(s, TU_SERIAL_B) == 0); /* nothing reported it yet */
  send_events('d', 1);
  CHECK(wait_consumed(c0 + 1) == 0);
  if (g_loop) /* the dispatch that read 'd' asks to be called within 200 ms */
    CHECK(g_last_t >= 0 && g_last_t <= 200);
  CHECK(wait_serial(TU_SERIAL_A) == 0);
  CHECK_EQ_INT(fk_get(&fk.deferred), d0 + 1);
  CHECK_EQ_INT(fk_get(&fk.consumed), c0 + 1);
  CHECK_EQ_INT(tu_log_count(RELOADED), r0 + 1);
  CHECK_EQ_INT(tu_log_count(WARN_POLL), warn0);
  checks += g_loop ? 8 : 7;
}

/* A storm longer than the cap: an event every 40 ms (under the 100 ms
 * debounce) for 3 s. The debounce alone would wait for the storm to end;
 * the cap (max(4 x debounce, 1 s)) must reload during it. */
static void scenario_storm(void) {
  int r0 = tu_log_count(RELOADED);
  uint64_t start, end, reloaded_at = 0;
  char s[80];

  printf("6. a storm longer than the cap (an event every 40 ms for 3 s)\n");
  rotate('b');
  start = tu_now_ms();
  end = start + 3000;
  while (tu_now_ms() < end) {
    uint64_t next = tu_now_ms() + 40;
    send_events('c', 1);
    wait_for(pred_time, &next, "a moment");
    if (reloaded_at == 0 && tu_log_count(RELOADED) > r0)
      reloaded_at = tu_now_ms();
  }
  printf("first reload %lld ms into the storm\n",
         reloaded_at ? (long long)(reloaded_at - start) : -1LL);
  CHECK(reloaded_at != 0 && reloaded_at - start < 2500);
  serial_of(s, sizeof s);
  CHECK(strcmp(s, TU_SERIAL_B) == 0);
  settle(tu_now_ms() + DEBOUNCE_MS + 100);
  checks += 2;
}

int main(int argc, char **argv) {
  char *dir, *conf, s[80], *p;
  const char *orig[4][2] = {
      {"a.crt", "a.crt.orig"}, {"a.key", "a.key.orig"}, {"b.crt", "b.crt.orig"}, {"b.key", "b.key.orig"}};
  int pfd[2], i, r;
  tu_server *srv;

  g_loop = argc > 1 && strcmp(argv[1], "loop") == 0;
  printf("mode: %s\n", g_loop ? "host loop" : "own thread");
  dir = tu_mkdtemp();
  g_dir = dir;
  if (realpath(dir, fk.dir) == NULL) {
    fprintf(stderr, "realpath %s: %s\n", dir, strerror(errno));
    return 1;
  }
  conf = tu_two_pairs_manager(dir, flog, &g_m);
  if (conf == NULL)
    return 1;
  for (i = 0; i < 4; i++) {
    char *from = tu_path(dir, orig[i][0]), *to = tu_path(dir, orig[i][1]);
    tu_copy(from, to, (i & 1) ? 0600 : 0644);
    free(from);
    free(to);
  }
  /* Short timings, so the fallbacks show within seconds. */
  tu_write_atomic(conf,
                  TU_CONF_A "hotssl_debounce_ms = 100\nhotssl_poll_interval_ms = 100\n"
                            "hotssl_retry_window_ms = 8000\n",
                  0644);
  r = hotssl_manager_reload(g_m, HOTSSL_TRIGGER_API);
  CHECK(r == 0 || r == HOTSSL_UNCHANGED);
  checks++;

  srv = tu_server_start(g_m, 2);
  g_port = tu_server_port(srv);
  serial_of(s, sizeof s);
  CHECK(strcmp(s, TU_SERIAL_A) == 0);
  checks++;

  if (pipe(pfd) != 0 || fcntl(pfd[0], F_SETFL, O_NONBLOCK) != 0) {
    fprintf(stderr, "pipe: %s\n", strerror(errno));
    return 1;
  }
  fk.rfd = pfd[0];
  fk.wfd = pfd[1];

  create_watcher();
  CHECK(strcmp(name_now(), "fake") == 0);
  CHECK(tu_log_count("(fake; debounce 100 ms, retry window 8000 ms)") == 1);
  CHECK_EQ_INT(fk_get(&fk.live), 1);
  pthread_mutex_lock(&fk.mu);
  CHECK(fk.saw_cert); /* the set handed to the backend names a.crt in dir */
  CHECK(fk.n_watches >= 1);
  pthread_mutex_unlock(&fk.mu);
  checks += 5;

  scenario_overflow();
  scenario_lost_watch_enospc();
  scenario_enospc_at_start();
  scenario_burst();
  scenario_retry_window();
  scenario_deferred();
  scenario_storm();

  CHECK_EQ_INT(tu_log_count(BACKEND_FAILED), 0);
  CHECK_EQ_INT(tu_log_count(NOT_RELOADED), 0);
  hotssl_watcher_destroy(g_w);
  g_w = NULL;
  CHECK_EQ_INT(fk_get(&fk.live), 0);
  CHECK(tu_server_handshake_failures(srv) == 0);
  checks += 4;
  tu_server_stop(srv);
  hotssl_manager_destroy(g_m);
  close(pfd[0]);
  close(pfd[1]);
  p = conf;
  free(p);
  tu_log_clear();
  tu_rmtree(dir);
  free(dir);
  return tu_finish(g_loop ? "test_watcher_fake loop" : "test_watcher_fake thread", checks);
}
