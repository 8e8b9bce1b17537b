/*
 * Per-backend TLS start-up cost in spawn mode, in process: what a backend
 * does after exec to get its generation, for both strategies.
 *   spawn_startup CONF [RUNS]
 * Prints, per strategy, the snapshot size, the parent's cost to take it and
 * the backend's cost (hotssl_manager_create_from_snapshot: decode + build +
 * validate, incl. the CRL signature check), min / median / max over RUNS.
 * The end-to-end figure (exec + hand-off + handshake) is measured by
 * spawn_startup.py against `hotssl serve --mode spawn`.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <hotssl/hotssl.h>
#include <hotssl/platform.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  hotssl_config *cfg;
  hotssl_manager *m;
  char err[512];
  int runs = argc > 2 ? atoi(argv[2]) : 15, k, i;
  double t0, *take, *build;
  if (argc < 2 || runs < 1) {
    fprintf(stderr, "usage: %s CONF [RUNS]\n", argv[0]);
    return 2;
  }
  take = calloc((size_t)runs, sizeof *take);
  build = calloc((size_t)runs, sizeof *build);
  hotssl_config_create(&cfg);
  if (hotssl_config_load_file(cfg, argv[1], err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  t0 = now_ms();
  if (hotssl_manager_create(&m, cfg, NULL, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  printf("parent start (files -> generation 1): %.1f ms\n", now_ms() - t0);
  for (k = 0; k < 2; k++) {
    size_t len = 0;
    for (i = 0; i < runs; i++) {
      hotssl_snapshot *s;
      hotssl_manager *b;
      const unsigned char *p;
      t0 = now_ms();
      if (hotssl_snapshot_take(m, k == 0 ? HOTSSL_SNAPSHOT_CONTENTS : HOTSSL_SNAPSHOT_PATHS, &s) != 0)
        return 1;
      take[i] = now_ms() - t0;
      p = hotssl_snapshot_bytes(s, &len);
      t0 = now_ms();
      if (hotssl_manager_create_from_snapshot(&b, p, len, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
      }
      build[i] = now_ms() - t0;
      hotssl_manager_destroy(b);
      hotssl_snapshot_destroy(s);
    }
    qsort(take, (size_t)runs, sizeof *take, cmp);
    qsort(build, (size_t)runs, sizeof *build, cmp);
    printf("%-8s snapshot %8zu bytes | parent take %6.2f ms (median) | backend build min %6.1f median %6.1f max %6.1f ms (%d runs)\n",
           k == 0 ? "snapshot" : "reread", len, take[runs / 2], build[0], build[runs / 2],
           build[runs - 1], runs);
  }
  hotssl_manager_destroy(m);
  hotssl_config_destroy(cfg);
  free(take);
  free(build);
  return 0;
}
