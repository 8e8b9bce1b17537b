/*
 * The record of a verified client-certificate chain, and its later check
 * against another generation's revocation table (core/peerrec.h).
 */
#include <stdlib.h>
#include <string.h>

#include "../os/os.h"
#include "generation.h"
#include "peerrec.h"
#include "revocation.h"

void hotssl__peerrec_reset(hotssl__peerrec *r) {
  r->n = 0;
  r->len = 0;
  r->lost = 0;
  r->ok = 0;
}

static int reserve(hotssl__peerrec *r, size_t more) {
  unsigned char *nb;
  size_t cap;
  if (more > UINT32_MAX - r->len)
    return -1;
  if (r->len + more <= r->cap)
    return 0;
  cap = r->cap ? r->cap : 512;
  while (cap < r->len + more)
    cap *= 2;
  if ((nb = realloc(r->bytes, cap)) == NULL)
    return -1;
  r->bytes = nb;
  r->cap = cap;
  return 0;
}

void hotssl__peerrec_add(hotssl__peerrec *r, const mbedtls_x509_crt *crt, int depth) {
  hotssl__peerrec_ent *e;
  unsigned char *key;
  size_t key_len;
  if (r->n >= HOTSSL__PEERREC_MAX) {
    /* Called from the top of the chain down: keep the lowest depths. */
    memmove(&r->ent[0], &r->ent[1], (HOTSSL__PEERREC_MAX - 1) * sizeof r->ent[0]);
    r->n--;
  }
  if ((key = hotssl__revocation_name_key(&crt->issuer, &key_len)) == NULL ||
      reserve(r, key_len + crt->serial.len) != 0) {
    free(key);
    r->lost = 1;
    return;
  }
  e = &r->ent[r->n++];
  e->depth = depth;
  e->key_off = (uint32_t)r->len;
  e->key_len = (uint32_t)key_len;
  memcpy(r->bytes + r->len, key, key_len);
  r->len += key_len;
  e->ser_off = (uint32_t)r->len;
  e->ser_len = (uint32_t)crt->serial.len;
  memcpy(r->bytes + r->len, crt->serial.p, crt->serial.len);
  r->len += crt->serial.len;
  free(key);
}

void hotssl__peerrec_free(hotssl__peerrec *r) {
  free(r->bytes);
  r->bytes = NULL;
  r->cap = 0;
  hotssl__peerrec_reset(r);
}

/* Big-endian unsigned bytes as decimal, as PostgreSQL prints a serial. */
static void to_decimal(const unsigned char *p, size_t n, char *out, size_t outlen) {
  unsigned char num[64];
  char rev[160];
  size_t k = 0, i, len;
  if (outlen == 0)
    return;
  while (n > 0 && p[0] == 0) {
    p++;
    n--;
  }
  if (n > sizeof num) {
    hotssl__fmt(out, outlen, "?");
    return;
  }
  memcpy(num, p, n);
  len = n;
  do { /* divide by 10 until zero, collecting remainders */
    unsigned rem = 0;
    size_t nz = 0;
    for (i = 0; i < len; i++) {
      unsigned cur = rem * 256 + num[i];
      num[i] = (unsigned char)(cur / 10);
      rem = cur % 10;
      if (num[i] == 0 && nz == i)
        nz++;
    }
    rev[k++] = (char)('0' + rem);
    memmove(num, num + nz, len - nz);
    len -= nz;
  } while (len > 0 && k < sizeof rev);
  for (i = 0; i < k && i + 1 < outlen; i++)
    out[i] = rev[k - 1 - i];
  out[i] = '\0';
}

int hotssl__peerrec_revoked(const hotssl__peerrec *r, const hotssl_generation *g, int *depth,
                            char *serial, size_t serial_len) {
  const hotssl__revocation *t;
  const hotssl__peerrec_ent *hit = NULL;
  size_t i;
  if (serial != NULL && serial_len > 0)
    serial[0] = '\0';
  if (r == NULL || g == NULL || !r->ok)
    return HOTSSL_EINVAL;
  if (r->lost)
    return HOTSSL_ENOMEM;
  if (g->crl == NULL || (t = g->crl->revocation) == NULL)
    return 0;
  for (i = 0; i < r->n; i++) {
    const hotssl__peerrec_ent *e = &r->ent[i];
    if (hotssl__revocation_lookup_key(t, r->bytes + e->key_off, e->key_len, r->bytes + e->ser_off,
                                      e->ser_len) &&
        (hit == NULL || e->depth < hit->depth))
      hit = e;
  }
  if (hit == NULL)
    return 0;
  if (depth != NULL)
    *depth = hit->depth;
  if (serial != NULL)
    to_decimal(r->bytes + hit->ser_off, hit->ser_len, serial, serial_len);
  return 1;
}
