/*
 * `hotssl serve`: a TLS echo server on 127.0.0.1 that reloads on SIGHUP (and
 * on file change when the watcher runs), logs to stderr and exits 0 on
 * SIGTERM. Thread mode runs here: one thread per connection, each acquiring
 * the generation current at accept time and releasing it when the
 * connection ends. Fork and spawn modes live in serve_modes.c. In every mode
 * reloads run on their own thread (watch.c), so accepting never waits for
 * one; TCP_NODELAY is set on every accepted socket (cli_accept).
 */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "serve.h"

/* Signal plumbing: handlers only store and write(2). */
static hotssl_manager *volatile g_manager;
static int g_term_pipe[2] = {-1, -1};

static void on_sighup(int sig) {
  (void)sig;
  if (g_manager != NULL)
    hotssl_manager_request_reload(g_manager);
}

static void on_sigterm(int sig) {
  int saved = errno;
  char c = (char)sig;
  if (g_term_pipe[1] >= 0 && write(g_term_pipe[1], &c, 1) < 0) {
    /* nothing to do: a pending byte already asks for shutdown */
  }
  errno = saved;
}

int cli_install_signals(hotssl_manager *m) {
  struct sigaction sa;
  g_manager = m;
  if (g_term_pipe[0] < 0) {
    if (pipe(g_term_pipe) != 0)
      return -1;
    fcntl(g_term_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(g_term_pipe[1], F_SETFD, FD_CLOEXEC);
    fcntl(g_term_pipe[1], F_SETFL, O_NONBLOCK);
  }
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sa.sa_handler = on_sighup;
  sigaction(SIGHUP, &sa, NULL);
  sa.sa_handler = on_sigterm;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL);
  return 0;
}

int cli_term_fd(void) { return g_term_pipe[0]; }

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

/* serve.h's OS calls for session.c (POSIX). */
int cli_sock_recv(int fd, void *buf, size_t n) {
  for (;;) {
    ssize_t r = recv(fd, buf, n, 0);
    if (r < 0 && errno == EINTR)
      continue;
    return r < 0 ? -1 : (int)r;
  }
}

int cli_sock_send_byte(int fd, char c) { return send(fd, &c, 1, MSG_NOSIGNAL) == 1 ? 0 : -1; }

void cli_sock_nodelay(int fd) {
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void cli_sock_close(int fd) { close(fd); }

void cli_sock_shutdown_write(int fd) { (void)shutdown(fd, SHUT_WR); }

int cli_sock_wait_readable(int fd, int ms) {
  struct pollfd p = {fd, POLLIN, 0};
  int r;
  while ((r = poll(&p, 1, ms)) < 0 && errno == EINTR)
    ;
  return r > 0;
}

void cli_backend_os_enter(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = SIG_IGN; /* reloads are the parent's business */
  sigaction(SIGHUP, &sa, NULL);
  sigaction(SIGPIPE, &sa, NULL);
}

void cli_backend_os_leave(void) {}

/* ---- thread mode ---- */

#define MAX_CONNS 1024

typedef struct conn_table {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int fds[MAX_CONNS];
  int active;
} conn_table;

typedef struct conn_arg {
  conn_table *t;
  hotssl_generation *g;
  int fd;
  int slot;
  int starttls;
} conn_arg;

static void *conn_main(void *p) {
  conn_arg *a = p;
  cli_serve_connection(a->g, a->fd, a->starttls);
  hotssl_generation_release(a->g);
  pthread_mutex_lock(&a->t->mu);
  a->t->fds[a->slot] = -1;
  a->t->active--;
  pthread_cond_broadcast(&a->t->cv);
  pthread_mutex_unlock(&a->t->mu);
  close(a->fd);
  free(a);
  return NULL;
}

static int serve_threads(hotssl_manager *m, int lfd, const cli_serve_opts *o) {
  conn_table t;
  int i;
  pthread_mutex_init(&t.mu, NULL);
  pthread_cond_init(&t.cv, NULL);
  for (i = 0; i < MAX_CONNS; i++)
    t.fds[i] = -1;
  t.active = 0;

  for (;;) {
    struct pollfd p[2];
    p[0].fd = lfd;
    p[1].fd = cli_term_fd();
    p[0].events = p[1].events = POLLIN;
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (p[1].revents)
      break;
    if (p[0].revents) {
      int fd = cli_accept(lfd);
      conn_arg *a;
      pthread_t th;
      int slot = -1;
      if (fd < 0)
        continue;
      pthread_mutex_lock(&t.mu);
      for (i = 0; i < MAX_CONNS; i++)
        if (t.fds[i] < 0) {
          slot = i;
          break;
        }
      if (slot >= 0) {
        t.fds[slot] = fd;
        t.active++;
      }
      pthread_mutex_unlock(&t.mu);
      if (slot < 0 || (a = malloc(sizeof *a)) == NULL) {
        close(fd);
        continue;
      }
      a->t = &t;
      a->fd = fd;
      a->slot = slot;
      a->starttls = o->starttls_postgres;
      a->g = hotssl_manager_acquire(m); /* the generation current at accept */
      if (pthread_create(&th, NULL, conn_main, a) != 0) {
        hotssl_generation_release(a->g);
        pthread_mutex_lock(&t.mu);
        t.fds[slot] = -1;
        t.active--;
        pthread_mutex_unlock(&t.mu);
        close(fd);
        free(a);
        continue;
      }
      pthread_detach(th);
    }
  }
  /* Shut down: wake every connection and wait for them to end. */
  pthread_mutex_lock(&t.mu);
  for (i = 0; i < MAX_CONNS; i++)
    if (t.fds[i] >= 0)
      shutdown(t.fds[i], SHUT_RDWR);
  while (t.active > 0)
    pthread_cond_wait(&t.cv, &t.mu);
  pthread_mutex_unlock(&t.mu);
  pthread_cond_destroy(&t.cv);
  pthread_mutex_destroy(&t.mu);
  return 0;
}

int cli_serve_check_mode(const char *given, const char **mode) {
  static const char *const modes[] = {"thread", "fork", "spawn", NULL};
  *mode = given != NULL ? given : "thread";
  return cli_parse_choice("serve", "--mode", *mode, modes) < 0 ? 2 : 0;
}

int cli_cmd_serve(int argc, char **argv) {
  cli_serve_opts o;
  hotssl_manager *m = NULL;
  char shown[80];
  int r, lfd, port = 0;
  cli_watch *w = NULL;

  if ((r = cli_serve_args(argc, argv, &o)) != 0)
    return r < 0 ? 0 : r;
  if ((r = cli_serve_open(&o, &m)) != 0)
    return r;
  if (cli_install_signals(m) != 0 || (lfd = cli_listen(o.listen, o.port, &port, shown, sizeof shown)) < 0) {
    fprintf(stderr, "hotssl: FATAL:  could not listen on %s port %d: %s\n", o.listen, o.port, strerror(errno));
    hotssl_manager_destroy(m);
    return 1;
  }
  if (cli_watch_start(m, o.watch, &w) != 0) {
    fprintf(stderr, "hotssl: FATAL:  could not start the %s\n",
            o.watch ? "file watcher" : "reload thread");
    close(lfd);
    hotssl_manager_destroy(m);
    return 1;
  }
  o.watcher = w;
  printf("listening on %s\n", shown);
  fflush(stdout);
  if (strcmp(o.mode, "thread") == 0)
    r = serve_threads(m, lfd, &o);
  else
    r = cli_serve_mode(m, lfd, &o);
  close(lfd);
  cli_watch_stop(w);
  g_manager = NULL;
  hotssl_manager_destroy(m);
  cli_log(NULL, HOTSSL_LOG_INFO, "shut down");
  return r == 0 ? 0 : 1;
}
