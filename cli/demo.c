/*
 * `hotssl demo`: a self-contained tour in a temporary folder. Makes a CA and
 * two server certificates, serves over TLS on 127.0.0.1, connects a verifying
 * client, rotates the certificate and key (written aside, then renamed into
 * place; the file watcher picks it up, trigger "file change"), breaks the
 * certificate file and shows that the last good configuration keeps serving. Exits 0 when every step behaved as promised.
 * The same on POSIX and Windows: the folder, the files and the listener come
 * from sys.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "hotssl/watcher.h"
#include "certgen.h"
#include "cli.h"
#include "sys.h"

typedef struct demo {
  char dir[300];
  certgen_rng rng;
  mbedtls_pk_context ca_key;
  hotssl_manager *m;
  hotssl_watcher *w;
  int lfd, port;
  atomic_int stopping; /* set before the last connection, which ends server_main */
  int started;
  pthread_t server;
} demo;

static void demo_log(void *ud, hotssl_log_level level, const char *msg) {
  (void)ud;
  printf("      log %s: %s\n", hotssl_log_level_name(level), msg);
  fflush(stdout);
}

/* A new key and a certificate for it, signed by the demo CA. */
static int issue_server(demo *d, unsigned long serial) {
  mbedtls_pk_context key;
  char pem[4096], keypem[2048];
  int ret;
  mbedtls_pk_init(&key);
  ret = certgen_key(&key, &d->rng);
  if (ret == 0)
    ret = certgen_cert(&key, "CN=localhost,O=hotssl demo", &d->ca_key, "CN=hotssl demo CA",
                       serial, "20250101000000", "20450101000000", 0, &d->rng, pem, sizeof pem);
  if (ret == 0)
    ret = certgen_key_pem(&key, keypem, sizeof keypem);
  mbedtls_pk_free(&key);
  if (ret != 0)
    return ret;
  /* Key first, then certificate: a reload in between would see a mismatch
   * and keep the old pair; here the reload runs after both. */
  if (cli_write_replace(d->dir, "server.key", keypem, 1) != 0 ||
      cli_write_replace(d->dir, "server.crt", pem, 0) != 0)
    return -1;
  return 0;
}

static void *server_main(void *p) {
  demo *d = p;
  for (;;) {
    int fd = cli_demo_accept(d->lfd);
    hotssl_generation *g;
    if (fd < 0 || atomic_load(&d->stopping)) {
      if (fd >= 0)
        cli_sock_close(fd);
      break;
    }
    g = hotssl_manager_acquire(d->m);
    cli_serve_connection(g, fd, 0, cli_handshake_deadline(60));
    hotssl_generation_release(g);
    cli_sock_close(fd);
  }
  return NULL;
}

/* The one serial format of hotssl (logs, info, stats): uppercase hex without
 * separators or leading zero bytes, as `openssl x509 -serial` prints it. */
static void serial_hex(const mbedtls_x509_buf *sn, char *out, size_t len) {
  size_t i = 0, off = 0;
  while (i + 1 < sn->len && sn->p[i] == 0)
    i++;
  out[0] = '\0';
  for (; i < sn->len && off + 3 <= len; i++)
    off += (size_t)snprintf(out + off, len - off, "%02X", sn->p[i]);
}

/* Wait up to 20 s for cond(d) (no fixed sleeps: a loaded machine is slow). */
static int wait_for(demo *d, int (*cond)(demo *, uint64_t), uint64_t arg) {
  struct timespec ts = {0, 20 * 1000 * 1000};
  int i;
  for (i = 0; i < 1000; i++) {
    if (cond(d, arg))
      return 0;
    nanosleep(&ts, NULL);
  }
  return -1;
}

static int generation_above(demo *d, uint64_t n) {
  hotssl_stats st;
  return hotssl_manager_stats(d->m, &st) == 0 && st.generation > n;
}

static int failures_above(demo *d, uint64_t n) {
  hotssl_stats st;
  return hotssl_manager_stats(d->m, &st) == 0 && st.reloads_failed > n;
}

/* Connect, verify against the demo CA, echo "ping"; print what was served. */
static int client(demo *d, char *serial, size_t serial_len) {
  mbedtls_ssl_context ssl;
  mbedtls_ssl_config conf;
  mbedtls_x509_crt ca;
  mbedtls_net_context net;
  char path[320], port[16], subject[256];
  unsigned char buf[8];
  const mbedtls_x509_crt *peer;
  int ret;

  mbedtls_ssl_init(&ssl);
  mbedtls_ssl_config_init(&conf);
  mbedtls_x509_crt_init(&ca);
  mbedtls_net_init(&net);
  snprintf(path, sizeof path, "%s/ca.crt", d->dir);
  snprintf(port, sizeof port, "%d", d->port);
  if ((ret = mbedtls_x509_crt_parse_file(&ca, path)) != 0 ||
      (ret = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                         MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
    goto out;
  mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &d->rng.drbg);
  mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
  mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  if ((ret = mbedtls_ssl_setup(&ssl, &conf)) != 0 ||
      (ret = mbedtls_ssl_set_hostname(&ssl, "localhost")) != 0 ||
      (ret = mbedtls_net_connect(&net, "127.0.0.1", port, MBEDTLS_NET_PROTO_TCP)) != 0)
    goto out;
  mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
  while ((ret = mbedtls_ssl_handshake(&ssl)) == MBEDTLS_ERR_SSL_WANT_READ ||
         ret == MBEDTLS_ERR_SSL_WANT_WRITE)
    ;
  if (ret != 0)
    goto out;
  if ((ret = mbedtls_ssl_write(&ssl, (const unsigned char *)"ping", 4)) != 4 ||
      (ret = mbedtls_ssl_read(&ssl, buf, sizeof buf)) != 4 || memcmp(buf, "ping", 4) != 0) {
    ret = -1;
    goto out;
  }
  peer = mbedtls_ssl_get_peer_cert(&ssl);
  mbedtls_x509_dn_gets(subject, sizeof subject, &peer->subject);
  serial_hex(&peer->serial, serial, serial_len);
  printf("      client: %s, verified \"%s\", serial %s, echo ok\n", mbedtls_ssl_get_version(&ssl),
         subject, serial);
  mbedtls_ssl_close_notify(&ssl);
  ret = 0;
out:
  if (ret != 0)
    printf("      client: failed (-0x%04X)\n", (unsigned)-ret);
  mbedtls_net_free(&net);
  mbedtls_ssl_free(&ssl);
  mbedtls_ssl_config_free(&conf);
  mbedtls_x509_crt_free(&ca);
  return ret;
}

static int fail(const char *what) {
  printf("demo FAILED: %s\n", what);
  return 1;
}

static int run(demo *d) {
  char pem[4096], path[320], err[600], s1[64], s2[64], s3[64];
  hotssl_config *cfg = NULL;
  hotssl_manager_options o = {0};
  hotssl_watcher_options wo;
  hotssl_stats st;
  int r;

  mbedtls_pk_init(&d->ca_key);
  if (certgen_rng_init(&d->rng) != 0 || certgen_key(&d->ca_key, &d->rng) != 0 ||
      certgen_cert(&d->ca_key, "CN=hotssl demo CA", &d->ca_key, "CN=hotssl demo CA", 1, "20250101000000",
                   "20450101000000", 1, &d->rng, pem, sizeof pem) != 0 ||
      cli_write_replace(d->dir, "ca.crt", pem, 0) != 0 || issue_server(d, 0x1001) != 0)
    return fail("could not make certificates");
  if (cli_write_replace(d->dir, "hotssl.conf",
                        "# postgresql.conf syntax; paths relative to this file\n"
                        "ssl_cert_file = 'server.crt'\n"
                        "ssl_key_file = 'server.key'\n"
                        "ssl_min_protocol_version = 'TLSv1.2'\n",
                        0) != 0)
    return fail("could not write hotssl.conf");
  printf("[1] made a CA and a server certificate (serial 1001) in %s\n", d->dir);

  snprintf(path, sizeof path, "%s/hotssl.conf", d->dir);
  if (hotssl_config_create(&cfg) != 0 || hotssl_config_load_file(cfg, path, err, sizeof err) != 0)
    return fail(err);
  o.log = demo_log;
  r = hotssl_manager_create(&d->m, cfg, &o, err, sizeof err);
  hotssl_config_destroy(cfg);
  if (r != 0)
    return fail(err);
  memset(&wo, 0, sizeof wo);
  wo.backend = HOTSSL_WATCHER_AUTO;
  wo.own_thread = 1;
  if (hotssl_watcher_create(&d->w, d->m, &wo) != 0)
    return fail("could not start the file watcher");
  if ((d->lfd = cli_demo_listen(&d->port)) < 0 || pthread_create(&d->server, NULL, server_main, d) != 0)
    return fail("could not listen");
  d->started = 1;
  printf("[2] serving on 127.0.0.1:%d, watching the files (%s)\n", d->port,
         hotssl_watcher_backend_name(d->w));
  if (client(d, s1, sizeof s1) != 0)
    return fail("first connection");

  printf("[3] rotating: new key and certificate (serial 1002) written aside and renamed into place;\n"
         "    no API call, no signal: the watcher picks it up\n");
  hotssl_manager_stats(d->m, &st);
  if (issue_server(d, 0x1002) != 0)
    return fail("could not issue the second certificate");
  if (wait_for(d, generation_above, st.generation) != 0)
    return fail("the watcher did not pick up the rotation");
  if (client(d, s2, sizeof s2) != 0 || strcmp(s1, s2) == 0)
    return fail("the rotated certificate is not served");

  printf("[4] breaking server.crt (truncated PEM); the watcher tries it and keeps the last good one\n");
  hotssl_manager_stats(d->m, &st);
  if (cli_write_replace(d->dir, "server.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n", 0) != 0)
    return fail("could not break server.crt");
  if (wait_for(d, failures_above, st.reloads_failed) != 0)
    return fail("the broken certificate file was not reported");
  if (client(d, s3, sizeof s3) != 0 || strcmp(s2, s3) != 0)
    return fail("the last good configuration is not served");
  hotssl_manager_stats(d->m, &st);
  printf("[5] the last good configuration (serial %s, generation %llu) kept serving\n", st.serial,
         (unsigned long long)st.generation);
  return strcmp(st.serial, s3) == 0 ? 0 : fail("the stats and the client disagree on the serial");
}

/* End server_main: it takes one more connection and sees d->stopping. */
static void stop_server(demo *d) {
  mbedtls_net_context net;
  char port[16];
  atomic_store(&d->stopping, 1);
  snprintf(port, sizeof port, "%d", d->port);
  mbedtls_net_init(&net);
  if (mbedtls_net_connect(&net, "127.0.0.1", port, MBEDTLS_NET_PROTO_TCP) == 0)
    pthread_join(d->server, NULL);
  mbedtls_net_free(&net);
}

int cli_cmd_demo(int argc, char **argv) {
  demo d;
  int r;
  if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
    return cli_help(stdout, "demo"), 0;
  if (argc > 1) {
    fprintf(stderr, "hotssl demo: takes no arguments, not \"%s\"\nTry \"hotssl demo --help\".\n", argv[1]);
    return 2;
  }
  memset(&d, 0, sizeof d);
  d.lfd = -1;
  if (cli_demo_dir(d.dir, sizeof d.dir) != 0) {
    fprintf(stderr, "hotssl demo: could not create a temporary folder: %s\n", strerror(errno));
    return 1;
  }
  printf("hotssl %s demo\n", hotssl_version_string());
  r = run(&d);
  if (d.started)
    stop_server(&d);
  if (d.lfd >= 0)
    cli_sock_close(d.lfd);
  hotssl_watcher_destroy(d.w);
  hotssl_manager_destroy(d.m);
  mbedtls_pk_free(&d.ca_key);
  certgen_rng_free(&d.rng);
  cli_remove_dir(d.dir);
  if (r == 0)
    printf("demo OK\n");
  return r;
}
