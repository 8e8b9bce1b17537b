/*
 * `hotssl serve`: a TLS echo server on 127.0.0.1 that reloads on SIGHUP (and
 * on file change when the watcher runs), logs to stderr and exits 0 on
 * SIGTERM. Thread mode runs here: one thread per connection, each acquiring
 * the generation current at accept time and releasing it when the
 * connection ends. Fork and spawn modes live in serve_modes.c, the OS
 * calls (signals, sockets) in sys_posix.c. In every mode
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
#include "log.h"
#include "serve.h"

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
  cli_log_tickets(m);
  if (strcmp(o.mode, "thread") == 0)
    r = serve_threads(m, lfd, &o);
  else
    r = cli_serve_mode(m, lfd, &o);
  close(lfd);
  cli_watch_stop(w);
  cli_forget_signals();
  cli_log_tickets(m); /* the counts of this process (thread mode: every connection) */
  hotssl_manager_destroy(m);
  cli_log(NULL, HOTSSL_LOG_INFO, "shut down");
  return r == 0 ? 0 : 1;
}
