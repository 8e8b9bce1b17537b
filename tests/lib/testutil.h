/*
 * Helpers for the C tests: checks that report file:line, temporary
 * directories, file copies, a loopback TLS server that serves through a
 * hotssl manager (acquire per connection), and an mbedTLS client that returns
 * the serial of the certificate it was served. Every test program is its own
 * process (ctest), so these helpers may use globals.
 */
#ifndef HOTSSL_TESTUTIL_H
#define HOTSSL_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hotssl/hotssl.h"

extern int tu_failures;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      tu_failures++;                                                           \
    }                                                                          \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                     \
  do {                                                                         \
    long long a_ = (long long)(a), b_ = (long long)(b);                        \
    if (a_ != b_) {                                                            \
      fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n",        \
              __FILE__, __LINE__, #a, #b, a_, b_);                             \
      tu_failures++;                                                           \
    }                                                                          \
  } while (0)

/* Print "N passed, N failed" and return the exit status. */
int tu_finish(const char *name, int checks_run);

/* Directory holding the test certificates: the generated PostgreSQL-shaped
 * set or PostgreSQL's own files (HOTSSL_TESTDATA or the
 * path compiled in). Exits the test with failure if it is missing. */
const char *tu_testdata(void);
/* New empty temporary directory (removed by tu_rmtree). */
char *tu_mkdtemp(void);
void tu_rmtree(const char *dir);
char *tu_path(const char *dir, const char *name); /* malloc'ed */
void tu_copy(const char *from, const char *to, int mode);
/* Copy PostgreSQL's test file testdata_name to dir/name with mode. */
void tu_put_testdata(const char *dir, const char *name, const char *testdata_name, int mode);
void tu_write(const char *path, const char *text, int mode);
/* RFC 7919 ffdhe2048 as DER (certgen_dh_der), for ssl_dh_params_file. */
void tu_write_dh_params(const char *path);
/* Write to a temporary name, then rename over path (atomic replace). */
void tu_write_atomic(const char *path, const char *text, int mode);
uint64_t tu_now_ms(void);
/* Make memo (core/inputs.h's hotssl__file_memo) carry path's identity as
 * it is on disk now (dev, inode, size, mtime, ctime), as if recorded one
 * 4 ms timestamp tick after the file's last change: what a memo of a file
 * rewritten within its tick looks like, which the racy rule must distrust.
 * Exits the test if path cannot be stat'ed. */
struct hotssl__file_memo;
void tu_memo_racy(struct hotssl__file_memo *memo, const char *path);

/* Two valid pairs from PostgreSQL's test certificates in dir: a.crt/a.key
 * (serial TU_SERIAL_A) and b.crt/b.key (TU_SERIAL_B); TU_CONF_A / TU_CONF_B
 * select one. Writes dir/hotssl.conf with TU_CONF_A, creates a manager from
 * it (log may be NULL) and returns the conf path (malloc'ed), or NULL. */
#define TU_SERIAL_A "2023071316352302" /* server-cn-only.crt */
#define TU_SERIAL_B "2023071316352300" /* server-cn-and-alt-names.crt */
#define TU_CONF_A "ssl_cert_file = 'a.crt'\nssl_key_file = 'a.key'\n"
#define TU_CONF_B "ssl_cert_file = 'b.crt'\nssl_key_file = 'b.key'\n"
char *tu_two_pairs_manager(const char *dir, hotssl_log_fn log, hotssl_manager **m);

/* Sign a CRL with the openssl CLI: dir holds ca.crt, ca.key and index.txt
 * (openssl ca's database: "R\t<exp>\t<revoked>\t<serial hex>\tunknown\t/CN=..."
 * lines); writes dir/crl.pem. Returns 0 or -1 (openssl's output in ca.log). */
int tu_openssl_gencrl(const char *dir);

/* Log collector: keeps every line; thread-safe. */
void tu_log(void *ud, hotssl_log_level level, const char *msg);
int tu_log_count(const char *substring);
void tu_log_clear(void);

/* Loopback TLS server: `threads` threads each accept, acquire the current
 * generation, handshake, write "ok", release. */
typedef struct tu_server tu_server;
/* A listening TCP socket on 127.0.0.1, an ephemeral port (*port); exits
 * the test on failure. */
int tu_listen_loopback(int backlog, int *port);
tu_server *tu_server_start(hotssl_manager *m, int threads);
int tu_server_port(const tu_server *s);
uint64_t tu_server_handshake_failures(const tu_server *s);
void tu_server_stop(tu_server *s);

/* Connect, handshake, read "ok". serial gets the served certificate's serial
 * in hex (as openssl prints it). Returns 0 or an mbedTLS error. ca_file may be
 * NULL (no verification). */
int tu_client_serial(int port, const char *ca_file, char *serial, size_t len);
/* Same, presenting a client certificate (cert_file/key_file may be NULL). */
int tu_client_ex(int port, const char *ca_file, const char *cert_file,
                 const char *key_file, char *serial, size_t len);
/* Handshake only (no verification, nothing read): for servers that do not
 * write first, e.g. `hotssl serve`'s echo. */
int tu_client_handshake(int port, char *serial, size_t len);
/* Same, sending server_name (SNI) when not NULL. */
int tu_client_sni(int port, const char *ca_file, const char *cert_file, const char *key_file,
                  const char *server_name, char *serial, size_t len);

#endif
