/*
 * Small helpers used across core/: mbedTLS error text, hashing, X.509 time,
 * and files as the loader holds them: the OS layer's read (os/os.h) plus
 * the content's hash (hotssl__file_read), and the directory listings whose
 * names core/ knows (OpenSSL's hashed CRL names, include_dir's *.conf).
 * Called by core/ and by the layers above it (watcher/ polls with
 * hotssl__file_read); no state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/error.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "util.h"

void hotssl__mbedtls_err(char *buf, size_t len, int ret) {
  char text[200];
  mbedtls_strerror(ret, text, sizeof text);
  hotssl__fmt(buf, len, "%s (-0x%04X)", text, (unsigned)(ret < 0 ? -ret : ret));
}

void hotssl__sha256(const unsigned char *data, size_t len, unsigned char out[32]) {
#if HOTSSL__MBEDTLS3
  mbedtls_sha256(data, len, out, 0);
#else
  mbedtls_sha256_ret(data, len, out, 0);
#endif
}

int64_t hotssl__x509_time_unix(const mbedtls_x509_time *t) {
  /* days from civil (Howard Hinnant), valid for the Gregorian calendar */
  int64_t y = t->year - (t->mon <= 2);
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t mp = (t->mon + 9) % 12;
  int64_t doy = (153 * mp + 2) / 5 + t->day - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = era * 146097 + doe - 719468;
  return days * 86400 + t->hour * 3600 + t->min * 60 + t->sec;
}

int hotssl__file_read(const char *path, unsigned flags, uint64_t max_size,
                      const hotssl__file_id *skip_if, hotssl__blob *out, char *errbuf,
                      size_t errlen) {
  hotssl__os_file f;
  int r;
  memset(out, 0, sizeof *out);
  if ((r = hotssl__os_file_read(path, flags, max_size, skip_if, &f, errbuf, errlen)) != 0)
    return r;
  if (f.data == NULL && !f.same)
    return 0; /* missing, and HOTSSL__READ_MISSING_OK: nothing is set */
  if ((out->path = hotssl__strdup(path)) == NULL) {
    hotssl__os_file_free(&f);
    hotssl__fmt(errbuf, errlen, "out of memory");
    return HOTSSL_ENOMEM;
  }
  out->id = f.id;
  out->seen_ns = f.seen_ns;
  if (f.data != NULL) {
    hotssl__sha256(f.data, f.len, out->sha256);
    out->data = f.data;
    out->len = f.len;
    out->secure = f.secure;
  }
  return 0;
}

void hotssl__blob_free(hotssl__blob *b) {
  if (b == NULL)
    return;
  if (b->data != NULL && b->secure) {
    hotssl__secure_free(b->data); /* zeroizes */
  } else if (b->data != NULL) {
    mbedtls_platform_zeroize(b->data, b->len);
    free(b->data);
  }
  free(b->path);
  memset(b, 0, sizeof *b);
}

/* OpenSSL's hashed CRL names (c_rehash): 8 lowercase hex digits, ".r" and
 * a sequence number of up to 5 digits. */
static int is_hashed_crl_name(const char *n, void *ctx) {
  int i;
  (void)ctx;
  for (i = 0; i < 8; i++)
    if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f')))
      return 0;
  if (n[8] != '.' || n[9] != 'r' || n[10] == '\0')
    return 0;
  for (i = 10; n[i] != '\0'; i++)
    if (n[i] < '0' || n[i] > '9' || i > 14)
      return 0;
  return 1;
}

static int is_conf_name(const char *n, void *ctx) {
  size_t l = strlen(n);
  (void)ctx;
  return n[0] != '.' && l > 5 && strcmp(n + l - 5, ".conf") == 0;
}

static int dir_list(const char *dir, int (*accept)(const char *, void *), char ***names,
                    size_t *count, char *errbuf, size_t errlen) {
  int r = hotssl__dir_list(dir, accept, NULL, HOTSSL__MAX_CRL_DIR_FILES, names, count, errbuf,
                           errlen);
  return r == HOTSSL__DIR_TOO_MANY ? HOTSSL_ECRL : r;
}

int hotssl__crl_dir_list(const char *dir, char ***names, size_t *count,
                         char *errbuf, size_t errlen) {
  return dir_list(dir, is_hashed_crl_name, names, count, errbuf, errlen);
}

int hotssl__conf_dir_list(const char *dir, char ***names, size_t *count,
                          char *errbuf, size_t errlen) {
  return dir_list(dir, is_conf_name, names, count, errbuf, errlen);
}
