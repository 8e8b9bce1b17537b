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
  const char *listen; /* host or address to listen on (default 127.0.0.1) */
  int port;
  const char *mode; /* "thread" (default), "fork", "spawn" */
  int starttls_postgres;
  int watch;        /* -1: from the configuration (hotssl_watch), 0/1 forced */
  const char *strategy; /* spawn: "snapshot" (default) or "reread" */
  int handshake_timeout;         /* seconds from accept to a finished handshake */
  unsigned long max_connections; /* connections served at once; more are closed */
  struct cli_watch *watcher; /* the parent's watcher, or NULL */
  int allow_core_dumps;      /* --allow-core-dumps: stay dumpable */
  const char *metrics_listen; /* --metrics-listen ADDR:PORT, or NULL */
} cli_serve_opts;

/* One option of a subcommand: short letter, long name, value name (NULL:
 * a flag), help text. Arrays end with lng == NULL. */
typedef struct cli_opt {
  char shrt;
  const char *lng;
  const char *arg;
  const char *help;
} cli_opt;

/* args.c: parse argv[1..] against defs: vals[i] is the value of defs[i] ("" for a
 * flag, NULL when absent). Sets *help on -h/--help. Prints the problem and
 * returns 2 on bad usage, else 0. */
int cli_parse_args(const char *cmd, const cli_opt *defs, int argc, char **argv,
                   const char **vals, int *help);
/* Strict unsigned number in [min, max] ("what" names it in the message);
 * returns 0, or prints the problem and returns 2. */
int cli_parse_uint(const char *cmd, const char *what, const char *text, unsigned long min,
                   unsigned long max, unsigned long *out);
/* Index of text in the NULL-terminated choices, or prints and returns -1. */
int cli_parse_choice(const char *cmd, const char *what, const char *text, const char *const *choices);
void cli_print_options(FILE *f, const cli_opt *defs);

/* help.c: the options of check (c s), info (c j) and serve (c p l m S s w
 * n t N), with the help texts. */
extern const cli_opt cli_check_options[];
extern const cli_opt cli_info_options[];
extern const cli_opt cli_serve_options[];
/* The overview of the commands (hotssl --help). */
void cli_usage(FILE *f);
/* Print the help of a subcommand ("check", ...) to f; -1 if unknown. */
int cli_help(FILE *f, const char *cmd);

/* conf.c: load CONF into a new config; prints the reason and returns
 * non-zero. */
int cli_load_config(const char *path, hotssl_config **out);

/* ssl_sni: the hosts file's entries of m's current generation
 * (cli/hosts_info.c), as text or as the `"hosts": [...]` member of `info
 * --json` (an empty array when there are none). */
void cli_print_hosts(FILE *f, hotssl_manager *m);
void cli_print_hosts_json(FILE *f, hotssl_manager *m);
/* Session tickets of m (cli/tickets_info.c): `info`'s lines, its --json
 * members, and one INFO log line (serve: at start and on SIGUSR1). */
void cli_print_tickets(FILE *f, hotssl_manager *m);
void cli_print_tickets_json(FILE *f, hotssl_manager *m);
void cli_log_tickets(hotssl_manager *m);

int cli_cmd_check(int argc, char **argv);
int cli_cmd_info(int argc, char **argv);
int cli_cmd_serve(int argc, char **argv);
int cli_cmd_demo(int argc, char **argv);
int cli_cmd_version(int argc, char **argv); /* cli/version.c */
int cli_cmd_backend(int argc, char **argv); /* cli/session.c: serve --mode spawn's backend */

/*
 * Serve one accepted connection on fd with generation g: optional
 * PostgreSQL SSLRequest, TLS handshake, then echo until the peer closes.
 * deadline_ms (cli_now_ms's clock; 0: none) bounds everything before the
 * end of the handshake: a client that has not finished it by then is
 * logged and the function returns. Does not close fd and does not release
 * g. Returns 0 when the session ended normally, -1 on handshake or I/O
 * failure or at the deadline (logged through cli_log).
 * In session.c, with cli_read_sslrequest and cli_cmd_backend.
 */
int cli_serve_connection(hotssl_generation *g, int fd, int starttls_postgres, long long deadline_ms);
/* The deadline of a connection accepted now, for timeout_s seconds (0: none). */
long long cli_handshake_deadline(int timeout_s);
/* The same, closing the session when a newer generation of m revokes the
 * client's certificate (cli/serve_revoke.c). reread: m is this process's
 * copy (fork child, spawned backend), reloaded from the files when the
 * shared generation counter moves. m NULL: as cli_serve_connection. */
int cli_serve_connection_live(hotssl_generation *g, int fd, int starttls_postgres,
                              long long deadline_ms, hotssl_manager *m, int reread);

/* PostgreSQL's SSLRequest exchange: read the request (by deadline_ms, 0:
 * none); the caller answers 'S' (accept TLS) or 'N' (no TLS available).
 * Returns 0 when an SSLRequest was read, -2 at the deadline, else -1. */
int cli_read_sslrequest(int fd, long long deadline_ms);

#endif
