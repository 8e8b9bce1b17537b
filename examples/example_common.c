/* The POSIX parts of example_common.h, the TLS echo with its handshake
 * deadline among them (example_tls.c is the Windows examples' echo). */
#include "example_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void example_log(void *ud, hotssl_log_level lv, const char *msg) {
  fprintf(stderr, "%s[%ld] %s: %s\n", (const char *)ud, (long)getpid(), hotssl_log_level_name(lv), msg);
}

/* ---- a deadline on the handshake ----
 * hotssl does no I/O: the host bounds its own handshake loop, or a client
 * that sends nothing (or half a ClientHello, or a record header promising
 * more) holds the connection, its thread or its process forever. */

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline_ms, at least 0. */
static int ms_left(long long deadline_ms) {
  long long left = deadline_ms - now_ms();
  return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

/* Blocking socket: mbedTLS reads through recv_by_deadline, which polls
 * with the time left and fails with MBEDTLS_ERR_SSL_TIMEOUT at the
 * deadline; deadline_ms = 0 afterwards lifts it for the session. */
typedef struct deadline_net {
  mbedtls_net_context net;
  long long deadline_ms; /* CLOCK_MONOTONIC; 0: none */
} deadline_net;

static int recv_by_deadline(void *ctx, unsigned char *buf, size_t len, uint32_t timeout) {
  deadline_net *d = ctx;
  struct pollfd p = {d->net.fd, POLLIN, 0};
  int r;
  (void)timeout; /* the configuration's read timeout (unset): the deadline rules */
  while (d->deadline_ms != 0 && (r = poll(&p, 1, ms_left(d->deadline_ms))) <= 0)
    if (r == 0 || errno != EINTR)
      return MBEDTLS_ERR_SSL_TIMEOUT;
  return mbedtls_net_recv(&d->net, buf, len);
}

int example_handshake_blocking(mbedtls_ssl_context *ssl, deadline_net *d, int timeout_ms) {
  int ret;
  d->deadline_ms = now_ms() + timeout_ms;
  mbedtls_ssl_set_bio(ssl, d, mbedtls_net_send, NULL, recv_by_deadline);
  while ((ret = mbedtls_ssl_handshake(ssl)) == MBEDTLS_ERR_SSL_WANT_READ ||
         ret == MBEDTLS_ERR_SSL_WANT_WRITE)
    ;
  d->deadline_ms = 0; /* done (or failed): the session has no deadline */
  return ret;
}

/* Non-blocking socket (an event loop's): on WANT_READ or WANT_WRITE, poll
 * for that direction with the time left; nothing left is the timeout. */
int example_handshake_nonblocking(mbedtls_ssl_context *ssl, mbedtls_net_context *net, int timeout_ms) {
  long long deadline = now_ms() + timeout_ms;
  int ret;
  mbedtls_net_set_nonblock(net);
  mbedtls_ssl_set_bio(ssl, net, mbedtls_net_send, mbedtls_net_recv, NULL);
  while ((ret = mbedtls_ssl_handshake(ssl)) == MBEDTLS_ERR_SSL_WANT_READ ||
         ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
    struct pollfd p = {net->fd, ret == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT, 0};
    int left = ms_left(deadline), r;
    if (left == 0)
      return MBEDTLS_ERR_SSL_TIMEOUT;
    if ((r = poll(&p, 1, left)) < 0 && errno != EINTR)
      return MBEDTLS_ERR_NET_POLL_FAILED;
  }
  return ret;
}

int example_handshake_timeout_ms(void) {
  const char *v = getenv("EXAMPLE_HANDSHAKE_TIMEOUT");
  int s = v != NULL ? atoi(v) : 0;
  return 1000 * (s > 0 ? s : 60);
}

void example_tls_echo(hotssl_generation *g, int fd, int nonblocking) {
  mbedtls_ssl_context ssl;
  deadline_net d;
  unsigned char buf[4096];
  int n, ret;
  d.net.fd = fd;
  d.deadline_ms = 0;
  mbedtls_ssl_init(&ssl);
  if (mbedtls_ssl_setup(&ssl, hotssl_generation_ssl_config(g)) == 0) {
    if (nonblocking) {
      ret = example_handshake_nonblocking(&ssl, &d.net, example_handshake_timeout_ms());
      mbedtls_net_set_block(&d.net); /* the echo below is blocking */
    } else {
      ret = example_handshake_blocking(&ssl, &d, example_handshake_timeout_ms());
    }
    if (ret == MBEDTLS_ERR_SSL_TIMEOUT)
      fprintf(stderr, "example[%ld] LOG: no TLS handshake by the deadline: connection closed\n",
              (long)getpid());
    if (ret == 0)
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
