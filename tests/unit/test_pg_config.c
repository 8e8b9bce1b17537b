/*
 * A host hands hotssl its whole postgresql.conf.
 * - hotssl_config_load_file_ex(HOTSSL_LOAD_IGNORE_NON_SSL) loads a file like
 *   the one PostgreSQL's SSL test harness writes (port, listen_addresses,
 *   logging, `include 'sslconfig.conf'`), the manager serves, and an unknown
 *   ssl_* name in it is still an error; without the option port is refused.
 * - The option sticks across reloads (the file is re-read with it).
 * - Included files and folders are among the manager's watch paths.
 * - A backend made from a snapshot of the paths re-reads with the option.
 * - ssl = off: hotssl_manager_create fails with HOTSSL_ENOTLS.
 * - ssl_dh_params_file and ssl_prefer_server_ciphers load; the DH file is
 *   watched and travels in both kinds of snapshot.
 * Certificates are made here (cli/certgen.c): no external test data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certgen.h"
#include "hotssl/platform.h"
#include "manager.h"
#include "testutil.h"

static int checks;
#define T(c) do { checks++; CHECK(c); } while (0)
#define TEQ(a, b) do { checks++; CHECK_EQ_INT(a, b); } while (0)

static void make_pair(const char *dir) {
  certgen_rng r;
  mbedtls_pk_context key;
  static char crt[4096], pem[4096];
  char *p;
  mbedtls_pk_init(&key);
  T(certgen_rng_init(&r) == 0);
  T(certgen_key(&key, &r) == 0);
  T(certgen_cert(&key, "CN=localhost", &key, "CN=localhost", 0x4242, "20200101000000",
                 "20400101000000", 0, &r, crt, sizeof crt) == 0);
  T(certgen_key_pem(&key, pem, sizeof pem) == 0);
  p = tu_path(dir, "server.crt");
  tu_write(p, crt, 0644);
  free(p);
  p = tu_path(dir, "server.key");
  tu_write(p, pem, 0600);
  free(p);
  mbedtls_pk_free(&key);
  certgen_rng_free(&r);
}

/* sslconfig.conf: PostgreSQL's SSL settings, ssl_dh_params_file and
 * ssl_prefer_server_ciphers included (both known settings, not unknown ones). */
#define SSL_CONF                                                             \
  "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"    \
  "ssl_dh_params_file = 'dh.der'\nssl_prefer_server_ciphers = on\n"

static const char *harness =
    "# postgresql.conf as PostgreSQL's SSL test harness leaves it\n"
    "listen_addresses = '127.0.0.1'\n"
    "port = 54321\n"
    "log_connections = on\n"
    "log_line_prefix = '%m [%p] %q%a '\n"
    "shared_preload_libraries = ''\n"
    "my_extension.setting = 'x'\n"
    "hotssl_watch = off\n"
    "include 'sslconfig.conf'\n";

int main(void) {
  char *dir = tu_mkdtemp(), *conf = tu_path(dir, "postgresql.conf");
  char *sslconf = tu_path(dir, "sslconfig.conf"), *dh = tu_path(dir, "dh.der");
  char err[600];
  hotssl_config *cfg = NULL;
  hotssl_manager *m = NULL;
  char **paths = NULL;
  size_t n = 0, i;
  int found = 0;

  make_pair(dir);
  tu_write(conf, harness, 0644);
  tu_write(sslconf, SSL_CONF, 0644);
  tu_write_dh_params(dh);

  /* Without the option: PostgreSQL's other settings are refused. */
  T(hotssl_config_create(&cfg) == 0);
  TEQ(hotssl_config_load_file(cfg, conf, err, sizeof err), HOTSSL_ECONFIG);
  T(strstr(err, "unrecognized configuration parameter \"listen_addresses\"") != NULL);
  hotssl_config_destroy(cfg);

  /* With it: loads, serves, and the option survives a reload. */
  T(hotssl_config_create(&cfg) == 0);
  TEQ(hotssl_config_load_file_ex(cfg, conf, HOTSSL_LOAD_IGNORE_NON_SSL, err, sizeof err), 0);
  TEQ(hotssl_config_load_file_ex(cfg, conf, 99, err, sizeof err), HOTSSL_EINVAL);
  TEQ(hotssl_manager_create(&m, cfg, NULL, err, sizeof err), 0);
  hotssl_config_destroy(cfg);
  if (m != NULL) {
    tu_server *srv = tu_server_start(m, 1);
    char serial[80];
    TEQ(tu_client_serial(tu_server_port(srv), NULL, serial, sizeof serial), 0);
    T(strcmp(serial, "4242") == 0);
    tu_server_stop(srv);
    tu_write(sslconf, SSL_CONF "ssl_max_protocol_version = 'TLSv1.2'\n", 0644);
    TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), 0);
    /* The included file, the main one and the DH parameters file are
     * watched. */
    TEQ(hotssl__manager_watch_paths(m, &paths, &n), 0);
    for (i = 0; i < n; i++)
      found += strcmp(paths[i], sslconf) == 0 || strcmp(paths[i], conf) == 0 ||
               strcmp(paths[i], dh) == 0;
    TEQ(found, 3);
    hotssl__manager_watch_paths_free(paths, n);
    /* A spawned backend (snapshot of the paths) re-reads the file with the
     * option too. */
    {
      hotssl_snapshot *snap = NULL;
      hotssl_manager *b = NULL;
      const unsigned char *bytes;
      size_t len = 0;
      unsigned what;
      /* Both kinds: the contents carry the DH parameters (T_DH). */
      for (what = HOTSSL_SNAPSHOT_CONTENTS; what <= HOTSSL_SNAPSHOT_PATHS; what++) {
        TEQ(hotssl_snapshot_take(m, what, &snap), 0);
        bytes = snap ? hotssl_snapshot_bytes(snap, &len) : NULL;
        TEQ(hotssl_manager_create_from_snapshot(&b, bytes, len, NULL, err, sizeof err), 0);
        if (b != NULL) {
          TEQ(hotssl_manager_reload(b, HOTSSL_TRIGGER_API), HOTSSL_UNCHANGED);
          hotssl_manager_destroy(b);
          b = NULL;
        }
        hotssl_snapshot_destroy(snap);
        snap = NULL;
      }
    }
    /* An unknown ssl_* name stays an error, at reload too. */
    tu_write(sslconf, "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_no_such = 1\n", 0644);
    TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), HOTSSL_ECONFIG);
    hotssl_manager_destroy(m);
  }

  /* ssl = off: no TLS configuration. */
  tu_write(sslconf, "ssl = off\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n", 0644);
  T(hotssl_config_create(&cfg) == 0);
  TEQ(hotssl_config_load_file_ex(cfg, conf, HOTSSL_LOAD_IGNORE_NON_SSL, err, sizeof err), 0);
  m = NULL;
  TEQ(hotssl_manager_create(&m, cfg, NULL, err, sizeof err), HOTSSL_ENOTLS);
  T(m == NULL);
  T(strstr(err, "TLS is off") != NULL);
  hotssl_config_destroy(cfg);

  free(conf);
  free(sslconf);
  free(dh);
  tu_rmtree(dir);
  free(dir);
  return tu_finish("pg_config", checks);
}
