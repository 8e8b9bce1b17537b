/* example_common.h's TLS echo for the Windows examples (mbedTLS's
 * net_sockets callbacks take the socket as an int there too). It has no
 * handshake deadline: the POSIX one in example_common.c shows how to add it,
 * and `hotssl.exe serve --handshake-timeout` has it on Windows. */
#include "example_common.h"

#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

void example_tls_echo(hotssl_generation *g, int fd, int nonblocking) {
  mbedtls_ssl_context ssl;
  mbedtls_net_context net;
  unsigned char buf[4096];
  int n;
  (void)nonblocking; /* blocking sockets only here */
  net.fd = fd;
  mbedtls_ssl_init(&ssl);
  if (mbedtls_ssl_setup(&ssl, hotssl_generation_ssl_config(g)) == 0) {
    mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
    if (mbedtls_ssl_handshake(&ssl) == 0)
      while ((n = mbedtls_ssl_read(&ssl, buf, sizeof buf)) > 0)
        if (mbedtls_ssl_write(&ssl, buf, (size_t)n) < 0)
          break;
  }
  mbedtls_ssl_free(&ssl);
}
