/*
 * Internal declarations of the hotssl command-line tool. The CLI is a host
 * of the library like any other: it prints, exits and owns signals; the
 * library does none of that.
 */
#ifndef HOTSSL_CLI_H
#define HOTSSL_CLI_H

#include <stdio.h>

#include "hotssl/hotssl.h"

typedef struct cli_serve_opts {
  const char *conf;
  int port;
  const char *mode; /* "thread" (default), "fork", "spawn" */
  int starttls_postgres;
  int watch;        /* -1: from the configuration (hotssl_watch), 0/1 forced */
  const char *strategy; /* spawn: "snapshot" (default) or "reread" */
  struct cli_watch *watcher; /* the parent's watcher, or NULL */
} cli_serve_opts;

/* Log callback writing "hotssl[pid]: LEVEL:  message" lines to stderr. */
void cli_log(void *ud, hotssl_log_level level, const char *msg);

/* Load CONF into a new config; prints the reason and returns non-zero. */
int cli_load_config(const char *path, hotssl_config **out);

/* ssl_sni: the hosts file's entries of m's current generation (cli/hosts_info.c). */
void cli_print_hosts(FILE *f, hotssl_manager *m);

int cli_cmd_check(int argc, char **argv);
int cli_cmd_info(int argc, char **argv);
int cli_cmd_serve(int argc, char **argv);
int cli_cmd_demo(int argc, char **argv);

/*
 * Serve one accepted connection on fd with generation g: optional
 * PostgreSQL SSLRequest, TLS handshake, then echo until the peer closes.
 * Does not close fd and does not release g. Returns 0 when the session ended
 * normally, -1 on handshake or I/O failure (logged through cli_log).
 */
int cli_serve_connection(hotssl_generation *g, int fd, int starttls_postgres);

/* PostgreSQL's SSLRequest exchange: read the request, answer 'S' (accept
 * TLS) or 'N' (no TLS available). Returns 0 when an SSLRequest was read. */
int cli_read_sslrequest(int fd);

#endif
