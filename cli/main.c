/*
 * hotssl: command-line tool over the library, for operators and for the
 * end-to-end tests. Subcommands: check, info, serve, demo, version, help.
 * Each has its own --help (also `hotssl help CMD`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/version.h>

#include "cli.h"

static const cli_opt check_opts[] = {
    {'c', "config", "CONF", "configuration file (postgresql.conf syntax); required"},
    {'s', "strict", NULL, "exit 3 when there are warnings"},
    {0, NULL, NULL, NULL}};

static const cli_opt info_opts[] = {
    {'c', "config", "CONF", "configuration file (postgresql.conf syntax); required"},
    {'j', "json", NULL, "print one JSON object (for monitoring)"},
    {0, NULL, NULL, NULL}};

/* serve's options are parsed in serve.c; the table lives here with the help. */
const cli_opt cli_serve_options[] = {
    {'c', "config", "CONF", "configuration file (postgresql.conf syntax); required"},
    {'p', "port", "PORT", "TCP port, 0 to 65535 (0: any free port); required"},
    {'l', "listen", "HOST", "address or host name to listen on (default 127.0.0.1)"},
    {'m', "mode", "MODE", "thread (default), fork (one process per connection) or spawn"},
    {'S', "spawn-strategy", "STRATEGY", "spawn mode: snapshot (default) or reread"},
    {'s', "starttls-postgres", NULL, "expect PostgreSQL's SSLRequest before the handshake"},
    {'w', "watch", NULL, "watch the files and reload on change (overrides hotssl_watch)"},
    {'n', "no-watch", NULL, "do not watch the files (reload on SIGHUP only)"},
    {0, NULL, NULL, NULL}};

static const cli_opt no_opts[] = {{0, NULL, NULL, NULL}};

static void usage(FILE *f) {
  fprintf(f,
          "hotssl %s: PostgreSQL-grade TLS file handling with live reload, on mbedTLS\n"
          "\n"
          "usage: hotssl COMMAND [OPTIONS]\n"
          "\n"
          "commands:\n"
          "  check -c CONF [--strict]     load the configuration and its files, report problems\n"
          "  info  -c CONF [--json]       print facts about the served certificate\n"
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
     "certificate file that does not lead to a CA, CRL next update near or past.\n"
     "Run it before a reload.\n\noptions:\n",
     check_opts, 1, "  3  --strict and at least one warning\n\nenvironment: none.\n"},
    {"info",
     "usage: hotssl info -c CONF [--json]\n\n"
     "Load CONF like `check` and print the served certificate: subject, issuer,\n"
     "serial (hex), validity, days and seconds left, SHA-256 fingerprint, key\n"
     "type and size, chain length, CA count, CRL entries and next update, and\n"
     "the warnings. --json prints the same as one JSON object, for monitoring\n"
     "(e.g. alert when \"days_left\" < 14). With ssl_sni, every entry of the\n"
     "hosts file too (line, names, subject, serial, expiry, client CA; \"hosts\").\n\noptions:\n",
     info_opts, 1, "\nenvironment: none.\n"},
    {"serve",
     "usage: hotssl serve -c CONF -p PORT [--listen HOST] [--mode thread|fork|spawn]\n"
     "                    [--spawn-strategy snapshot|reread] [--starttls-postgres]\n"
     "                    [--watch | --no-watch]\n\n"
     "A TLS echo server: prints \"listening on HOST:PORT\", serves each connection\n"
     "with the configuration current when it was accepted, and reloads:\n"
     "  - on SIGHUP (trigger: signal), like PostgreSQL's pg_ctl reload;\n"
     "  - on file change, when hotssl_watch is on (the default) or --watch\n"
     "    (trigger: file change).\n"
     "A reload that fails keeps the last good configuration serving and logs\n"
     "one line naming the file and the reason. Logs go to stderr. SIGTERM or\n"
     "SIGINT stop it (exit 0).\n\noptions:\n",
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

void cli_log(void *ud, hotssl_log_level level, const char *msg) {
  (void)ud;
  /* One fprintf per line: stdio locks the stream, lines do not interleave. */
  fprintf(stderr, "hotssl[%ld]: %s:  %s\n", (long)getpid(), hotssl_log_level_name(level), msg);
}

int cli_load_config(const char *path, hotssl_config **out) {
  char err[600];
  hotssl_config *cfg;
  int r;
  *out = NULL;
  if (path == NULL) {
    fprintf(stderr, "hotssl: no configuration file given (-c CONF)\n");
    return 2;
  }
  if ((r = hotssl_config_create(&cfg)) != 0) {
    fprintf(stderr, "hotssl: %s\n", hotssl_strerror(r));
    return 1;
  }
  if ((r = hotssl_config_load_file(cfg, path, err, sizeof err)) != 0) {
    fprintf(stderr, "hotssl: FATAL:  %s\n", err);
    hotssl_config_destroy(cfg);
    return 1;
  }
  *out = cfg;
  return 0;
}

/* Warnings the library logged while loading, kept for `check`. */
typedef struct warn_list {
  char lines[16][600];
  int n, dropped;
} warn_list;

static void collect_warnings(void *ud, hotssl_log_level level, const char *msg) {
  warn_list *w = ud;
  if (level < HOTSSL_LOG_WARNING)
    return;
  if (w->n < 16)
    snprintf(w->lines[w->n++], sizeof w->lines[0], "%s", msg);
  else
    w->dropped++;
}

static int open_manager(const char *conf, hotssl_manager **m, warn_list *warnings) {
  hotssl_config *cfg;
  hotssl_manager_options o = {0};
  char err[600];
  int r;
  if ((r = cli_load_config(conf, &cfg)) != 0)
    return r;
  o.log = collect_warnings;
  o.log_userdata = warnings;
  r = hotssl_manager_create(m, cfg, &o, err, sizeof err);
  hotssl_config_destroy(cfg);
  if (r != 0) {
    fprintf(stderr, "hotssl: FATAL:  %s\n", err);
    return 1;
  }
  return 0;
}

/* The warning bits: name in `info --json`, text in `info` (followed by
 * " N days" when days is set). */
static const struct {
  unsigned bit;
  const char *name;
  const char *text;
  int days;
} warn_names[] = {
    {HOTSSL_WARN_EXPIRED, "expired", "the certificate has expired", 0},
    {HOTSSL_WARN_NOT_YET_VALID, "not_yet_valid", "the certificate is not yet valid", 0},
    {HOTSSL_WARN_EXPIRING, "expiring", "the certificate expires within", 1},
    {HOTSSL_WARN_WEAK_KEY, "weak_key", "weak key", 0},
    {HOTSSL_WARN_CHAIN, "chain_without_ca", "the chain in the certificate file does not lead to a CA", 0},
    {HOTSSL_WARN_CRL_STALE, "crl_next_update", "a CRL's next update is past or within", 1}};

static int parse_cmd(const char *cmd, const cli_opt *defs, int argc, char **argv, const char **vals) {
  int help, r = cli_parse_args(cmd, defs, argc, argv, vals, &help);
  if (r != 0)
    return r;
  if (help) {
    cli_help(stdout, cmd);
    return -1;
  }
  if (vals[0] == NULL) {
    fprintf(stderr, "hotssl %s: -c/--config CONF is required\nTry \"hotssl %s --help\".\n", cmd, cmd);
    return 2;
  }
  return 0;
}

/* check and info: parse, load, start a manager whose warnings go to *w.
 * 0 with *m and *w (the caller frees both); else the exit code, -1 after
 * printing the help. */
static int open_cmd(const char *cmd, const cli_opt *defs, int argc, char **argv, const char **vals,
                    hotssl_manager **m, warn_list **w) {
  int r = parse_cmd(cmd, defs, argc, argv, vals);
  if (r != 0)
    return r;
  if ((*w = calloc(1, sizeof **w)) == NULL)
    return 1;
  if ((r = open_manager(vals[0], m, *w)) != 0) {
    free(*w);
    *w = NULL;
  }
  return r;
}

int cli_cmd_check(int argc, char **argv) {
  const char *vals[3];
  hotssl_manager *m;
  hotssl_stats st;
  warn_list *w;
  int r = open_cmd("check", check_opts, argc, argv, vals, &m, &w), i, n;
  if (r != 0)
    return r < 0 ? 0 : r;
  hotssl_manager_stats(m, &st);
  n = w->n + w->dropped;
  if (n == 0 && st.warnings != 0)
    n = 1; /* cannot happen: every warning bit is logged at load; be safe */
  printf("configuration OK");
  if (n > 0)
    printf(", with %d warning(s)", n);
  printf("\n");
  for (i = 0; i < w->n; i++)
    printf("WARNING:  %s\n", w->lines[i]);
  if (w->dropped)
    printf("WARNING:  (%d more)\n", w->dropped);
  hotssl_manager_destroy(m);
  free(w);
  return n > 0 && vals[1] != NULL ? 3 : 0;
}

void cli_json_string(FILE *f, const char *v) {
  const unsigned char *p;
  fputc('"', f);
  for (p = (const unsigned char *)v; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(f, "\\%c", *p);
    else if (*p < 0x20)
      fprintf(f, "\\u%04x", *p);
    else
      fputc(*p, f);
  }
  fputc('"', f);
}

static void json_str(const char *key, const char *v, int last) {
  printf("  \"%s\": ", key);
  cli_json_string(stdout, v);
  printf("%s\n", last ? "" : ",");
}

static void unix_to_text(int64_t t, char *buf, size_t len) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
    snprintf(buf, len, "?");
}

int cli_cmd_info(int argc, char **argv) {
  const char *vals[3];
  hotssl_manager *m;
  hotssl_stats st;
  warn_list *w;
  char crl_next[32] = "";
  long long days;
  int r = open_cmd("info", info_opts, argc, argv, vals, &m, &w);
  size_t i;
  if (r != 0)
    return r < 0 ? 0 : r;
  free(w);
  hotssl_manager_stats(m, &st);
  days = (long long)(st.seconds_left >= 0 ? st.seconds_left / 86400 : -((-st.seconds_left + 86399) / 86400));
  if (st.crl_next_update_unix != 0)
    unix_to_text(st.crl_next_update_unix, crl_next, sizeof crl_next);
  if (vals[1] != NULL) {
    int first = 1;
    printf("{\n");
    json_str("subject", st.subject, 0);
    json_str("issuer", st.issuer, 0);
    json_str("serial", st.serial, 0);
    json_str("not_before", st.not_before, 0);
    json_str("not_after", st.not_after, 0);
    printf("  \"not_before_unix\": %lld,\n  \"not_after_unix\": %lld,\n", (long long)st.not_before_unix,
           (long long)st.not_after_unix);
    printf("  \"seconds_left\": %lld,\n  \"days_left\": %lld,\n", (long long)st.seconds_left, days);
    json_str("sha256", st.sha256, 0);
    json_str("key_type", st.key_type, 0);
    printf("  \"key_bits\": %u,\n  \"chain_length\": %u,\n  \"ca_count\": %u,\n", st.key_bits,
           st.chain_length, st.ca_count);
    printf("  \"crl_entries\": %llu,\n", (unsigned long long)st.crl_entries);
    if (st.crl_next_update_unix != 0)
      printf("  \"crl_next_update\": \"%s\",\n  \"crl_next_update_unix\": %lld,\n", crl_next,
             (long long)st.crl_next_update_unix);
    else
      printf("  \"crl_next_update\": null,\n  \"crl_next_update_unix\": null,\n");
    printf("  \"expiry_warning_days\": %u,\n  \"warnings\": [", st.expiry_warning_days);
    for (i = 0; i < sizeof warn_names / sizeof warn_names[0]; i++)
      if (st.warnings & warn_names[i].bit) {
        printf("%s\"%s\"", first ? "" : ", ", warn_names[i].name);
        first = 0;
      }
    printf("],\n");
    cli_print_hosts_json(stdout, m);
    printf("}\n");
  } else {
    printf("subject:       %s\n", st.subject);
    printf("issuer:        %s\n", st.issuer);
    printf("serial:        %s\n", st.serial);
    printf("not before:    %s UTC\n", st.not_before);
    printf("not after:     %s UTC\n", st.not_after);
    printf("days left:     %lld\n", days);
    printf("sha256:        %s\n", st.sha256);
    printf("key:           %s, %u bits\n", st.key_type, st.key_bits);
    printf("chain length:  %u\n", st.chain_length);
    printf("CA count:      %u\n", st.ca_count);
    if (st.crl_next_update_unix != 0)
      printf("CRL:           %llu entries, next update %s UTC\n", (unsigned long long)st.crl_entries, crl_next);
    else
      printf("CRL:           none\n");
    for (i = 0; i < sizeof warn_names / sizeof warn_names[0]; i++) {
      if (!(st.warnings & warn_names[i].bit))
        continue;
      printf("warning:       %s", warn_names[i].text);
      if (warn_names[i].days)
        printf(" %u days", st.expiry_warning_days);
      printf("\n");
    }
    cli_print_hosts(stdout, m);
  }
  hotssl_manager_destroy(m);
  return 0;
}

int main(int argc, char **argv) {
  const char *cmd;
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  cmd = argv[1];
  if (strcmp(cmd, "check") == 0)
    return cli_cmd_check(argc - 1, argv + 1);
  if (strcmp(cmd, "info") == 0)
    return cli_cmd_info(argc - 1, argv + 1);
  if (strcmp(cmd, "__backend") == 0)
    return cli_cmd_backend(argc - 1, argv + 1);
  if (strcmp(cmd, "serve") == 0)
    return cli_cmd_serve(argc - 1, argv + 1);
  if (strcmp(cmd, "demo") == 0)
    return cli_cmd_demo(argc - 1, argv + 1);
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0)
    return cli_cmd_version(argc - 1, argv + 1);
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
    if (argc == 2 || (argc == 3 && (strcmp(argv[2], "-h") == 0 || strcmp(argv[2], "--help") == 0))) {
      usage(stdout);
      return 0;
    }
    if (argc == 3 && cli_help(stdout, argv[2]) == 0)
      return 0;
    fprintf(stderr, "hotssl help: unknown command \"%s\"\n", argv[2]);
    usage(stderr);
    return 2;
  }
  fprintf(stderr, "hotssl: unknown command \"%s\"\n", cmd);
  usage(stderr);
  return 2;
}
