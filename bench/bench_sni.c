/*
 * What a reload costs with ssl_sni and many unchanged hosts-file entries:
 * not a test, no pass/fail, run by hand.
 *
 *   bench_sni ENTRIES RUNS
 *     ENTRIES entries, each its own P-256 pair (cli/certgen.c) in a
 *     temporary folder. Once every file is older than the loader's racy
 *     window (2 s), a manager starts and reloads once; then RUNS times each:
 *     "build": a comment appended to the hosts file, hotssl_manager_reload
 *     (a new generation, every entry unchanged and lent); "unchanged":
 *     hotssl_manager_reload with nothing changed. Prints the median ms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certgen.h"
#include "testutil.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[n / 2];
}

int main(int argc, char **argv) {
  int entries = argc > 1 ? atoi(argv[1]) : 1000, runs = argc > 2 ? atoi(argv[2]) : 9, i;
  char *dir = tu_mkdtemp(), *hosts = tu_path(dir, "pg_hosts.conf"), *conf = tu_path(dir, "hotssl.conf");
  char name[64], err[512], *p;
  static char pem[8192];
  certgen_rng rng;
  mbedtls_pk_context ca, key;
  hotssl_config *cfg = NULL;
  hotssl_manager *m = NULL;
  double *t_build, *t_same;
  FILE *f;
  struct timespec wait = {2, 200000000};

  if (entries < 1 || runs < 1 || (t_build = calloc((size_t)runs, sizeof *t_build)) == NULL ||
      (t_same = calloc((size_t)runs, sizeof *t_same)) == NULL)
    return 2;
  mbedtls_pk_init(&ca);
  if (certgen_rng_init(&rng) != 0 || certgen_key(&ca, &rng) != 0)
    return 1;
  f = fopen(hosts, "w");
  for (i = 0; i < entries; i++) {
    mbedtls_pk_init(&key);
    snprintf(name, sizeof name, "CN=h%d.test", i);
    if (certgen_key(&key, &rng) != 0 ||
        certgen_cert(&key, name, &ca, "CN=bench CA", (unsigned long)i + 1, "20200101000000",
                     "20991231235959", 0, &rng, pem, sizeof pem) != 0)
      return 1;
    snprintf(name, sizeof name, "h%d.crt", i);
    tu_write(p = tu_path(dir, name), pem, 0644);
    free(p);
    certgen_key_pem(&key, pem, sizeof pem);
    snprintf(name, sizeof name, "h%d.key", i);
    tu_write(p = tu_path(dir, name), pem, 0600);
    free(p);
    mbedtls_pk_free(&key);
    fprintf(f, "h%d.test h%d.crt h%d.key\n", i, i, i);
  }
  fclose(f);
  tu_write(conf, "ssl_sni = on\nssl_cert_file = ''\nssl_key_file = ''\n", 0644);
  nanosleep(&wait, NULL); /* every file older than the racy window */
  if (hotssl_config_create(&cfg) != 0 || hotssl_config_load_file(cfg, conf, err, sizeof err) != 0 ||
      hotssl_manager_create(&m, cfg, NULL, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  hotssl_manager_reload(m, HOTSSL_TRIGGER_API);
  for (i = 0; i < runs; i++) {
    double t0;
    int r;
    f = fopen(hosts, "a");
    fputs("# touched\n", f);
    fclose(f);
    t0 = now_ms();
    r = hotssl_manager_reload(m, HOTSSL_TRIGGER_API);
    t_build[i] = now_ms() - t0;
    if (r != 0)
      fprintf(stderr, "build reload: %d\n", r);
    t0 = now_ms();
    r = hotssl_manager_reload(m, HOTSSL_TRIGGER_API);
    t_same[i] = now_ms() - t0;
    if (r != HOTSSL_UNCHANGED)
      fprintf(stderr, "unchanged reload: %d\n", r);
  }
  printf("entries %d runs %d\nbuild_ms %.2f\nunchanged_ms %.2f\n", entries, runs,
         median(t_build, runs), median(t_same, runs));
  hotssl_manager_destroy(m);
  hotssl_config_destroy(cfg);
  mbedtls_pk_free(&ca);
  certgen_rng_free(&rng);
  tu_rmtree(dir);
  free(dir);
  free(hosts);
  free(conf);
  free(t_build);
  free(t_same);
  return 0;
}
