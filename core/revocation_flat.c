/*
 * The revocation table's flat form (the spawn snapshot's CRL record): the
 * encoder, and the decoder that reads it as hostile input (revocation.h).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/pk.h>

#include "../os/os.h"
#include "revocation.h"
#include "util.h"

static int serial_cmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen) {
  if (alen != blen)
    return alen < blen ? -1 : 1;
  return alen == 0 ? 0 : memcmp(a, b, alen);
}

/* ---- flat form (the spawn snapshot) ----
 * Big-endian: u32 n_issuers, n_entries, n_crls, n_bytes, n_ca;
 * issuers: u32 dn_off, dn_len, key_off, key_len, first, count, crl_first, n_crl;
 * entries: u32 off, len;
 * crls: u64 this_update, next_update; u32 sig_off, sig_len, md, pk, pss_md,
 *       pss_salt, hash_len; hash;
 * CA list: u32 sign, parent (two's complement); then the bytes pool. */

typedef struct flat {
  unsigned char *out; /* NULL: measure */
  size_t off;
} flat;

static void flat_put(flat *f, uint64_t v, int n) {
  int i;
  for (i = n - 1; i >= 0; i--, f->off++)
    if (f->out != NULL)
      f->out[f->off] = (unsigned char)(v >> (8 * i));
}

static void flat_bytes(flat *f, const unsigned char *p, size_t n) {
  if (f->out != NULL && n > 0)
    memcpy(f->out + f->off, p, n);
  f->off += n;
}

size_t hotssl__revocation_encode(const hotssl__revocation *t, unsigned char *out) {
  flat f = {out, 0};
  size_t i;
  flat_put(&f, t->n_issuers, 4);
  flat_put(&f, t->n_entries, 4);
  flat_put(&f, t->n_crls, 4);
  flat_put(&f, t->n_bytes, 4);
  flat_put(&f, t->n_ca, 4);
  for (i = 0; i < t->n_issuers; i++) {
    const hotssl__rev_issuer *is = &t->issuers[i];
    flat_put(&f, is->dn_off, 4);
    flat_put(&f, is->dn_len, 4);
    flat_put(&f, is->key_off, 4);
    flat_put(&f, is->key_len, 4);
    flat_put(&f, is->count > 0 ? is->first : 0, 4);
    flat_put(&f, is->count, 4);
    flat_put(&f, is->crl_first, 4);
    flat_put(&f, is->n_crl, 4);
  }
  for (i = 0; i < t->n_entries; i++) {
    flat_put(&f, t->entries[i].off, 4);
    flat_put(&f, t->entries[i].len, 4);
  }
  for (i = 0; i < t->n_crls; i++) {
    const hotssl__rev_crl *rc = &t->crls[i];
    flat_put(&f, (uint64_t)rc->this_update, 8);
    flat_put(&f, (uint64_t)rc->next_update, 8);
    flat_put(&f, rc->sig_off, 4);
    flat_put(&f, rc->sig_len, 4);
    flat_put(&f, (uint32_t)rc->md, 4);
    flat_put(&f, (uint32_t)rc->pk, 4);
    flat_put(&f, (uint32_t)rc->pss_md, 4);
    flat_put(&f, (uint32_t)rc->pss_salt, 4);
    flat_put(&f, rc->hash_len, 4);
    flat_bytes(&f, rc->hash, rc->hash_len);
  }
  for (i = 0; i < t->n_ca; i++) {
    flat_put(&f, (uint32_t)t->ca_sign[i], 4);
    flat_put(&f, (uint32_t)(int32_t)t->ca_parent[i], 4);
  }
  flat_bytes(&f, t->bytes, t->n_bytes);
  return f.off;
}

typedef struct unflat {
  const unsigned char *p;
  size_t left;
} unflat;

static uint64_t unflat_get(unflat *u, int n) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < n; i++)
    v = v << 8 | u->p[i];
  u->p += n;
  u->left -= (size_t)n;
  return v;
}

/* A count of records of `size` bytes each that the bytes left can hold. */
static int unflat_count(const unflat *u, size_t n, size_t size) {
  return n <= u->left / size;
}

static int in_pool(size_t n_bytes, uint32_t off, uint32_t len) {
  return off <= n_bytes && len <= n_bytes - off;
}

static int known_pk(int pk) {
  return pk == MBEDTLS_PK_RSA || pk == MBEDTLS_PK_ECDSA || pk == MBEDTLS_PK_ECKEY ||
         pk == MBEDTLS_PK_RSASSA_PSS;
}

/* The CRL records of a decoded table, each checked. 0, or -1 if one is
 * malformed. */
static int decode_crls(hotssl__revocation *t, unflat *u) {
  size_t i;
  for (i = 0; i < t->n_crls; i++) {
    hotssl__rev_crl *rc = &t->crls[i];
    const mbedtls_md_info_t *md;
    if (u->left < 44)
      return -1;
    rc->this_update = (int64_t)unflat_get(u, 8);
    rc->next_update = (int64_t)unflat_get(u, 8);
    rc->sig_off = (uint32_t)unflat_get(u, 4);
    rc->sig_len = (uint32_t)unflat_get(u, 4);
    rc->md = (int)(int32_t)unflat_get(u, 4);
    rc->pk = (int)(int32_t)unflat_get(u, 4);
    rc->pss_md = (int)(int32_t)unflat_get(u, 4);
    rc->pss_salt = (int)(int32_t)unflat_get(u, 4);
    rc->hash_len = (uint32_t)unflat_get(u, 4);
    md = rc->md > 0 ? mbedtls_md_info_from_type((mbedtls_md_type_t)rc->md) : NULL;
    /* hash_len 0: the builder could not hash it (no such digest here); its
     * signature never verifies. */
    if ((rc->hash_len != 0 && (md == NULL || rc->hash_len != mbedtls_md_get_size(md))) ||
        rc->hash_len > sizeof rc->hash ||
        rc->hash_len > u->left || !known_pk(rc->pk) || rc->sig_len == 0 ||
        !in_pool(t->n_bytes, rc->sig_off, rc->sig_len))
      return -1;
    memcpy(rc->hash, u->p, rc->hash_len);
    u->p += rc->hash_len;
    u->left -= rc->hash_len;
  }
  return 0;
}

/* 1 if the serials of t are stripped and strictly ascending within each
 * issuer. */
static int serials_ascending(const hotssl__revocation *t) {
  size_t i, j;
  for (i = 0; i < t->n_issuers; i++) {
    const hotssl__rev_issuer *is = &t->issuers[i];
    for (j = is->first; j < (size_t)is->first + is->count; j++) {
      const hotssl__rev_entry *en = &t->entries[j];
      if (en->len > 0 && t->bytes[en->off] == 0)
        return 0;
      if (j > is->first && serial_cmp(t->bytes + en[-1].off, en[-1].len, t->bytes + en->off,
                                      en->len) >= 0)
        return 0;
    }
  }
  return 1;
}

int hotssl__revocation_decode(const unsigned char *p, size_t len, size_t n_ca,
                              hotssl__revocation **out) {
  unflat u = {p, len};
  hotssl__revocation *t;
  size_t i, ne, nc;
  int r = HOTSSL_EINVAL;

  *out = NULL;
  if (len < 20)
    return HOTSSL_EINVAL;
  if ((t = calloc(1, sizeof *t)) == NULL)
    return HOTSSL_ENOMEM;
  atomic_init(&t->presented_checks, 0);
  t->n_issuers = (size_t)unflat_get(&u, 4);
  t->n_entries = (size_t)unflat_get(&u, 4);
  t->n_crls = (size_t)unflat_get(&u, 4);
  t->n_bytes = (size_t)unflat_get(&u, 4);
  t->n_ca = (size_t)unflat_get(&u, 4);
  /* Each count bounded by the bytes left before anything is allocated. */
  if (t->n_ca != n_ca || !unflat_count(&u, t->n_issuers, 32) || !unflat_count(&u, t->n_entries, 8) ||
      !unflat_count(&u, t->n_crls, 44) || !unflat_count(&u, t->n_ca, 8) ||
      t->n_bytes > u.left || t->n_crls < t->n_issuers || (t->n_issuers == 0) != (t->n_crls == 0))
    goto fail;
  r = HOTSSL_ENOMEM;
  if ((t->n_issuers > 0 && ((t->issuers = calloc(t->n_issuers, sizeof *t->issuers)) == NULL ||
                            (t->slots = calloc(t->n_issuers * HOTSSL__REV_SLOTS, sizeof *t->slots)) == NULL)) ||
      (t->n_entries > 0 && (t->entries = malloc(t->n_entries * sizeof *t->entries)) == NULL) ||
      (t->n_crls > 0 && (t->crls = calloc(t->n_crls, sizeof *t->crls)) == NULL) ||
      (t->n_ca > 0 && ((t->ca_sign = calloc(t->n_ca, sizeof *t->ca_sign)) == NULL ||
                       (t->ca_parent = calloc(t->n_ca, sizeof *t->ca_parent)) == NULL)) ||
      (t->n_bytes > 0 && (t->bytes = malloc(t->n_bytes)) == NULL))
    goto fail;
  r = HOTSSL_EINVAL;
  for (i = 0; i < t->n_issuers * HOTSSL__REV_SLOTS; i++)
    atomic_init(&t->slots[i].state, 0);
  for (i = 0, ne = 0, nc = 0; i < t->n_issuers; i++) {
    hotssl__rev_issuer *is = &t->issuers[i];
    is->dn_off = (uint32_t)unflat_get(&u, 4);
    is->dn_len = (uint32_t)unflat_get(&u, 4);
    is->key_off = (uint32_t)unflat_get(&u, 4);
    is->key_len = (uint32_t)unflat_get(&u, 4);
    is->first = (uint32_t)unflat_get(&u, 4);
    is->count = (uint32_t)unflat_get(&u, 4);
    is->crl_first = (uint32_t)unflat_get(&u, 4);
    is->n_crl = (uint32_t)unflat_get(&u, 4);
    /* Entries and CRLs tile their arrays in issuer order. */
    if (!in_pool(t->n_bytes, is->dn_off, is->dn_len) || is->dn_len == 0 ||
        !in_pool(t->n_bytes, is->key_off, is->key_len) || is->key_len == 0 ||
        (is->count > 0 && is->first != ne) || is->count > t->n_entries - ne ||
        is->crl_first != nc || is->n_crl == 0 || is->n_crl > t->n_crls - nc)
      goto fail;
    ne += is->count;
    nc += is->n_crl;
  }
  if (ne != t->n_entries || nc != t->n_crls)
    goto fail;
  for (i = 0; i < t->n_entries; i++) {
    t->entries[i].off = (uint32_t)unflat_get(&u, 4);
    t->entries[i].len = (uint32_t)unflat_get(&u, 4);
    if (!in_pool(t->n_bytes, t->entries[i].off, t->entries[i].len))
      goto fail;
  }
  if (decode_crls(t, &u) != 0)
    goto fail;
  if (!unflat_count(&u, t->n_ca, 8))
    goto fail;
  for (i = 0; i < t->n_ca; i++) {
    int sign = (int)(int32_t)unflat_get(&u, 4);
    long parent = (long)(int32_t)unflat_get(&u, 4);
    if ((sign != HOTSSL__REV_OK && sign != HOTSSL__REV_NO_CRL_SIGN && sign != HOTSSL__REV_BAD_SIG &&
         sign != 1) ||
        parent < -1 || parent >= (long)t->n_ca || parent == (long)i)
      goto fail;
    t->ca_sign[i] = sign;
    t->ca_parent[i] = parent;
  }
  if (u.left != t->n_bytes)
    goto fail;
  if (t->n_bytes > 0)
    memcpy(t->bytes, u.p, t->n_bytes);
  if (!serials_ascending(t))
    goto fail;
  *out = t;
  return 0;
fail:
  hotssl__revocation_free(t);
  return r;
}
