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
