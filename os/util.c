/*
 * Small text and memory helpers every layer uses: bounded formatting,
 * NULL-safe string copies, zeroizing and freeing secrets. No state; any
 * thread may call them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os.h"

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

/* Through a volatile function pointer: the compiler cannot prove the call
 * is memset, so it cannot remove it as a dead store. */
static void *(*const volatile zero_fn)(void *, int, size_t) = memset;

void hotssl__zeroize(void *p, size_t len) {
  if (p != NULL && len > 0)
    zero_fn(p, 0, len);
}

void hotssl__secret_free(char *s) {
  if (s == NULL)
    return;
  hotssl__zeroize(s, strlen(s));
  free(s);
}
