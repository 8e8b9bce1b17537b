/*
 * The snapshot's wire primitives, shared by core/snapshot.c (the records,
 * the encoder and the decoder) and core/snapshot_api.c (the public
 * functions and the reading of a snapshot from a pipe): the version, the
 * checksum, a writer that only counts when it has no buffer, and a bounded
 * reader. docs/snapshot-format.md specifies the format.
 */
#ifndef HOTSSL_CORE_SNAPSHOT_WIRE_H
#define HOTSSL_CORE_SNAPSHOT_WIRE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hotssl/hotssl.h"

#define SNAP_VERSION 4u /* docs/snapshot-format.md: when to bump it */

static inline uint64_t fnv1a64(uint64_t h, const unsigned char *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

/* Over the whole snapshot except the checksum field itself. */
static inline uint64_t checksum(const unsigned char *b, size_t len) {
  uint64_t h = fnv1a64(0xcbf29ce484222325ull, b, 24);
  return fnv1a64(h, b + HOTSSL__SNAPSHOT_HEADER, len - HOTSSL__SNAPSHOT_HEADER);
}

/* ---- writer: with buf == NULL it only counts ---- */

typedef struct wr {
  unsigned char *buf;
  size_t off;
} wr;

static inline void put(wr *w, const void *p, size_t n) {
  if (w->buf != NULL && n > 0)
    memcpy(w->buf + w->off, p, n);
  w->off += n;
}

static inline void put_u16(wr *w, unsigned v) {
  unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};
  put(w, b, 2);
}

static inline void put_u32(wr *w, size_t v) {
  unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                        (unsigned char)(v >> 8), (unsigned char)v};
  put(w, b, 4);
}

static inline void put_u64(wr *w, uint64_t v) {
  int i;
  for (i = 7; i >= 0; i--) {
    unsigned char c = (unsigned char)(v >> (8 * i));
    put(w, &c, 1);
  }
}

static inline void put_rec(wr *w, unsigned tag, size_t len) {
  put_u16(w, tag);
  put_u16(w, 0);
  put_u32(w, len);
}

static inline void put_str_rec(wr *w, unsigned tag, const char *s) {
  size_t n = strlen(s);
  put_rec(w, tag, n);
  put(w, s, n);
}

/* ---- reader primitives ---- */

typedef struct rd {
  const unsigned char *p;
  size_t left;
} rd;

static inline int get(rd *r, size_t n, const unsigned char **p) {
  if (n > r->left)
    return -1;
  *p = r->p;
  r->p += n;
  r->left -= n;
  return 0;
}

static inline uint64_t be(const unsigned char *p, int n) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < n; i++)
    v = v << 8 | p[i];
  return v;
}

static inline int get_u32(rd *r, size_t *v) {
  const unsigned char *p;
  if (get(r, 4, &p) != 0)
    return -1;
  *v = (size_t)be(p, 4);
  return 0;
}

/* The next record's tag and value: -1 when the 8-byte record header or the
 * value does not fit in what remains, or the reserved field is not 0. */
static inline int next_record(rd *r, unsigned *tag, const unsigned char **v, size_t *vl) {
  const unsigned char *h;
  if (get(r, 8, &h) != 0 || be(h + 2, 2) != 0)
    return -1;
  *tag = (unsigned)be(h, 2);
  *vl = (size_t)be(h + 4, 4);
  return get(r, *vl, v);
}

/* A string value: no NUL inside (HOTSSL_EINVAL); *out a malloc'ed copy
 * (HOTSSL_ENOMEM: out of memory is not a malformed snapshot). */
static inline int dup_str(const unsigned char *p, size_t n, char **out) {
  *out = NULL;
  if (memchr(p, '\0', n) != NULL)
    return HOTSSL_EINVAL;
  if ((*out = malloc(n + 1)) == NULL)
    return HOTSSL_ENOMEM;
  memcpy(*out, p, n);
  (*out)[n] = '\0';
  return 0;
}

#endif
