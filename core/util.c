/*
 * Small helpers used across core/: bounded formatting, secret strings,
 * mbedTLS error text, path joining, hashing. No state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/error.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "internal.h"

void hotssl__fmt(char *buf, size_t len, const char *fmt, ...) {
  va_list ap;
  if (buf == NULL || len == 0)
    return;
  va_start(ap, fmt);
  if (vsnprintf(buf, len, fmt, ap) < 0)
    buf[0] = '\0';
  va_end(ap);
}

char *hotssl__strdup(const char *s) {
  size_t n;
  char *d;
  if (s == NULL)
    return NULL;
  n = strlen(s) + 1;
  d = malloc(n);
  if (d != NULL)
    memcpy(d, s, n);
  return d;
}

void hotssl__secret_free(char *s) {
  if (s == NULL)
    return;
  mbedtls_platform_zeroize(s, strlen(s));
  free(s);
}

void hotssl__mbedtls_err(char *buf, size_t len, int ret) {
  char text[200];
  mbedtls_strerror(ret, text, sizeof text);
  hotssl__fmt(buf, len, "%s (-0x%04X)", text, (unsigned)(ret < 0 ? -ret : ret));
}

static int is_absolute(const char *p) {
  if (p[0] == '/')
    return 1;
#ifdef _WIN32
  if (p[0] == '\\' || (p[0] != '\0' && p[1] == ':'))
    return 1;
#endif
  return 0;
}

char *hotssl__path_join(const char *base, const char *path) {
  size_t bl, pl;
  char *r;
  if (path == NULL)
    return NULL;
  if (base == NULL || base[0] == '\0' || is_absolute(path))
    return hotssl__strdup(path);
  bl = strlen(base);
  pl = strlen(path);
  r = malloc(bl + pl + 2);
  if (r == NULL)
    return NULL;
  memcpy(r, base, bl);
  r[bl] = '/';
  memcpy(r + bl + 1, path, pl + 1);
  return r;
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
