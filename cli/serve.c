/*
 * `hotssl serve`: a TLS echo server on 127.0.0.1 that reloads on SIGHUP (and
 * on file change when the watcher runs), logs to stderr and exits 0 on
 * SIGTERM. Thread mode runs here: one thread per connection, each acquiring
 * the generation current at accept time and releasing it when the
 * connection ends, up to --max-connections at once (a slot each; more are
 * closed at once). Fork and spawn modes live in serve_modes.c, the OS
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "metrics_http.h"
#include "serve.h"

/* ---- thread mode ---- */

/* About how many descriptors the server keeps for itself (stdio, listener,
 * signal and wake-up pipes, watcher, files read at reload, the spare). */
#define CLI_OWN_DESCRIPTORS 20

/* The connections being served: one slot per --max-connections. */
typedef struct conn_table {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int *fds; /* max entries, -1 when free */
  size_t max;
  size_t active;
} conn_table;

typedef struct conn_arg {
  conn_table *t;
  hotssl_manager *m;
  hotssl_generation *g;
  long long deadline;
  int fd;
  size_t slot;
  int starttls;
} conn_arg;

static void *conn_main(void *p) {
  conn_arg *a = p;
  cli_serve_connection_live(a->g, a->fd, a->starttls, a->deadline, a->m, 0);
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

/* A free slot for fd (-1 when every one is taken). */
static long take_slot(conn_table *t, int fd) {
  size_t i;
  long slot = -1;
  pthread_mutex_lock(&t->mu);
  if (t->active < t->max)
    for (i = 0; i < t->max; i++)
      if (t->fds[i] < 0) {
        t->fds[i] = fd;
        t->active++;
        slot = (long)i;
        break;
      }
  pthread_mutex_unlock(&t->mu);
  return slot;
}

/* One accepted connection: a slot, the generation current now, a thread. */
static void start_conn(conn_table *t, hotssl_manager *m, int fd, const cli_serve_opts *o) {
  long long deadline = cli_handshake_deadline(o->handshake_timeout);
  long slot;
  conn_arg *a;
  pthread_t th;
  if ((slot = take_slot(t, fd)) < 0) {
    cli_refuse_over_limit(t->max, o, fd);
    return;
  }
  if ((a = malloc(sizeof *a)) == NULL)
    goto fail;
  a->t = t;
  a->m = m;
  a->fd = fd;
  a->slot = (size_t)slot;
  a->deadline = deadline;
  a->starttls = o->starttls_postgres;
  a->g = hotssl_manager_acquire(m); /* the generation current at accept */
  if (pthread_create(&th, NULL, conn_main, a) == 0) {
    pthread_detach(th);
    return;
  }
  hotssl_generation_release(a->g);
  free(a);
fail:
  pthread_mutex_lock(&t->mu);
  t->fds[slot] = -1;
  t->active--;
  pthread_mutex_unlock(&t->mu);
  close(fd);
}

/* Each connection of thread mode holds a descriptor: say so at start when
 * --max-connections cannot be reached under the descriptor limit. */
static void check_descriptor_limit(const cli_serve_opts *o) {
  struct rlimit rl;
  char line[300];
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
      o->max_connections + CLI_OWN_DESCRIPTORS <= rl.rlim_cur)
    return;
  snprintf(line, sizeof line,
           "--max-connections %lu is more than the descriptor limit (%llu) allows: beyond about %llu "
           "connections new ones are closed at the limit",
           o->max_connections, (unsigned long long)rl.rlim_cur,
           rl.rlim_cur > CLI_OWN_DESCRIPTORS ? (unsigned long long)(rl.rlim_cur - CLI_OWN_DESCRIPTORS)
                                             : 0ULL);
  cli_log(NULL, HOTSSL_LOG_WARNING, line);
}

static int serve_threads(hotssl_manager *m, int lfd, const cli_serve_opts *o) {
  conn_table t;
  cli_acceptor acc;
  size_t i;
  check_descriptor_limit(o);
  t.max = o->max_connections;
  if ((t.fds = malloc(t.max * sizeof *t.fds)) == NULL) {
    fprintf(stderr, "hotssl serve: out of memory for %lu connections\n", o->max_connections);
    return 1;
  }
  pthread_mutex_init(&t.mu, NULL);
  pthread_cond_init(&t.cv, NULL);
  for (i = 0; i < t.max; i++)
    t.fds[i] = -1;
  t.active = 0;
  cli_acceptor_init(&acc, lfd);

  for (;;) {
    struct pollfd p[2];
    int fd;
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
    if (p[0].revents && (fd = cli_acceptor_accept(&acc)) >= 0)
      start_conn(&t, m, fd, o);
  }
  cli_acceptor_free(&acc);
  /* Shut down: wake every connection and wait for them to end. */
  pthread_mutex_lock(&t.mu);
  for (i = 0; i < t.max; i++)
    if (t.fds[i] >= 0)
      shutdown(t.fds[i], SHUT_RDWR);
  while (t.active > 0)
    pthread_cond_wait(&t.cv, &t.mu);
  pthread_mutex_unlock(&t.mu);
  pthread_cond_destroy(&t.cv);
  pthread_mutex_destroy(&t.mu);
  free(t.fds);
  return 0;
}

int cli_cmd_serve(int argc, char **argv) {
  cli_serve_opts o;
  hotssl_manager *m = NULL;
  char shown[80];
  int r, lfd, port = 0;
  cli_watch *w = NULL;
  cli_metrics_http *mh = NULL;

  if ((r = cli_serve_args(argc, argv, &o)) != 0)
    return r < 0 ? 0 : r;
  /* Before any key is read: no core dump holds it, fork children included. */
  cli_set_dumpable(o.allow_core_dumps);
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
  if (o.metrics_listen != NULL && (r = cli_metrics_http_start(m, o.metrics_listen, &mh)) != 0) {
    cli_watch_stop(w);
    close(lfd);
    hotssl_manager_destroy(m);
    return r;
  }
  printf("listening on %s\n", shown);
  fflush(stdout);
  cli_log_tickets(m);
  if (strcmp(o.mode, "thread") == 0)
    r = serve_threads(m, lfd, &o);
  else
    r = cli_serve_mode(m, lfd, &o);
  close(lfd);
  cli_metrics_http_stop(mh);
  cli_watch_stop(w);
  cli_forget_signals();
  cli_log_tickets(m); /* the counts of this process (thread mode: every connection) */
  hotssl_manager_destroy(m);
  cli_log(NULL, HOTSSL_LOG_INFO, "shut down");
  return r == 0 ? 0 : 1;
}
