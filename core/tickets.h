/*
 * Session tickets (core/tickets.c): hotssl's own ticket write and parse
 * callbacks, the ticket keys (a key file in nginx's or HAProxy's format, or
 * keys derived from a per-manager random seed and rotated every
 * hotssl_ticket_lifetime), and the binding of a ticket to what the server
 * trusts (docs/session-resumption.md).
 */
#ifndef HOTSSL_CORE_TICKETS_H
#define HOTSSL_CORE_TICKETS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ssl.h>

#include "generation.h"
#include "inputs.h"
#include "internal.h"

struct hotssl__hosts;

/* What the generations of one manager share: the seed generated keys derive
 * from and the counters. Reference-counted (generations outlive their
 * manager); the seed is zeroized on the last release. */
typedef struct hotssl__ticket_shared {
  atomic_uint refs;
  unsigned char seed[32];
  atomic_ullong issued, resumed, rejected;
} hotssl__ticket_shared;

/* A new shared state with a seed from the OS's entropy, or from seed (32
 * bytes, a snapshot's) when not NULL. NULL on failure. */
hotssl__ticket_shared *hotssl__ticket_shared_new(const unsigned char *seed);
void hotssl__ticket_shared_release(hotssl__ticket_shared *s); /* NULL ok */

/* The key file's keys: 16-byte name and the AEAD key derived from the
 * rest. */
typedef struct hotssl__ticket_key {
  unsigned char name[16];
  unsigned char aead[32];
} hotssl__ticket_key;

/* Parse a key file's bytes: HAProxy's base64 lines when every byte is
 * base64 text or white space, else nginx's binary keys (a size that is a
 * multiple of 80, else of 48). *keys in hotssl__secure_alloc pages (out of
 * core dumps; free with hotssl__ticket_keys_free, which zeroizes); *format "base64 lines", "80-byte binary" or
 * "48-byte binary". 0, HOTSSL_ECONFIG (why holds the reason) or
 * HOTSSL_ENOMEM. */
int hotssl__ticket_keys_parse(const unsigned char *data, size_t len, hotssl__ticket_key **keys,
                              size_t *n, const char **format, char *why, size_t whylen);
void hotssl__ticket_keys_free(hotssl__ticket_key *keys, size_t n);

/* With hotssl_session_tickets on: give g (built from in; prev the
 * generation it replaces, may be NULL) its ticket keys and callbacks, and
 * with mbedTLS 3.6 the TLS 1.3 ticket settings. A bad key file fails with
 * HOTSSL_ECONFIG naming the file; mbedTLS 2.28 with HOTSSL_ENOTSUP. Does
 * nothing when tickets are off. */
int hotssl__tickets_attach(hotssl_generation *g, const hotssl__inputs *in, const hotssl_generation *prev,
                           char *errbuf, size_t errlen);
void hotssl__tickets_free(struct hotssl__tickets *t); /* NULL ok */

/* From the SNI callback (core/sni.c): the entry the server name selected
 * for this handshake, which the ticket callbacks of the same ClientHello
 * compare against. */
void hotssl__tickets_note_sni(const mbedtls_ssl_context *ssl, const struct hotssl__hosts *h, long entry);

/* Ticket state of g for the HOTSSL_INFO_TICKET* items: 0 when g has none
 * (*on = 0). name_hex gets 33 bytes. */
typedef struct hotssl__ticket_info {
  int on;
  uint64_t keys;
  char name_hex[33];
  int64_t key_age;
  uint64_t issued, resumed, rejected;
  const char *source; /* "generated", or the key file's format */
} hotssl__ticket_info;
void hotssl__tickets_info(const hotssl_generation *g, hotssl__ticket_info *out);

/* The snapshot's ticket record: the generated keys' seed (32 bytes) when g
 * derives its keys from one; NULL otherwise (a key file travels as its
 * bytes). */
const unsigned char *hotssl__tickets_seed(const hotssl_generation *g);
/* The key file's bytes g's keys came from (*len 0 and NULL: generated). */
const unsigned char *hotssl__tickets_file(const hotssl_generation *g, size_t *len);

/* Tests and the fuzz target (fuzz/fuzz_tickets.c): a ticket context with
 * no generation behind it (one identity, no CA, no CRL), keys from a key
 * file's bytes (NULL: generated from a zero seed). seal encrypts an
 * arbitrary body (the layout above) under the encrypting key as a ticket;
 * parse runs the parse callback on a ticket: 0 (accepted) or an mbedTLS
 * code. HOTSSL_ENOTSUP without mbedTLS 3.6 tickets. */
int hotssl__tickets_standalone(struct hotssl__tickets **out, const unsigned char *keyfile, size_t len,
                               uint32_t lifetime);
int hotssl__tickets_seal(struct hotssl__tickets *t, const unsigned char *body, size_t blen,
                         unsigned char *out, size_t outsize, size_t *olen);
int hotssl__tickets_parse_ticket(struct hotssl__tickets *t, unsigned char *ticket, size_t len);
/* The write callback on session (bench/bench_tickets.c). */
int hotssl__tickets_write_ticket(struct hotssl__tickets *t, const mbedtls_ssl_session *session,
                                 unsigned char *out, size_t outsize, size_t *olen);
/* The body header a standalone context accepts now (issued now, its
 * lifetime, its identity and trust digest): HOTSSL__TICKET_HDR bytes. */
#define HOTSSL__TICKET_HDR (1 + 8 + 4 + 32 + 32 + 3)
void hotssl__tickets_valid_header(const struct hotssl__tickets *t, unsigned char *hdr);

#endif /* HOTSSL_CORE_TICKETS_H */
