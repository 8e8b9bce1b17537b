/*
 * The cost of hotssl's ticket callbacks alone (bench/run: the "ticket
 * check" beside a resumed handshake): a TLS 1.2 server session with a
 * client certificate's worth of bytes is written as a ticket, then the
 * ticket is parsed (decrypted, checked, the session loaded) N times.
 * Prints "write_us X" and "parse_us Y" (microseconds per call).
 *   bench_tickets [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ssl.h>
#include <mbedtls/version.h>

#include "tickets.h"

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

#if MBEDTLS_VERSION_NUMBER < 0x03000000
int main(void) {
  (void)now_us;
  printf("tickets unsupported (mbedTLS 2.28)\n");
  return 0;
}
#else
int main(int argc, char **argv) {
  static const unsigned char key[80] = "bench-key-name-1"
                                       "0123456789abcdef0123456789abcdef"
                                       "fedcba9876543210fedcba9876543210";
  struct hotssl__tickets *t;
  mbedtls_ssl_session s;
  unsigned char tk[4096], copy[4096];
  size_t len = 0;
  long n = argc > 1 ? atol(argv[1]) : 100000, i;
  double t0, w, p;
  if (hotssl__tickets_standalone(&t, key, sizeof key, 7200) != 0) {
    printf("tickets unsupported (mbedTLS 2.28)\n");
    return 0;
  }
  mbedtls_ssl_session_init(&s);
  s.MBEDTLS_PRIVATE(tls_version) = MBEDTLS_SSL_VERSION_TLS1_2;
  s.MBEDTLS_PRIVATE(endpoint) = MBEDTLS_SSL_IS_SERVER;
  s.MBEDTLS_PRIVATE(ciphersuite) = 0xC02B; /* ECDHE-ECDSA-AES128-GCM-SHA256 */
  memset(s.MBEDTLS_PRIVATE(master), 0x42, sizeof s.MBEDTLS_PRIVATE(master));
  t0 = now_us();
  for (i = 0; i < n; i++)
    if (hotssl__tickets_write_ticket(t, &s, tk, sizeof tk, &len) != 0) {
      fprintf(stderr, "bench_tickets: write failed\n");
      return 1;
    }
  w = (now_us() - t0) / (double)n;
  t0 = now_us();
  for (i = 0; i < n; i++) {
    memcpy(copy, tk, len);
    if (hotssl__tickets_parse_ticket(t, copy, len) != 0) {
      fprintf(stderr, "bench_tickets: parse failed\n");
      return 1;
    }
  }
  p = (now_us() - t0) / (double)n;
  printf("ticket_bytes %zu\nwrite_us %.3f\nparse_us %.3f\n", len, w, p);
  mbedtls_ssl_session_free(&s);
  hotssl__tickets_free(t);
  return 0;
}
#endif
