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
/* Listening socket on 127.0.0.1:port (close-on-exec); -1 on error. */
int cli_listen(int port, int *actual_port);
/* accept4 (close-on-exec) with TCP_NODELAY set on the new socket; -1 on error. */
int cli_accept(int lfd);

/* Fork and spawn modes: accept loop until cli_term_fd() is readable.
 * Must dispatch reload requests (hotssl_manager_wakeup_fd) in the parent. */
int cli_serve_mode(hotssl_manager *m, int listen_fd, const cli_serve_opts *o);

/* File watching for serve (watch.c). */
typedef struct cli_watch cli_watch;
int cli_watch_start(hotssl_manager *m, cli_watch **out);
void cli_watch_stop(cli_watch *w); /* NULL ok */
/* In a forked child: drop the parent's watcher (descriptors and memory)
 * without touching its thread, which does not exist in the child. */
void cli_watch_after_fork_child(cli_watch *w); /* NULL ok */

#endif
