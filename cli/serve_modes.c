/*
 * Fork and spawn modes of `hotssl serve` (the thread mode is in serve.c).
 *
 * --mode fork: PostgreSQL's postmaster. The parent accepts, forks one child
 * per connection and keeps the manager, SIGHUP and the watcher; the child
 * serves the generation current at fork time, after
 * hotssl_manager_after_fork_child() re-created its random generator.
 *
 * --mode spawn: a new process per connection through hotssl_spawn()
 * (posix_spawn), as on Windows or with PostgreSQL's EXEC_BACKEND. The
 * accepted socket and a snapshot are handed over to hotssl-backend, the
 * static build of `hotssl __backend` (backend_main.c), when it is beside
 * this executable, else to this executable's `hotssl __backend` (see
 * session.c and cli_backend_program); the log says which at start.
 * --spawn-strategy snapshot (default) hands the parent's last good
 * generation, reread hands the settings and the backend re-reads the files.
 * The listening socket is close-on-exec and not inherited.
 *
 * Both: the parent's reloads run on cli_watch's thread (a fork or a spawn
 * never waits for one: the library holds no lock they need while it
 * builds); the accept loop reaps children, closes a connection at once
 * when --max-connections children are running, and accepts through
 * cli_acceptor (here, shared with thread mode), which survives the
 * descriptor limit; each child gets the connection's handshake deadline;
 * on SIGTERM it stops accepting, sends SIGTERM to the children and waits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hotssl/platform.h"
#include "log.h"
#include "phases.h"
#include "serve.h"

/* Wait for the listening socket or shutdown (reload requests are served
 * by cli_watch's thread). Returns 1 when a connection is ready, 0
 * otherwise, -1 on shutdown. */
static int wait_events(int lfd) {
  struct pollfd p[2];
  p[0].fd = lfd;
  p[1].fd = cli_term_fd();
  p[0].events = p[1].events = POLLIN;
  /* The timeout only bounds how long an ended child stays a zombie. */
  if (poll(p, 2, 200) < 0)
    return errno == EINTR ? 0 : -1;
  if (p[1].revents)
    return -1;
  return p[0].revents ? 1 : 0;
}

static void spare_open(cli_acceptor *a) {
  if (a->spare < 0)
    a->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void cli_acceptor_init(cli_acceptor *a, int lfd) {
  memset(a, 0, sizeof *a);
  a->lfd = lfd;
  a->spare = -1;
  spare_open(a);
}

void cli_acceptor_free(cli_acceptor *a) {
  if (a->spare >= 0)
    close(a->spare);
  a->spare = -1;
}

static void log_limit(cli_acceptor *a, int err) {
  char line[400];
  long long now = cli_now_ms();
  if (a->limited && now - a->logged_ms < CLI_EMFILE_LOG_MS)
    return;
  if (a->shed > 0)
    snprintf(line, sizeof line,
             "could not accept new connection: %s; closing new connections at once until descriptors "
             "free up (%lu closed since the last line)",
             strerror(err), a->shed);
  else
    snprintf(line, sizeof line,
             "could not accept new connection: %s; closing new connections at once until descriptors "
             "free up",
             strerror(err));
  cli_log(NULL, HOTSSL_LOG_WARNING, line);
  a->limited = 1;
  a->logged_ms = now;
  a->shed = 0;
}

int cli_acceptor_accept(cli_acceptor *a) {
  int fd, err;
  spare_open(a);
  if ((fd = cli_accept(a->lfd)) >= 0) {
    if (a->limited) {
      char line[200];
      snprintf(line, sizeof line,
               "descriptors free again: accepting connections (%lu closed at the limit)", a->shed);
      cli_log(NULL, HOTSSL_LOG_INFO, line);
      a->limited = 0;
      a->shed = 0;
    }
    return fd;
  }
  err = errno;
  if (err == EMFILE || err == ENFILE) {
    log_limit(a, err);
    if (a->spare >= 0) {
      close(a->spare);
      a->spare = -1;
      if ((fd = cli_accept(a->lfd)) >= 0) {
        close(fd);
        a->shed++;
      }
      spare_open(a);
    }
    if (a->spare < 0)
      cli_sock_wait_readable(cli_term_fd(), 100);
  } else if (err == ENOBUFS || err == ENOMEM) {
    cli_sock_wait_readable(cli_term_fd(), 100); /* the kernel is short: back off */
  }
  return -1;
}

/* The parent's loop in both modes: reap the children that ended, hand each
 * accepted connection to serve_one (which closes it); until shutdown. */
static void accept_loop(int lfd, void (*reap)(void *ctx), void (*serve_one)(void *ctx, int fd), void *ctx) {
  cli_acceptor a;
  cli_acceptor_init(&a, lfd);
  for (;;) {
    int ev = wait_events(lfd), fd;
    reap(ctx);
    if (ev < 0)
      break;
    if (ev == 0)
      continue;
    if ((fd = cli_acceptor_accept(&a)) < 0)
      continue;
    serve_one(ctx, fd);
  }
  cli_acceptor_free(&a);
}

/* ---- fork ---- */

typedef struct pidlist {
  pid_t *v;
  size_t n, cap;
} pidlist;

static void pid_add(pidlist *l, pid_t pid) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 64;
    pid_t *nv = realloc(l->v, cap * sizeof *nv);
    if (nv == NULL)
      return; /* still reaped by waitpid(-1) */
    l->v = nv;
    l->cap = cap;
  }
  l->v[l->n++] = pid;
}

static void pid_remove(pidlist *l, pid_t pid) {
  size_t i;
  for (i = 0; i < l->n; i++)
    if (l->v[i] == pid) {
      l->v[i] = l->v[--l->n];
      return;
    }
}

static void reap_forked(pidlist *l, int block) {
  pid_t pid;
  int st;
  while ((pid = waitpid(-1, &st, block ? 0 : WNOHANG)) > 0)
    pid_remove(l, pid);
}

static void child_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = SIG_DFL;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = SIG_IGN; /* reloads are the parent's business */
  sigaction(SIGHUP, &sa, NULL);
}

static void fork_child(hotssl_manager *m, int lfd, int fd, const cli_serve_opts *o, long long deadline,
                       long long t_fork) {
  hotssl_generation *g;
  int rc;
  cli_phase_mark(CLI_PHASE_MAIN);
  /* First thing: the random generator (and the wake-up pipe). */
  if (hotssl_manager_after_fork_child(m) != 0)
    _exit(1);
  cli_watch_after_fork_child(o->watcher);
  child_signals();
  close(lfd);
  /* Everything else the parent had open (signal pipe, watcher's inotify
   * descriptor and pipes) is the parent's: keep only stdio and the
   * connection. The library closed its own wake-up pipe above. */
  if (fd != 3) {
    if (dup2(fd, 3) < 0)
      _exit(1);
    close(fd);
    fd = 3;
  }
  close_range(4, ~0u, 0);
  g = hotssl_manager_acquire(m); /* the generation current at fork time */
  rc = cli_serve_connection_live(g, fd, o->starttls_postgres, deadline, m, 1);
  hotssl_generation_release(g);
  close(fd);
  cli_phase_report("fork", t_fork);
  fflush(stderr);
  _exit(rc == 0 ? 0 : 1);
}

typedef struct fork_mode {
  hotssl_manager *m;
  int lfd;
  const cli_serve_opts *o;
  pidlist kids;
} fork_mode;

static void fork_reap(void *ctx) { reap_forked(&((fork_mode *)ctx)->kids, 0); }

static void fork_one(void *ctx, int fd) {
  fork_mode *f = ctx;
  long long deadline = cli_handshake_deadline(f->o->handshake_timeout), t_fork;
  pid_t pid;
  if (cli_refuse_over_limit(f->kids.n, f->o, fd))
    return;
  t_fork = cli_phase_now();
  hotssl_manager_before_fork(f->m);
  pid = fork();
  if (pid == 0)
    fork_child(f->m, f->lfd, fd, f->o, deadline, t_fork); /* does not return */
  hotssl_manager_after_fork_parent(f->m);
  if (pid < 0)
    cli_log_reason(HOTSSL_LOG_WARNING, "could not fork a child for a connection", strerror(errno));
  else
    pid_add(&f->kids, pid);
  close(fd);
}

static int serve_fork(hotssl_manager *m, int lfd, const cli_serve_opts *o) {
  fork_mode f = {m, lfd, o, {NULL, 0, 0}};
  size_t i;
  cli_phases_enable();
  accept_loop(lfd, fork_reap, fork_one, &f);
  for (i = 0; i < f.kids.n; i++)
    kill(f.kids.v[i], SIGTERM);
  while (f.kids.n > 0 && waitpid(-1, NULL, 0) > 0)
    ;
  free(f.kids.v);
  return 0;
}

/* ---- spawn ---- */

typedef struct spawn_mode {
  cli_spawner sp;
  const cli_serve_opts *o;
} spawn_mode;

static void spawn_reap(void *ctx) { cli_spawner_reap(&((spawn_mode *)ctx)->sp, 0); }

static void spawn_one(void *ctx, int fd) {
  spawn_mode *s = ctx;
  if (!cli_refuse_over_limit(s->sp.n, s->o, fd))
    cli_spawner_serve(&s->sp, fd);
}

static int serve_spawn(hotssl_manager *m, int lfd, const cli_serve_opts *o) {
  spawn_mode s;
  char line[4200];
  int found, is_static;

  s.o = o;
  if (cli_spawner_init(&s.sp, m, o) != 0)
    return 1;
  if ((found = cli_backend_program(s.sp.exe, sizeof s.sp.exe, &is_static)) < 0) {
    fprintf(stderr, "hotssl serve: cannot find my own executable\n");
    return 1;
  }
  snprintf(line, sizeof line, "spawned backends run %s (%s)", s.sp.exe,
           found ? (is_static ? "statically linked" : "dynamically linked") : "this program");
  cli_log(NULL, HOTSSL_LOG_INFO, line);
  accept_loop(lfd, spawn_reap, spawn_one, &s);
  cli_spawner_stop(&s.sp);
  return 0;
}

int cli_serve_mode(hotssl_manager *m, int listen_fd, const cli_serve_opts *o) {
  if (strcmp(o->mode, "fork") == 0)
    return serve_fork(m, listen_fd, o);
  if (strcmp(o->mode, "spawn") == 0)
    return serve_spawn(m, listen_fd, o);
  fprintf(stderr, "hotssl serve: unknown mode \"%s\"\n", o->mode);
  return 1;
}
