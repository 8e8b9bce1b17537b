/*
 * libFuzzer target: the snapshot decoder and the builder behind it
 * (hotssl__snapshot_build: what a prefork worker or a spawned backend runs
 * on bytes from its parent). The checksum is not authentication, and a
 * fuzzer would almost never get it right, so the target writes the input's
 * own length and checksum into the header first: every input reaches the
 * record parser. Seeds: fuzz/seeds (real snapshots).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n) {
  while (n--) {
    h ^= *p++;
    h *= 0x100000001b3ull;
  }
  return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unsigned char *b;
  hotssl_generation *g = NULL;
  hotssl_config *cfg = NULL;
  hotssl__log log = {NULL, NULL};
  char err[HOTSSL__ERRLEN];
  if (size > ((size_t)1 << 20) || (b = malloc(size ? size : 1)) == NULL)
    return 0;
  memcpy(b, data, size);
  if (size >= HOTSSL__SNAPSHOT_HEADER) {
    uint64_t h;
    for (int i = 0; i < 8; i++)
      b[8 + i] = (unsigned char)((uint64_t)size >> (56 - 8 * i));
    h = fnv(fnv(0xcbf29ce484222325ull, b, 24), b + 32, size - 32);
    for (int i = 0; i < 8; i++)
      b[24 + i] = (unsigned char)(h >> (56 - 8 * i));
  }
  if (hotssl__snapshot_build(b, size, NULL, &log, &g, &cfg, err, sizeof err) == 0) {
    hotssl_generation_release(g);
    hotssl_config_destroy(cfg);
  }
  free(b);
  return 0;
}
