/*
 * `hotssl serve`'s portable parts, used by serve.c and serve_modes.c on
 * POSIX and by serve_win32.c on Windows: the options and their checks
 * (cli_serve_args), the start of the manager (cli_serve_open) and the
 * spawn mode's per-connection work (cli_spawner: a snapshot once per
 * generation, hotssl_spawn, the list of running backends). What differs by
 * OS (accepting, waiting, stopping a backend, the modes on offer) stays in
 * the OS's file, through sys.h (sys_posix.c, sys_win32.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hotssl/platform.h"
#include "log.h"
#include "phases.h"
#include "serve.h"

int cli_serve_args(int argc, char **argv, cli_serve_opts *o) {
  static const char *const strategies[] = {"snapshot", "reread", NULL};
  static const char *const backends[] = {"auto", "notify", "inotify", "poll", NULL};
  const char *v[16], *env;
  unsigned long port, n;
  int help, r;

  memset(o, 0, sizeof *o);
  o->watch = -1;
  if ((r = cli_parse_args("serve", cli_serve_options, argc, argv, v, &help)) != 0)
    return r;
  if (help) {
    cli_help(stdout, "serve");
    return -1;
  }
  o->conf = v[0];
  o->listen = v[2] != NULL ? v[2] : "127.0.0.1";
  o->strategy = v[4] != NULL ? v[4] : "snapshot";
  o->starttls_postgres = v[5] != NULL;
  o->allow_core_dumps = v[10] != NULL;
  if (v[0] == NULL || v[1] == NULL) {
    fprintf(stderr, "hotssl serve: %s is required\nTry \"hotssl serve --help\".\n",
            v[0] == NULL ? "-c/--config CONF" : "-p/--port PORT (0 picks a free port)");
    return 2;
  }
  if (cli_parse_uint("serve", "-p/--port", v[1], 0, 65535, &port) != 0)
    return 2;
  o->port = (int)port;
  if (cli_serve_check_mode(v[3], &o->mode) != 0 ||
      cli_parse_choice("serve", "--spawn-strategy", o->strategy, strategies) < 0)
    return 2;
  if (v[4] != NULL && strcmp(o->mode, "spawn") != 0) {
    fprintf(stderr, "hotssl serve: --spawn-strategy applies to --mode spawn only\n");
    return 2;
  }
  if (v[6] != NULL && v[7] != NULL) {
    fprintf(stderr, "hotssl serve: --watch and --no-watch contradict each other\n");
    return 2;
  }
  o->handshake_timeout = 60; /* PostgreSQL's authentication_timeout */
  o->max_connections = 100;  /* PostgreSQL's max_connections */
  if (v[8] != NULL) {
    if (cli_parse_uint("serve", "--handshake-timeout", v[8], 1, 600, &n) != 0)
      return 2;
    o->handshake_timeout = (int)n;
  }
  if (v[9] != NULL) {
    if (cli_parse_uint("serve", "--max-connections", v[9], 1, 262143, &n) != 0)
      return 2;
    o->max_connections = n;
  }
  if (v[6] != NULL)
    o->watch = 1;
  if (v[7] != NULL)
    o->watch = 0;
  o->metrics_listen = v[11];
  env = getenv("HOTSSL_WATCH_BACKEND");
  if (env != NULL && env[0] != '\0' && cli_parse_choice("serve", "the environment variable HOTSSL_WATCH_BACKEND", env, backends) < 0)
    return 2;
  return 0;
}

/* After each reload attempt: its audit record as one INFO line. */
static void log_audit(void *ud, const hotssl_reload_event *ev) {
  char line[4096];
  (void)ud;
  if (HOTSSL_HAS_FIELD(ev, hotssl_reload_event, audit) && ev->audit != NULL) {
    hotssl_reload_audit_line(ev->audit, line, sizeof line);
    cli_log(NULL, HOTSSL_LOG_INFO, line);
  }
}

int cli_serve_open(cli_serve_opts *o, hotssl_manager **out) {
  hotssl_config *cfg = NULL;
  hotssl_manager_options_ex mo = HOTSSL_MANAGER_OPTIONS_EX_INIT;
  char err[600];
  int r;

  *out = NULL;
  if ((r = cli_load_config(o->conf, &cfg)) != 0)
    return r;
  mo.base.log = cli_log;
  mo.on_reload_ex = log_audit;
  if ((r = hotssl_manager_create_ex(out, cfg, &mo, err, sizeof err)) != 0) {
    /* The library already logged the reason; say we refuse to start. */
    fprintf(stderr, "hotssl[%ld]: FATAL:  could not start: %s\n", (long)getpid(), err);
    hotssl_config_destroy(cfg);
    return 1;
  }
  hotssl_manager_diagnose(*out); /* deployment problems, as `check` reports them */
  if (o->watch < 0) {
    const char *v = hotssl_config_get(cfg, "hotssl_watch");
    o->watch = v != NULL && (strcmp(v, "on") == 0 || strcmp(v, "true") == 0 ||
                             strcmp(v, "yes") == 0 || strcmp(v, "1") == 0);
  }
  hotssl_config_destroy(cfg);
  return 0;
}

/* ---- spawn mode ---- */

int cli_refuse_over_limit(size_t live, const cli_serve_opts *o, int fd) {
  if (live < o->max_connections)
    return 0;
  cli_log(NULL, HOTSSL_LOG_WARNING,
          "sorry, too many clients already (--max-connections); connection closed");
  cli_sock_close(fd);
  return 1;
}

int cli_spawner_init(cli_spawner *s, hotssl_manager *m, const cli_serve_opts *o) {
  const char *strategy = o->strategy;
  int i = 3;
  memset(s, 0, sizeof *s);
  s->m = m;
  cli_phases_enable();
  if (strcmp(strategy, "snapshot") == 0) {
    s->kind = HOTSSL_SNAPSHOT_CONTENTS;
  } else if (strcmp(strategy, "reread") == 0) {
    s->kind = HOTSSL_SNAPSHOT_PATHS;
  } else {
    fprintf(stderr, "hotssl serve: unknown spawn strategy \"%s\" (snapshot or reread)\n", strategy);
    return -1;
  }
  s->argv[0] = s->exe;
  s->argv[1] = "__backend";
  s->argv[2] = HOTSSL_SPAWN_HANDOFF_ARG;
  snprintf(s->timeout_arg, sizeof s->timeout_arg, "%d", o->handshake_timeout);
  s->argv[i++] = "--handshake-timeout";
  s->argv[i++] = s->timeout_arg;
  if (o->starttls_postgres)
    s->argv[i++] = "--starttls-postgres";
  if (o->allow_core_dumps) /* an exec'd backend is dumpable again unless it is told */
    s->argv[i++] = "--allow-core-dumps";
  s->argv[i] = NULL;
  return 0;
}

void cli_spawner_reap(cli_spawner *s, int block) {
  size_t i = 0;
  while (i < s->n) {
    if (hotssl_process_wait(s->v[i], block, NULL) != 0) {
      hotssl_process_destroy(s->v[i]);
      s->v[i] = s->v[--s->n];
    } else {
      i++;
    }
  }
}

void cli_spawner_serve(cli_spawner *s, int fd) {
  hotssl_manager *m = s->m;
  hotssl_process *p = NULL;
  hotssl_spawn_request req;
  hotssl_generation *g;
  uint64_t cur;
  long long t_spawn;
  char err[600];
  int r;

  /* The last good generation's snapshot, taken once per generation. */
  g = hotssl_manager_acquire(m);
  cur = hotssl_generation_number(g);
  hotssl_generation_release(g);
  if (s->snap == NULL || hotssl_snapshot_generation(s->snap) != cur) {
    hotssl_snapshot_destroy(s->snap);
    s->snap = NULL;
    if ((r = hotssl_snapshot_take(m, s->kind, &s->snap)) != 0) {
      cli_log_reason(HOTSSL_LOG_WARNING, "could not take a snapshot", hotssl_strerror(r));
      cli_sock_close(fd);
      return;
    }
  }
  req.program = s->exe;
  req.argv = s->argv;
  req.conn_fd = fd;
  req.snapshot = s->snap;
  t_spawn = cli_phase_now();
  r = hotssl_spawn(m, &req, &p, err, sizeof err);
  if (p != NULL)
    cli_phase_spawned(hotssl_process_pid(p), t_spawn, cli_phase_now());
  cli_sock_close(fd);
  if (r != 0)
    cli_log_reason(HOTSSL_LOG_WARNING, "could not start a backend", err);
  if (p == NULL)
    return;
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 64;
    hotssl_process **nv = realloc(s->v, cap * sizeof *nv);
    if (nv == NULL) {
      hotssl_process_wait(p, 1, NULL);
      hotssl_process_destroy(p);
      return;
    }
    s->v = nv;
    s->cap = cap;
  }
  s->v[s->n++] = p;
}

void cli_spawner_stop(cli_spawner *s) {
  size_t i;
  for (i = 0; i < s->n; i++)
    cli_process_stop(hotssl_process_pid(s->v[i]));
  cli_spawner_reap(s, 1);
  free(s->v);
  hotssl_snapshot_destroy(s->snap);
  memset(s, 0, sizeof *s);
}
