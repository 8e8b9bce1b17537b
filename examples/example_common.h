/*
 * What the example servers share: their log line, listener and signals
 * (POSIX: example_common.c) and the TLS echo a connection gets (prefork
 * worker, spawned or host-started backend; example_tls.c, also on Windows).
 */
#ifndef HOTSSL_EXAMPLE_COMMON_H
#define HOTSSL_EXAMPLE_COMMON_H

#include <hotssl/hotssl.h>

/* hotssl_manager_options.log: "TAG[pid] LEVEL: msg" on stderr; ud is the
 * tag (a const char *). */
void example_log(void *ud, hotssl_log_level lv, const char *msg);

/* One connection: handshake with g's configuration, then echo until the
 * client closes. Does not close fd (on Windows a SOCKET, as an int). */
void example_tls_echo(hotssl_generation *g, int fd);

/* A close-on-exec listening socket on 127.0.0.1:port (0: any); *bound gets
 * the port. -1 on failure. */
int example_listen(int port, int *bound);

/* SIGHUP -> on_hup, SIGTERM -> on_term, SIGPIPE ignored. */
void example_signals(void (*on_hup)(int), void (*on_term)(int));

#endif
