/*
 * The revocation table's CRL checks, with real handshakes (every other CRL
 * in the tests is valid, so without these cases dropping the CRL date checks
 * would pass every test). A CA, a server and a client certificate are generated;
 * openssl signs CRLs with chosen dates and entries; the server requires a
 * client certificate:
 *   valid CRL, client not listed     -> handshake succeeds (the control);
 *   valid CRL listing the client      -> refused (revocation lookup);
 *   CRL whose nextUpdate has passed   -> refused (as mbedTLS: BADCRL_EXPIRED);
 *   CRL whose thisUpdate is to come   -> refused (BADCRL_FUTURE);
 *   a CRL directory with a good CRL and a damaged one -> start refused
 *   (all or nothing: the good part is not served alone).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "certgen.h"
#include "testutil.h"

static char *dir;
static int checks;

static void write_file(const char *name, const char *text, int mode) {
  char *p = tu_path(dir, name);
  tu_write(p, text, mode);
  free(p);
}

static int gen(mbedtls_pk_context *key, const char *subject, mbedtls_pk_context *ca, unsigned long serial,
               int is_ca, certgen_rng *rng, const char *crt_name, const char *key_name) {
  static char buf[8192];
  if (certgen_key(key, rng) != 0 ||
      certgen_cert(key, subject, ca ? ca : key, "CN=crl-dates CA", serial, "20240101000000",
                   "20990101000000", is_ca, rng, buf, sizeof buf) != 0)
    return -1;
  write_file(crt_name, buf, 0644);
  if (certgen_key_pem(key, buf, sizeof buf) != 0)
    return -1;
  write_file(key_name, buf, 0600);
  return 0;
}

/* Sign `out` with CA `ca` (ca.crt/ca.key) and the given dates ("" =
 * openssl's defaults) over index. */
static int sign_crl_as(const char *ca, const char *out, const char *index, const char *last,
                       const char *next) {
  char cmd[2048];
  write_file("index.txt", index, 0644);
  write_file("crlnumber", "01\n", 0644);
  snprintf(cmd, sizeof cmd,
           "cd '%s' && openssl ca -config ca.cnf -gencrl -keyfile %s.key -cert %s.crt -out %s %s%s %s%s >ca.log 2>&1",
           dir, ca, ca, out, *last ? "-crl_lastupdate " : "", last, *next ? "-crl_nextupdate " : "", next);
  if (system(cmd) != 0) {
    snprintf(cmd, sizeof cmd, "cat '%s/ca.log' >&2", dir);
    if (system(cmd) != 0)
      fprintf(stderr, "openssl failed\n");
    return -1;
  }
  return 0;
}

static int sign_crl(const char *index, const char *last, const char *next) {
  return sign_crl_as("ca", "crl.pem", index, last, next);
}

/* All or nothing: a CRL directory with one good CRL and one damaged CRL
 * must refuse the whole configuration, not serve the good part. Returns
 * the start result. */
static int start_with_crl_dir(void) {
  hotssl_config *cfg;
  hotssl_manager *m = NULL;
  hotssl_manager_options o = {0};
  char err[512], *conf = tu_path(dir, "dir.conf");
  int r;
  tu_write(conf,
           "ssl_cert_file='server.crt'\nssl_key_file='server.key'\nssl_ca_file='ca.crt'\n"
           "ssl_crl_dir='crldir'\nssl_client_cert='require'\n",
           0644);
  hotssl_config_create(&cfg);
  r = hotssl_config_load_file(cfg, conf, err, sizeof err);
  if (r == 0)
    r = hotssl_manager_create(&m, cfg, &o, err, sizeof err);
  if (r != 0 && strstr(err, "00000001.r1") == NULL) {
    fprintf(stderr, "crl dir: refused for another reason: %s\n", err);
    r = 1000;
  }
  hotssl_config_destroy(cfg);
  hotssl_manager_destroy(m);
  free(conf);
  return r;
}

/* Start a server on the current files; one client handshake with the client
 * certificate. Returns the handshake result (0 = accepted). */
static int handshake(void) {
  hotssl_config *cfg;
  hotssl_manager *m = NULL;
  hotssl_manager_options o = {0};
  char err[512], serial[64], *conf = tu_path(dir, "hotssl.conf");
  int r;
  tu_write(conf,
           "ssl_cert_file='server.crt'\nssl_key_file='server.key'\nssl_ca_file='ca.crt'\n"
           "ssl_crl_file='crl.pem'\nssl_client_cert='require'\n",
           0644);
  hotssl_config_create(&cfg);
  r = hotssl_config_load_file(cfg, conf, err, sizeof err);
  if (r == 0)
    r = hotssl_manager_create(&m, cfg, &o, err, sizeof err);
  hotssl_config_destroy(cfg);
  free(conf);
  if (r != 0) {
    fprintf(stderr, "manager: %s\n", err);
    return 1000;
  }
  tu_server *s = tu_server_start(m, 1);
  char *crt = tu_path(dir, "client.crt"), *key = tu_path(dir, "client.key");
  r = tu_client_ex(tu_server_port(s), NULL, crt, key, serial, sizeof serial);
  free(crt);
  free(key);
  tu_server_stop(s);
  hotssl_manager_destroy(m);
  return r;
}

int main(void) {
  certgen_rng rng;
  mbedtls_pk_context ca, srv, cli;
  char cnf[1024];
  dir = tu_mkdtemp();
  mbedtls_pk_init(&ca);
  mbedtls_pk_init(&srv);
  mbedtls_pk_init(&cli);
  if (certgen_rng_init(&rng) != 0 || gen(&ca, "CN=crl-dates CA", NULL, 1, 1, &rng, "ca.crt", "ca.key") != 0 ||
      gen(&srv, "CN=server", &ca, 2, 0, &rng, "server.crt", "server.key") != 0 ||
      gen(&cli, "CN=client", &ca, 0x1234, 0, &rng, "client.crt", "client.key") != 0) {
    fprintf(stderr, "certgen failed\n");
    return 1;
  }
  snprintf(cnf, sizeof cnf,
           "[ca]\ndefault_ca=b\n[b]\ndatabase=%s/index.txt\ncrlnumber=%s/crlnumber\n"
           "default_md=sha256\ndefault_crl_days=30\n", dir, dir);
  write_file("ca.cnf", cnf, 0644);

  int r;
  checks += 2;
  CHECK(sign_crl("", "", "") == 0);
  r = handshake();
  CHECK_EQ_INT(r, 0); /* the control: a valid CRL, the client not on it */

  checks += 2;
  CHECK(sign_crl("R\t491231000000Z\t240601000000Z\t1234\tunknown\t/CN=client\n", "", "") == 0);
  r = handshake();
  CHECK(r != 0 && r != 1000); /* revoked */

  checks += 2;
  CHECK(sign_crl("", "20200101000000Z", "20200201000000Z") == 0);
  r = handshake();
  CHECK(r != 0 && r != 1000); /* expired CRL */

  checks += 2;
  CHECK(sign_crl("", "20980101000000Z", "20990101000000Z") == 0);
  r = handshake();
  CHECK(r != 0 && r != 1000); /* not yet valid CRL */

  /* All or nothing: crldir/00000001.r0 good, 00000001.r1 a damaged CRL. */
  {
    char *d = tu_path(dir, "crldir");
    mkdir(d, 0755);
    free(d);
    checks += 2;
    CHECK(sign_crl_as("ca", "crldir/00000001.r0", "", "", "") == 0);
    write_file("crldir/00000001.r1",
               "-----BEGIN X509 CRL-----\nMIIBdamagedCRLdamagedCRLdamagedCRL=\n-----END X509 CRL-----\n", 0644);
    r = start_with_crl_dir();
    CHECK(r != 0 && r != 1000);
  }

  mbedtls_pk_free(&ca);
  mbedtls_pk_free(&srv);
  mbedtls_pk_free(&cli);
  certgen_rng_free(&rng);
  tu_rmtree(dir);
  free(dir);
  return tu_finish("test_crl_dates", checks);
}
