/*
 * Windows has no fork, and spawned backends do not receive the page (see
 * docs/live-revocation.md): the page is the process's own memory.
 */
#include <stdlib.h>

#include "../os.h"

int hotssl__shpage_create(hotssl__shpage *s, size_t len) {
  s->fd = -1;
  s->p = calloc(1, len);
  return s->p != NULL ? 0 : -1;
}

int hotssl__shpage_attach(hotssl__shpage *s, int fd, size_t len) {
  (void)fd;
  (void)len;
  s->p = NULL;
  s->fd = -1;
  return -1;
}

void hotssl__shpage_free(hotssl__shpage *s, size_t len) {
  (void)len;
  free(s->p);
  s->p = NULL;
  s->fd = -1;
}

int hotssl__os_shpage_supported(void) { return -1; }
