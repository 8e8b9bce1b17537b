/*
 * The cost of a metrics scrape with a 100,000-entry CRL configured:
 *   bench_metrics [ENTRIES [ROUNDS]]      defaults: 100000 entries, 200 rounds
 * Makes, in a temporary directory, an EC P-256 CA and server certificate
 * (cli/certgen.c) and a CRL of ENTRIES revoked serials (`openssl ca
 * -gencrl`), creates one manager and times, each as a median over ROUNDS
 * calls:
 *   - the served-versus-disk check (HOTSSL_INFO_SERVED_DIFFERS_FROM_DISK)
 *     while the files are younger than the memos' 2 s racy margin (each
 *     file is read and hashed, none parsed: 20 calls at once), then at rest
 *     (after waiting out the margin: an open and an fstat per file);
 *   - hotssl_manager_metrics (the whole exposition, the check included);
 *   - an unchanged reload (hotssl_manager_reload: the same load, and the
 *     callbacks and the log line);
 *   - hotssl_manager_create from the same files (everything parsed: what
 *     the check avoids), over ROUNDS / 20 calls.
 * Not a test: no pass/fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "certgen.h"
#include "testutil.h"

static char *dir;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void put(const char *name, const char *text) {
  char p[512];
  FILE *f;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  if ((f = fopen(p, "w")) == NULL || fputs(text, f) < 0) {
    fprintf(stderr, "cannot write %s\n", p);
    exit(1);
  }
  fclose(f);
  chmod(p, 0600);
}

static int make_pki(unsigned long entries) {
  static char buf[16384];
  certgen_rng rng;
  mbedtls_pk_context cak, sk;
  const char *issuer = "CN=hotssl bench CA";
  char p[600];
  unsigned long i;
  FILE *f;
  int r = -1;
  mbedtls_pk_init(&cak);
  mbedtls_pk_init(&sk);
  if (certgen_rng_init(&rng) != 0)
    return -1;
  if (certgen_key(&cak, &rng) || certgen_key(&sk, &rng) ||
      certgen_cert(&cak, issuer, &cak, issuer, 1, "20200101000000", "20491231000000", 1, &rng, buf,
                   sizeof buf))
    goto out;
  put("ca.crt", buf);
  certgen_key_pem(&cak, buf, sizeof buf);
  put("ca.key", buf);
  if (certgen_cert(&sk, "CN=localhost", &cak, issuer, 2, "20200101000000", "20491231000000", 0, &rng,
                   buf, sizeof buf))
    goto out;
  put("server.crt", buf);
  certgen_key_pem(&sk, buf, sizeof buf);
  put("server.key", buf);
  snprintf(p, sizeof p, "%s/index.txt", dir);
  if ((f = fopen(p, "w")) == NULL)
    goto out;
  for (i = 0; i < entries; i++)
    fprintf(f, "R\t491231000000Z\t230101000000Z\t%08lX\tunknown\t/CN=r%lu\n", 0x10000000ul + i, i);
  fclose(f);
  r = tu_openssl_gencrl(dir);
out:
  mbedtls_pk_free(&cak);
  mbedtls_pk_free(&sk);
  certgen_rng_free(&rng);
  return r;
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
  unsigned long entries = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
  int rounds = argc > 2 ? atoi(argv[2]) : 200, i, creates;
  double *t, racy, check, metrics, reload, create;
  hotssl_config *cfg;
  hotssl_manager *m = NULL, *m2;
  char *conf, err[512], *buf;
  size_t need = 0;
  uint64_t d;

  if (rounds < 20)
    rounds = 20;
  creates = rounds / 20;
  dir = tu_mkdtemp();
  if (make_pki(entries) != 0)
    return 1;
  conf = tu_path(dir, "hotssl.conf");
  tu_write(conf,
           "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'ca.crt'\n"
           "ssl_crl_file = 'crl.pem'\nhotssl_watch = off\n",
           0644);
  hotssl_config_create(&cfg);
  if (hotssl_config_load_file(cfg, conf, err, sizeof err) != 0 ||
      hotssl_manager_create(&m, cfg, NULL, err, sizeof err) != 0) {
    fprintf(stderr, "manager: %s\n", err);
    return 1;
  }
  t = malloc((size_t)rounds * sizeof *t);
  for (i = 0; i < 20; i++) {
    double t0 = now_s();
    hotssl_manager_info(m, HOTSSL_INFO_SERVED_DIFFERS_FROM_DISK, &d, sizeof d);
    t[i] = now_s() - t0;
  }
  racy = median(t, 20);
  sleep(3); /* past the racy margin: the memos are trusted from now on */
  hotssl_manager_info(m, HOTSSL_INFO_SERVED_DIFFERS_FROM_DISK, &d, sizeof d);
  for (i = 0; i < rounds; i++) {
    double t0 = now_s();
    hotssl_manager_info(m, HOTSSL_INFO_SERVED_DIFFERS_FROM_DISK, &d, sizeof d);
    t[i] = now_s() - t0;
  }
  check = median(t, rounds);
  hotssl_manager_metrics(m, NULL, 0, &need);
  buf = malloc(need + 4096);
  for (i = 0; i < rounds; i++) {
    double t0 = now_s();
    hotssl_manager_metrics(m, buf, need + 4096, NULL);
    t[i] = now_s() - t0;
  }
  metrics = median(t, rounds);
  for (i = 0; i < rounds; i++) {
    double t0 = now_s();
    hotssl_manager_reload(m, HOTSSL_TRIGGER_API);
    t[i] = now_s() - t0;
  }
  reload = median(t, rounds);
  for (i = 0; i < creates; i++) {
    double t0 = now_s();
    if (hotssl_manager_create(&m2, cfg, NULL, err, sizeof err) != 0)
      return 1;
    t[i] = now_s() - t0;
    hotssl_manager_destroy(m2);
  }
  create = median(t, creates);
  printf("CRL entries: %lu; served differs: %llu; exposition: %lu bytes\n", entries,
         (unsigned long long)d, (unsigned long)strlen(buf));
  printf("served-versus-disk check, files < 2 s old  median %9.1f us (20 calls)\n", racy * 1e6);
  printf("served-versus-disk check, files at rest    median %9.1f us (%d calls)\n", check * 1e6, rounds);
  printf("hotssl_manager_metrics, files at rest      median %9.1f us (%d calls)\n", metrics * 1e6,
         rounds);
  printf("unchanged reload, files at rest            median %9.1f us (%d calls)\n", reload * 1e6,
         rounds);
  printf("manager create (everything parsed)         median %9.1f us (%d calls)\n", create * 1e6,
         creates);
  free(buf);
  free(t);
  hotssl_manager_destroy(m);
  hotssl_config_destroy(cfg);
  free(conf);
  tu_rmtree(dir);
  free(dir);
  return 0;
}
