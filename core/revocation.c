/*
 * Revocation table (see revocation.h for the contract): built by the builder
 * (core/generation.c) from a CRL set whose signatures it checked, read by the
 * verify callback of every client-certificate handshake. Building costs one
 * more hash and signature check per CRL; each verification then costs a few
 * DN comparisons and a binary search.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509.h>

#if defined(MBEDTLS_ECP_C)
#  include <mbedtls/ecp.h>
#endif

#include "internal.h"
#include "revocation.h"

#ifndef MBEDTLS_PRIVATE
#  define MBEDTLS_PRIVATE(member) member
#endif

/* ---- canonical DN: equal bytes iff mbedTLS's x509_name_cmp says equal ----
 * Per attribute: OID tag, length, bytes; value tag (UTF8String and
 * PrintableString both as UTF8String, their ASCII letters lowercased, as
 * x509_string_cmp compares them), length, bytes; the next_merged flag.
 * One walker either measures, writes, or compares against a stored key. */
typedef struct canon {
  unsigned char *out;       /* write here (NULL: measure or compare) */
  const unsigned char *cmp; /* compare against this key (NULL: no) */
  size_t len, cmp_len;
  int differ;
} canon;

static void canon_put(canon *c, const unsigned char *p, size_t n, int fold) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char b = p[i];
    if (fold && b >= 'A' && b <= 'Z')
      b = (unsigned char)(b + 32);
    if (c->out != NULL)
      c->out[c->len] = b;
    else if (c->cmp != NULL && (c->len >= c->cmp_len || c->cmp[c->len] != b)) {
      c->differ = 1;
      return;
    }
    c->len++;
  }
}

static void canon_len(canon *c, size_t n) {
  unsigned char b[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                        (unsigned char)n};
  canon_put(c, b, 4, 0);
}

static void canon_name(canon *c, const mbedtls_x509_name *n) {
  for (; n != NULL && !c->differ; n = n->next) {
    int str = n->val.tag == MBEDTLS_ASN1_UTF8_STRING || n->val.tag == MBEDTLS_ASN1_PRINTABLE_STRING;
    unsigned char b = (unsigned char)n->oid.tag;
    canon_put(c, &b, 1, 0);
    canon_len(c, n->oid.len);
    canon_put(c, n->oid.p, n->oid.len, 0);
    b = (unsigned char)(str ? MBEDTLS_ASN1_UTF8_STRING : n->val.tag);
    canon_put(c, &b, 1, 0);
    canon_len(c, n->val.len);
    canon_put(c, n->val.p, n->val.len, str);
    b = (unsigned char)(n->MBEDTLS_PRIVATE(next_merged) ? 1 : 0);
    canon_put(c, &b, 1, 0);
  }
}

static int canon_equal(const mbedtls_x509_name *n, const unsigned char *key, size_t key_len) {
  canon c = {NULL, key, 0, key_len, 0};
  canon_name(&c, n);
  return !c.differ && c.len == key_len;
}

/* malloc'ed canonical form of n. */
static unsigned char *canon_new(const mbedtls_x509_name *n, size_t *len) {
  canon c = {NULL, NULL, 0, 0, 0};
  canon_name(&c, n);
  *len = c.len;
  if ((c.out = malloc(c.len + 1)) == NULL)
    return NULL;
  c.len = 0;
  canon_name(&c, n);
  return c.out;
}

/* ---- serials ---- */

static void strip(const unsigned char **p, size_t *len) {
  while (*len > 0 && (*p)[0] == 0) {
    (*p)++;
    (*len)--;
  }
}

static int serial_cmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen) {
  if (alen != blen)
    return alen < blen ? -1 : 1;
  return alen == 0 ? 0 : memcmp(a, b, alen);
}

/* ---- build ---- */

typedef struct tmp_entry {
  const unsigned char *p;
  size_t len;
  size_t group;
} tmp_entry;

static int tmp_cmp(const void *va, const void *vb) {
  const tmp_entry *a = va, *b = vb;
  if (a->group != b->group)
    return a->group < b->group ? -1 : 1;
  return serial_cmp(a->p, a->len, b->p, b->len);
}

/* What x509_profile_check_key accepts. */
static int profile_key_ok(const mbedtls_x509_crt_profile *profile, const mbedtls_pk_context *pk) {
  mbedtls_pk_type_t type = mbedtls_pk_get_type(pk);
  if (type == MBEDTLS_PK_RSA || type == MBEDTLS_PK_RSASSA_PSS)
    return mbedtls_pk_get_bitlen(pk) >= profile->rsa_min_bitlen;
#if defined(MBEDTLS_ECP_C)
  if (type == MBEDTLS_PK_ECDSA || type == MBEDTLS_PK_ECKEY || type == MBEDTLS_PK_ECKEY_DH) {
#if HOTSSL__MBEDTLS3
    mbedtls_ecp_group_id gid = mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(*pk));
#else
    mbedtls_ecp_group_id gid = mbedtls_pk_ec(*pk)->grp.id;
#endif
    return gid != MBEDTLS_ECP_DP_NONE && (profile->allowed_curves & MBEDTLS_X509_ID_FLAG(gid)) != 0;
  }
#endif
  return 0;
}

/* Would mbedTLS accept this CRL from this CA without any flag? */
static int crl_clean_for(const mbedtls_x509_crl *crl, const mbedtls_x509_crt *ca,
                         const mbedtls_x509_crt_profile *profile) {
  unsigned char hash[MBEDTLS_MD_MAX_SIZE];
  const mbedtls_md_info_t *md = mbedtls_md_info_from_type(crl->MBEDTLS_PRIVATE(sig_md));
  if (mbedtls_x509_crt_check_key_usage(ca, MBEDTLS_X509_KU_CRL_SIGN) != 0)
    return 0;
  if ((profile->allowed_mds & MBEDTLS_X509_ID_FLAG(crl->MBEDTLS_PRIVATE(sig_md))) == 0 ||
      (profile->allowed_pks & MBEDTLS_X509_ID_FLAG(crl->MBEDTLS_PRIVATE(sig_pk))) == 0 ||
      !profile_key_ok(profile, &ca->pk))
    return 0;
  if (md == NULL || mbedtls_md(md, crl->tbs.p, crl->tbs.len, hash) != 0)
    return 0;
  return mbedtls_pk_verify_ext(crl->MBEDTLS_PRIVATE(sig_pk), crl->MBEDTLS_PRIVATE(sig_opts),
                               (mbedtls_pk_context *)&ca->pk, crl->MBEDTLS_PRIVATE(sig_md), hash,
                               mbedtls_md_get_size(md), crl->MBEDTLS_PRIVATE(sig).p,
                               crl->MBEDTLS_PRIVATE(sig).len) == 0;
}

typedef struct group {
  const mbedtls_x509_crl *first; /* its first CRL (raw DN, key) */
  unsigned char *key;
  size_t key_len;
  const mbedtls_x509_crt *signer; /* first CA with the name */
  int clean;
  size_t out; /* index in the table when clean */
  int64_t this_update, next_update;
} group;

static int64_t next_update_of(const mbedtls_x509_crl *c) {
  if (c->next_update.year == 0) /* absent: mbedTLS sees a date in the past */
    return INT64_MIN;
  return hotssl__x509_time_unix(&c->next_update);
}

int hotssl__revocation_build(hotssl__revocation **out, const mbedtls_x509_crl *crl,
                             const mbedtls_x509_crt *ca,
                             const mbedtls_x509_crt_profile *profile) {
  const mbedtls_x509_crl *c;
  const mbedtls_x509_crl_entry *e;
  const mbedtls_x509_crt *a;
  hotssl__revocation *t;
  group *g = NULL;
  size_t *of = NULL; /* group of each CRL */
  tmp_entry *tmp = NULL;
  size_t n_crl = 0, n_g = 0, n_tmp = 0, i, j, k, bytes = 0;
  int r = HOTSSL_ENOMEM;

  *out = NULL;
  if ((t = calloc(1, sizeof *t)) == NULL)
    return HOTSSL_ENOMEM;
  for (c = crl; c != NULL && c->raw.p != NULL; c = c->next)
    n_crl++;
  if (n_crl == 0) {
    *out = t;
    return 0;
  }
  if ((g = calloc(n_crl, sizeof *g)) == NULL || (of = calloc(n_crl, sizeof *of)) == NULL)
    goto fail;

  /* Group the CRLs by issuer name, as mbedTLS matches them to a CA. */
  for (c = crl, i = 0; c != NULL && c->raw.p != NULL; c = c->next, i++) {
    for (j = 0; j < n_g; j++)
      if (canon_equal(&c->issuer, g[j].key, g[j].key_len))
        break;
    if (j == n_g) {
      g[j].first = c;
      if ((g[j].key = canon_new(&c->issuer, &g[j].key_len)) == NULL)
        goto fail;
      g[j].clean = 1;
      g[j].this_update = INT64_MIN;
      g[j].next_update = INT64_MAX;
      n_g++;
    }
    of[i] = j;
  }
  /* Clean groups: every CA with the name has the same key, may sign CRLs,
   * passes the profile and verifies every CRL of the group. */
  for (j = 0; j < n_g; j++) {
    for (a = ca; a != NULL && a->raw.p != NULL; a = a->next) {
      if (!canon_equal(&a->subject, g[j].key, g[j].key_len))
        continue;
      if (g[j].signer == NULL)
        g[j].signer = a;
      else if (a->pk_raw.len != g[j].signer->pk_raw.len ||
               memcmp(a->pk_raw.p, g[j].signer->pk_raw.p, a->pk_raw.len) != 0)
        g[j].clean = 0;
      for (c = crl, i = 0; g[j].clean && c != NULL && c->raw.p != NULL; c = c->next, i++)
        if (of[i] == j && !crl_clean_for(c, a, profile))
          g[j].clean = 0;
    }
    if (g[j].signer == NULL)
      g[j].clean = 0;
  }

  /* Entries of the clean groups, sorted by (group, serial). */
  for (c = crl, i = 0; c != NULL && c->raw.p != NULL; c = c->next, i++) {
    if (!g[of[i]].clean)
      continue;
    for (e = &c->entry; e != NULL && e->serial.len != 0; e = e->next)
      n_tmp++;
  }
  if (n_tmp > 0 && (tmp = malloc(n_tmp * sizeof *tmp)) == NULL)
    goto fail;
  n_tmp = 0;
  for (c = crl, i = 0; c != NULL && c->raw.p != NULL; c = c->next, i++) {
    group *gr = &g[of[i]];
    int64_t nu;
    if (!gr->clean)
      continue;
    if (hotssl__x509_time_unix(&c->this_update) > gr->this_update)
      gr->this_update = hotssl__x509_time_unix(&c->this_update);
    if ((nu = next_update_of(c)) < gr->next_update)
      gr->next_update = nu;
    for (e = &c->entry; e != NULL && e->serial.len != 0; e = e->next) {
      tmp_entry *te = &tmp[n_tmp++];
      te->p = e->serial.p;
      te->len = e->serial.len;
      strip(&te->p, &te->len);
      te->group = of[i];
    }
  }
  if (n_tmp > 1)
    qsort(tmp, n_tmp, sizeof *tmp, tmp_cmp);

  /* Sizes, then one pass that fills the flat arrays. */
  for (j = 0; j < n_g; j++) {
    if (!g[j].clean)
      continue;
    g[j].out = t->n_issuers++;
    bytes += g[j].first->issuer_raw.len + g[j].key_len + g[j].signer->pk_raw.len;
  }
  for (k = 0; k < n_tmp; k++) {
    if (k > 0 && tmp[k].group == tmp[k - 1].group &&
        serial_cmp(tmp[k].p, tmp[k].len, tmp[k - 1].p, tmp[k - 1].len) == 0)
      continue; /* listed twice */
    t->n_entries++;
    bytes += tmp[k].len;
  }
  if (bytes > UINT32_MAX || t->n_entries > UINT32_MAX) {
    r = HOTSSL_ECRL;
    goto fail;
  }
  if ((t->n_issuers > 0 && (t->issuers = calloc(t->n_issuers, sizeof *t->issuers)) == NULL) ||
      (t->n_entries > 0 && (t->entries = malloc(t->n_entries * sizeof *t->entries)) == NULL) ||
      (bytes > 0 && (t->bytes = malloc(bytes)) == NULL))
    goto fail;
  t->n_bytes = 0;
#define PUT(p_, n_, off_, len_)                         \
  do {                                                  \
    if ((n_) > 0)                                       \
      memcpy(t->bytes + t->n_bytes, (p_), (n_));        \
    (off_) = (uint32_t)t->n_bytes;                      \
    (len_) = (uint32_t)(n_);                            \
    t->n_bytes += (n_);                                 \
  } while (0)
  for (j = 0; j < n_g; j++) {
    hotssl__rev_issuer *is;
    if (!g[j].clean)
      continue;
    is = &t->issuers[g[j].out];
    PUT(g[j].first->issuer_raw.p, g[j].first->issuer_raw.len, is->dn_off, is->dn_len);
    PUT(g[j].key, g[j].key_len, is->key_off, is->key_len);
    PUT(g[j].signer->pk_raw.p, g[j].signer->pk_raw.len, is->spki_off, is->spki_len);
    is->this_update = g[j].this_update;
    is->next_update = g[j].next_update;
  }
  for (k = 0, i = 0; k < n_tmp; k++) {
    hotssl__rev_issuer *is = &t->issuers[g[tmp[k].group].out];
    hotssl__rev_entry *en;
    if (k > 0 && tmp[k].group == tmp[k - 1].group &&
        serial_cmp(tmp[k].p, tmp[k].len, tmp[k - 1].p, tmp[k - 1].len) == 0)
      continue;
    if (is->count == 0)
      is->first = (uint32_t)i;
    is->count++;
    en = &t->entries[i++];
    PUT(tmp[k].p, tmp[k].len, en->off, en->len);
  }
#undef PUT

  /* The CRLs of the other groups stay with mbedTLS. */
  for (c = crl, i = 0; c != NULL && c->raw.p != NULL; c = c->next, i++) {
    if (g[of[i]].clean)
      continue;
    if (t->fallback == NULL) {
      if ((t->fallback = malloc(sizeof *t->fallback)) == NULL)
        goto fail;
      mbedtls_x509_crl_init(t->fallback);
    }
    if (mbedtls_x509_crl_parse_der(t->fallback, c->raw.p, c->raw.len) != 0) {
      r = HOTSSL_ECRL;
      goto fail;
    }
  }
  r = 0;
  *out = t;
  t = NULL;
fail:
  for (j = 0; g != NULL && j < n_g; j++)
    free(g[j].key);
  free(g);
  free(of);
  free(tmp);
  hotssl__revocation_free(t);
  return r;
}

void hotssl__revocation_free(hotssl__revocation *t) {
  if (t == NULL)
    return;
  if (t->fallback != NULL) {
    mbedtls_x509_crl_free(t->fallback);
    free(t->fallback);
  }
  free(t->issuers);
  free(t->entries);
  free(t->bytes);
  free(t);
}

mbedtls_x509_crl *hotssl__revocation_fallback(const hotssl__revocation *t) {
  return t != NULL ? t->fallback : NULL;
}

/* ---- lookups ---- */

long hotssl__revocation_find(const hotssl__revocation *t, const unsigned char *issuer_raw,
                             size_t issuer_len) {
  size_t i;
  for (i = 0; t != NULL && i < t->n_issuers; i++) {
    const hotssl__rev_issuer *is = &t->issuers[i];
    if (is->dn_len == issuer_len && memcmp(t->bytes + is->dn_off, issuer_raw, issuer_len) == 0)
      return (long)i;
  }
  return -1;
}

/* By raw bytes first (the usual case), then by mbedTLS's name comparison. */
static long find_name(const hotssl__revocation *t, const mbedtls_x509_buf *raw,
                      const mbedtls_x509_name *name) {
  long i = hotssl__revocation_find(t, raw->p, raw->len);
  size_t k;
  if (i >= 0)
    return i;
  for (k = 0; k < t->n_issuers; k++)
    if (canon_equal(name, t->bytes + t->issuers[k].key_off, t->issuers[k].key_len))
      return (long)k;
  return -1;
}

static int is_revoked(const hotssl__revocation *t, long issuer, const unsigned char *serial,
                      size_t serial_len) {
  const hotssl__rev_issuer *is = &t->issuers[issuer];
  size_t lo = 0, hi = is->count;
  strip(&serial, &serial_len);
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const hotssl__rev_entry *en = &t->entries[is->first + mid];
    int r = serial_cmp(t->bytes + en->off, en->len, serial, serial_len);
    if (r == 0)
      return 1;
    if (r < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return 0;
}

int hotssl__revocation_lookup(const hotssl__revocation *t, const unsigned char *issuer_raw,
                              size_t issuer_len, const unsigned char *serial, size_t serial_len) {
  long i = hotssl__revocation_find(t, issuer_raw, issuer_len);
  return i >= 0 && is_revoked(t, i, serial, serial_len);
}

uint32_t hotssl__revocation_verify(const hotssl__revocation *t, const mbedtls_x509_crt *crt,
                                   int depth, const mbedtls_x509_crt *trust_ca, int64_t now) {
  const mbedtls_x509_crt *c;
  const hotssl__rev_issuer *is;
  uint32_t flags = 0;
  long i;

  if (t == NULL || t->n_issuers == 0)
    return 0;
  /* A trust anchor ends the chain: mbedTLS checks no CRL for it. */
  for (c = trust_ca; c != NULL; c = c->next)
    if (c == crt)
      return 0;
  /* A presented intermediate that issued the certificate below it: mbedTLS
   * checks that issuer's CRLs against this certificate's key and usage. */
  if (depth > 0 && (i = find_name(t, &crt->subject_raw, &crt->subject)) >= 0) {
    is = &t->issuers[i];
    if (crt->pk_raw.len != is->spki_len ||
        memcmp(crt->pk_raw.p, t->bytes + is->spki_off, is->spki_len) != 0 ||
        mbedtls_x509_crt_check_key_usage(crt, MBEDTLS_X509_KU_CRL_SIGN) != 0)
      flags |= MBEDTLS_X509_BADCRL_NOT_TRUSTED;
  }
  if ((i = find_name(t, &crt->issuer_raw, &crt->issuer)) < 0)
    return flags;
  is = &t->issuers[i];
  /* A self-issued leaf that is itself in the CA file is trusted as it is. */
  if (depth == 0 && canon_equal(&crt->subject, t->bytes + is->key_off, is->key_len)) {
    for (c = trust_ca; c != NULL && c->raw.p != NULL; c = c->next)
      if (c->raw.len == crt->raw.len && memcmp(c->raw.p, crt->raw.p, crt->raw.len) == 0)
        return flags;
  }
  if (now > is->next_update)
    flags |= MBEDTLS_X509_BADCRL_EXPIRED;
  if (is->this_update > now)
    flags |= MBEDTLS_X509_BADCRL_FUTURE;
  if (is_revoked(t, i, crt->serial.p, crt->serial.len))
    flags |= MBEDTLS_X509_BADCERT_REVOKED;
  return flags;
}
