/*
 * hotssl: command-line tool over the library, for operators and for the
 * end-to-end tests. Subcommands: check, info, serve, demo.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: hotssl check -c CONF\n"
          "       hotssl info -c CONF\n"
          "       hotssl serve -c CONF -p PORT [--mode thread|fork|spawn] [--starttls-postgres]\n"
          "                    [--no-watch] [--spawn-strategy snapshot|reread]\n"
          "       hotssl demo\n"
          "       hotssl version\n");
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

static const char *conf_arg(int argc, char **argv) {
  int i;
  for (i = 1; i < argc; i++) {
    if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
      return argv[i + 1];
  }
  return NULL;
}

static int open_manager(int argc, char **argv, hotssl_manager **m, int quiet) {
  hotssl_config *cfg;
  hotssl_manager_options o = {0};
  char err[600];
  int r;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
      i++;
      continue;
    }
    fprintf(stderr, "hotssl: unknown argument \"%s\"\n", argv[i]);
    usage(stderr);
    return 2;
  }
  if ((r = cli_load_config(conf_arg(argc, argv), &cfg)) != 0)
    return r;
  o.log = quiet ? NULL : cli_log;
  r = hotssl_manager_create(m, cfg, &o, err, sizeof err);
  hotssl_config_destroy(cfg);
  if (r != 0) {
    fprintf(stderr, "hotssl: FATAL:  %s\n", err);
    return 1;
  }
  return 0;
}

int cli_cmd_check(int argc, char **argv) {
  hotssl_manager *m;
  int r = open_manager(argc, argv, &m, 1);
  if (r != 0)
    return r;
  printf("configuration OK\n");
  hotssl_manager_destroy(m);
  return 0;
}

int cli_cmd_info(int argc, char **argv) {
  hotssl_manager *m;
  hotssl_stats st;
  int r = open_manager(argc, argv, &m, 1);
  if (r != 0)
    return r;
  hotssl_manager_stats(m, &st);
  printf("subject:     %s\n", st.subject);
  printf("issuer:      %s\n", st.issuer);
  printf("serial:      %s\n", st.serial);
  printf("not before:  %s UTC\n", st.not_before);
  printf("not after:   %s UTC\n", st.not_after);
  printf("sha256:      %s\n", st.sha256);
  if (st.not_after_unix < (int64_t)time(NULL))
    printf("warning:     the certificate has expired\n");
  cli_print_hosts(stdout, m);
  hotssl_manager_destroy(m);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (strcmp(argv[1], "check") == 0)
    return cli_cmd_check(argc - 1, argv + 1);
  if (strcmp(argv[1], "info") == 0)
    return cli_cmd_info(argc - 1, argv + 1);
  if (strcmp(argv[1], "__backend") == 0) { extern int cli_cmd_backend(int, char **); return cli_cmd_backend(argc - 1, argv + 1); }
  if (strcmp(argv[1], "serve") == 0)
    return cli_cmd_serve(argc - 1, argv + 1);
  if (strcmp(argv[1], "demo") == 0)
    return cli_cmd_demo(argc - 1, argv + 1);
  if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
    printf("hotssl %s\n", hotssl_version_string());
    return 0;
  }
  if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "hotssl: unknown command \"%s\"\n", argv[1]);
  usage(stderr);
  return 2;
}
