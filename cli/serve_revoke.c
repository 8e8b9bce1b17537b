/*
 * Revocation that reaches open connections (cli/serve_revoke.h). How each
 * mode learns the newest CRL set when the counter moves:
 *  - thread: the manager is the parent's own: acquire its current
 *    generation;
 *  - fork child, spawned backend: the counter is the parent's (shared
 *    page), the manager a copy: reload it from the files first (as the
 *    parent just did), then acquire. One reload per open session and
 *    publication (docs/live-revocation.md gives the cost).
 */
#include <stdio.h>

#include "cli.h"
#include "log.h"
#include "serve_revoke.h"
#include "sys.h"

#define SLICE_MS 100

void cli_revoke_start(cli_revoke *r, hotssl_manager *m, int reread, const hotssl_generation *g,
                      const hotssl_client_verify *cv) {
  r->m = m;
  r->reread = reread;
  r->counter = m != NULL ? hotssl_manager_generation_counter(m) : NULL;
  /* The handshake's generation: a publication between it and now still
   * counts as a change. */
  r->seen = hotssl_generation_number(g);
  /* Only a connection that authenticated with a certificate is watched. */
  r->off = r->counter == NULL || hotssl_client_verify_revoked(cv, g, NULL, NULL, 0) == HOTSSL_EINVAL;
}

/* The counter moved: 1 when the newest generation revokes the chain. */
static int check_now(cli_revoke *r, const hotssl_client_verify *cv) {
  hotssl_generation *g;
  char serial[160], line[400], err[600];
  int depth = 0, rv;
  if (r->reread && hotssl_manager_reload_ex(r->m, HOTSSL_TRIGGER_API, err, sizeof err) < 0)
    return 0; /* logged by the reload; the session keeps its verdict */
  g = hotssl_manager_acquire(r->m);
  rv = hotssl_client_verify_revoked(cv, g, &depth, serial, sizeof serial);
  if (rv == 1)
    snprintf(line, sizeof line,
             "terminating connection because its client certificate was revoked: serial number %s, depth %d, revoked by the CRLs of generation %llu",
             serial, depth, (unsigned long long)hotssl_generation_number(g));
  else if (rv < 0)
    snprintf(line, sizeof line, "could not check the client certificate against generation %llu: %s",
             (unsigned long long)hotssl_generation_number(g), hotssl_strerror(rv));
  hotssl_generation_release(g);
  if (rv != 0)
    cli_log(NULL, rv == 1 ? HOTSSL_LOG_WARNING : HOTSSL_LOG_ERROR, line);
  return rv == 1;
}

int cli_revoke_wait(cli_revoke *r, mbedtls_ssl_context *ssl, const hotssl_client_verify *cv,
                    int fd) {
  for (;;) {
    uint64_t now;
    if (r->off)
      return 0;
    now = hotssl_generation_counter_load(r->counter); /* the per-query check */
    if (now != r->seen) {
      r->seen = now;
      if (check_now(r, cv)) {
        (void)mbedtls_ssl_send_alert_message(ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                             MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED);
        return 1;
      }
    }
    if (mbedtls_ssl_get_bytes_avail(ssl) > 0 || mbedtls_ssl_check_pending(ssl) ||
        cli_sock_wait_readable(fd, SLICE_MS))
      return 0;
  }
}
