/*
 * Revocation table: the CRL set, once its signatures were checked at load,
 * turned into one sorted array of revoked serials per issuer, so that the
 * revocation check of a client certificate is a binary search instead of
 * mbedTLS's re-hash and re-verification of every CRL on every handshake
 * (DESIGN.md 3a).
 *
 * Layout: flat arrays only (issuers, entries, one byte pool addressed by
 * offsets), no pointer inside them and no allocation per entry, so the same
 * bytes could later be handed to a spawned backend as they are. Serials are
 * compared as unsigned big-endian byte strings with leading zero bytes
 * stripped (shorter = smaller, then memcmp).
 *
 * Semantics follow mbedTLS 2.28's own CRL check (x509_crt_verifycrl), which
 * this replaces in the handshake: issuers are grouped by mbedTLS's name
 * comparison (exact bytes, or UTF8String/PrintableString values equal up to
 * ASCII case); a certificate is revoked when one of its issuer's CRLs lists
 * its serial, whatever the revocation date (mbedtls_x509_crt_is_revoked
 * ignores it); the issuer's CRLs are
 * flagged expired (next_update past, or absent) or not yet valid
 * (this_update in the future). An issuer whose CRLs mbedTLS would not simply
 * trust (several CA certificates with its name that do not all verify them,
 * a CA without the cRLSign key usage, an algorithm or key the default
 * profile refuses) is not put in the table: its CRLs stay in a small parsed
 * chain (hotssl__revocation_fallback) that mbedTLS keeps checking itself.
 *
 * Thread rules: built once by the builder, then read-only; any number of
 * threads may call the lookups at once. Freed with the shared CRL object.
 */
#ifndef HOTSSL_CORE_REVOCATION_H
#define HOTSSL_CORE_REVOCATION_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

typedef struct hotssl__rev_issuer {
  uint32_t dn_off, dn_len;     /* raw issuer DN (bytes pool) */
  uint32_t key_off, key_len;   /* canonical DN: equal iff mbedTLS's names are equal */
  uint32_t spki_off, spki_len; /* public key (SubjectPublicKeyInfo) that signed its CRLs */
  uint32_t first, count;       /* entries[first .. first + count), sorted, unique */
  int64_t this_update;         /* latest thisUpdate of its CRLs (Unix seconds) */
  int64_t next_update;         /* earliest nextUpdate; INT64_MIN when one is absent */
} hotssl__rev_issuer;

typedef struct hotssl__rev_entry {
  uint32_t off, len; /* serial, leading zero bytes stripped (bytes pool) */
} hotssl__rev_entry;

typedef struct hotssl__revocation {
  hotssl__rev_issuer *issuers;
  hotssl__rev_entry *entries;
  unsigned char *bytes;
  size_t n_issuers, n_entries, n_bytes;
  mbedtls_x509_crl *fallback; /* CRLs left to mbedTLS, or NULL */
} hotssl__revocation;

/* Build the table from a parsed CRL chain (signatures already checked
 * against ca) and the CA chain the handshake trusts; profile is the one of
 * the mbedtls_ssl_config (mbedtls_x509_crt_profile_default). *out is
 * malloc'ed. Returns 0, HOTSSL_ENOMEM, or HOTSSL_ECRL (a CRL too large for
 * 32-bit offsets). */
int hotssl__revocation_build(hotssl__revocation **out, const mbedtls_x509_crl *crl,
                             const mbedtls_x509_crt *ca,
                             const mbedtls_x509_crt_profile *profile);
void hotssl__revocation_free(hotssl__revocation *t); /* NULL ok */

/* The CRLs mbedTLS must still check itself (pass to mbedtls_ssl_conf_ca_chain),
 * or NULL. */
mbedtls_x509_crl *hotssl__revocation_fallback(const hotssl__revocation *t);

/* Index of the issuer whose raw DN is issuer_raw (bytes equal), or -1. */
long hotssl__revocation_find(const hotssl__revocation *t, const unsigned char *issuer_raw,
                             size_t issuer_len);
/* 1 if (issuer_raw, serial) is revoked, else 0. serial is big-endian;
 * leading zero bytes are ignored. */
int hotssl__revocation_lookup(const hotssl__revocation *t, const unsigned char *issuer_raw,
                              size_t issuer_len, const unsigned char *serial, size_t serial_len);

/* The MBEDTLS_X509_BAD* flags mbedTLS's CRL check would have given crt, a
 * certificate at `depth` of a chain being verified against trust_ca (the
 * arguments of an mbedTLS verify callback), for the issuers in the table:
 * BADCERT_REVOKED, BADCRL_EXPIRED, BADCRL_FUTURE, and BADCRL_NOT_TRUSTED
 * when crt is a presented (untrusted) issuer whose key did not sign its CRL.
 * Trust anchors are not checked, as in mbedTLS. */
uint32_t hotssl__revocation_verify(const hotssl__revocation *t, const mbedtls_x509_crt *crt,
                                   int depth, const mbedtls_x509_crt *trust_ca, int64_t now);

#endif /* HOTSSL_CORE_REVOCATION_H */
