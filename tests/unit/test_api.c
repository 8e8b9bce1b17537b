/*
 * API behaviour of the library itself, with real files and real handshakes:
 * configuration parsing, error codes and texts, start rules, reload rules
 * (unchanged content, failure keeps serving, one log line), stats, the
 * async-signal-safe reload request driven by a real SIGHUP, and parsed-object
 * reuse across generations.
 */
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "../../core/manager.h"
#include "certgen.h"
#include "testutil.h"

static int checks;
#define T(cond) do { checks++; CHECK(cond); } while (0)
#define TEQ(a, b) do { checks++; CHECK_EQ_INT(a, b); } while (0)

static char *dir;
static const char *td;

static void put(const char *name, const char *testdata_name, int mode) {
  char src[1024], *dst = tu_path(dir, name);
  snprintf(src, sizeof src, "%s/%s", td, testdata_name);
  tu_copy(src, dst, mode);
  free(dst);
}

static void put_text(const char *name, const char *text, int mode) {
  char *dst = tu_path(dir, name);
  tu_write_atomic(dst, text, mode);
  free(dst);
}

static int manager_from(const char *conf_text, hotssl_manager **m, char *err, size_t errlen) {
  hotssl_config *cfg;
  hotssl_manager_options o = {0};
  char *p = tu_path(dir, "hotssl.conf");
  int r;
  put_text("hotssl.conf", conf_text, 0644);
  hotssl_config_create(&cfg);
  r = hotssl_config_load_file(cfg, p, err, errlen);
  free(p);
  if (r == 0) {
    o.log = tu_log;
    r = hotssl_manager_create(m, cfg, &o, err, errlen);
  }
  hotssl_config_destroy(cfg);
  return r;
}

static void test_config_parser(void) {
  hotssl_config *cfg;
  char err[512];
  char *p = tu_path(dir, "parse.conf");
  hotssl_config_create(&cfg);
  tu_write(p,
           "# comment\n"
           "  ssl_cert_file='my ''quoted'' file.crt'  # trailing\n"
           "ssl_key_file   server.key\n"
           "ssl_ciphers = TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256#no space comment\n"
           "\n",
           0644);
  TEQ(hotssl_config_load_file(cfg, p, err, sizeof err), 0);
  T(strcmp(hotssl_config_get(cfg, "ssl_cert_file"), "my 'quoted' file.crt") == 0);
  T(strcmp(hotssl_config_get(cfg, "ssl_key_file"), "server.key") == 0);
  T(strcmp(hotssl_config_get(cfg, "ssl_ciphers"), "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256") == 0);
  T(strcmp(hotssl_config_get(cfg, "ssl_min_protocol_version"), "TLSv1.2") == 0);
  T(hotssl_config_get(cfg, "no_such_key") == NULL);

  tu_write(p, "ssl_cert_file = 'a'\nssl_bogus = 1\n", 0644);
  TEQ(hotssl_config_load_file(cfg, p, err, sizeof err), HOTSSL_ECONFIG);
  T(strstr(err, "unrecognized configuration parameter \"ssl_bogus\"") != NULL);
  T(strstr(err, "line 2") != NULL);
  tu_write(p, "ssl_cert_file = 'unterminated\n", 0644);
  TEQ(hotssl_config_load_file(cfg, p, err, sizeof err), HOTSSL_ECONFIG);
  T(strstr(err, "syntax error") != NULL && strstr(err, "line 1") != NULL);
  tu_write(p, "ssl_client_cert = sometimes\n", 0644);
  TEQ(hotssl_config_load_file(cfg, p, err, sizeof err), HOTSSL_ECONFIG);
  T(strstr(err, "ssl_client_cert") != NULL);
  TEQ(hotssl_config_set(cfg, "hotssl_watch", "maybe", err, sizeof err), HOTSSL_ECONFIG);
  TEQ(hotssl_config_set(cfg, "hotssl_watch", "off", err, sizeof err), 0);
  TEQ(hotssl_config_set(cfg, "hotssl_watch", NULL, err, sizeof err), 0);
  T(strcmp(hotssl_config_get(cfg, "hotssl_watch"), "on") == 0);
  hotssl_config_destroy(cfg);
  hotssl_config_destroy(NULL);
  free(p);
}

static void test_errors(void) {
#define X(name, val, text) T(strcmp(hotssl_strerror(HOTSSL_##name), text) == 0);
  HOTSSL_ERRNO_MAP(X)
#undef X
  T(strcmp(hotssl_strerror(12345), "unknown error") == 0);
  T(strcmp(hotssl_err_name(HOTSSL_ECERT), "HOTSSL_ECERT") == 0);
  T(strcmp(hotssl_trigger_name(HOTSSL_TRIGGER_FILE), "file change") == 0);
}

static const char *good_conf = "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n";

static void test_start_and_reload(void) {
  hotssl_manager *m = NULL;
  hotssl_stats st;
  char err[512], serial[80];
  hotssl_generation *g1, *g2;
  tu_server *srv;

  put("server.crt", "server-cn-only.crt", 0644);
  put("server.key", "server-cn-only.key", 0600);
  TEQ(manager_from(good_conf, &m, err, sizeof err), 0);
  if (m == NULL)
    return;
  TEQ(hotssl_manager_stats(m, &st), 0);
  T(strcmp(st.serial, "2023071316352302") == 0);
  T(strstr(st.subject, "common-name.pg-ssltest.test") != NULL);
  T(strcmp(st.not_after, "2050-11-28 14:35:23") == 0);
  TEQ(st.not_after_unix, 2553258923LL); /* date -u -d "2050-11-28 14:35:23" +%s */
  TEQ(strlen(st.sha256), 95);
  TEQ(st.generation, 1);

  srv = tu_server_start(m, 2);
  TEQ(tu_client_serial(tu_server_port(srv), NULL, serial, sizeof serial), 0);
  T(strcmp(serial, "2023071316352302") == 0);

  /* touch-like rewrite with the same bytes: unchanged, no new generation */
  tu_log_clear();
  put("server.crt", "server-cn-only.crt", 0644);
  TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), HOTSSL_UNCHANGED);
  TEQ(tu_log_count("SSL configuration unchanged (generation 1)"), 1);

  /* a held generation survives a reload */
  g1 = hotssl_manager_acquire(m);
  put("server.crt", "server-cn-and-alt-names.crt", 0644);
  put("server.key", "server-cn-and-alt-names.key", 0600);
  TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), 0);
  TEQ(tu_log_count("SSL configuration reloaded (generation 2)"), 1);
  g2 = hotssl_manager_acquire(m);
  TEQ(hotssl_generation_number(g1), 1);
  TEQ(hotssl_generation_number(g2), 2);
  T(hotssl_generation_ssl_config(g1) != hotssl_generation_ssl_config(g2));
  hotssl_generation_release(g1);
  hotssl_generation_release(g2);
  TEQ(tu_client_serial(tu_server_port(srv), NULL, serial, sizeof serial), 0);
  T(strcmp(serial, "2023071316352300") == 0);

  /* new certificate with the old key: refused, old one keeps serving */
  tu_log_clear();
  put("server.crt", "server-cn-only.crt", 0644);
  TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), HOTSSL_EMISMATCH);
  TEQ(tu_log_count("SSL configuration was not reloaded"), 1);
  TEQ(tu_log_count("does not match server certificate file"), 1);
  TEQ(tu_client_serial(tu_server_port(srv), NULL, serial, sizeof serial), 0);
  T(strcmp(serial, "2023071316352300") == 0);
  hotssl_manager_stats(m, &st);
  TEQ(st.reloads_failed, 1);
  TEQ(st.reloads_succeeded, 1);
  TEQ(st.reloads_unchanged, 1);
  TEQ(st.reloads_attempted, 3);
  T(strstr(st.last_error, "server.key") != NULL);

  /* restore and check the serving continues */
  put("server.key", "server-cn-only.key", 0600);
  TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), 0);
  TEQ(tu_client_serial(tu_server_port(srv), NULL, serial, sizeof serial), 0);
  T(strcmp(serial, "2023071316352302") == 0);
  tu_server_stop(srv);
  hotssl_manager_destroy(m);
}

static void test_start_errors(void) {
  hotssl_manager *m = NULL;
  char err[512];
  put("server.crt", "server-cn-only.crt", 0644);
  put("server.key", "server-cn-and-alt-names.key", 0600);
  TEQ(manager_from(good_conf, &m, err, sizeof err), HOTSSL_EMISMATCH);
  T(m == NULL);
  T(strstr(err, "server.key") != NULL && strstr(err, "server.crt") != NULL);
  put("server.key", "server-cn-only.key", 0644);
  TEQ(manager_from(good_conf, &m, err, sizeof err), HOTSSL_EKEYPERM);
  T(strstr(err, "has group or world access") != NULL);
  put("server.key", "server-cn-only.key", 0600);
  TEQ(manager_from("ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_min_protocol_version = 'TLSv1.2'\nssl_max_protocol_version = 'TLSv1.1'\n",
                   &m, err, sizeof err), HOTSSL_EPROTOCOL);
  TEQ(manager_from("ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ciphers = 'TLS-NOPE'\n",
                   &m, err, sizeof err), HOTSSL_ECIPHER);
  T(strstr(err, "TLS-NOPE") != NULL);
  TEQ(manager_from("ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_client_cert = require\n",
                   &m, err, sizeof err), HOTSSL_ECONFIG);
  T(m == NULL);
}

/* An expired and a not-yet-valid leaf: load with a WARNING, unless
 * hotssl_refuse_expired is on. Made here with mbedTLS's x509write. */
static void test_expired(void) {
  static const struct {
    const char *from, *to, *word;
  } cases[] = {{"20010101000000", "20020101000000", "has expired"},
               {"20900101000000", "20910101000000", "is not yet valid"}};
  certgen_rng rng;
  mbedtls_pk_context key;
  char pem[4096], keypem[2048], err[512];
  size_t i;
  T(certgen_rng_init(&rng) == 0);
  for (i = 0; i < 2; i++) {
    hotssl_manager *m = NULL;
    mbedtls_pk_init(&key);
    T(certgen_key(&key, &rng) == 0);
    T(certgen_cert(&key, "CN=expiry", &key, "CN=expiry", 7, cases[i].from, cases[i].to, 0, &rng,
                   pem, sizeof pem) == 0);
    T(certgen_key_pem(&key, keypem, sizeof keypem) == 0);
    mbedtls_pk_free(&key);
    put_text("server.crt", pem, 0644);
    put_text("server.key", keypem, 0600);
    tu_log_clear();
    TEQ(manager_from(good_conf, &m, err, sizeof err), 0);
    TEQ(tu_log_count(cases[i].word), 1);
    hotssl_manager_destroy(m);
    m = NULL;
    TEQ(manager_from("ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nhotssl_refuse_expired = on\n",
                     &m, err, sizeof err), HOTSSL_EEXPIRED);
    T(strstr(err, cases[i].word) != NULL && strstr(err, "server.crt") != NULL);
  }
  certgen_rng_free(&rng);
}

static hotssl_manager *volatile signal_target;
static void on_hup(int sig) {
  (void)sig;
  hotssl_manager_request_reload(signal_target); /* async-signal-safe */
}

static void test_signal_path(void) {
  hotssl_manager *m = NULL;
  char err[512];
  struct pollfd p;
  hotssl_stats st;
  struct sigaction sa;

  put("server.crt", "server-cn-only.crt", 0644);
  put("server.key", "server-cn-only.key", 0600);
  TEQ(manager_from(good_conf, &m, err, sizeof err), 0);
  if (m == NULL)
    return;
  TEQ(hotssl_manager_dispatch(m), HOTSSL_UNCHANGED); /* nothing requested */
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_hup;
  signal_target = m;
  sigaction(SIGHUP, &sa, NULL);
  put("server.crt", "server-cn-and-alt-names.crt", 0644);
  put("server.key", "server-cn-and-alt-names.key", 0600);
  raise(SIGHUP); /* the handler calls hotssl_manager_request_reload */
  p.fd = hotssl_manager_wakeup_fd(m);
  p.events = POLLIN;
  TEQ(poll(&p, 1, 30000), 1);
  TEQ(hotssl_manager_dispatch(m), 0);
  hotssl_manager_stats(m, &st);
  TEQ(st.generation, 2);
  T(strcmp(st.serial, "2023071316352300") == 0);
  TEQ(tu_log_count("trigger: signal"), 1);
  signal(SIGHUP, SIG_DFL);
  hotssl_manager_destroy(m);
}

static void test_reuse(void) {
  hotssl_manager *m = NULL;
  char err[512];
  hotssl_generation *g1, *g2;
  put("server.crt", "server-cn-only.crt", 0644);
  put("server.key", "server-cn-only.key", 0600);
  put("ca.crt", "root+client_ca.crt", 0644);
  put("crl.pem", "root+client.crl", 0644);
  TEQ(manager_from("ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'ca.crt'\nssl_crl_file = 'crl.pem'\n",
                   &m, err, sizeof err), 0);
  if (m == NULL) {
    fprintf(stderr, "%s\n", err);
    return;
  }
  g1 = hotssl_manager_acquire(m);
  put("server.crt", "server-cn-and-alt-names.crt", 0644);
  put("server.key", "server-cn-and-alt-names.key", 0600);
  TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), 0);
  g2 = hotssl_manager_acquire(m);
  /* CA set and CRL set unchanged: shared, not parsed again */
  T(g1->ca == g2->ca);
  T(g1->crl == g2->crl);
  T(g1->cert != g2->cert);
  hotssl_generation_release(g1);
  hotssl_generation_release(g2);
  hotssl_manager_destroy(m);
}

/* Client-certificate modes through real handshakes with PostgreSQL's client
 * certificates: optional accepts no certificate but refuses a bad one. */
static void test_client_cert_modes(void) {
  static const char *modes[] = {"optional", "require"};
  char conf[512], err[512], serial[80], cc[1024], ck[1024], rc[1024], rk[1024], wc[1024], wk[1024];
  int i;
  put("server.crt", "server-cn-only.crt", 0644);
  put("server.key", "server-cn-only.key", 0600);
  put("ca.crt", "root+client_ca.crt", 0644);
  put("crl.pem", "root+client.crl", 0644);
  put("client.key", "client.key", 0600);
  put("client-revoked.key", "client-revoked.key", 0600);
  put("wrong.key", "server-cn-and-alt-names.key", 0600);
  snprintf(cc, sizeof cc, "%s/client.crt", td);
  snprintf(rc, sizeof rc, "%s/client-revoked.crt", td);
  snprintf(wc, sizeof wc, "%s/server-cn-and-alt-names.crt", td); /* issued by the server CA */
  snprintf(ck, sizeof ck, "%s/client.key", dir);
  snprintf(rk, sizeof rk, "%s/client-revoked.key", dir);
  snprintf(wk, sizeof wk, "%s/wrong.key", dir);
  for (i = 0; i < 2; i++) {
    hotssl_manager *m = NULL;
    tu_server *srv;
    int port;
    snprintf(conf, sizeof conf,
             "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'ca.crt'\n"
             "ssl_crl_file = 'crl.pem'\nssl_client_cert = %s\n", modes[i]);
    TEQ(manager_from(conf, &m, err, sizeof err), 0);
    if (m == NULL) {
      fprintf(stderr, "%s\n", err);
      continue;
    }
    srv = tu_server_start(m, 1);
    port = tu_server_port(srv);
    TEQ(tu_client_ex(port, NULL, cc, ck, serial, sizeof serial), 0);
    T(tu_client_ex(port, NULL, rc, rk, serial, sizeof serial) != 0);
    T(tu_client_ex(port, NULL, wc, wk, serial, sizeof serial) != 0);
    if (i == 0)
      TEQ(tu_client_ex(port, NULL, NULL, NULL, serial, sizeof serial), 0);
    else
      T(tu_client_ex(port, NULL, NULL, NULL, serial, sizeof serial) != 0);
    tu_server_stop(srv);
    hotssl_manager_destroy(m);
  }
}

/* A passphrase command that never finishes is killed at the deadline: with
 * its output pipe open, and after closing it. Start fails, nothing hangs. */
static void test_passphrase_timeout(void) {
  static const char *cmds[] = {"sleep 30", "exec >&-; sleep 30", "echo secret1"};
  char conf[512], err[512];
  int i;
  put("server.crt", "server-cn-only.crt", 0644);
  put("server.key", "server-password.key", 0600);
  for (i = 0; i < 3; i++) {
    hotssl_manager *m = NULL;
    uint64_t t0 = tu_now_ms();
    int r;
    snprintf(conf, sizeof conf,
             "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
             "ssl_passphrase_command = '%s'\nhotssl_passphrase_timeout_ms = 300\n", cmds[i]);
    r = manager_from(conf, &m, err, sizeof err);
    if (i < 2) {
      TEQ(r, HOTSSL_EPASSPHRASE);
      T(strstr(err, "did not finish within 300 ms") != NULL);
      T(tu_now_ms() - t0 < 20000);
    } else {
      TEQ(r, 0);
    }
    hotssl_manager_destroy(m);
  }
}

/* The optional on_reload callback fires once per reload attempt (not at
 * start) with the result and the generation then served. */
static int cb_calls, cb_last_result;
static uint64_t cb_last_gen;
static void on_reload(void *ud, int result, uint64_t generation) {
  (void)ud;
  cb_calls++;
  cb_last_result = result;
  cb_last_gen = generation;
}

static void test_on_reload(void) {
  hotssl_config *cfg;
  hotssl_manager *m = NULL;
  hotssl_manager_options o = {0};
  char err[512], *p = tu_path(dir, "hotssl.conf");
  put("server.crt", "server-cn-only.crt", 0644);
  put("server.key", "server-cn-only.key", 0600);
  put_text("hotssl.conf", good_conf, 0644);
  hotssl_config_create(&cfg);
  TEQ(hotssl_config_load_file(cfg, p, err, sizeof err), 0);
  o.on_reload = on_reload;
  TEQ(hotssl_manager_create(&m, cfg, &o, err, sizeof err), 0);
  hotssl_config_destroy(cfg);
  free(p);
  if (m == NULL)
    return;
  TEQ(cb_calls, 0);
  TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), HOTSSL_UNCHANGED);
  TEQ(cb_calls, 1);
  TEQ(cb_last_result, HOTSSL_UNCHANGED);
  put("server.key", "server-cn-and-alt-names.key", 0600);
  TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), HOTSSL_EMISMATCH);
  TEQ(cb_calls, 2);
  TEQ(cb_last_result, HOTSSL_EMISMATCH);
  TEQ(cb_last_gen, 1);
  put("server.crt", "server-cn-and-alt-names.crt", 0644);
  TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), 0);
  TEQ(cb_calls, 3);
  TEQ(cb_last_result, 0);
  TEQ(cb_last_gen, 2);
  hotssl_manager_destroy(m);
}

int main(void) {
  td = tu_testdata();
  dir = tu_mkdtemp();
  test_config_parser();
  test_errors();
  test_start_and_reload();
  test_start_errors();
  test_expired();
  test_signal_path();
  test_reuse();
  test_client_cert_modes();
  test_passphrase_timeout();
  test_on_reload();
  tu_rmtree(dir);
  free(dir);
  tu_log_clear();
  return tu_finish("api", checks);
}
