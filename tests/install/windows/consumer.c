/*
 * A Windows program that uses hotssl through hotssl.dll only: it links the
 * import library (libhotssl.dll.a) and its own static mbedTLS for the TLS
 * session, and ships with the one DLL beside it. It serves one TLS echo
 * connection on a manager built from CONF, then exits 0 when the client
 * closed cleanly.
 *   hotssl_dll_consumer CONF
 * Prints "listening on 127.0.0.1:PORT", then "echoed N bytes".
 */
#include <winsock2.h>
#include <windows.h>

#include <stdio.h>
#include <string.h>

#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#if MBEDTLS_VERSION_MAJOR >= 3
#  include <psa/crypto.h>
#endif

#include <hotssl/hotssl.h>

#ifndef HOTSSL_SHARED
#  error "this consumer must be built against hotssl.dll (HOTSSL_SHARED)"
#endif

static void logline(void *ud, hotssl_log_level lv, const char *msg) {
  (void)ud;
  fprintf(stderr, "consumer %s: %s\n", hotssl_log_level_name(lv), msg);
}

/* One connection: handshake, echo until the client closes. */
static int serve_one(hotssl_manager *m, SOCKET fd) {
  hotssl_generation *g = hotssl_manager_acquire(m);
  mbedtls_ssl_context ssl;
  mbedtls_net_context net;
  unsigned char buf[4096];
  unsigned long long gen = hotssl_generation_number(g);
  long total = 0;
  int n, r;
  net.fd = (int)fd;
  mbedtls_ssl_init(&ssl);
  r = mbedtls_ssl_setup(&ssl, hotssl_generation_ssl_config(g));
  if (r == 0) {
    mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
    r = mbedtls_ssl_handshake(&ssl);
  }
  if (r != 0)
    fprintf(stderr, "consumer: handshake failed: -0x%04x\n", (unsigned)-r);
  while (r == 0 && (n = mbedtls_ssl_read(&ssl, buf, sizeof buf)) > 0) {
    if (mbedtls_ssl_write(&ssl, buf, (size_t)n) != n)
      r = -1;
    total += n;
  }
  if (r == 0)
    mbedtls_ssl_close_notify(&ssl);
  mbedtls_ssl_free(&ssl);
  hotssl_generation_release(g);
  printf("echoed %ld bytes (generation %llu)\n", total, gen);
  return r == 0 && total > 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  hotssl_config *cfg;
  hotssl_manager *m;
  hotssl_manager_options mo = {0};
  struct sockaddr_in a = {0};
  int alen = sizeof a, r;
  char err[512];
  WSADATA wsa;
  SOCKET lfd, fd;

  if (argc != 2) {
    fprintf(stderr, "usage: %s CONF\n", argv[0]);
    return 2;
  }
#if MBEDTLS_VERSION_MAJOR >= 3
  /* This program's own mbedTLS (TLS 1.3 key exchange runs through PSA). */
  if (psa_crypto_init() != PSA_SUCCESS)
    return 1;
#endif
  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
    return 1;
  mo.log = logline;
  if (hotssl_config_create(&cfg) != 0)
    return 1;
  if (hotssl_config_load_file(cfg, argv[1], err, sizeof err) != 0 ||
      hotssl_manager_create(&m, cfg, &mo, err, sizeof err) != 0) {
    fprintf(stderr, "consumer: could not start: %s\n", err);
    return 1;
  }
  hotssl_config_destroy(cfg);
  lfd = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (lfd == INVALID_SOCKET || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 8) != 0 ||
      getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
    return 1;
  printf("hotssl %s through hotssl.dll\nlistening on 127.0.0.1:%d\n", hotssl_version_string(),
         ntohs(a.sin_port));
  fflush(stdout);
  if ((fd = accept(lfd, NULL, NULL)) == INVALID_SOCKET)
    return 1;
  r = serve_one(m, fd);
  closesocket(fd);
  closesocket(lfd);
  hotssl_manager_destroy(m);
  WSACleanup();
  return r;
}
