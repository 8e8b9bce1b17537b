/*
 * Revocation data (see revocation.h for the contract): built by the builder
 * (core/trust.c) from a parsed CRL set, queried by the client-certificate
 * verifier (core/verify.c) on every handshake. Building costs one hash and
 * signature check per (CRL, CA-file key); each query then costs a few DN
 * comparisons and a binary search. The walk answers the same questions from
 * the parsed CRLs, re-verifying signatures on every call.
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

#include "../os/os.h"
#include "util.h"
#include "revocation.h"
#include "x509ext.h"

#ifndef MBEDTLS_PRIVATE
#  define MBEDTLS_PRIVATE(member) member
#endif

/* ---- canonical DN: equal bytes iff mbedTLS's x509_name_cmp says equal ----
 * Per attribute: OID tag, length, bytes; value tag (UTF8String and
 * PrintableString both as UTF8String, their ASCII letters lowercased, as
 * x509_string_cmp compares them), length, bytes; the next_merged flag.
 * One walker either measures, writes, or compares against a stored key. */
/* Starts a group key's scope suffix: no canonical attribute starts so (each
 * starts with its OID's tag). */
#define SCOPE_MARK 0xFFu

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


int hotssl__name_equal(const mbedtls_x509_name *a, const mbedtls_x509_name *b) {
  unsigned char small[512], *k = small;
  canon c = {NULL, NULL, 0, 0, 0};
  int eq;
  canon_name(&c, b); /* measure: no allocation for the usual short names */
  if (c.len > sizeof small && (k = malloc(c.len)) == NULL)
    return 0;
  c.out = k;
  c.len = 0;
  canon_name(&c, b);
  eq = canon_equal(a, k, c.len);
  if (k != small)
    free(k);
  return eq;
}

static int same_name(const mbedtls_x509_buf *araw, const mbedtls_x509_name *a,
                     const mbedtls_x509_buf *braw, const mbedtls_x509_name *b) {
  if (araw->len == braw->len && memcmp(araw->p, braw->p, araw->len) == 0)
    return 1;
  return hotssl__name_equal(a, b);
}

static int self_issued(const mbedtls_x509_crt *c) {
  return same_name(&c->subject_raw, &c->subject, &c->issuer_raw, &c->issuer);
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


/* A signature over a digest with key: 0 if it verifies under profile (NULL:
 * no profile check). */
static int sig_check(mbedtls_md_type_t md_type, mbedtls_pk_type_t pk_type, const void *opts,
                     const unsigned char *hash, size_t hash_len, const unsigned char *sig,
                     size_t sig_len, const mbedtls_pk_context *key,
                     const mbedtls_x509_crt_profile *profile) {
  if (profile != NULL &&
      ((profile->allowed_mds & MBEDTLS_X509_ID_FLAG(md_type)) == 0 ||
       (profile->allowed_pks & MBEDTLS_X509_ID_FLAG(pk_type)) == 0 || !profile_key_ok(profile, key)))
    return -1;
  return mbedtls_pk_verify_ext(pk_type, opts, (mbedtls_pk_context *)key, md_type, hash, hash_len,
                               sig, sig_len) == 0 ? 0 : -1;
}

/* Signature of (tbs, sig fields) with key, as sig_check. */
static int sig_ok(const mbedtls_x509_buf *tbs, mbedtls_md_type_t md_type, mbedtls_pk_type_t pk_type,
                  const void *opts, const mbedtls_x509_buf *sig, const mbedtls_pk_context *key,
                  const mbedtls_x509_crt_profile *profile) {
  unsigned char hash[MBEDTLS_MD_MAX_SIZE];
  const mbedtls_md_info_t *md = mbedtls_md_info_from_type(md_type);
  if (md == NULL || mbedtls_md(md, tbs->p, tbs->len, hash) != 0)
    return -1;
  return sig_check(md_type, pk_type, opts, hash, mbedtls_md_get_size(md), sig->p, sig->len, key,
                   profile);
}

static int crl_signed_by(const mbedtls_x509_crl *crl, const mbedtls_pk_context *key,
                         const mbedtls_x509_crt_profile *profile) {
  return sig_ok(&crl->tbs, crl->MBEDTLS_PRIVATE(sig_md), crl->MBEDTLS_PRIVATE(sig_pk),
                crl->MBEDTLS_PRIVATE(sig_opts), &crl->MBEDTLS_PRIVATE(sig), key, profile);
}

int hotssl__crt_signed_by(const mbedtls_x509_crt *crt, const mbedtls_x509_crt *issuer) {
  return sig_ok(&crt->tbs, crt->MBEDTLS_PRIVATE(sig_md), crt->MBEDTLS_PRIVATE(sig_pk),
                crt->MBEDTLS_PRIVATE(sig_opts), &crt->MBEDTLS_PRIVATE(sig), &issuer->pk, NULL);
}

/* The signer answer for `signer` over every CRL of the chain whose issuer is
 * signer's subject (the walk; the table's build uses it once per key). */
static int signer_walk(const mbedtls_x509_crl *crl, const mbedtls_x509_crt *signer,
                       const mbedtls_x509_crt_profile *profile) {
  const mbedtls_x509_crl *c;
  int any = 0;
  for (c = crl; c != NULL && c->raw.p != NULL; c = c->next) {
    const unsigned char *dp;
    size_t dplen;
    if (!same_name(&c->issuer_raw, &c->issuer, &signer->subject_raw, &signer->subject) ||
        (hotssl__crl_scope(c, &dp, &dplen) & HOTSSL__SCOPE_IGNORED))
      continue;
    if (!any && mbedtls_x509_crt_check_key_usage(signer, MBEDTLS_X509_KU_CRL_SIGN) != 0)
      return HOTSSL__REV_NO_CRL_SIGN;
    any = 1;
    if (crl_signed_by(c, &signer->pk, profile) != 0)
      return HOTSSL__REV_BAD_SIG;
  }
  return any ? HOTSSL__REV_OK : 1;
}

static long find_name(const hotssl__revocation *t, const mbedtls_x509_buf *raw,
                      const mbedtls_x509_name *name);
static int group_named(const hotssl__revocation *t, size_t k, const mbedtls_x509_buf *raw,
                       const mbedtls_x509_name *name);
static int group_scope(const hotssl__revocation *t, size_t k, const mbedtls_x509_crt *x);

/* May signer sign every CRL of the table's issuer gi (HOTSSL__REV_*)? From
 * the digests and signatures the table keeps: no parsed CRL needed. */
static int group_signed_by(const hotssl__revocation *t, long gi, const mbedtls_x509_crt *signer,
                           const mbedtls_x509_crt_profile *profile) {
  const hotssl__rev_issuer *is = &t->issuers[gi];
  uint32_t k;
  if (mbedtls_x509_crt_check_key_usage(signer, MBEDTLS_X509_KU_CRL_SIGN) != 0)
    return HOTSSL__REV_NO_CRL_SIGN;
  for (k = 0; k < is->n_crl; k++) {
    const hotssl__rev_crl *rc = &t->crls[is->crl_first + k];
    mbedtls_pk_rsassa_pss_options o;
    o.mgf1_hash_id = (mbedtls_md_type_t)rc->pss_md;
    o.expected_salt_len = rc->pss_salt;
    if (rc->hash_len == 0 ||
        sig_check((mbedtls_md_type_t)rc->md, (mbedtls_pk_type_t)rc->pk,
                  rc->pk == MBEDTLS_PK_RSASSA_PSS ? &o : NULL, rc->hash, rc->hash_len,
                  t->bytes + rc->sig_off, rc->sig_len, &signer->pk, profile) != 0)
      return HOTSSL__REV_BAD_SIG;
  }
  return HOTSSL__REV_OK;
}

/* May signer sign every CRL named as its subject (HOTSSL__REV_*, 1: there
 * is none)? */
static int name_signed_by(const hotssl__revocation *t, const mbedtls_x509_crt *signer,
                          const mbedtls_x509_crt_profile *profile) {
  size_t k;
  int any = 0, r;
  for (k = 0; k < t->n_issuers; k++) {
    if (!group_named(t, k, &signer->subject_raw, &signer->subject) || group_scope(t, k, NULL) < 0)
      continue;
    any = 1;
    if ((r = group_signed_by(t, (long)k, signer, profile)) != HOTSSL__REV_OK)
      return r;
  }
  return any ? HOTSSL__REV_OK : 1;
}

static int64_t next_update_of(const mbedtls_x509_crl *c) {
  if (c->next_update.year == 0) /* absent: never expires, as in OpenSSL */
    return INT64_MAX;
  return hotssl__x509_time_unix(&c->next_update);
}

static int time_answer(int any_valid, int all_future) {
  if (any_valid)
    return HOTSSL__REV_TIME_OK;
  return all_future ? HOTSSL__REV_NOT_YET_VALID : HOTSSL__REV_EXPIRED;
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

typedef struct group {
  const mbedtls_x509_crl *first; /* its first CRL (raw DN) */
  unsigned char *key;
  size_t key_len;
  size_t n_crl;
} group;

static const mbedtls_x509_crt *ca_parent_search(const mbedtls_x509_crt *ca,
                                                const mbedtls_x509_crt *c) {
  const mbedtls_x509_crt *p;
  if (self_issued(c))
    return NULL;
  for (p = ca; p != NULL && p->raw.p != NULL; p = p->next)
    if (p != c && same_name(&p->subject_raw, &p->subject, &c->issuer_raw, &c->issuer) &&
        hotssl__crt_signed_by(c, p) == 0)
      return p;
  return NULL;
}

/* What hotssl__revocation_build works with besides the table. */
typedef struct build_tmp {
  const mbedtls_x509_crl *crl;
  size_t n_crl;
  group *g;
  size_t n_g;
  size_t *of;      /* group of each CRL */
  size_t *crl_pos; /* next slot of each group in t->crls */
  tmp_entry *tmp;
  size_t n_tmp;
  size_t bytes;
} build_tmp;

/* Each CA-file certificate's parent in the CA file (-1: none). */
static int ca_links(hotssl__revocation *t, const mbedtls_x509_crt *ca) {
  const mbedtls_x509_crt *a;
  size_t i, k;
  for (a = ca; a != NULL && a->raw.p != NULL; a = a->next)
    t->n_ca++;
  if (t->n_ca > 0 && ((t->ca_sign = calloc(t->n_ca, sizeof *t->ca_sign)) == NULL ||
                      (t->ca_parent = calloc(t->n_ca, sizeof *t->ca_parent)) == NULL))
    return HOTSSL_ENOMEM;
  for (a = ca, i = 0; a != NULL && a->raw.p != NULL; a = a->next, i++) {
    const mbedtls_x509_crt *p = ca_parent_search(ca, a), *q;
    t->ca_parent[i] = -1;
    for (q = ca, k = 0; p != NULL && q != NULL; q = q->next, k++)
      if (q == p) {
        t->ca_parent[i] = (long)k;
        break;
      }
    t->ca_sign[i] = 1; /* no CRL names it (set below when one does) */
  }
  return 0;
}

/* A CRL's group key: the canonical DN of its issuer, then, for a CRL whose
 * issuingDistributionPoint narrows its scope, SCOPE_MARK, the scope flags
 * (x509ext.h) and the distribution point's fullName. */
static unsigned char *group_key(const mbedtls_x509_crl *c, size_t *len) {
  const unsigned char *dp;
  size_t dplen, n;
  unsigned flags = hotssl__crl_scope(c, &dp, &dplen);
  unsigned char *k = canon_new(&c->issuer, &n), *grown;
  if (k == NULL || flags == 0) {
    *len = n;
    return k;
  }
  if ((grown = realloc(k, n + 2 + dplen)) == NULL) {
    free(k);
    return NULL;
  }
  k = grown;
  k[n] = SCOPE_MARK;
  k[n + 1] = (unsigned char)flags;
  if (dplen > 0)
    memcpy(k + n + 2, dp, dplen);
  *len = n + 2 + dplen;
  return k;
}

/* Group the CRLs by issuer name, as mbedTLS compares names, and scope. */
static int group_crls(hotssl__revocation *t, build_tmp *b) {
  const mbedtls_x509_crl *c;
  size_t i, j, klen;
  for (c = b->crl, i = 0; c != NULL && c->raw.p != NULL; c = c->next, i++) {
    unsigned char *key = group_key(c, &klen);
    if (key == NULL)
      return HOTSSL_ENOMEM;
    for (j = 0; j < b->n_g; j++)
      if (b->g[j].key_len == klen && memcmp(b->g[j].key, key, klen) == 0)
        break;
    if (j == b->n_g) {
      b->g[j].first = c;
      b->g[j].key = key;
      b->g[j].key_len = klen;
      b->n_g++;
    } else {
      free(key);
    }
    b->of[i] = j;
    b->g[j].n_crl++;
  }
  t->n_issuers = b->n_g;
  if ((t->issuers = calloc(b->n_g, sizeof *t->issuers)) == NULL ||
      (t->slots = calloc(b->n_g * HOTSSL__REV_SLOTS, sizeof *t->slots)) == NULL)
    return HOTSSL_ENOMEM;
  for (j = 0; j < b->n_g * HOTSSL__REV_SLOTS; j++)
    atomic_init(&t->slots[j].state, 0);
  return 0;
}

/* CRLs in group order, each with its dates and digest; counts the entries
 * and the signatures' bytes. */
static void fill_crls(hotssl__revocation *t, build_tmp *b) {
  const mbedtls_x509_crl *c;
  const mbedtls_x509_crl_entry *e;
  size_t i, j, k;
  for (j = 0, k = 0; j < b->n_g; j++) {
    t->issuers[j].crl_first = (uint32_t)k;
    t->issuers[j].n_crl = (uint32_t)b->g[j].n_crl;
    k += b->g[j].n_crl;
  }
  for (c = b->crl, i = 0; c != NULL && c->raw.p != NULL; c = c->next, i++) {
    hotssl__rev_issuer *is = &t->issuers[b->of[i]];
    hotssl__rev_crl *rc = &t->crls[is->crl_first + b->crl_pos[b->of[i]]++];
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(c->MBEDTLS_PRIVATE(sig_md));
    rc->this_update = hotssl__x509_time_unix(&c->this_update);
    rc->next_update = next_update_of(c);
    rc->md = (int)c->MBEDTLS_PRIVATE(sig_md);
    rc->pk = (int)c->MBEDTLS_PRIVATE(sig_pk);
    if (rc->pk == MBEDTLS_PK_RSASSA_PSS && c->MBEDTLS_PRIVATE(sig_opts) != NULL) {
      const mbedtls_pk_rsassa_pss_options *o = c->MBEDTLS_PRIVATE(sig_opts);
      rc->pss_md = (int)o->mgf1_hash_id;
      rc->pss_salt = o->expected_salt_len;
    }
    /* The digest once here; the signer checks (build, presented issuers)
     * verify against it. */
    if (md != NULL && mbedtls_md_get_size(md) <= sizeof rc->hash &&
        mbedtls_md(md, c->tbs.p, c->tbs.len, rc->hash) == 0)
      rc->hash_len = mbedtls_md_get_size(md);
    b->bytes += c->MBEDTLS_PRIVATE(sig).len;
    for (e = &c->entry; e != NULL && e->serial.len != 0; e = e->next)
      b->n_tmp++;
  }
}

/* Entries, sorted by (group, serial). */
static int sort_entries(build_tmp *b) {
  const mbedtls_x509_crl *c;
  const mbedtls_x509_crl_entry *e;
  size_t i;
  if (b->n_tmp > 0 && (b->tmp = malloc(b->n_tmp * sizeof *b->tmp)) == NULL)
    return HOTSSL_ENOMEM;
  b->n_tmp = 0;
  for (c = b->crl, i = 0; c != NULL && c->raw.p != NULL; c = c->next, i++) {
    for (e = &c->entry; e != NULL && e->serial.len != 0; e = e->next) {
      tmp_entry *te = &b->tmp[b->n_tmp++];
      te->p = e->serial.p;
      te->len = e->serial.len;
      strip(&te->p, &te->len);
      te->group = b->of[i];
    }
  }
  if (b->n_tmp > 1)
    qsort(b->tmp, b->n_tmp, sizeof *b->tmp, tmp_cmp);
  return 0;
}

/* 1 if tmp[k] repeats tmp[k - 1] (a serial listed twice in a group). */
static int listed_twice(const tmp_entry *tmp, size_t k) {
  return k > 0 && tmp[k].group == tmp[k - 1].group &&
         serial_cmp(tmp[k].p, tmp[k].len, tmp[k - 1].p, tmp[k - 1].len) == 0;
}

/* Sizes (the signatures counted by fill_crls), then one pass that fills the
 * flat arrays. */
static int fill_bytes(hotssl__revocation *t, build_tmp *b) {
  const mbedtls_x509_crl *c;
  const tmp_entry *tmp = b->tmp;
  size_t i, j, k;
  for (j = 0; j < b->n_g; j++)
    b->bytes += b->g[j].first->issuer_raw.len + b->g[j].key_len;
  for (k = 0; k < b->n_tmp; k++) {
    if (listed_twice(tmp, k))
      continue;
    t->n_entries++;
    b->bytes += tmp[k].len;
  }
  if (b->bytes > UINT32_MAX || t->n_entries > UINT32_MAX)
    return HOTSSL_ECRL;
  if ((t->n_entries > 0 && (t->entries = malloc(t->n_entries * sizeof *t->entries)) == NULL) ||
      (b->bytes > 0 && (t->bytes = malloc(b->bytes)) == NULL))
    return HOTSSL_ENOMEM;
  t->n_bytes = 0;
#define PUT(p_, n_, off_, len_)                         \
  do {                                                  \
    if ((n_) > 0)                                       \
      memcpy(t->bytes + t->n_bytes, (p_), (n_));        \
    (off_) = (uint32_t)t->n_bytes;                      \
    (len_) = (uint32_t)(n_);                            \
    t->n_bytes += (n_);                                 \
  } while (0)
  for (j = 0; j < b->n_g; j++) {
    hotssl__rev_issuer *is = &t->issuers[j];
    PUT(b->g[j].first->issuer_raw.p, b->g[j].first->issuer_raw.len, is->dn_off, is->dn_len);
    PUT(b->g[j].key, b->g[j].key_len, is->key_off, is->key_len);
  }
  for (j = 0; j < b->n_crl; j++)
    b->crl_pos[j] = 0;
  for (c = b->crl, i = 0; c != NULL && c->raw.p != NULL; c = c->next, i++) {
    hotssl__rev_crl *rc = &t->crls[t->issuers[b->of[i]].crl_first + b->crl_pos[b->of[i]]++];
    PUT(c->MBEDTLS_PRIVATE(sig).p, c->MBEDTLS_PRIVATE(sig).len, rc->sig_off, rc->sig_len);
  }
  for (k = 0, i = 0; k < b->n_tmp; k++) {
    hotssl__rev_issuer *is = &t->issuers[tmp[k].group];
    hotssl__rev_entry *en;
    if (listed_twice(tmp, k))
      continue;
    if (is->count == 0)
      is->first = (uint32_t)i;
    is->count++;
    en = &t->entries[i++];
    PUT(tmp[k].p, tmp[k].len, en->off, en->len);
  }
#undef PUT
  return 0;
}

int hotssl__revocation_build(hotssl__revocation **out, const mbedtls_x509_crl *crl,
                             const mbedtls_x509_crt *ca,
                             const mbedtls_x509_crt_profile *profile) {
  const mbedtls_x509_crl *c;
  const mbedtls_x509_crt *a;
  hotssl__revocation *t;
  build_tmp b;
  size_t i, j;
  int r;

  *out = NULL;
  memset(&b, 0, sizeof b);
  b.crl = crl;
  if ((t = calloc(1, sizeof *t)) == NULL)
    return HOTSSL_ENOMEM;
  atomic_init(&t->presented_checks, 0);
  for (c = crl; c != NULL && c->raw.p != NULL; c = c->next)
    b.n_crl++;
  if ((r = ca_links(t, ca)) != 0)
    goto fail;
  if (b.n_crl == 0) {
    *out = t;
    return 0;
  }
  r = HOTSSL_ENOMEM;
  if ((b.g = calloc(b.n_crl, sizeof *b.g)) == NULL || (b.of = calloc(b.n_crl, sizeof *b.of)) == NULL ||
      (b.crl_pos = calloc(b.n_crl, sizeof *b.crl_pos)) == NULL ||
      (t->crls = calloc(b.n_crl, sizeof *t->crls)) == NULL)
    goto fail;
  t->n_crls = b.n_crl;
  if ((r = group_crls(t, &b)) != 0)
    goto fail;
  fill_crls(t, &b);
  if ((r = sort_entries(&b)) != 0 || (r = fill_bytes(t, &b)) != 0)
    goto fail;
  /* Which CA-file keys may sign the CRLs named as them: checked once here. */
  for (a = ca, i = 0; a != NULL && a->raw.p != NULL; a = a->next, i++)
    t->ca_sign[i] = name_signed_by(t, a, profile);
  r = 0;
  *out = t;
  t = NULL;
fail:
  for (j = 0; b.g != NULL && j < b.n_g; j++)
    free(b.g[j].key);
  free(b.g);
  free(b.of);
  free(b.crl_pos);
  free(b.tmp);
  hotssl__revocation_free(t);
  return r;
}

void hotssl__revocation_free(hotssl__revocation *t) {
  if (t == NULL)
    return;
  free(t->issuers);
  free(t->entries);
  free(t->crls);
  free(t->slots);
  free(t->bytes);
  free(t->ca_sign);
  free(t->ca_parent);
  free(t);
}

/* ---- table lookups ---- */

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

/* Length of the canonical DN that starts a group key (the scope suffix, if
 * any, follows it); the key may come from a snapshot: bounded. */
static size_t key_name_len(const unsigned char *k, size_t len) {
  size_t i = 0, part;
  while (i < len && k[i] != SCOPE_MARK) {
    for (part = 0; part < 2; part++) { /* OID, then value: tag, u32 length, bytes */
      size_t n;
      if (len - i < 5)
        return len;
      n = (size_t)k[i + 1] << 24 | (size_t)k[i + 2] << 16 | (size_t)k[i + 3] << 8 | k[i + 4];
      if (n > len - i - 5)
        return len;
      i += 5 + n;
    }
    if (i >= len)
      return len;
    i++; /* next_merged */
  }
  return i;
}

/* Are group k's CRLs named as (raw, name)? By raw bytes first (the usual
 * case), then by mbedTLS's name comparison, whatever their scope. */
static int group_named(const hotssl__revocation *t, size_t k, const mbedtls_x509_buf *raw,
                       const mbedtls_x509_name *name) {
  const hotssl__rev_issuer *is = &t->issuers[k];
  const unsigned char *key = t->bytes + is->key_off;
  canon c = {NULL, key, 0, is->key_len, 0};
  if (is->dn_len == raw->len && memcmp(t->bytes + is->dn_off, raw->p, raw->len) == 0)
    return 1;
  canon_name(&c, name);
  return !c.differ && (c.len == is->key_len || key[c.len] == SCOPE_MARK);
}

/* Group k's scope for certificate x (HOTSSL__SCOPE_IN, _PARTIAL, _OUT; x
 * NULL: IN), or -1 when OpenSSL would never use its CRLs. */
static int group_scope(const hotssl__revocation *t, size_t k, const mbedtls_x509_crt *x) {
  const unsigned char *key = t->bytes + t->issuers[k].key_off;
  size_t len = t->issuers[k].key_len, i = key_name_len(key, len);
  unsigned flags = i + 2 <= len && key[i] == SCOPE_MARK ? key[i + 1] : 0;
  if (flags & HOTSSL__SCOPE_IGNORED)
    return -1;
  if (x == NULL || flags == 0)
    return HOTSSL__SCOPE_IN;
  return hotssl__crl_scope_for(flags, key + i + 2, len - i - 2, x);
}

/* The first group of usable CRLs named as (raw, name), or -1. */
static long find_name(const hotssl__revocation *t, const mbedtls_x509_buf *raw,
                      const mbedtls_x509_name *name) {
  size_t k;
  for (k = 0; t != NULL && k < t->n_issuers; k++)
    if (group_named(t, k, raw, name) && group_scope(t, k, NULL) >= 0)
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

unsigned char *hotssl__revocation_name_key(const mbedtls_x509_name *name, size_t *len) {
  return canon_new(name, len);
}

int hotssl__revocation_lookup_key(const hotssl__revocation *t, const unsigned char *key,
                                  size_t key_len, const unsigned char *serial, size_t serial_len) {
  size_t i;
  for (i = 0; t != NULL && i < t->n_issuers; i++) {
    const hotssl__rev_issuer *is = &t->issuers[i];
    if (is->key_len == key_len && memcmp(t->bytes + is->key_off, key, key_len) == 0)
      return is_revoked(t, (long)i, serial, serial_len);
  }
  return 0;
}

/* ---- the questions, answered by the table or by the walk ---- */

/* CRL c's scope for x (as group_scope), or -1 when it is not named as x's
 * issuer (x NULL: as name) or never used. */
static int crl_scope(const mbedtls_x509_crl *c, const mbedtls_x509_buf *raw,
                     const mbedtls_x509_name *name, const mbedtls_x509_crt *x) {
  const unsigned char *dp;
  size_t dplen;
  unsigned flags;
  if (!same_name(&c->issuer_raw, &c->issuer, raw, name))
    return -1;
  flags = hotssl__crl_scope(c, &dp, &dplen);
  if (flags & HOTSSL__SCOPE_IGNORED)
    return -1;
  return x == NULL ? HOTSSL__SCOPE_IN : hotssl__crl_scope_for(flags, dp, dplen, x);
}

/* The i-th unit (a CRL for the walk, a group for the table) and its scope
 * for x as crl_scope; 0 when there are no more units. */
static int unit(const hotssl__crlview *v, size_t i, const mbedtls_x509_crl **c, long *gi,
                const mbedtls_x509_buf *raw, const mbedtls_x509_name *name, const mbedtls_x509_crt *x,
                int *scope) {
  if (v->walk) {
    if (i == 0)
      *c = v->crl;
    else if (*c != NULL)
      *c = (*c)->next;
    if (*c == NULL || (*c)->raw.p == NULL)
      return 0;
    *scope = crl_scope(*c, raw, name, x);
    return 1;
  }
  if (v->t == NULL || i >= v->t->n_issuers)
    return 0;
  *gi = (long)i;
  *scope = group_named(v->t, i, raw, name) ? group_scope(v->t, i, x) : -1;
  return 1;
}

static int rank(int scope) {
  return scope == HOTSSL__SCOPE_IN        ? 3
         : scope == HOTSSL__SCOPE_PARTIAL ? 2
         : scope == HOTSSL__SCOPE_OUT     ? 1
                                          : 0;
}

int hotssl__crlview_scope(const hotssl__crlview *v, const mbedtls_x509_crt *x) {
  const mbedtls_x509_crl *c = NULL;
  long gi = -1;
  size_t i;
  int s, best = -1;
  for (i = 0; unit(v, i, &c, &gi, &x->issuer_raw, &x->issuer, x, &s); i++)
    if (rank(s) > rank(best))
      best = s;
  return best;
}

/* Do a unit's CRLs answer for x, when the best scope among its issuer's is
 * best? Those in scope (or partly), else all of them. */
static int answers(int scope, int best) {
  return scope >= 0 && (best == HOTSSL__SCOPE_OUT || scope != HOTSSL__SCOPE_OUT);
}

int hotssl__crlview_has(const hotssl__crlview *v, const mbedtls_x509_buf *raw,
                        const mbedtls_x509_name *name) {
  const mbedtls_x509_crl *c = NULL;
  long gi = -1;
  size_t i;
  int s;
  for (i = 0; unit(v, i, &c, &gi, raw, name, NULL, &s); i++)
    if (s >= 0)
      return 1;
  return 0;
}

long hotssl__crlview_ca_index(const hotssl__crlview *v, const mbedtls_x509_crt *crt) {
  const mbedtls_x509_crt *a;
  long i = 0;
  for (a = v->ca; a != NULL && a->raw.p != NULL; a = a->next, i++)
    if (a == crt)
      return i;
  return -1;
}

const mbedtls_x509_crt *hotssl__crlview_ca_parent(const hotssl__crlview *v,
                                                  const mbedtls_x509_crt *ca_crt) {
  const mbedtls_x509_crt *a;
  long i, k;
  if (v->walk)
    return ca_parent_search(v->ca, ca_crt);
  if ((i = hotssl__crlview_ca_index(v, ca_crt)) < 0 || v->t->ca_parent[i] < 0)
    return NULL;
  for (a = v->ca, k = 0; a != NULL; a = a->next, k++)
    if (k == v->t->ca_parent[i])
      return a;
  return NULL;
}

int hotssl__crlview_signer(const hotssl__crlview *v, const mbedtls_x509_crt *signer) {
  const hotssl__revocation *t = v->t;
  hotssl__rev_slot *slots;
  unsigned char h[32];
  long i, gi;
  int answer, s;

  if (v->walk)
    return signer_walk(v->crl, signer, v->profile);
  if ((i = hotssl__crlview_ca_index(v, signer)) >= 0)
    return t->ca_sign[i]; /* checked at build */
  if ((gi = find_name(t, &signer->subject_raw, &signer->subject)) < 0)
    return 1;
  /* A presented issuer: once per key, then cached (in the slots of the
   * first group named as it; the answer covers every group). */
  hotssl__sha256(signer->pk_raw.p, signer->pk_raw.len, h);
  slots = &t->slots[(size_t)gi * HOTSSL__REV_SLOTS]; /* the only part written after build */
  for (s = 0; s < HOTSSL__REV_SLOTS; s++)
    if (atomic_load_explicit(&slots[s].state, memory_order_acquire) == 2 &&
        memcmp(slots[s].key_hash, h, 32) == 0)
      return slots[s].answer;
  atomic_fetch_add_explicit(&((hotssl__revocation *)t)->presented_checks, 1, memory_order_relaxed);
  answer = name_signed_by(t, signer, v->profile);
  for (s = 0; s < HOTSSL__REV_SLOTS; s++) {
    int expect = 0;
    if (atomic_compare_exchange_strong_explicit(&slots[s].state, &expect, 1,
                                                memory_order_acq_rel, memory_order_relaxed)) {
      memcpy(slots[s].key_hash, h, 32);
      slots[s].answer = answer;
      atomic_store_explicit(&slots[s].state, 2, memory_order_release);
      break;
    }
  }
  return answer;
}

int hotssl__crlview_time(const hotssl__crlview *v, const mbedtls_x509_crt *x, int64_t now) {
  const mbedtls_x509_crl *c = NULL;
  long gi = -1;
  size_t i;
  int s, any_valid = 0, all_future = 1, any = 0, best = hotssl__crlview_scope(v, x);
  for (i = 0; unit(v, i, &c, &gi, &x->issuer_raw, &x->issuer, x, &s); i++) {
    if (!answers(s, best))
      continue;
    any = 1;
    if (v->walk) {
      int64_t tu = hotssl__x509_time_unix(&c->this_update), nu = next_update_of(c);
      any_valid |= tu <= now && now <= nu;
      all_future &= tu > now;
    } else {
      const hotssl__rev_issuer *is = &v->t->issuers[gi];
      uint32_t k;
      for (k = 0; k < is->n_crl; k++) {
        const hotssl__rev_crl *rc = &v->t->crls[is->crl_first + k];
        any_valid |= rc->this_update <= now && now <= rc->next_update;
        all_future &= rc->this_update > now;
      }
    }
  }
  return any ? time_answer(any_valid, all_future) : HOTSSL__REV_EXPIRED;
}

int hotssl__crlview_revoked(const hotssl__crlview *v, const mbedtls_x509_crt *crt) {
  const mbedtls_x509_crl *c = NULL;
  long gi = -1;
  size_t i;
  int s, best = hotssl__crlview_scope(v, crt);
  for (i = 0; unit(v, i, &c, &gi, &crt->issuer_raw, &crt->issuer, crt, &s); i++) {
    if (!answers(s, best) || s == HOTSSL__SCOPE_OUT)
      continue;
    if (v->walk ? mbedtls_x509_crt_is_revoked(crt, c) != 0
                : is_revoked(v->t, gi, crt->serial.p, crt->serial.len))
      return 1;
  }
  return 0;
}
