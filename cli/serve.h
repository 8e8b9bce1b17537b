/*
 * Pieces of `hotssl serve` shared between thread mode (serve.c), the fork
 * and spawn modes (serve_modes.c), Windows (serve_win32.c) and the watcher
 * glue (watch.c). Calls point one way: serve.c -> serve_modes.c ->
 * serve_common.c -> sys_posix.c (serve_win32.c -> serve_common.c ->
 * sys_win32.c on Windows); nothing calls back up.
 */
#ifndef HOTSSL_CLI_SERVE_H
#define HOTSSL_CLI_SERVE_H

#include "hotssl/platform.h"
#include "cli.h"
#include "sys.h"

/* serve_common.c: the options of `hotssl serve` with their checks (0; 2
 * on bad usage, printed; -1 after printing the help), then the manager for
 * them (0, or the exit code after printing why), which also settles
 * o->watch from hotssl_watch when no option forced it. */
int cli_serve_args(int argc, char **argv, cli_serve_opts *o);
int cli_serve_open(cli_serve_opts *o, hotssl_manager **out);

/* Spawn mode's work for one accepted connection, whatever the OS accepts
 * with: the backend command line (exe, filled by the caller after init),
 * the last good generation's snapshot (taken once per generation) and the
 * running backends. */
typedef struct cli_spawner {
  hotssl_manager *m;
  char exe[4096];
  char timeout_arg[16];
  const char *argv[8];
  unsigned kind; /* HOTSSL_SNAPSHOT_CONTENTS or _PATHS */
  hotssl_snapshot *snap;
  hotssl_process **v;
  size_t n, cap;
} cli_spawner;
/* strategy "snapshot" or "reread" (else printed, -1); the options' spawn
 * strategy, --starttls-postgres, --handshake-timeout and
 * --allow-core-dumps go to each backend. */
int cli_spawner_init(cli_spawner *s, hotssl_manager *m, const cli_serve_opts *o);
/* Hand fd (closed here, in every case) to a new backend; problems are logged. */
void cli_spawner_serve(cli_spawner *s, int fd);
/* Forget the backends that ended (block: wait for all). */
void cli_spawner_reap(cli_spawner *s, int block);
/* Stop every backend (cli_process_stop), wait for them, free everything. */
void cli_spawner_stop(cli_spawner *s);

/* --max-connections: when live connections are already being served, log
 * PostgreSQL's "sorry, too many clients already", close fd and return 1;
 * else 0. */
int cli_refuse_over_limit(size_t live, const cli_serve_opts *o, int fd);

/* POSIX (serve_modes.c): accepting that survives the descriptor limit.
 * When accept fails with EMFILE or ENFILE, the pending connection would
 * keep the listener readable and the accept loop would spin; instead the
 * acceptor closes its spare descriptor, accepts the connection into it,
 * closes it and reopens the spare (libuv's uv__emfile_trick), and logs
 * that once every CLI_EMFILE_LOG_MS. The first accept that works again is
 * logged too. With no spare to give up it waits 100 ms. */
#define CLI_EMFILE_LOG_MS 10000
typedef struct cli_acceptor {
  int lfd;
  int spare;           /* /dev/null, or -1 */
  int limited;         /* at the limit since the last accept that worked */
  long long logged_ms; /* when the limit was last logged */
  unsigned long shed;  /* connections closed at the limit while limited */
} cli_acceptor;
void cli_acceptor_init(cli_acceptor *a, int lfd);
/* An accepted connection (cli_accept), or -1: nothing to serve now. */
int cli_acceptor_accept(cli_acceptor *a);
void cli_acceptor_free(cli_acceptor *a);

/* Fork and spawn modes: accept loop until cli_term_fd() is readable.
 * Reload requests are served by cli_watch's thread, not here. */
int cli_serve_mode(hotssl_manager *m, int listen_fd, const cli_serve_opts *o);

/* Reloads for serve, on their own thread (watch.c): the file watcher's
 * thread when watch_files is set (it also serves SIGHUP), else a thread
 * that only serves SIGHUP. The accept loops never dispatch. */
typedef struct cli_watch cli_watch;
int cli_watch_start(hotssl_manager *m, int watch_files, cli_watch **out);
void cli_watch_stop(cli_watch *w); /* NULL ok */
/* In a forked child: drop the parent's watcher (descriptors and memory)
 * without touching its thread, which does not exist in the child. */
void cli_watch_after_fork_child(cli_watch *w); /* NULL ok */

#endif
