/*
 * `hotssl info` with ssl_sni: one block per hosts file entry (names, and the
 * entry's certificate: subject, serial, expiry), read through the public
 * iteration API (hotssl_generation_host_stats) on one acquired generation.
 */
#include <stdio.h>
#include <time.h>

#include "cli.h"

void cli_print_hosts(FILE *f, hotssl_manager *m) {
  hotssl_generation *g = hotssl_manager_acquire(m);
  hotssl_host_stats h;
  uint32_t i;
  if (hotssl_generation_host_count(g) > 0)
    fprintf(f, "hosts:       %u entries (ssl_sni)\n", (unsigned)hotssl_generation_host_count(g));
  for (i = 0; hotssl_generation_host_stats(g, i, &h) == 0; i++) {
    fprintf(f, "host line %u: %s%s%s%s\n", h.line, h.is_default ? "*" : "",
            h.is_no_sni ? (h.is_default ? ",/no_sni/" : "/no_sni/") : "",
            (h.is_default || h.is_no_sni) && h.n_names > 0 ? "," : "", h.names);
    fprintf(f, "  subject:   %s\n", h.cert.subject);
    fprintf(f, "  serial:    %s\n", h.cert.serial);
    fprintf(f, "  not after: %s UTC%s\n", h.cert.not_after,
            h.cert.not_after_unix < (int64_t)time(NULL) ? " (expired)" : "");
    fprintf(f, "  client CA: %s\n", h.has_ca ? "yes" : "none (client certificates not checked)");
  }
  hotssl_generation_release(g);
}
