/*
 * libFuzzer target: the ssl_sni hosts file (core/hosts.c) on hostile bytes:
 * tokenizer, quotes, name lists, @files, the duplicate and keyword checks,
 * every entry's configuration and file loading (not the certificate
 * parsing: the builder's inputs are the main catalogue's), and the
 * watcher's lenient reading of the same file. The input becomes
 * pg_hosts.conf in a folder made once, holding a.crt, a.key (0600) and
 * n.txt (names) for entries to name.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hosts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/hotssl-fuzz-hosts-XXXXXX";
static hotssl_config *cfg;

static void put(const char *name, const char *text, mode_t mode) {
  char p[256];
  FILE *f;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  if ((f = fopen(p, "wb")) != NULL) {
    fputs(text, f);
    fclose(f);
  }
  chmod(p, mode);
}

static void cleanup(void) {
  static const char *names[] = {"a.crt", "a.key", "n.txt", "pg_hosts.conf"};
  char p[256];
  size_t i;
  for (i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    unlink(p);
  }
  rmdir(dir);
  hotssl_config_destroy(cfg);
}

static int count_path(void *ctx, char *path) {
  (*(size_t *)ctx)++;
  free(path);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512], path[256];
  hotssl__settings s;
  struct hotssl__hosts_in *h = NULL;
  size_t n = 0;
  FILE *f;
  if (cfg == NULL) {
    if (mkdtemp(dir) == NULL || hotssl_config_create(&cfg) != 0)
      abort();
    atexit(cleanup);
    put("a.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 0644);
    put("a.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0600);
    put("n.txt", "x.test\n# c\n\n  Y.test \n", 0644);
    hotssl_config_set(cfg, "ssl_sni", "on", NULL, 0);
    hotssl_config_set(cfg, "ssl_cert_file", "", NULL, 0);
    hotssl_config_set(cfg, "ssl_key_file", "", NULL, 0);
    hotssl_config_set_base_dir(cfg, dir);
  }
  snprintf(path, sizeof path, "%s/pg_hosts.conf", dir);
  if ((f = fopen(path, "wb")) == NULL)
    return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  if (hotssl__settings_from_config(&s, cfg, err, sizeof err) == 0) {
    if (hotssl__hosts_load(&h, cfg, &s, NULL, NULL, err, sizeof err) == 0)
      hotssl__hosts_in_free(h);
    hotssl__settings_free(&s);
  }
  hotssl__hosts_watch_paths(cfg, count_path, &n);
  return 0;
}
