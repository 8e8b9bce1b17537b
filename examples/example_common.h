/*
 * What the example servers share: their log line, listener and signals
 * (POSIX: example_common.c) and the TLS echo a connection gets (prefork
 * worker, spawned or host-started backend; with the handshake deadline in
 * example_common.c, without it for Windows in example_tls.c).
 */
#ifndef HOTSSL_EXAMPLE_COMMON_H
#define HOTSSL_EXAMPLE_COMMON_H

#include <hotssl/hotssl.h>

/* hotssl_manager_options.log: "TAG[pid] LEVEL: msg" on stderr; ud is the
 * tag (a const char *). */
void example_log(void *ud, hotssl_log_level lv, const char *msg);

#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

/* One connection: handshake with g's configuration within
 * example_handshake_timeout_ms() (blocking socket, or non-blocking with a
 * poll loop when nonblocking), then echo until the client closes. Does not
 * close fd (on Windows a SOCKET, as an int). The Windows examples' echo
 * (example_tls.c) has no handshake deadline and ignores nonblocking; the
 * deadline functions below are POSIX (example_common.c). */
void example_tls_echo(hotssl_generation *g, int fd, int nonblocking);

/* The handshake deadline, two ways (docs/embedding.md): 0, an mbedTLS
 * error, or MBEDTLS_ERR_SSL_TIMEOUT when timeout_ms passed first. The
 * blocking one keeps d as the ssl's I/O context (it must outlive ssl). */
typedef struct deadline_net deadline_net;
int example_handshake_blocking(mbedtls_ssl_context *ssl, deadline_net *d, int timeout_ms);
int example_handshake_nonblocking(mbedtls_ssl_context *ssl, mbedtls_net_context *net, int timeout_ms);
/* EXAMPLE_HANDSHAKE_TIMEOUT (seconds) from the environment, default 60 s. */
int example_handshake_timeout_ms(void);

/* A close-on-exec listening socket on 127.0.0.1:port (0: any); *bound gets
 * the port. -1 on failure. */
int example_listen(int port, int *bound);

/* SIGHUP -> on_hup, SIGTERM -> on_term, SIGPIPE ignored. */
void example_signals(void (*on_hup)(int), void (*on_term)(int));

#endif
