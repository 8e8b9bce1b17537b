/*
 * libFuzzer target: session tickets, attacker-controlled input that every
 * resuming client sends (core/tickets.h). The first byte picks what the
 * rest is:
 *   0: a ticket key file (hotssl__ticket_keys_parse: base64 lines or
 *      binary keys);
 *   1: a ticket as a client sends it, parsed by the ticket callback under a
 *      fixed key (fails authentication unless it is a real ticket: checks
 *      the bounds before the decryption);
 *   2: a ticket body (header, client certificate, session bytes), sealed
 *      under the key first, so the checks after decryption (version, time,
 *      identity, trust digest, certificate length, mbedtls_ssl_session_load,
 *      the certificate's parse) see arbitrary bytes;
 *   3: as 2 with a header that passes (issued now, identity and trust
 *      digest right), so the input reaches the certificate and the session.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tickets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char KEYFILE[80] = "fuzz-key-name-16"
                                         "0123456789abcdef0123456789abcdef"
                                         "fedcba9876543210fedcba9876543210";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct hotssl__tickets *t;
  unsigned char *buf;
  size_t len = 0;
  if (size < 1 || size > 70000)
    return 0;
  if (t == NULL && hotssl__tickets_standalone(&t, KEYFILE, sizeof KEYFILE, 3600) != 0)
    abort();
  if (data[0] % 4 == 0) {
    hotssl__ticket_key *keys;
    size_t n;
    const char *fmt;
    char why[256];
    if (hotssl__ticket_keys_parse(data + 1, size - 1, &keys, &n, &fmt, why, sizeof why) == 0) {
      if (n == 0 || keys == NULL)
        abort();
      hotssl__ticket_keys_free(keys, n);
    }
    return 0;
  }
  if ((buf = malloc(size + HOTSSL__TICKET_HDR + 64)) == NULL)
    return 0;
  if (data[0] % 4 == 1) {
    memcpy(buf, data + 1, size - 1);
    len = size - 1;
  } else {
    unsigned char *body = malloc(size + HOTSSL__TICKET_HDR);
    size_t blen = size - 1;
    if (body == NULL) {
      free(buf);
      return 0;
    }
    memcpy(body, data + 1, blen);
    if (data[0] % 4 == 3) {
      unsigned char hdr[HOTSSL__TICKET_HDR];
      hotssl__tickets_valid_header(t, hdr);
      if (blen >= HOTSSL__TICKET_HDR)
        memcpy(body, hdr, HOTSSL__TICKET_HDR - 3); /* keep the input's certificate length */
    }
    if (hotssl__tickets_seal(t, body, blen, buf, size + HOTSSL__TICKET_HDR + 64, &len) != 0)
      len = 0;
    free(body);
  }
  if (len > 0)
    (void)hotssl__tickets_parse_ticket(t, buf, len);
  free(buf);
  return 0;
}
