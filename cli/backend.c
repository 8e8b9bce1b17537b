/*
 * `hotssl __backend HANDOFF [--starttls-postgres]`: hidden subcommand run by
 * `hotssl serve --mode spawn` for each connection (never by hand). Builds
 * this backend's own generation from what the parent handed over
 * (hotssl_backend_open) and serves the one connection. A backend that cannot
 * build its generation has no TLS: it logs why and, like PostgreSQL, answers
 * 'N' to an SSLRequest (with --starttls-postgres) or closes the connection.
 * Other backends and the parent are unaffected.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hotssl/platform.h"
#include "cli.h"

int cli_cmd_backend(int argc, char **argv);

int cli_cmd_backend(int argc, char **argv) {
  hotssl_manager_options mo;
  hotssl_manager *m = NULL;
  hotssl_generation *g;
  struct sigaction sa;
  char err[600], line[800];
  int fd = -1, r, starttls = 0, i;

  if (argc < 2) {
    fprintf(stderr, "hotssl __backend: internal subcommand of `hotssl serve --mode spawn`\n");
    return 2;
  }
  for (i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--starttls-postgres") == 0)
      starttls = 1;
    else
      return 2;
  }
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = SIG_IGN; /* reloads are the parent's business */
  sigaction(SIGHUP, &sa, NULL);
  sigaction(SIGPIPE, &sa, NULL);
  memset(&mo, 0, sizeof mo);
  mo.log = cli_log;
  r = hotssl_backend_open(argv[1], &fd, &m, &mo, err, sizeof err);
  if (r != 0) {
    snprintf(line, sizeof line, "this backend has no TLS: %s", err);
    cli_log(NULL, HOTSSL_LOG_ERROR, line);
    if (fd >= 0) {
      if (starttls && cli_read_sslrequest(fd) == 0 && send(fd, "N", 1, MSG_NOSIGNAL) == 1)
        cli_log(NULL, HOTSSL_LOG_INFO, "answered the SSLRequest with 'N'");
      close(fd);
    }
    return 1;
  }
  g = hotssl_manager_acquire(m);
  snprintf(line, sizeof line, "backend serving generation %llu",
           (unsigned long long)hotssl_generation_number(g));
  cli_log(NULL, HOTSSL_LOG_DEBUG, line);
  r = cli_serve_connection(g, fd, starttls);
  hotssl_generation_release(g);
  close(fd);
  hotssl_manager_destroy(m);
  return r == 0 ? 0 : 1;
}
