/*
 * One connection of `hotssl serve`, on every OS and in every mode: the
 * optional PostgreSQL SSLRequest exchange, the TLS handshake and the echo
 * (cli_serve_connection), and `hotssl __backend HANDOFF
 * [--starttls-postgres] [--handshake-timeout SECONDS]`, the hidden
 * subcommand `serve --mode spawn` runs for each connection (never by
 * hand), in hotssl or in hotssl-backend (backend_main.c). The backend builds its own generation from what the parent handed
 * over (hotssl_backend_open) and serves the one connection. A backend that
 * cannot build its generation has no TLS: it logs why and, like
 * PostgreSQL, answers 'N' to an SSLRequest (with --starttls-postgres) or
 * closes the connection. Other backends and the parent are unaffected.
 * Everything before the end of the handshake waits no later than the
 * connection's deadline (--handshake-timeout).
 *
 * Portable: the socket calls and the backend's signal or console set-up
 * that differ by OS are sys.h's cli_sock_* and cli_backend_os_* (sys_posix.c
 * on POSIX, sys_win32.c on Windows).
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#include "hotssl/platform.h"
#include "cli.h"
#include "log.h"
#include "phases.h"
#include "serve_revoke.h"
#include "sys.h"

/* Milliseconds left before deadline_ms (0: no deadline, INT_MAX), at least 0. */
static int ms_left(long long deadline_ms) {
  long long left;
  if (deadline_ms == 0)
    return INT_MAX;
  left = deadline_ms - cli_now_ms();
  return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

/* Wait until fd is readable, or the deadline; 0 when readable. */
static int wait_by(int fd, long long deadline_ms) {
  int left;
  if (deadline_ms == 0)
    return 0;
  while ((left = ms_left(deadline_ms)) > 0)
    if (cli_sock_wait_readable(fd, left))
      return 0;
  return -1;
}

static int read_full(int fd, unsigned char *buf, size_t n, long long deadline_ms) {
  size_t got = 0;
  while (got < n) {
    int r;
    if (wait_by(fd, deadline_ms) != 0)
      return -2;
    r = cli_sock_recv(fd, buf + got, n - got);
    if (r <= 0)
      return -1;
    got += (size_t)r;
  }
  return 0;
}

long long cli_handshake_deadline(int timeout_s) {
  return timeout_s > 0 ? cli_now_ms() + 1000LL * timeout_s : 0;
}

/* Returns 0 (an SSLRequest), -2 at the deadline, -1 otherwise. */
int cli_read_sslrequest(int fd, long long deadline_ms) {
  unsigned char b[8];
  for (;;) {
    uint32_t len, code;
    int r;
    if ((r = read_full(fd, b, 8, deadline_ms)) != 0)
      return r;
    len = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    code = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
    if (len != 8)
      return -1;
    if (code == 80877103u) /* SSLRequest */
      return 0;
    if (code == 80877104u) { /* GSSENCRequest: refuse, the client may retry with SSL */
      if (cli_sock_send_byte(fd, 'N') != 0)
        return -1;
      continue;
    }
    return -1;
  }
}

/* The receive side of a connection with the handshake deadline: mbedTLS
 * calls recv_by_deadline, which waits for data no later than the deadline
 * and then fails with MBEDTLS_ERR_SSL_TIMEOUT (a stream connection has no
 * retransmission: the handshake ends there). deadline_ms 0: no deadline. */
typedef struct deadline_net {
  mbedtls_net_context net;
  long long deadline_ms;
} deadline_net;

static int recv_by_deadline(void *ctx, unsigned char *buf, size_t len, uint32_t timeout) {
  deadline_net *d = ctx;
  (void)timeout; /* the configuration's read timeout: unset, the deadline rules */
  if (wait_by(d->net.fd, d->deadline_ms) != 0)
    return MBEDTLS_ERR_SSL_TIMEOUT;
  return mbedtls_net_recv(&d->net, buf, len);
}

static void log_deadline(void) {
  cli_log(NULL, HOTSSL_LOG_WARNING,
          "canceling authentication due to timeout: no TLS handshake by the deadline "
          "(--handshake-timeout); connection closed");
}

/* After a refused handshake. A TLS 1.3 client sends its first data right
 * after its Finished, before it can learn that its certificate was refused;
 * closing a socket with that data unread makes the kernel answer with a
 * reset, which can destroy the alert still in flight (the client then
 * reports "connection reset" instead of the reason). So end our side after
 * the alert and read what the client still sends until it closes: at most
 * 256 KB, no more than a second of silence, and not past the deadline. */
static void drain_after_refusal(int fd, long long deadline_ms) {
  unsigned char buf[4096];
  size_t total = 0;
  cli_sock_shutdown_write(fd);
  while (total < 256 * 1024 && ms_left(deadline_ms) > 0 &&
         cli_sock_wait_readable(fd, ms_left(deadline_ms) < 1000 ? ms_left(deadline_ms) : 1000)) {
    int r = cli_sock_recv(fd, buf, sizeof buf);
    if (r <= 0)
      break;
    total += (size_t)r;
  }
}

int cli_serve_connection(hotssl_generation *g, int fd, int starttls_postgres, long long deadline_ms) {
  return cli_serve_connection_live(g, fd, starttls_postgres, deadline_ms, NULL, 0);
}

int cli_serve_connection_live(hotssl_generation *g, int fd, int starttls_postgres,
                              long long deadline_ms, hotssl_manager *m, int reread) {
  cli_revoke rv;
  mbedtls_ssl_context ssl;
  deadline_net net;
  hotssl_client_verify *cv = NULL;
  unsigned char buf[4096];
  char err[200];
  int ret, rc = -1;

  /* mbedTLS writes each handshake message on its own: without TCP_NODELAY,
   * Nagle + delayed ACK stall every handshake by ~40 ms. All modes pass here. */
  cli_sock_nodelay(fd);
  if (starttls_postgres) {
    if ((ret = cli_read_sslrequest(fd, deadline_ms)) != 0) {
      if (ret == -2)
        log_deadline();
      return -1;
    }
    if (cli_sock_send_byte(fd, 'S') != 0)
      return -1;
  }
  net.net.fd = fd;
  net.deadline_ms = deadline_ms;
  mbedtls_ssl_init(&ssl);
  if ((ret = mbedtls_ssl_setup(&ssl, hotssl_generation_ssl_config(g))) != 0)
    goto out;
  /* PostgreSQL's log lines and alerts for refused client certificates. */
  if (hotssl_client_verify_create(&cv) == 0)
    hotssl_client_verify_bind(&ssl, g, cv);
  mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, NULL, recv_by_deadline);
  while ((ret = mbedtls_ssl_handshake(&ssl)) != 0) {
    if (ret == MBEDTLS_ERR_SSL_TIMEOUT) {
      log_deadline();
      ret = 0; /* logged */
      goto out;
    }
    if (ret != MBEDTLS_ERR_SSL_WANT_READ && ret != MBEDTLS_ERR_SSL_WANT_WRITE) {
      char l1[600], l2[1200];
      hotssl_client_verify_finish(&ssl, ret, cv);
      if (hotssl_client_verify_lines(cv, l1, sizeof l1, l2, sizeof l2) > 0) {
        cli_log(NULL, HOTSSL_LOG_INFO, l1);
        if (l2[0] != '\0')
          cli_log(NULL, HOTSSL_LOG_INFO, l2);
      }
      drain_after_refusal(fd, deadline_ms);
      goto out;
    }
  }
  cli_phase_mark(CLI_PHASE_HANDSHAKE);
  if (cv != NULL && hotssl_client_verify_stale_crl_issuer(cv)[0] != '\0') {
    char w[1300];
    snprintf(w, sizeof w, "client certificate accepted although the CRL of issuer \"%s\" is past its next update (hotssl_crl_stale = warn)",
             hotssl_client_verify_stale_crl_issuer(cv));
    cli_log(NULL, HOTSSL_LOG_WARNING, w);
  }
  net.deadline_ms = 0; /* the handshake is done: the session has no deadline */
  cli_revoke_start(&rv, m, reread, g, cv);
  for (;;) {
    if (cli_revoke_wait(&rv, &ssl, cv, fd)) {
      rc = ret = 0; /* ended on purpose, logged */
      goto out;
    }
    ret = mbedtls_ssl_read(&ssl, buf, sizeof buf);
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
      continue;
    if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_NET_CONN_RESET) {
      mbedtls_ssl_close_notify(&ssl);
      rc = 0;
      ret = 0;
      goto out;
    }
    if (ret < 0)
      goto out;
    {
      int len = ret, off = 0;
      while (off < len) {
        int w = mbedtls_ssl_write(&ssl, buf + off, (size_t)(len - off));
        if (w == MBEDTLS_ERR_SSL_WANT_READ || w == MBEDTLS_ERR_SSL_WANT_WRITE)
          continue;
        if (w < 0) {
          ret = w;
          goto out;
        }
        off += w;
      }
    }
  }
out:
  if (ret != 0) {
    mbedtls_strerror(ret, err, sizeof err);
    {
      char line[300];
      snprintf(line, sizeof line, "could not serve SSL connection: %s (-0x%04X)", err, (unsigned)-ret);
      cli_log(NULL, HOTSSL_LOG_INFO, line);
    }
  }
  mbedtls_ssl_free(&ssl);
  hotssl_client_verify_destroy(cv);
  return rc;
}

int cli_cmd_backend(int argc, char **argv) {
  hotssl_manager_options mo;
  hotssl_manager *m = NULL;
  hotssl_generation *g;
  char err[600], line[800];
  int fd = -1, r, starttls = 0, allow_dumps = 0, i, timeout = 0;
  long long deadline;

  if (argc < 2) {
    fprintf(stderr, "hotssl __backend: internal subcommand of `hotssl serve --mode spawn`\n");
    return 2;
  }
  for (i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--starttls-postgres") == 0)
      starttls = 1;
    else if (strcmp(argv[i], "--allow-core-dumps") == 0)
      allow_dumps = 1;
    else if (strcmp(argv[i], "--handshake-timeout") == 0 && i + 1 < argc)
      timeout = atoi(argv[++i]);
    else
      return 2;
  }
  cli_set_dumpable(allow_dumps); /* exec made us dumpable again: before the snapshot arrives */
  /* The parent accepted the connection just before starting this process:
   * the deadline counts from here and covers building the generation. */
  deadline = cli_handshake_deadline(timeout);
  cli_backend_os_enter(); /* reloads and stops are the parent's business */
  memset(&mo, 0, sizeof mo);
  mo.log = cli_phases_enable() ? cli_phase_log : cli_log;
  r = hotssl_backend_open(argv[1], &fd, &m, &mo, err, sizeof err);
  cli_phase_mark(CLI_PHASE_BUILT);
  if (r != 0) {
    snprintf(line, sizeof line, "this backend has no TLS: %s", err);
    cli_log(NULL, HOTSSL_LOG_ERROR, line);
    if (fd >= 0) {
      if (starttls && cli_read_sslrequest(fd, deadline) == 0 && cli_sock_send_byte(fd, 'N') == 0)
        cli_log(NULL, HOTSSL_LOG_INFO, "answered the SSLRequest with 'N'");
      cli_sock_close(fd);
    }
    return 1;
  }
  g = hotssl_manager_acquire(m);
  snprintf(line, sizeof line, "backend serving generation %llu",
           (unsigned long long)hotssl_generation_number(g));
  cli_log(NULL, HOTSSL_LOG_DEBUG, line);
  r = cli_serve_connection_live(g, fd, starttls, deadline, m, 1);
  hotssl_generation_release(g);
  cli_sock_close(fd);
  cli_phase_report("backend", 0);
  hotssl_manager_destroy(m);
  cli_backend_os_leave();
  return r == 0 ? 0 : 1;
}
