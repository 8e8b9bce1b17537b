#include "example_common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

void example_log(void *ud, hotssl_log_level lv, const char *msg) {
  fprintf(stderr, "%s[%ld] %s: %s\n", (const char *)ud, (long)getpid(), hotssl_log_level_name(lv), msg);
}

void example_tls_echo(hotssl_generation *g, int fd) {
  mbedtls_ssl_context ssl;
  mbedtls_net_context net;
  unsigned char buf[4096];
  int n;
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

int example_listen(int port, int *bound) {
  struct sockaddr_in a = {0};
  socklen_t alen = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); /* never inherited */
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((unsigned short)port);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 128) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  *bound = ntohs(a.sin_port);
  return fd;
}

void example_signals(void (*on_hup)(int), void (*on_term)(int)) {
  struct sigaction sa = {0};
  sa.sa_handler = on_hup;
  sigaction(SIGHUP, &sa, NULL);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL);
}
