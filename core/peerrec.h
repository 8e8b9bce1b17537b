/*
 * What a connection's client-certificate chain needs for a later
 * revocation check against another generation's revocation table
 * (hotssl_client_verify_revoked): per certificate of the verified chain,
 * its issuer name in the table's canonical form and its serial. Recorded
 * by the per-connection verify callback (core/verify.c) while it verifies,
 * so the later check is a table lookup per certificate, no parse.
 */
#ifndef HOTSSL_CORE_PEERREC_H
#define HOTSSL_CORE_PEERREC_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/x509_crt.h>

#include "internal.h"

#define HOTSSL__PEERREC_MAX 16 /* certificates kept, from the leaf up */

typedef struct hotssl__peerrec_ent {
  int depth;
  uint32_t key_off, key_len; /* canonical issuer name (bytes) */
  uint32_t ser_off, ser_len; /* serial as in the certificate (bytes) */
} hotssl__peerrec_ent;

typedef struct hotssl__peerrec {
  hotssl__peerrec_ent ent[HOTSSL__PEERREC_MAX];
  size_t n;
  unsigned char *bytes; /* malloc'ed, kept across resets */
  size_t len, cap;
  int lost; /* out of memory while recording: the record is incomplete */
  int ok;   /* the last verification accepted the chain */
} hotssl__peerrec;

/* Forget the entries (a new verification starts); keeps the buffer. */
void hotssl__peerrec_reset(hotssl__peerrec *r);
/* Record crt, verified at depth. */
void hotssl__peerrec_add(hotssl__peerrec *r, const mbedtls_x509_crt *crt, int depth);
void hotssl__peerrec_free(hotssl__peerrec *r);
/* 1 when g's revocation table lists a recorded certificate (the lowest
 * depth wins; *depth and serial, decimal, filled when not NULL), 0 when
 * none, HOTSSL_EINVAL when nothing accepted was recorded, HOTSSL_ENOMEM when
 * recording ran out of memory. */
int hotssl__peerrec_revoked(const hotssl__peerrec *r, const hotssl_generation *g, int *depth,
                            char *serial, size_t serial_len);

#endif /* HOTSSL_CORE_PEERREC_H */
