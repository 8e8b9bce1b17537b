/*
 * `hotssl info` with ssl_sni: one block per hosts file entry (names, and the
 * entry's certificate: subject, serial, expiry), read through the public
 * iteration API (hotssl_generation_host_stats) on one acquired generation.
 */
#include <stdio.h>
#include <time.h>

#include "cli.h"
#include "json.h"

static void names_of(const hotssl_host_stats *h, char *buf, size_t len) {
  snprintf(buf, len, "%s%s%s%s", h->is_default ? "*" : "",
           h->is_no_sni ? (h->is_default ? ",/no_sni/" : "/no_sni/") : "",
           (h->is_default || h->is_no_sni) && h->n_names > 0 ? "," : "", h->names);
}

void cli_print_hosts(FILE *f, hotssl_manager *m) {
  hotssl_generation *g = hotssl_manager_acquire(m);
  hotssl_host_stats h;
  char names[1100];
  uint32_t i;
  if (hotssl_generation_host_count(g) > 0)
    fprintf(f, "hosts:         %u entries (ssl_sni)\n", (unsigned)hotssl_generation_host_count(g));
  for (i = 0; hotssl_generation_host_stats(g, i, &h) == 0; i++) {
    names_of(&h, names, sizeof names);
    fprintf(f, "host line %u: %s\n", h.line, names);
    fprintf(f, "  subject:   %s\n", h.cert.subject);
    fprintf(f, "  serial:    %s\n", h.cert.serial);
    fprintf(f, "  not after: %s UTC%s\n", h.cert.not_after,
            h.cert.not_after_unix < (int64_t)time(NULL) ? " (expired)" : "");
    fprintf(f, "  client CA: %s\n", h.has_ca ? "yes" : "none (client certificates not checked)");
  }
  hotssl_generation_release(g);
}

void cli_print_hosts_json(FILE *f, hotssl_manager *m) {
  hotssl_generation *g = hotssl_manager_acquire(m);
  hotssl_host_stats h;
  uint32_t i;
  fprintf(f, "  \"hosts\": [");
  for (i = 0; hotssl_generation_host_stats(g, i, &h) == 0; i++) {
    fprintf(f, "%s\n    {\"line\": %u, \"default\": %s, \"no_sni\": %s, \"names\": ", i ? "," : "", h.line,
            h.is_default ? "true" : "false", h.is_no_sni ? "true" : "false");
    cli_json_string(f, h.names);
    fprintf(f, ", \"subject\": ");
    cli_json_string(f, h.cert.subject);
    fprintf(f, ", \"serial\": ");
    cli_json_string(f, h.cert.serial);
    fprintf(f, ", \"not_after\": ");
    cli_json_string(f, h.cert.not_after);
    fprintf(f, ", \"not_after_unix\": %lld, \"client_ca\": %s}", (long long)h.cert.not_after_unix,
            h.has_ca ? "true" : "false");
  }
  fprintf(f, "%s]\n", i ? "\n  " : "");
  hotssl_generation_release(g);
}
