/*
 * Revocation that reaches open connections, for `hotssl serve` in every
 * mode (cli/serve_revoke.c): between reads, the session polls the manager's
 * generation-change counter (one atomic load); when it moved, it checks the
 * client's certificate chain against the newest generation's revocation
 * table and ends the session when a CRL now lists it.
 */
#ifndef HOTSSL_CLI_SERVE_REVOKE_H
#define HOTSSL_CLI_SERVE_REVOKE_H

#include <stdint.h>

#include <mbedtls/ssl.h>

#include "hotssl/hotssl.h"

typedef struct cli_revoke {
  hotssl_manager *m;
  const volatile uint64_t *counter;
  uint64_t seen;
  int reread; /* m is a copy (fork child, spawned backend): reload it first */
  int off;    /* no client certificate, or no counter: nothing to watch */
} cli_revoke;

/* After a successful handshake of generation g, bound to cv. */
void cli_revoke_start(cli_revoke *r, hotssl_manager *m, int reread, const hotssl_generation *g,
                      const hotssl_client_verify *cv);
/* Before a read: returns 0 when data is ready to read (or nothing is
 * watched), 1 when the certificate was found revoked (logged, alert sent:
 * the caller ends the session). Waits for fd in slices of at most 100 ms,
 * polling the counter between them. */
int cli_revoke_wait(cli_revoke *r, mbedtls_ssl_context *ssl, const hotssl_client_verify *cv,
                    int fd);

#endif
