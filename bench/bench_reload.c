/*
 * In-process measurements for bench/run. Each subcommand prints
 * "key value" lines that bench/run parses; not a test, no pass/fail.
 *
 *   bench_reload throughput CONF_A CONF_B SECONDS
 *     A server (4 threads, acquire per connection) and 2 client threads doing
 *     full handshakes, 2 x SECONDS in 500 ms slices that alternate between no
 *     reloads and a reloader publishing a new generation every 10 ms (the
 *     live conf file
 *     renamed between CONF_A's and CONF_B's contents, then
 *     hotssl_manager_reload). Counts failed handshakes and "stale" ones: begun
 *     after a publish completed, served another certificate than that
 *     publish's, with no later publish before they ended. Also a time
 *     series (handshakes per 100 ms) of both phases.
 *   bench_reload latency sighup|watch PID LIVE_CONF CONF_A CONF_B SERIAL_A SERIAL_B PORT N
 *     N rotations of a running `hotssl serve` (pid PID): rename CONF_A's /
 *     CONF_B's contents over LIVE_CONF (whose cert/key names differ), send
 *     SIGHUP (sighup) or nothing (watch), then handshake back to back (C
 *     client, TCP_NODELAY) until the new serial is served: one latency line
 *     per rotation, in ms.
 *   bench_reload rotation CONF_A CONF_B N
 *     Certificate-only rotations in process: median ms of hotssl_manager_reload
 *     after switching the live conf between A and B (other files unchanged).
 *   bench_reload hsrate CONF SECONDS CLIENT_CRT CLIENT_KEY
 *     Full handshakes per second presenting a client certificate (one client
 *     thread, the test server), e.g. with and without a CRL configured.
 *   bench_reload memory CONF_A CONF_B RELOADS HOLD
 *     Heap of the first generation (mallinfo2 around hotssl_manager_create),
 *     of a second one after a certificate-only rotation, then RSS before and
 *     after RELOADS rotations while HOLD acquired generations stay held (a
 *     ring of connections releasing the oldest).
 */

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "hotssl/hotssl.h"
#include "testutil.h"

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* One sleep, not a polling loop: the reloader must not eat the CPU it is
 * measured against. */
static void sleep_until(double t_ms) {
  double d = t_ms - now_ms();
  if (d > 0)
    usleep((useconds_t)(d * 1000.0));
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  char *b;
  long n;
  if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
      (b = malloc((size_t)n + 1)) == NULL || fread(b, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(2);
  }
  b[n] = '\0';
  fclose(f);
  return b;
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The live configuration: LIVE (a path) switched between two texts. */
typedef struct live {
  const char *path;
  char *text[2];
  int cur;
} live;

static void live_init(live *l, const char *path, const char *a, const char *b) {
  l->path = path;
  l->text[0] = slurp(a);
  l->text[1] = slurp(b);
  l->cur = 0;
  tu_write_atomic(path, l->text[0], 0644);
}

static void live_flip(live *l) {
  l->cur ^= 1;
  tu_write_atomic(l->path, l->text[l->cur], 0644);
}

static hotssl_manager *manager(const char *conf) {
  hotssl_config *cfg = NULL;
  hotssl_manager *m = NULL;
  char err[600];
  if (hotssl_config_create(&cfg) != 0 || hotssl_config_load_file(cfg, conf, err, sizeof err) != 0 ||
      hotssl_manager_create(&m, cfg, NULL, err, sizeof err) != 0) {
    fprintf(stderr, "could not start: %s\n", err);
    exit(2);
  }
  hotssl_config_destroy(cfg);
  return m;
}

static char *live_path(const char *conf_a) {
  char *d = strdup(conf_a), *s = strrchr(d, '/'), *p;
  if (s != NULL)
    *s = '\0';
  p = tu_path(s != NULL ? d : ".", "live.conf");
  free(d);
  return p;
}

/* ---- throughput ---- */

#define MAX_PUB 100000
#define SLOTS 1200   /* 100 ms slots: 120 s */
#define SLICE_MS 500 /* phases alternate every SLICE_MS, so a machine whose
                      * load drifts (other processes) affects both alike */

static struct {
  hotssl_manager *m;
  int port;
  atomic_int slice; /* even: no reloads, odd: reloading; -1: stop */
  atomic_ulong ok[2], failed[2], stale;
  atomic_ulong series[SLOTS];
  double t0;
  char pub_serial[MAX_PUB][80];
  atomic_int n_pub;
  live lv;
} tp;

static void *client_main(void *arg) {
  (void)arg;
  for (;;) {
    int sl = atomic_load(&tp.slice), ph, k0, k1, k, r;
    char serial[64];
    double t1;
    if (sl < 0)
      return NULL;
    ph = sl & 1;
    k0 = atomic_load(&tp.n_pub);
    r = tu_client_serial(tp.port, NULL, serial, sizeof serial);
    t1 = now_ms();
    k1 = atomic_load(&tp.n_pub);
    if (atomic_load(&tp.slice) != sl)
      continue; /* straddles a phase change: count in neither */
    if (r != 0) {
      atomic_fetch_add(&tp.failed[ph], 1);
      continue;
    }
    atomic_fetch_add(&tp.ok[ph], 1);
    k = (int)((t1 - tp.t0) / 100.0);
    if (k >= 0 && k < SLOTS)
      atomic_fetch_add(&tp.series[k], 1);
    /* Publish k0-1 was complete before we connected; if no publish
     * completed while we ran, that one's certificate was the only right
     * answer. */
    if (ph == 1 && k0 > 0 && k1 == k0 && strcmp(serial, tp.pub_serial[k0 - 1]) != 0)
      atomic_fetch_add(&tp.stale, 1);
  }
}

static int throughput(const char *a, const char *b, double seconds) {
  char *lp = live_path(a);
  pthread_t c[2];
  tu_server *srv;
  int i, n, sl, slices = (int)(2 * seconds * 1000 / SLICE_MS);
  live_init(&tp.lv, lp, a, b);
  tp.m = manager(lp);
  srv = tu_server_start(tp.m, 4);
  tp.port = tu_server_port(srv);
  tp.t0 = now_ms();
  for (i = 0; i < 2; i++)
    pthread_create(&c[i], NULL, client_main, NULL);
  for (sl = 0; sl < slices; sl++) {
    double end = tp.t0 + (sl + 1) * SLICE_MS;
    atomic_store(&tp.slice, sl);
    while (now_ms() < end) {
      double next = now_ms() + 10.0;
      hotssl_stats st;
      if ((sl & 1) && atomic_load(&tp.n_pub) < MAX_PUB) {
        live_flip(&tp.lv);
        if (hotssl_manager_reload(tp.m, HOTSSL_TRIGGER_API) == 0) {
          n = atomic_load(&tp.n_pub);
          hotssl_manager_stats(tp.m, &st);
          snprintf(tp.pub_serial[n], sizeof tp.pub_serial[n], "%s", st.serial);
          atomic_store(&tp.n_pub, n + 1);
        }
      }
      sleep_until(next < end ? next : end);
    }
  }
  atomic_store(&tp.slice, -1);
  for (i = 0; i < 2; i++)
    pthread_join(c[i], NULL);
  printf("static_hs_per_s %.1f\n", (double)atomic_load(&tp.ok[0]) / seconds);
  printf("reload_hs_per_s %.1f\n", (double)atomic_load(&tp.ok[1]) / seconds);
  printf("failed %lu\n", atomic_load(&tp.failed[0]) + atomic_load(&tp.failed[1]) +
                             (unsigned long)tu_server_handshake_failures(srv));
  printf("stale %lu\n", atomic_load(&tp.stale));
  printf("publishes %d\n", atomic_load(&tp.n_pub));
  for (i = 0; i < slices * SLICE_MS / 100 && i < SLOTS; i++)
    printf("series %.1f %lu %d\n", i * 0.1, atomic_load(&tp.series[i]), (i * 100 / SLICE_MS) & 1);
  tu_server_stop(srv);
  hotssl_manager_destroy(tp.m);
  free(lp);
  return 0;
}

/* ---- latency of a running server ---- */

static int latency(int watch, pid_t pid, const char *livep, const char *a, const char *b,
                   const char *sa, const char *sb, int port, int n) {
  live l;
  int i;
  live_init(&l, livep, a, b); /* the server was started on A */
  for (i = 0; i < n; i++) {
    const char *want;
    char serial[64];
    double t0, dt;
    live_flip(&l);
    want = l.cur ? sb : sa;
    t0 = now_ms();
    if (!watch)
      kill(pid, SIGHUP);
    for (;;) {
      if (tu_client_handshake(port, serial, sizeof serial) == 0 && strcmp(serial, want) == 0)
        break;
      if (now_ms() - t0 > 20000) {
        fprintf(stderr, "rotation %d: serial %s never served\n", i, want);
        return 1;
      }
    }
    dt = now_ms() - t0;
    printf("latency %.3f\n", dt);
    fflush(stdout);
  }
  return 0;
}

/* ---- certificate-only rotation cost ---- */

static int rotation(const char *a, const char *b, int n) {
  char *lp = live_path(a);
  live l;
  hotssl_manager *m;
  double *v = calloc((size_t)n, sizeof *v);
  int i;
  live_init(&l, lp, a, b);
  m = manager(lp);
  for (i = 0; i < n; i++) {
    double t0;
    live_flip(&l);
    t0 = now_ms();
    if (hotssl_manager_reload(m, HOTSSL_TRIGGER_API) != 0) {
      fprintf(stderr, "rotation %d did not reload\n", i);
      return 1;
    }
    v[i] = now_ms() - t0;
  }
  qsort(v, (size_t)n, sizeof *v, cmpd);
  printf("rotation_median_ms %.3f\n", v[n / 2]);
  printf("rotation_min_ms %.3f\n", v[0]);
  hotssl_manager_destroy(m);
  free(v);
  free(lp);
  return 0;
}

/* ---- client-certificate handshakes ---- */

static int hsrate(const char *conf, double seconds, const char *crt, const char *key) {
  hotssl_manager *m = manager(conf);
  tu_server *srv = tu_server_start(m, 2);
  double t0 = now_ms(), t_end = t0 + seconds * 1e3;
  unsigned long ok = 0, bad = 0;
  char serial[64];
  while (now_ms() < t_end) {
    if (tu_client_ex(tu_server_port(srv), NULL, crt, key, serial, sizeof serial) == 0)
      ok++;
    else
      bad++;
  }
  printf("hs_per_s %.1f\n", (double)ok * 1e3 / (now_ms() - t0));
  printf("failed %lu\n", bad + (unsigned long)tu_server_handshake_failures(srv));
  tu_server_stop(srv);
  hotssl_manager_destroy(m);
  return 0;
}

/* ---- memory ---- */

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f == NULL)
    return -1;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
    resident = -1;
  fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static size_t heap(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

static int memory(const char *a, const char *b, long reloads, int hold) {
  char *lp = live_path(a);
  live l;
  hotssl_manager *m;
  hotssl_generation **ring = calloc((size_t)hold, sizeof *ring);
  size_t h0, h1, h2;
  long i, r0, r1, r_mid = 0;
  live_init(&l, lp, a, b);
  h0 = heap();
  m = manager(lp);
  h1 = heap();
  live_flip(&l);
  if (hotssl_manager_reload(m, HOTSSL_TRIGGER_API) != 0) {
    fprintf(stderr, "rotation did not reload\n");
    return 1;
  }
  /* Hold the first generation too: the second one's own cost is what a
   * connection still holding generation 1 makes the server carry. */
  ring[0] = hotssl_manager_acquire(m);
  h2 = heap();
  hotssl_generation_release(ring[0]);
  ring[0] = NULL;
  printf("generation_bytes_first %zu\n", h1 - h0);
  printf("generation_bytes_second %zu\n", h2 > h1 ? h2 - h1 : 0);
  r0 = rss_kb();
  for (i = 0; i < reloads; i++) {
    int k = (int)(i % hold);
    live_flip(&l);
    if (hotssl_manager_reload(m, HOTSSL_TRIGGER_API) != 0) {
      fprintf(stderr, "reload %ld failed\n", i);
      return 1;
    }
    hotssl_generation_release(ring[k]);
    ring[k] = hotssl_manager_acquire(m);
    if (i == reloads / 10)
      r_mid = rss_kb();
  }
  r1 = rss_kb();
  for (i = 0; i < hold; i++)
    hotssl_generation_release(ring[i]);
  printf("rss_kb_before %ld\n", r0);
  printf("rss_kb_after_10pct %ld\n", r_mid);
  printf("rss_kb_after %ld\n", r1);
  printf("reloads %ld\n", reloads);
  hotssl_manager_destroy(m);
  free(ring);
  free(lp);
  return 0;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 5 && strcmp(argv[1], "throughput") == 0)
    return throughput(argv[2], argv[3], atof(argv[4]));
  if (argc == 11 && strcmp(argv[1], "latency") == 0)
    return latency(strcmp(argv[2], "watch") == 0, (pid_t)atol(argv[3]), argv[4], argv[5], argv[6],
                   argv[7], argv[8], atoi(argv[9]), atoi(argv[10]));
  if (argc == 5 && strcmp(argv[1], "rotation") == 0)
    return rotation(argv[2], argv[3], atoi(argv[4]));
  if (argc == 6 && strcmp(argv[1], "hsrate") == 0)
    return hsrate(argv[2], atof(argv[3]), argv[4], argv[5]);
  if (argc == 6 && strcmp(argv[1], "memory") == 0)
    return memory(argv[2], argv[3], atol(argv[4]), atoi(argv[5]));
  fprintf(stderr, "usage: see the comment at the top of bench/bench_reload.c\n");
  return 2;
}
