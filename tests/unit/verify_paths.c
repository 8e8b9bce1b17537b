/*
 * hotssl_verify_paths CONF CHAIN...: the verdict a handshake of CONF's
 * generation gives each presented chain (a PEM file, leaf first), answered
 * twice: with the revocation table (the default path) and with the CRL walk
 * (every CRL searched and its signature checked on every call). One line per
 * chain and path, for tests/e2e/test_verify_matrix.py:
 *   table accept
 *   walk refuse 1 certificate revoked
 * followed, for a refusal, by PostgreSQL's two log lines. Exit 0 when both
 * paths gave the same answers, 3 when they differ, 2 on a setup error.
 */
#include <stdio.h>
#include <string.h>

#include "manager.h"
#include "verify.h"

int main(int argc, char **argv) {
  hotssl_config *cfg = NULL;
  hotssl_manager *m = NULL;
  hotssl_generation *g;
  hotssl_client_verify *v[2] = {NULL, NULL};
  char err[512];
  int i, rc = 0;

  if (argc < 3) {
    fprintf(stderr, "usage: %s CONF CHAIN...\n", argv[0]);
    return 2;
  }
  if (hotssl_config_create(&cfg) != 0)
    return 2;
  hotssl__config_keep_crl_walk(cfg); /* both paths: table and walk */
  if (hotssl_config_load_file(cfg, argv[1], err, sizeof err) != 0 ||
      hotssl_manager_create(&m, cfg, NULL, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    hotssl_config_destroy(cfg);
    return 2;
  }
  hotssl_config_destroy(cfg);
  g = hotssl_manager_acquire(m);
  if (hotssl_client_verify_create(&v[0]) != 0 || hotssl_client_verify_create(&v[1]) != 0)
    return 2;
  for (i = 2; i < argc; i++) {
    mbedtls_x509_crt chain;
    int walk, r[2];
    char l1[2][600], l2[2][1200];
    mbedtls_x509_crt_init(&chain);
    if (mbedtls_x509_crt_parse_file(&chain, argv[i]) != 0) {
      fprintf(stderr, "%s: cannot parse\n", argv[i]);
      rc = 2;
      continue;
    }
    for (walk = 0; walk < 2; walk++) {
      r[walk] = hotssl__verify_chain(g, &chain, walk, v[walk]);
      hotssl_client_verify_lines(v[walk], l1[walk], sizeof l1[walk], l2[walk], sizeof l2[walk]);
      if (r[walk] == 0)
        printf("%s accept\n", walk ? "walk" : "table");
      else
        printf("%s refuse %s\n%s\n%s\n", walk ? "walk" : "table",
               hotssl_client_verify_reason(v[walk]), l1[walk], l2[walk]);
    }
    if (r[0] != r[1] || strcmp(l1[0], l1[1]) != 0 || strcmp(l2[0], l2[1]) != 0)
      rc = rc ? rc : 3;
    mbedtls_x509_crt_free(&chain);
  }
  hotssl_client_verify_destroy(v[0]);
  hotssl_client_verify_destroy(v[1]);
  hotssl_generation_release(g);
  hotssl_manager_destroy(m);
  return rc;
}
