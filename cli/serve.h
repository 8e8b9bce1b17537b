/*
 * Pieces of `hotssl serve` shared between thread mode (serve.c), the fork
 * and spawn modes (serve_modes.c), Windows (serve_win32.c), one connection
 * and the spawned backend (session.c) and the watcher glue (watch.c).
 */
#ifndef HOTSSL_CLI_SERVE_H
#define HOTSSL_CLI_SERVE_H

#include "hotssl/platform.h"
#include "cli.h"

/* Install SIGHUP (request reload), SIGTERM/SIGINT (shutdown), ignore SIGPIPE. */
int cli_install_signals(hotssl_manager *m);
/* Readable once SIGTERM or SIGINT arrived. */
int cli_term_fd(void);
/* Listening socket on host:port (close-on-exec; host NULL: 127.0.0.1);
 * -1 on error (errno set; a name that does not resolve: EADDRNOTAVAIL).
 * shown (may be NULL) gets "ADDR:PORT" as bound ("[ADDR]:PORT" for IPv6). */
int cli_listen(const char *host, int port, int *actual_port, char *shown, size_t shownlen);
/* accept4 (close-on-exec) with TCP_NODELAY set on the new socket; -1 on error. */
int cli_accept(int lfd);

/* What session.c needs of the OS, defined by serve.c (POSIX) and
 * serve_win32.c (Windows); fd is a connected socket as cli_serve_connection
 * takes it. */
/* Up to n bytes: their count, 0 at the end, -1 on error (EINTR retried). */
int cli_sock_recv(int fd, void *buf, size_t n);
/* One byte: 0, or -1 on error (never raises SIGPIPE). */
int cli_sock_send_byte(int fd, char c);
void cli_sock_nodelay(int fd); /* TCP_NODELAY, best effort */
void cli_sock_close(int fd);
/* End our sending side (a FIN after what was sent). */
void cli_sock_shutdown_write(int fd);
/* 1 when fd has data or an end to read within ms, else 0. */
int cli_sock_wait_readable(int fd, int ms);
/* `hotssl __backend`: leave reloads and stops to the parent (enter, before
 * anything else) and give back what the OS needs (leave, after a normal
 * end). */
void cli_backend_os_enter(void);
void cli_backend_os_leave(void);

/* serve_common.c: the options of `hotssl serve` with their checks (0; 2
 * on bad usage, printed; -1 after printing the help), then the manager for
 * them (0, or the exit code after printing why), which also settles
 * o->watch from hotssl_watch when no option forced it. */
int cli_serve_args(int argc, char **argv, cli_serve_opts *o);
int cli_serve_open(cli_serve_opts *o, hotssl_manager **out);
/* The OS's --mode check for cli_serve_args: *mode = given, or the OS's
 * default when given is NULL; 0, or 2 after printing the problem. */
int cli_serve_check_mode(const char *given, const char **mode);
/* "WHAT: WHY" through cli_log. */
void cli_log_reason(hotssl_log_level level, const char *what, const char *why);

/* Spawn mode's work for one accepted connection, whatever the OS accepts
 * with: the backend command line (exe, filled by the caller after init),
 * the last good generation's snapshot (taken once per generation) and the
 * running backends. */
typedef struct cli_spawner {
  hotssl_manager *m;
  char exe[4096];
  const char *argv[5];
  unsigned kind; /* HOTSSL_SNAPSHOT_CONTENTS or _PATHS */
  hotssl_snapshot *snap;
  hotssl_process **v;
  size_t n, cap;
} cli_spawner;
/* strategy "snapshot" or "reread" (else printed, -1). */
int cli_spawner_init(cli_spawner *s, hotssl_manager *m, const char *strategy, int starttls_postgres);
/* Hand fd (closed here, in every case) to a new backend; problems are logged. */
void cli_spawner_serve(cli_spawner *s, int fd);
/* Forget the backends that ended (block: wait for all). */
void cli_spawner_reap(cli_spawner *s, int block);
/* Stop every backend (cli_process_stop), wait for them, free everything. */
void cli_spawner_stop(cli_spawner *s);
/* The OS's way to ask a backend to end (SIGTERM; TerminateProcess). */
void cli_process_stop(long pid);

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
