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
#include "json.h"
#include "phases.h"

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
    if (strstr(err, "has group or world access") != NULL)
      fprintf(stderr, "hotssl: HINT:  Kubernetes mounts Secret files with defaultMode 0644 unless told otherwise: set defaultMode to 0600 with the server's user as owner (runAsUser), or 0640/0440 root-owned with fsGroup\n");
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
  int r = open_cmd("check", cli_check_options, argc, argv, vals, &m, &w), i, n;
  if (r != 0)
    return r < 0 ? 0 : r;
  hotssl_manager_diagnose(m); /* deployment problems: more warnings */
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

/* info --prometheus: hotssl_manager_metrics once. */
static int print_metrics(hotssl_manager *m) {
  size_t need = 0;
  char *text;
  int r;
  hotssl_manager_metrics(m, NULL, 0, &need);
  if (need == 0 || (text = malloc(need)) == NULL ||
      (r = hotssl_manager_metrics(m, text, need, NULL)) != 0) {
    fprintf(stderr, "hotssl info: could not write the metrics\n");
    return 1;
  }
  fputs(text, stdout);
  free(text);
  return 0;
}

int cli_cmd_info(int argc, char **argv) {
  const char *vals[4];
  hotssl_manager *m;
  hotssl_stats st;
  warn_list *w;
  char crl_next[32] = "";
  long long days;
  int r = open_cmd("info", cli_info_options, argc, argv, vals, &m, &w);
  size_t i;
  if (r != 0)
    return r < 0 ? 0 : r;
  free(w);
  if (vals[2] != NULL) {
    r = vals[1] != NULL ? (fprintf(stderr, "hotssl info: --json and --prometheus exclude each other\n"), 2)
                        : print_metrics(m);
    hotssl_manager_destroy(m);
    return r;
  }
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
    cli_print_tickets_json(stdout, m);
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
    cli_print_tickets(stdout, m);
    cli_print_hosts(stdout, m);
  }
  hotssl_manager_destroy(m);
  return 0;
}

int main(int argc, char **argv) {
  const char *cmd;
  cli_phase_main(); /* bench/run's phase timings (phases.h) */
  if (argc < 2) {
    cli_usage(stderr);
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
      cli_usage(stdout);
      return 0;
    }
    if (argc == 3 && cli_help(stdout, argv[2]) == 0)
      return 0;
    fprintf(stderr, "hotssl help: unknown command \"%s\"\n", argv[2]);
    cli_usage(stderr);
    return 2;
  }
  fprintf(stderr, "hotssl: unknown command \"%s\"\n", cmd);
  cli_usage(stderr);
  return 2;
}
