/*
 * The listening and accepting sockets of `hotssl serve` and `hotssl demo`
 * on POSIX (sys.h): cli_listen, cli_accept, cli_demo_listen,
 * cli_demo_accept. Apart from sys_posix.c, which hotssl-backend
 * (backend_main.c) links too: the backend listens on nothing and has no
 * name service (backend_nss.c), cli_listen resolves its address with
 * getaddrinfo. Windows has these in sys_win32.c. Calls nothing else in
 * cli/.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sys.h"

int cli_listen(const char *host, int port, int *actual_port, char *shown, size_t shownlen) {
  struct addrinfo hints, *res = NULL, *ai;
  struct sockaddr_storage a;
  socklen_t alen = sizeof a;
  char portstr[16], addr[INET6_ADDRSTRLEN];
  int fd = -1, one = 1, saved = 0;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  snprintf(portstr, sizeof portstr, "%d", port);
  if (getaddrinfo(host != NULL ? host : "127.0.0.1", portstr, &hints, &res) != 0) {
    errno = EADDRNOTAVAIL;
    return -1;
  }
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      saved = errno;
      continue;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
      break;
    saved = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    errno = saved;
    return -1;
  }
  if (a.ss_family == AF_INET6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a;
    inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof addr);
    *actual_port = ntohs(s6->sin6_port);
    if (shown != NULL)
      snprintf(shown, shownlen, "[%s]:%d", addr, *actual_port);
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&a;
    inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof addr);
    *actual_port = ntohs(s4->sin_port);
    if (shown != NULL)
      snprintf(shown, shownlen, "%s:%d", addr, *actual_port);
  }
  return fd;
}

int cli_accept(int lfd) {
  int one = 1, fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  /* mbedTLS writes each handshake message separately: with Nagle's
   * algorithm and the client's delayed ACK, every handshake would stall
   * about 40 ms on a small write waiting for an ACK. */
  if (fd >= 0)
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

int cli_demo_listen(int *port) { return cli_listen(NULL, 0, port, NULL, 0); }

int cli_demo_accept(int lfd) {
  for (;;) {
    int fd = cli_accept(lfd);
    if (fd >= 0 || errno != EINTR)
      return fd;
  }
}
