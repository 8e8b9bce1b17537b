/*
 * Buffers for key material that hotssl fills itself (the key file's bytes,
 * the passphrase command's output, a decrypted PKCS#8 key, snapshots):
 * whole pages of their own, mapped through the OS call table (so a test can
 * fail the mapping), kept out of core dumps and locked in memory where the
 * OS allows (hotssl__pages_protect, os/posix/secmem.c, os/win32/secmem.c),
 * and zeroized in full before they are unmapped. A small header at the
 * start of the mapping records its length, so a buffer is freed from its
 * pointer alone. No state; any thread may call these.
 */
#include <stdint.h>
#include <string.h>

#include "os.h"

/* Keeps the caller's bytes 16-byte aligned, as malloc's are. */
typedef union secmem_hdr {
  struct {
    size_t map_len;
  } h;
  unsigned char align[32];
} secmem_hdr;

void *hotssl__secure_alloc(size_t len) {
  size_t page = hotssl__page_size(), need;
  unsigned char *base;
  secmem_hdr *h;
  if (len > SIZE_MAX - sizeof(secmem_hdr) - page)
    return NULL;
  need = (len + sizeof(secmem_hdr) + page - 1) / page * page;
  if ((base = hotssl__os()->pages_map(need)) == NULL)
    return NULL;
  hotssl__pages_protect(base, need, HOTSSL__PAGES_NODUMP | HOTSSL__PAGES_LOCKED);
  h = (secmem_hdr *)(void *)base;
  h->h.map_len = need;
  return base + sizeof(secmem_hdr);
}

void hotssl__secure_free(void *p) {
  unsigned char *base;
  size_t map_len;
  if (p == NULL)
    return;
  base = (unsigned char *)p - sizeof(secmem_hdr);
  map_len = ((secmem_hdr *)(void *)base)->h.map_len;
  hotssl__zeroize(base, map_len);
  hotssl__os()->pages_unmap(base, map_len);
}

char *hotssl__secure_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = hotssl__secure_alloc(n);
  if (d != NULL)
    memcpy(d, s, n);
  return d;
}
