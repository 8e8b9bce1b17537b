/*
 * Revocation data of a generation's CRL set, as OpenSSL's CRL_CHECK_ALL
 * (which PostgreSQL sets) needs it: for an issuer name, does a CRL exist, is
 * one valid now, did this issuer key sign every CRL of that name, is a serial
 * listed. Two implementations answer the same questions:
 *
 *  - the table (the default, docs/design.md): the CRL set turned into one
 *    sorted array of revoked serials per issuer name, so that a lookup is a
 *    binary search. CRL signatures are checked once per (issuer name, key):
 *    at build time for the keys of ssl_ca_file, and at the first handshake
 *    that presents another issuer (an intermediate that only clients send),
 *    the answer then cached in the table (lock-free slots);
 *  - the walk (hotssl__crlview.walk = 1, the reference for the tests and the
 *    benchmark): the parsed CRLs searched one by one, every signature verified
 *    again on every call, as mbedTLS's own CRL check does.
 *
 * Layout of the table: flat arrays (issuers, entries, one byte pool
 * addressed by offsets). An "issuer" is a group of CRLs with one issuer
 * name and one scope: a CRL whose issuingDistributionPoint narrows it
 * (only user or CA certificates, a distribution point) is grouped apart,
 * its scope kept in its group key after the canonical DN. Serials are compared as unsigned big-endian byte
 * strings with leading zero bytes stripped. Issuer names are grouped by
 * mbedTLS's name comparison (exact bytes, or UTF8String/PrintableString
 * values equal up to ASCII case).
 *
 * Rules (both implementations):
 *  - a CRL without nextUpdate never expires (as in OpenSSL);
 *  - an issuer's CRLs are valid now when at least one of them is
 *    (thisUpdate <= now <= nextUpdate); otherwise they are "not yet valid"
 *    when all start in the future, else "expired";
 *  - only the CRLs in a certificate's scope answer for it (OpenSSL's
 *    crl_crldp_check); one that OpenSSL never uses (indirectCRL,
 *    onlySomeReasons) counts as absent;
 *  - a serial is revoked when any CRL of the issuer in its scope lists it
 *    (a revocation is never undone by an older or newer CRL: fail closed);
 *  - a key may sign an issuer's CRLs when its certificate allows cRLSign
 *    (or has no keyUsage), the default profile accepts the key and the
 *    digest, and it verifies the signature of every CRL with that name.
 *
 * Thread rules: built once by the builder; then any number of threads may
 * query it at once (the signature cache is the only part written after
 * build, with atomics). Freed with the shared CRL object.
 */
#ifndef HOTSSL_CORE_REVOCATION_H
#define HOTSSL_CORE_REVOCATION_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#define HOTSSL__REV_SLOTS 4 /* cached (key, answer) pairs per issuer */

typedef struct hotssl__rev_slot {
  atomic_int state; /* 0 empty, 1 being written, 2 ready */
  unsigned char key_hash[32];
  int answer;
} hotssl__rev_slot;

typedef struct hotssl__rev_issuer {
  uint32_t dn_off, dn_len;   /* raw issuer DN (bytes pool) */
  uint32_t key_off, key_len; /* canonical DN (equal iff mbedTLS's names are equal), then the scope */
  uint32_t first, count;     /* entries[first .. first + count), sorted, unique */
  uint32_t crl_first, n_crl; /* crls[crl_first .. crl_first + n_crl) */
} hotssl__rev_issuer;

typedef struct hotssl__rev_entry {
  uint32_t off, len; /* serial, leading zero bytes stripped (bytes pool) */
} hotssl__rev_entry;

/* One CRL: its dates, and what checking its signature against a key needs
 * (the digest of its tbs, the signature and its algorithm), so the table
 * stands without the parsed CRL (a spawned backend never parses it). */
typedef struct hotssl__rev_crl {
  int64_t this_update, next_update; /* Unix seconds; INT64_MAX: no nextUpdate */
  uint32_t sig_off, sig_len;        /* signature value (bytes pool) */
  int md, pk;                       /* mbedtls_md_type_t / mbedtls_pk_type_t of the signature */
  int pss_md, pss_salt;             /* RSASSA-PSS options (pk == MBEDTLS_PK_RSASSA_PSS) */
  uint32_t hash_len;                /* digest of the tbs with md */
  unsigned char hash[64];
} hotssl__rev_crl;

typedef struct hotssl__revocation {
  hotssl__rev_issuer *issuers;
  hotssl__rev_entry *entries;
  hotssl__rev_crl *crls;
  hotssl__rev_slot *slots; /* HOTSSL__REV_SLOTS per issuer */
  unsigned char *bytes;
  size_t n_issuers, n_entries, n_bytes, n_crls;
  /* Per certificate of the CA chain, in list order: */
  size_t n_ca;
  int *ca_sign;   /* signer answer (HOTSSL__REV_*) for the CRLs named as it, or 1: none */
  long *ca_parent; /* index of the CA-file certificate that issued it, -1: none or itself */
  /* How many times a presented issuer's key was checked against CRLs (not
   * cached yet): the tests prove it is once per key, not per handshake. */
  atomic_ulong presented_checks;
} hotssl__revocation;

/* Answers of hotssl__crlview_signer (0 = the key may sign these CRLs). */
enum {
  HOTSSL__REV_OK = 0,
  HOTSSL__REV_NO_CRL_SIGN = -1, /* keyUsage without cRLSign */
  HOTSSL__REV_BAD_SIG = -2      /* a signature does not verify, or the profile refuses it */
};
/* Answers of hotssl__crlview_time. */
enum { HOTSSL__REV_TIME_OK = 0, HOTSSL__REV_NOT_YET_VALID = 1, HOTSSL__REV_EXPIRED = 2 };

/* Build the table from a parsed CRL chain and the CA chain the handshake
 * trusts; profile is the one of the mbedtls_ssl_config. CRLs whose issuer is
 * not in ca are kept: their signature is checked against the issuer a client
 * presents. *out is malloc'ed. Returns 0, HOTSSL_ENOMEM, or HOTSSL_ECRL (a
 * CRL too large for 32-bit offsets). */
int hotssl__revocation_build(hotssl__revocation **out, const mbedtls_x509_crl *crl,
                             const mbedtls_x509_crt *ca,
                             const mbedtls_x509_crt_profile *profile);
void hotssl__revocation_free(hotssl__revocation *t); /* NULL ok */

/* The table as flat big-endian bytes (the spawn snapshot's CRL record):
 * writes to out (NULL: only measures) and returns the length. */
size_t hotssl__revocation_encode(const hotssl__revocation *t, unsigned char *out);
/* Read a table written by hotssl__revocation_encode, as hostile input:
 * every count bounded by the bytes left, every offset inside the pool,
 * ranges tiling their arrays, serials stripped, sorted and unique per
 * issuer, known digest and key types, CA links inside the CA list.
 * n_ca: the CA list the table must describe. 0, HOTSSL_EINVAL or
 * HOTSSL_ENOMEM; *out is malloc'ed. */
int hotssl__revocation_decode(const unsigned char *p, size_t len, size_t n_ca,
                              hotssl__revocation **out);

/* Index of the issuer whose raw DN is issuer_raw (bytes equal), or -1. */
long hotssl__revocation_find(const hotssl__revocation *t, const unsigned char *issuer_raw,
                             size_t issuer_len);
/* 1 if (issuer_raw, serial) is revoked, else 0. serial is big-endian;
 * leading zero bytes are ignored. */
int hotssl__revocation_lookup(const hotssl__revocation *t, const unsigned char *issuer_raw,
                              size_t issuer_len, const unsigned char *serial, size_t serial_len);

/* The canonical form of an issuer name, as the table groups names (equal iff
 * mbedTLS's name comparison says equal): malloc'ed, *len its length; NULL
 * when out of memory. */
unsigned char *hotssl__revocation_name_key(const mbedtls_x509_name *name, size_t *len);
/* 1 if the issuer whose canonical name is key lists serial, else 0. */
int hotssl__revocation_lookup_key(const hotssl__revocation *t, const unsigned char *key,
                                  size_t key_len, const unsigned char *serial, size_t serial_len);

/* The questions the verifier (core/verify.c) asks, answered by the table or
 * by the walk. */
typedef struct hotssl__crlview {
  const hotssl__revocation *t;     /* the table (also used by the walk for ca_parent) */
  const mbedtls_x509_crl *crl;     /* the parsed CRL set */
  const mbedtls_x509_crt *ca;      /* the CA chain */
  const mbedtls_x509_crt_profile *profile;
  int walk;
  int crl_stale; /* hotssl_crl_stale (HOTSSL__CRL_STALE_*): a CRL past its nextUpdate */
} hotssl__crlview;

/* Is there any CRL whose issuer is this name? */
int hotssl__crlview_has(const hotssl__crlview *v, const mbedtls_x509_buf *raw,
                        const mbedtls_x509_name *name);
/* May `signer` sign the CRLs named as its subject? (HOTSSL__REV_*) */
int hotssl__crlview_signer(const hotssl__crlview *v, const mbedtls_x509_crt *signer);
/* The CRLs of x's issuer for x (core/x509ext.h, OpenSSL's crl_crldp_check):
 * HOTSSL__SCOPE_IN if one is in x's scope, else HOTSSL__SCOPE_PARTIAL if
 * one covers only some reasons, else HOTSSL__SCOPE_OUT if there is one
 * ("different CRL scope"), else -1 ("unable to get certificate CRL").
 * CRLs OpenSSL never uses (x509ext.h: HOTSSL__SCOPE_IGNORED) count as
 * absent in every question. */
int hotssl__crlview_scope(const hotssl__crlview *v, const mbedtls_x509_crt *x);
/* Are the CRLs of x's issuer that answer for x (those in its scope, or
 * when none is, all of them) valid at now? */
int hotssl__crlview_time(const hotssl__crlview *v, const mbedtls_x509_crt *x, int64_t now);
/* Does a CRL of crt's issuer in crt's scope list crt's serial? */
int hotssl__crlview_revoked(const hotssl__crlview *v, const mbedtls_x509_crt *crt);
/* The certificate of the CA chain that issued ca_crt (itself a member of the
 * CA chain), or NULL when it is self-issued or its issuer is not there. */
const mbedtls_x509_crt *hotssl__crlview_ca_parent(const hotssl__crlview *v,
                                                  const mbedtls_x509_crt *ca_crt);
/* Is crt a member of the CA chain (same object)? Its index, else -1. */
long hotssl__crlview_ca_index(const hotssl__crlview *v, const mbedtls_x509_crt *crt);
/* mbedTLS's name comparison (x509_name_cmp). */
int hotssl__name_equal(const mbedtls_x509_name *a, const mbedtls_x509_name *b);
/* Verify the signature of crt (tbs) with the key of issuer: 0 if it does. */
int hotssl__crt_signed_by(const mbedtls_x509_crt *crt, const mbedtls_x509_crt *issuer);

#endif /* HOTSSL_CORE_REVOCATION_H */
