/*
 * The per-query cost of noticing a reload (docs/live-revocation.md): one
 * hotssl_generation_counter_load() of the manager's shared
 * generation-change counter compared with the number last seen, against a
 * baseline of one acquire load of a process-local _Atomic uint64_t and the
 * same comparison. Each loop runs `iterations` times; the figure is the
 * median of 7 runs, in ns per check, and the ratio of the two.
 *
 * usage: bench_liverev CERT KEY [iterations]
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hotssl/hotssl.h"

static volatile _Atomic uint64_t local_counter = 1;
static volatile uint64_t sink;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double run_baseline(long iters) {
  uint64_t seen = 1, changed = 0;
  double t0 = now_ns();
  long i;
  for (i = 0; i < iters; i++)
    changed += atomic_load_explicit(&local_counter, memory_order_acquire) != seen;
  sink = changed;
  return (now_ns() - t0) / (double)iters;
}

static double run_check(const volatile uint64_t *c, long iters) {
  uint64_t seen = hotssl_generation_counter_load(c), changed = 0;
  double t0 = now_ns();
  long i;
  for (i = 0; i < iters; i++)
    changed += hotssl_generation_counter_load(c) != seen; /* what a backend does per query */
  sink = changed;
  return (now_ns() - t0) / (double)iters;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  hotssl_config *cfg;
  hotssl_manager *m;
  char err[512];
  double base[7], check[7];
  long iters = argc > 3 ? atol(argv[3]) : 100000000L;
  int i;

  if (argc < 3) {
    fprintf(stderr, "usage: bench_liverev CERT KEY [iterations]\n");
    return 2;
  }
  hotssl_config_create(&cfg);
  if (hotssl_config_set(cfg, "ssl_cert_file", argv[1], err, sizeof err) != 0 ||
      hotssl_config_set(cfg, "ssl_key_file", argv[2], err, sizeof err) != 0 ||
      hotssl_config_set(cfg, "hotssl_watch", "off", err, sizeof err) != 0 ||
      hotssl_manager_create(&m, cfg, NULL, err, sizeof err) != 0) {
    fprintf(stderr, "bench_liverev: %s\n", err);
    return 1;
  }
  hotssl_config_destroy(cfg);
  for (i = 0; i < 7; i++) {
    base[i] = run_baseline(iters);
    check[i] = run_check(hotssl_manager_generation_counter(m), iters);
  }
  qsort(base, 7, sizeof base[0], cmp);
  qsort(check, 7, sizeof check[0], cmp);
  printf("baseline_ns %.3f\n", base[3]);
  printf("check_ns %.3f\n", check[3]);
  printf("ratio %.3f\n", check[3] / base[3]);
  hotssl_manager_destroy(m);
  return 0;
}
