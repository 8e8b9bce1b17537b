/*
 * What the handshake path pays for hotssl: acquire + release of the current
 * generation, against a baseline of one relaxed atomic increment + decrement
 * on a shared counter (the least any reference-counted scheme costs), and
 * against a full mbedtls_ssl_setup/free of a connection context. Reported as
 * ratios measured in one run, with 1 and 2 threads.
 *
 * usage: bench_acquire CERT KEY [iterations]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ssl.h>

#include "hotssl/hotssl.h"

static hotssl_manager *m;
static atomic_uint shared_counter;
static long iters = 2000000;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run_baseline(void *p) {
  long i;
  (void)p;
  for (i = 0; i < iters; i++) {
    atomic_fetch_add_explicit(&shared_counter, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&shared_counter, 1, memory_order_acq_rel);
  }
  return NULL;
}

static void *run_acquire(void *p) {
  long i;
  (void)p;
  for (i = 0; i < iters; i++)
    hotssl_generation_release(hotssl_manager_acquire(m));
  return NULL;
}

static double timed(void *(*fn)(void *), int threads) {
  pthread_t th[2];
  double t0 = now_s();
  int i;
  for (i = 0; i < threads; i++)
    pthread_create(&th[i], NULL, fn, NULL);
  for (i = 0; i < threads; i++)
    pthread_join(th[i], NULL);
  return (now_s() - t0) / (double)iters * 1e9; /* ns per op per thread */
}

int main(int argc, char **argv) {
  char dir[] = "/tmp/hotssl-bench-XXXXXX", conf[256], err[512];
  hotssl_config *cfg;
  FILE *f;
  double base1, acq1, base2, acq2, setup;
  long i, setups = 20000;
  hotssl_generation *g;

  if (argc < 3) {
    fprintf(stderr, "usage: %s CERT KEY [iterations]\n", argv[0]);
    return 2;
  }
  if (argc > 3)
    iters = atol(argv[3]);
  if (mkdtemp(dir) == NULL)
    return 1;
  snprintf(conf, sizeof conf, "%s/hotssl.conf", dir);
  f = fopen(conf, "w");
  fprintf(f, "ssl_cert_file = '%s'\nssl_key_file = '%s'\n", argv[1], argv[2]);
  fclose(f);
  hotssl_config_create(&cfg);
  if (hotssl_config_load_file(cfg, conf, err, sizeof err) != 0 ||
      hotssl_manager_create(&m, cfg, NULL, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  hotssl_config_destroy(cfg);

  base1 = timed(run_baseline, 1);
  acq1 = timed(run_acquire, 1);
  base2 = timed(run_baseline, 2);
  acq2 = timed(run_acquire, 2);
  g = hotssl_manager_acquire(m);
  {
    double t0 = now_s();
    for (i = 0; i < setups; i++) {
      mbedtls_ssl_context ssl;
      mbedtls_ssl_init(&ssl);
      mbedtls_ssl_setup(&ssl, hotssl_generation_ssl_config(g));
      mbedtls_ssl_free(&ssl);
    }
    setup = (now_s() - t0) / (double)setups * 1e9;
  }
  hotssl_generation_release(g);
  printf("iterations per thread: %ld\n", iters);
  printf("1 thread : baseline inc+dec %.1f ns, acquire+release %.1f ns, ratio %.2f\n", base1, acq1, acq1 / base1);
  printf("2 threads: baseline inc+dec %.1f ns, acquire+release %.1f ns, ratio %.2f\n", base2, acq2, acq2 / base2);
  printf("mbedtls_ssl_setup+free of one connection: %.0f ns = %.0fx acquire+release (1 thread)\n", setup, setup / acq1);
  hotssl_manager_destroy(m);
  unlink(conf);
  rmdir(dir);
  return 0;
}
