/*
 * A forking (prefork) TLS echo server embedding hotssl.
 *   prefork_server CONF [WORKERS]
 * The parent loads the configuration, listens on 127.0.0.1 (port printed),
 * forks WORKERS workers that accept on the shared socket, and reloads on
 * SIGHUP. Each worker re-creates its random generator after fork
 * (hotssl_manager_after_fork_child) and, at every accept, checks for a newer
 * generation published by the parent (hotssl_prefork_check: one atomic
 * load; a rebuild from the parent's last good snapshot when there is one).
 * A connection keeps the generation it started with until it ends.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hotssl/hotssl.h>
#include <hotssl/platform.h>

#include "example_common.h"

static volatile sig_atomic_t stop;
static hotssl_manager *mgr;

static void on_hup(int s) { (void)s; hotssl_manager_request_reload(mgr); }
static void on_term(int s) { (void)s; stop = 1; }

static void worker(hotssl_prefork *pf, int lfd) {
  struct sigaction sa = {0};
  sa.sa_handler = SIG_IGN; /* reloads are the parent's */
  sigaction(SIGHUP, &sa, NULL);
  sa.sa_handler = SIG_DFL;
  sigaction(SIGTERM, &sa, NULL);
  if (hotssl_manager_after_fork_child(mgr) != 0)
    _exit(1);
  for (;;) {
    int fd = accept(lfd, NULL, NULL), one = 1;
    hotssl_generation *g;
    if (fd < 0)
      continue;
    /* mbedTLS sends each handshake message on its own: without this, Nagle
     * and the client's delayed ACK add ~40 ms to every handshake. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    hotssl_prefork_check(pf, mgr); /* cheap unless the parent reloaded */
    g = hotssl_manager_acquire(mgr);
    example_tls_echo(g, fd, 1); /* the non-blocking deadline loop */
    hotssl_generation_release(g);
    close(fd);
  }
}

int main(int argc, char **argv) {
  hotssl_config *cfg;
  hotssl_manager_options mo = {0};
  hotssl_prefork *pf;
  int port;
  char err[512];
  int lfd, i, nworkers = argc > 2 ? atoi(argv[2]) : 4;
  pid_t *pids;

  if (argc < 2 || nworkers < 1) {
    fprintf(stderr, "usage: %s CONF [WORKERS]\n", argv[0]);
    return 2;
  }
  mo.log = example_log;
  mo.log_userdata = (void *)"prefork";
  if (hotssl_config_create(&cfg) != 0 || hotssl_config_load_file(cfg, argv[1], err, sizeof err) != 0 ||
      hotssl_manager_create(&mgr, cfg, &mo, err, sizeof err) != 0) {
    fprintf(stderr, "could not start: %s\n", err);
    return 1;
  }
  hotssl_config_destroy(cfg);
  if (hotssl_prefork_create(&pf, mgr, 0) != 0)
    return 1;
  if ((lfd = example_listen(0, &port)) < 0)
    return 1;
  example_signals(on_hup, on_term);
  pids = calloc((size_t)nworkers, sizeof *pids);
  for (i = 0; i < nworkers; i++) {
    hotssl_manager_before_fork(mgr);
    pids[i] = fork();
    if (pids[i] == 0)
      worker(pf, lfd);
    hotssl_manager_after_fork_parent(mgr);
  }
  printf("listening on 127.0.0.1:%d\n", port);
  fflush(stdout);
  while (!stop) {
    struct pollfd p = {hotssl_manager_wakeup_fd(mgr), POLLIN, 0};
    if (poll(&p, 1, -1) > 0 && hotssl_manager_dispatch(mgr) == 0)
      hotssl_prefork_publish(pf); /* workers pick it up at their next accept */
  }
  for (i = 0; i < nworkers; i++)
    kill(pids[i], SIGTERM);
  while (wait(NULL) > 0)
    ;
  free(pids);
  close(lfd);
  hotssl_prefork_destroy(pf);
  hotssl_manager_destroy(mgr);
  return 0;
}
