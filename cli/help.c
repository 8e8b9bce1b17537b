/*
 * The CLI's help texts: the overview (cli_usage), each command's help
 * (cli_help) and the option tables they print, shared with the parsers of
 * main.c (check, info) and serve_common.c (serve). Calls only args.c.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

const cli_opt cli_check_options[] = {
    {'c', "config", "CONF", "configuration file (postgresql.conf syntax); required"},
    {'s', "strict", NULL, "exit 3 when there are warnings"},
    {0, NULL, NULL, NULL}};

const cli_opt cli_info_options[] = {
    {'c', "config", "CONF", "configuration file (postgresql.conf syntax); required"},
    {'j', "json", NULL, "print one JSON object (for monitoring)"},
    {'P', "prometheus", NULL, "print the metrics in Prometheus text format, as serve --metrics-listen serves them"},
    {0, NULL, NULL, NULL}};

/* serve's options are parsed in serve_common.c; the table lives here with the help. */
const cli_opt cli_serve_options[] = {
    {'c', "config", "CONF", "configuration file (postgresql.conf syntax); required"},
    {'p', "port", "PORT", "TCP port, 0 to 65535 (0: any free port); required"},
    {'l', "listen", "HOST", "address or host name to listen on (default 127.0.0.1)"},
    {'m', "mode", "MODE", "thread (default), fork (one process per connection) or spawn"},
    {'S', "spawn-strategy", "STRATEGY", "spawn mode: snapshot (default) or reread"},
    {'s', "starttls-postgres", NULL, "expect PostgreSQL's SSLRequest before the handshake"},
    {'w', "watch", NULL, "watch the files and reload on change (overrides hotssl_watch)"},
    {'n', "no-watch", NULL, "do not watch the files (reload on SIGHUP only)"},
    {'t', "handshake-timeout", "SECONDS",
     "close a connection whose TLS handshake is not done SECONDS after accept, 1 to 600 (default 60)"},
    {'N', "max-connections", "N",
     "connections served at once, 1 to 262143 (default 100); more are closed at once"},
    {'C', "allow-core-dumps", NULL, "allow core dumps, for debugging (default: not dumpable)"},
    {'M', "metrics-listen", "ADDR:PORT", "serve /metrics (Prometheus text) over plain HTTP there; no ADDR: 127.0.0.1"},
    {0, NULL, NULL, NULL}};

static const cli_opt no_opts[] = {{0, NULL, NULL, NULL}};

void cli_usage(FILE *f) {
  fprintf(f,
          "hotssl %s: PostgreSQL-grade TLS file handling with live reload, on mbedTLS\n"
          "\n"
          "usage: hotssl COMMAND [OPTIONS]\n"
          "\n"
          "commands:\n"
          "  check -c CONF [--strict]     load the configuration and its files, report problems\n"
          "  info  -c CONF [--json|--prometheus]  print facts about the served certificate\n"
          "  serve -c CONF -p PORT [...]  a TLS echo server that reloads its files live\n"
          "  demo                         a self-contained tour in a temporary folder\n"
          "  version                      print the version (also --version)\n"
          "  help [COMMAND]               this text, or the help of COMMAND\n"
          "\n"
          "`hotssl COMMAND --help` describes a command: its options, exit codes and\n"
          "environment. The manual: man hotssl.\n",
          hotssl_version_string());
}

static const char exit_codes_load[] =
    "exit codes:\n"
    "  0  success\n"
    "  1  the configuration or one of its files cannot be used (the reason is printed)\n"
    "  2  bad usage (unknown option, missing or malformed value)\n";

/* Each command's help: head, then (with options) the options, the exit
 * codes shared by the commands that load a configuration (load_codes) and
 * the tail. */
static const struct {
  const char *cmd;
  const char *head;
  const cli_opt *opts; /* NULL: the head is the whole help */
  int load_codes;
  const char *tail;
} helps[] = {
    {"check",
     "usage: hotssl check -c CONF [--strict]\n\n"
     "Load CONF and every file it names (certificate, key, CA, CRLs) with the\n"
     "same rules as a server start, print \"configuration OK\" and then one\n"
     "line per warning: certificate expired, not yet valid or expiring within\n"
     "hotssl_expiry_warning_days (default 30), weak key, a chain in the\n"
     "certificate file that does not lead to a CA, CRL next update near or past,\n"
     "a CA certificate with nameConstraints (every chain through it is refused);\n"
     "a file bind-mounted alone (Kubernetes subPath), a folder on NFS, CIFS, FUSE\n"
     "or overlay, a root-owned group-readable key, CRLs missing for a CA of\n"
     "ssl_ca_file (every client refused).\n"
     "Run it before a reload.\n\noptions:\n",
     cli_check_options, 1, "  3  --strict and at least one warning\n\nenvironment: none.\n"},
    {"info",
     "usage: hotssl info -c CONF [--json | --prometheus]\n\n"
     "Load CONF like `check` and print the served certificate: subject, issuer,\n"
     "serial (hex), validity, days and seconds left, SHA-256 fingerprint, key\n"
     "type and size, chain length, CA count, CRL entries and next update, and\n"
     "the warnings, and session tickets (on or off, keys, the encrypting key's\n"
     "name and age, counts). --json prints the same as one JSON object, for\n"
     "monitoring (e.g. alert when \"days_left\" < 14). With ssl_sni, every entry\n"
     "of the hosts file too (line, names, subject, serial, expiry, client CA;\n"
     "\"hosts\"). --prometheus prints the metrics once, in Prometheus text\n"
     "format 0.0.4 (docs/operating.md).\n\noptions:\n",
     cli_info_options, 1, "\nenvironment: none.\n"},
    {"serve",
     "usage: hotssl serve -c CONF -p PORT [--listen HOST] [--mode thread|fork|spawn]\n"
     "                    [--spawn-strategy snapshot|reread] [--starttls-postgres]\n"
     "                    [--watch | --no-watch] [--handshake-timeout SECONDS]\n"
     "                    [--max-connections N] [--allow-core-dumps]\n"
     "                    [--metrics-listen ADDR:PORT]\n\n"
     "A TLS echo server: prints \"listening on HOST:PORT\", serves each connection\n"
     "with the configuration current when it was accepted, and reloads:\n"
     "  - on SIGHUP (trigger: signal), like PostgreSQL's pg_ctl reload;\n"
     "  - on file change, when hotssl_watch is on (the default) or --watch\n"
     "    (trigger: file change).\n"
     "A reload that fails keeps the last good configuration serving and logs\n"
     "one line naming the file and the reason. Logs go to stderr. SIGTERM or\n"
     "SIGINT stop it (exit 0).\n"
     "Like PostgreSQL, it closes a client that has not finished its handshake\n"
     "within --handshake-timeout (authentication_timeout), and closes new\n"
     "connections beyond --max-connections (max_connections) with the log line\n"
     "\"sorry, too many clients already\". At the descriptor limit (EMFILE) it\n"
     "closes new connections at once, logs that every 10 s, and serves again\n"
     "when descriptors free up. Each reload also logs its audit record (\"SSL\n"
     "reload audit: ...\": generations, serials, changed files). --metrics-listen\n"
     "serves /metrics in Prometheus text format (docs/operating.md).\n\noptions:\n",
     cli_serve_options, 1,
     "\nenvironment:\n"
     "  HOTSSL_WATCH_BACKEND   file watcher backend: auto (default), notify\n"
     "                         (also inotify) or poll; any other value is an error\n"},
    {"demo",
     "usage: hotssl demo\n\n"
     "A tour in a temporary folder: makes a CA and a server certificate, serves\n"
     "them on 127.0.0.1, connects a verifying client, rotates the certificate\n"
     "and key on disk (the file watcher picks it up: no API call, no signal),\n"
     "breaks the certificate file and shows that the last good configuration\n"
     "keeps serving. Removes the folder at the end.\n\n"
     "options:\n",
     no_opts, 0,
     "exit codes:\n  0  every step behaved as promised\n  1  a step failed (it says which)\n"
     "  2  bad usage\n\nenvironment: none.\n"},
    {"version",
     "usage: hotssl version   (or hotssl --version, -V)\n\n"
     "Print hotssl's version, the mbedTLS it was built against and linked with,\n"
     "whether TLS 1.3 is available and which X25519 code it uses; exit 0.\n",
     NULL, 0, NULL},
    {"help",
     "usage: hotssl help [COMMAND]\n\nPrint the overview, or COMMAND's help; exit 0 "
     "(2 for an unknown COMMAND).\n",
     NULL, 0, NULL},
};

int cli_help(FILE *f, const char *cmd) {
  size_t i;
  for (i = 0; i < sizeof helps / sizeof helps[0]; i++) {
    if (strcmp(cmd, helps[i].cmd) != 0)
      continue;
    fputs(helps[i].head, f);
    if (helps[i].opts != NULL) {
      cli_print_options(f, helps[i].opts);
      fprintf(f, "\n%s%s", helps[i].load_codes ? exit_codes_load : "", helps[i].tail);
    }
    return 0;
  }
  return -1;
}
