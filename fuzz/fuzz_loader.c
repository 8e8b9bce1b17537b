/*
 * libFuzzer target: the loader and the builder on arbitrary certificate,
 * key, CA and CRL bytes, through the public entry point a server uses
 * (hotssl_manager_create: open, fstat, key-permission rule, read, PEM/DER,
 * PKCS#8 and legacy decryption, pair check, CA check, CRL signature check
 * and revocation table). Input layout: flags byte (bit 0: set ssl_ca_file,
 * bit 1: set ssl_crl_file), three u16 lengths (cert, key, CA), then the
 * parts; the rest is the CRL file. The passphrase command is a stub that
 * prints a fixed passphrase (the test keys' "secret1"). The files live in a
 * private directory under the working directory, rewritten for every input.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hotssl/hotssl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[512];

static void put(const char *name, const uint8_t *p, size_t n, int mode) {
  char path[600];
  int fd;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  unlink(path);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0)
    abort();
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w <= 0)
      abort();
    p += w;
    n -= (size_t)w;
  }
  close(fd);
}

static size_t take(const uint8_t **p, size_t *left, size_t want) {
  size_t n = want < *left ? want : *left;
  *p += n;
  *left -= n;
  return n;
}

/* The folder goes when the fuzzer exits, wherever it was run from. */
static void remove_dir(void) {
  static const char *const names[] = {"cert.pem", "key.pem", "ca.pem", "crl.pem"};
  char path[600];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    unlink(path);
  }
  rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hotssl_config *cfg;
  hotssl_manager *m = NULL;
  hotssl_manager_options o;
  char err[512], v[600];
  const uint8_t *p = data, *part;
  size_t left = size, len[3], n;
  unsigned flags;
  if (size < 7 || size > 200000)
    return 0;
  if (dir[0] == '\0') {
    /* In the working directory (fuzz/run.sh runs in a temporary one). */
    char cwd[400];
    if (getcwd(cwd, sizeof cwd) == NULL)
      abort();
    snprintf(dir, sizeof dir, "%s/loader-files-XXXXXX", cwd);
    if (mkdtemp(dir) == NULL)
      abort();
    atexit(remove_dir);
  }
  flags = p[0];
  for (int i = 0; i < 3; i++)
    len[i] = (size_t)p[1 + 2 * i] << 8 | p[2 + 2 * i];
  take(&p, &left, 7);
  part = p;
  n = take(&p, &left, len[0]);
  put("cert.pem", part, n, 0644);
  part = p;
  n = take(&p, &left, len[1]);
  put("key.pem", part, n, 0600);
  part = p;
  n = take(&p, &left, len[2]);
  put("ca.pem", part, n, 0644);
  put("crl.pem", p, left, 0644);

  hotssl_config_create(&cfg);
  snprintf(v, sizeof v, "%s/cert.pem", dir);
  hotssl_config_set(cfg, "ssl_cert_file", v, err, sizeof err);
  snprintf(v, sizeof v, "%s/key.pem", dir);
  hotssl_config_set(cfg, "ssl_key_file", v, err, sizeof err);
  if (flags & 1) {
    snprintf(v, sizeof v, "%s/ca.pem", dir);
    hotssl_config_set(cfg, "ssl_ca_file", v, err, sizeof err);
  }
  if (flags & 2) {
    snprintf(v, sizeof v, "%s/crl.pem", dir);
    hotssl_config_set(cfg, "ssl_crl_file", v, err, sizeof err);
  }
  hotssl_config_set(cfg, "ssl_passphrase_command", "echo secret1", err, sizeof err);
  hotssl_config_set(cfg, "hotssl_watch", "off", err, sizeof err);
  memset(&o, 0, sizeof o);
  if (hotssl_manager_create(&m, cfg, &o, err, sizeof err) == 0) {
    hotssl_stats st;
    hotssl_manager_stats(m, &st);
    hotssl_manager_destroy(m);
  }
  hotssl_config_destroy(cfg);
  return 0;
}
