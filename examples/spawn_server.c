/*
 * A process-per-connection TLS echo server embedding hotssl, the way a
 * Windows server (or PostgreSQL's EXEC_BACKEND) works: no fork-inherited
 * memory. For each connection the parent starts a new process of this same
 * program (hotssl_spawn, on APR's apr_proc_create) and hands it the socket
 * and the snapshot of the last good generation through an inherited pipe.
 *   spawn_server CONF [snapshot|reread]
 * SIGHUP reloads the parent; new backends get the new generation, running
 * ones keep theirs. A backend that cannot build its generation closes its
 * connection without touching anyone else.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hotssl/hotssl.h>
#include <hotssl/platform.h>

#include "example_common.h"

static volatile sig_atomic_t stop;
static hotssl_manager *mgr;

static void on_hup(int s) { (void)s; hotssl_manager_request_reload(mgr); }
static void on_term(int s) { (void)s; stop = 1; }

/* The backend: build our own generation, serve one connection. */
static int backend(const char *handoff) {
  hotssl_manager_options mo = {0};
  hotssl_manager *m;
  hotssl_generation *g;
  char err[512];
  int fd;
  mo.log = example_log;
  mo.log_userdata = (void *)"spawn";
  if (hotssl_backend_open(handoff, &fd, &m, &mo, err, sizeof err) != 0) {
    if (fd >= 0)
      close(fd); /* no TLS in this backend: the error is logged */
    return 1;
  }
  g = hotssl_manager_acquire(m);
  example_tls_echo(g, fd, 0); /* the blocking deadline read */
  hotssl_generation_release(g);
  hotssl_manager_destroy(m);
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  hotssl_config *cfg;
  hotssl_manager_options mo = {0};
  hotssl_snapshot *snap = NULL;
  hotssl_process *kids[256] = {0};
  int port;
  char err[512], exe[4096];
  const char *bargv[] = {exe, "--backend", HOTSSL_SPAWN_HANDOFF_ARG, NULL};
  unsigned what = HOTSSL_SNAPSHOT_CONTENTS;
  ssize_t n;
  int lfd, i, one = 1;

  if (argc == 3 && strcmp(argv[1], "--backend") == 0)
    return backend(argv[2]);
  if (argc < 2) {
    fprintf(stderr, "usage: %s CONF [snapshot|reread]\n", argv[0]);
    return 2;
  }
  if (argc > 2 && strcmp(argv[2], "reread") == 0)
    what = HOTSSL_SNAPSHOT_PATHS;
  if ((n = readlink("/proc/self/exe", exe, sizeof exe - 1)) <= 0)
    return 1;
  exe[n] = '\0';
  mo.log = example_log;
  mo.log_userdata = (void *)"spawn";
  if (hotssl_config_create(&cfg) != 0 || hotssl_config_load_file(cfg, argv[1], err, sizeof err) != 0 ||
      hotssl_manager_create(&mgr, cfg, &mo, err, sizeof err) != 0) {
    fprintf(stderr, "could not start: %s\n", err);
    return 1;
  }
  hotssl_config_destroy(cfg);
  if ((lfd = example_listen(0, &port)) < 0)
    return 1;
  example_signals(on_hup, on_term);
  printf("listening on 127.0.0.1:%d\n", port);
  fflush(stdout);
  while (!stop) {
    fd_set rs;
    struct timeval tv = {0, 200000}; /* bounds how long an ended backend stays a zombie */
    int wfd = hotssl_manager_wakeup_fd(mgr), fd, slot = -1;
    hotssl_spawn_request req;
    hotssl_generation *g;
    FD_ZERO(&rs);
    FD_SET(wfd, &rs);
    FD_SET(lfd, &rs);
    for (i = 0; i < 256; i++) /* reap ended backends */
      if (kids[i] != NULL && hotssl_process_wait(kids[i], 0, NULL) != 0) {
        hotssl_process_destroy(kids[i]);
        kids[i] = NULL;
      }
    if (select((wfd > lfd ? wfd : lfd) + 1, &rs, NULL, NULL, &tv) <= 0)
      continue;
    if (FD_ISSET(wfd, &rs))
      hotssl_manager_dispatch(mgr);
    if (!FD_ISSET(lfd, &rs) || (fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
      continue;
    /* Kept by the backend's copy of the socket: without it, Nagle and the
     * client's delayed ACK add ~40 ms to every handshake. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    g = hotssl_manager_acquire(mgr); /* one snapshot per generation */
    if (snap == NULL || hotssl_snapshot_generation(snap) != hotssl_generation_number(g)) {
      hotssl_snapshot_destroy(snap);
      snap = NULL;
      hotssl_snapshot_take(mgr, what, &snap);
    }
    hotssl_generation_release(g);
    for (i = 0; i < 256 && slot < 0; i++)
      if (kids[i] == NULL)
        slot = i;
    req.program = exe;
    req.argv = bargv;
    req.conn_fd = fd;
    req.snapshot = snap;
    if (snap == NULL || slot < 0 || hotssl_spawn(mgr, &req, &kids[slot], err, sizeof err) != 0)
      fprintf(stderr, "could not start a backend: %s\n", snap && slot >= 0 ? err : "busy");
    close(fd);
  }
  for (i = 0; i < 256; i++)
    if (kids[i] != NULL) {
      kill((pid_t)hotssl_process_pid(kids[i]), SIGTERM);
      hotssl_process_wait(kids[i], 1, NULL);
      hotssl_process_destroy(kids[i]);
    }
  hotssl_snapshot_destroy(snap);
  close(lfd);
  hotssl_manager_destroy(mgr);
  return 0;
}
