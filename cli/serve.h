/*
 * Pieces of `hotssl serve` shared between thread mode (serve.c), the fork
 * and spawn modes (serve_modes.c) and the watcher glue (watch.c).
 */
#ifndef HOTSSL_CLI_SERVE_H
#define HOTSSL_CLI_SERVE_H

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
