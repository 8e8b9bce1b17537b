/*
 * Client-certificate verification cost with a large CRL: the revocation
 * table (core/revocation.c, the default) against mbedTLS's own CRL path
 * (re-hash and re-verify of every CRL on every verification), in one run.
 *   bench_crl [ENTRIES [SECONDS]]      defaults: 100000 entries, 3 s per round
 * Makes, in a temporary directory, an EC P-256 CA, server and client
 * certificates (cli/certgen.c) and a CRL of ENTRIES revoked serials
 * (`openssl ca -gencrl` from an index; the client is not in it), builds one
 * manager (ssl_client_cert = require) per path, then measures, alternating
 * the two paths over 3 rounds:
 *   - full TLS 1.2 handshakes with a client certificate per second, an
 *     in-process mbedTLS client against a server thread over loopback TCP;
 *   - mbedtls_x509_crt_verify of the client certificate alone per second,
 *     as the server's handshake runs it.
 * Prints the medians and the table/mbedTLS ratios. Not a test: no pass/fail.
 * The second manager's handshakes use hotssl's CRL walk (the
 * fail-closed verifier answering from the parsed CRLs, re-verifying each
 * signature per handshake, as mbedTLS does); its verification figure is
 * mbedTLS's own CRL check.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#include "certgen.h"
#include "manager.h"
#include "verify.h"
#include "revocation.h"
#include "testutil.h"

#define ROUNDS 3

static char dir[] = "/tmp/hotssl-bench-crl-XXXXXX";

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void put(const char *name, const char *text) {
  char p[512];
  FILE *f;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  if ((f = fopen(p, "w")) == NULL || fputs(text, f) < 0) {
    fprintf(stderr, "cannot write %s\n", p);
    exit(1);
  }
  fclose(f);
  chmod(p, 0600); /* the key file rule */
}

static int make_pki(unsigned long entries) {
  static char buf[16384];
  certgen_rng rng;
  mbedtls_pk_context cak, sk, ck;
  char p[600];
  const char *issuer = "CN=hotssl bench CA";
  unsigned long i;
  FILE *f;
  int r = -1;
  mbedtls_pk_init(&cak);
  mbedtls_pk_init(&sk);
  mbedtls_pk_init(&ck);
  if (certgen_rng_init(&rng) != 0)
    return -1;
  if (certgen_key(&cak, &rng) || certgen_key(&sk, &rng) || certgen_key(&ck, &rng))
    goto out;
  if (certgen_cert(&cak, issuer, &cak, issuer, 1, "20200101000000", "20491231000000", 1, &rng,
                   buf, sizeof buf))
    goto out;
  put("ca.crt", buf);
  certgen_key_pem(&cak, buf, sizeof buf);
  put("ca.key", buf);
  if (certgen_cert(&sk, "CN=localhost", &cak, issuer, 2, "20200101000000", "20491231000000", 0,
                   &rng, buf, sizeof buf))
    goto out;
  put("server.crt", buf);
  certgen_key_pem(&sk, buf, sizeof buf);
  put("server.key", buf);
  if (certgen_cert(&ck, "CN=client", &cak, issuer, 3, "20200101000000", "20491231000000", 0,
                   &rng, buf, sizeof buf))
    goto out;
  put("client.crt", buf);
  certgen_key_pem(&ck, buf, sizeof buf);
  put("client.key", buf);
  snprintf(p, sizeof p, "%s/index.txt", dir);
  if ((f = fopen(p, "w")) == NULL)
    goto out;
  for (i = 0; i < entries; i++)
    fprintf(f, "R\t491231000000Z\t230101000000Z\t%08lX\tunknown\t/CN=r%lu\n", 0x10000000ul + i, i);
  fclose(f);
  r = tu_openssl_gencrl(dir);
out:
  mbedtls_pk_free(&cak);
  mbedtls_pk_free(&sk);
  mbedtls_pk_free(&ck);
  certgen_rng_free(&rng);
  return r;
}

/* ---- server thread: accept, handshake with the generation's config, close ---- */

typedef struct server {
  int lfd, port;
  hotssl_generation *g;
  volatile int stop;
  unsigned long ok, failed;
  pthread_t th;
} server;

static void *server_main(void *arg) {
  server *s = arg;
  for (;;) {
    mbedtls_ssl_context ssl;
    mbedtls_net_context c;
    int fd = accept(s->lfd, NULL, NULL), ret;
    if (fd < 0 || s->stop) {
      if (fd >= 0)
        close(fd);
      return NULL;
    }
    c.fd = fd;
    /* small handshake records: without this, Nagle + delayed ACKs add 40 ms */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    mbedtls_ssl_init(&ssl);
    mbedtls_ssl_setup(&ssl, hotssl_generation_ssl_config(s->g));
    mbedtls_ssl_set_bio(&ssl, &c, mbedtls_net_send, mbedtls_net_recv, NULL);
    while ((ret = mbedtls_ssl_handshake(&ssl)) == MBEDTLS_ERR_SSL_WANT_READ ||
           ret == MBEDTLS_ERR_SSL_WANT_WRITE)
      ;
    if (ret == 0) {
      s->ok++;
      mbedtls_ssl_write(&ssl, (const unsigned char *)"k", 1);
    } else {
      s->failed++;
    }
    mbedtls_ssl_free(&ssl);
    close(fd);
  }
}

static int server_start(server *s, hotssl_generation *g) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  memset(s, 0, sizeof *s);
  s->g = g;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if ((s->lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof a) ||
      listen(s->lfd, 16) || getsockname(s->lfd, (struct sockaddr *)&a, &len))
    return -1;
  s->port = ntohs(a.sin_port);
  return pthread_create(&s->th, NULL, server_main, s);
}

static void server_stop(server *s) {
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  s->stop = 1;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)s->port);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
    fprintf(stderr, "cannot wake the server thread\n");
  close(fd);
  pthread_join(s->th, NULL);
  close(s->lfd);
}

/* ---- client ---- */

typedef struct client {
  certgen_rng rng;
  mbedtls_x509_crt crt;
  mbedtls_pk_context key;
  mbedtls_ssl_config conf;
} client;

static int client_init(client *c) {
  char p[600];
  mbedtls_x509_crt_init(&c->crt);
  mbedtls_pk_init(&c->key);
  mbedtls_ssl_config_init(&c->conf);
  if (certgen_rng_init(&c->rng) != 0)
    return -1;
  snprintf(p, sizeof p, "%s/client.crt", dir);
  if (mbedtls_x509_crt_parse_file(&c->crt, p) != 0)
    return -1;
  snprintf(p, sizeof p, "%s/client.key", dir);
  if (certgen_parse_keyfile(&c->key, p, &c->rng.drbg) != 0)
    return -1;
  if (mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                  MBEDTLS_SSL_PRESET_DEFAULT) != 0)
    return -1;
  mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
  mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->rng.drbg);
  return mbedtls_ssl_conf_own_cert(&c->conf, &c->crt, &c->key);
}

static void client_free(client *c) {
  mbedtls_ssl_config_free(&c->conf);
  mbedtls_pk_free(&c->key);
  mbedtls_x509_crt_free(&c->crt);
  certgen_rng_free(&c->rng);
}

static int handshake(client *c, int port) {
  mbedtls_ssl_context ssl;
  mbedtls_net_context n;
  char ps[16];
  unsigned char b[4];
  int ret;
  snprintf(ps, sizeof ps, "%d", port);
  mbedtls_net_init(&n);
  mbedtls_ssl_init(&ssl);
  if ((ret = mbedtls_net_connect(&n, "127.0.0.1", ps, MBEDTLS_NET_PROTO_TCP)) == 0 &&
      (ret = mbedtls_ssl_setup(&ssl, &c->conf)) == 0) {
    setsockopt(n.fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    mbedtls_ssl_set_bio(&ssl, &n, mbedtls_net_send, mbedtls_net_recv, NULL);
    while ((ret = mbedtls_ssl_handshake(&ssl)) == MBEDTLS_ERR_SSL_WANT_READ ||
           ret == MBEDTLS_ERR_SSL_WANT_WRITE)
      ;
    if (ret == 0)
      ret = mbedtls_ssl_read(&ssl, b, 1) == 1 ? 0 : -1;
  }
  mbedtls_ssl_free(&ssl);
  mbedtls_net_free(&n);
  return ret;
}

/* ---- verification alone, as the server's handshake runs it ---- */

static double verify_rate(hotssl_generation *g, int legacy, const mbedtls_x509_crt *crt,
                          double seconds, int *bad) {
  double t0 = now_s(), t;
  unsigned long n = 0;
  do {
    uint32_t flags = 0;
    int i;
    for (i = 0; i < 10; i++) {
      if (legacy)
        mbedtls_x509_crt_verify((mbedtls_x509_crt *)crt, &g->ca->u.crt, &g->crl->u.crl, NULL,
                                &flags, NULL, NULL);
      else
        mbedtls_x509_crt_verify((mbedtls_x509_crt *)crt, &g->ca->u.crt, NULL, NULL, &flags,
                                hotssl__verify_conf_cb, g);
      *bad |= flags != 0;
    }
    n += 10;
  } while ((t = now_s() - t0) < seconds);
  return (double)n / t;
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  unsigned long entries = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
  double seconds = argc > 2 ? atof(argv[2]) : 3.0;
  hotssl_manager *m[2] = {NULL, NULL};
  hotssl_generation *g[2];
  double hs[2][ROUNDS], vf[2][ROUNDS], t0;
  char conf[600], err[512], cmd[600];
  unsigned long fails = 0;
  int k, round, bad = 0;
  client c;

  if (mkdtemp(dir) == NULL)
    return 1;
  t0 = now_s();
  if (make_pki(entries) != 0) {
    fprintf(stderr, "could not make the PKI and CRL (see %s/ca.log)\n", dir);
    return 1;
  }
  printf("CRL of %lu entries made in %.1f s\n", entries, now_s() - t0);
  snprintf(conf, sizeof conf, "%s/hotssl.conf", dir);
  put("hotssl.conf", "ssl_cert_file='server.crt'\nssl_key_file='server.key'\nssl_ca_file='ca.crt'\n"
                     "ssl_crl_file='crl.pem'\nssl_client_cert=require\nhotssl_watch=off\n"
                     "hotssl_max_file_size=104857600\n");
  for (k = 0; k < 2; k++) {
    hotssl_config *cfg;
    hotssl_config_create(&cfg);
    if (k == 1)
      hotssl__config_keep_crl_walk(cfg); /* the walk needs the parsed CRLs */
    if (hotssl_config_load_file(cfg, conf, err, sizeof err) != 0 ||
        hotssl_manager_create(&m[k], cfg, NULL, err, sizeof err) != 0) {
      fprintf(stderr, "%s\n", err);
      return 1;
    }
    hotssl_config_destroy(cfg);
    g[k] = hotssl_manager_acquire(m[k]);
    if (k == 1 && hotssl__generation_use_mbedtls_crl(g[k]) != 0) { /* the walk, for comparison only */
      fprintf(stderr, "the parsed CRL set was not kept\n");
      return 1;
    }
  }
  printf("table: %zu issuer(s), %zu entries, %zu bytes of serials and names\n",
         g[0]->crl->revocation->n_issuers, g[0]->crl->revocation->n_entries,
         g[0]->crl->revocation->n_bytes);
  if (client_init(&c) != 0) {
    fprintf(stderr, "client setup failed\n");
    return 1;
  }
  for (round = 0; round < ROUNDS; round++) {
    for (k = 0; k < 2; k++) {
      server s;
      unsigned long n = 0;
      double t;
      if (server_start(&s, g[k]) != 0) {
        fprintf(stderr, "server start failed\n");
        return 1;
      }
      t0 = now_s();
      do {
        if (handshake(&c, s.port) != 0)
          fails++;
        n++;
      } while ((t = now_s() - t0) < seconds);
      server_stop(&s);
      fails += s.failed;
      hs[k][round] = (double)n / t;
      vf[k][round] = verify_rate(g[k], k, &c.crt, seconds / 3, &bad);
      printf("round %d %-7s: %7.1f handshakes/s, %9.1f verifications/s\n", round + 1,
             k == 0 ? "table" : "mbedTLS", hs[k][round], vf[k][round]);
      fflush(stdout);
    }
  }
  for (k = 0; k < 2; k++) {
    qsort(hs[k], ROUNDS, sizeof hs[k][0], cmpd);
    qsort(vf[k], ROUNDS, sizeof vf[k][0], cmpd);
  }
  printf("median table  : %.1f handshakes/s (%.2f ms each), %.1f verifications/s (%.3f ms each)\n",
         hs[0][ROUNDS / 2], 1e3 / hs[0][ROUNDS / 2], vf[0][ROUNDS / 2], 1e3 / vf[0][ROUNDS / 2]);
  printf("median mbedTLS: %.1f handshakes/s (%.2f ms each), %.1f verifications/s (%.3f ms each)\n",
         hs[1][ROUNDS / 2], 1e3 / hs[1][ROUNDS / 2], vf[1][ROUNDS / 2], 1e3 / vf[1][ROUNDS / 2]);
  printf("ratio table/mbedTLS: handshakes %.2fx, verification %.1fx\n",
         hs[0][ROUNDS / 2] / hs[1][ROUNDS / 2], vf[0][ROUNDS / 2] / vf[1][ROUNDS / 2]);
  printf("failed handshakes: %lu, verifications with flags: %d\n", fails, bad);
  client_free(&c);
  for (k = 0; k < 2; k++) {
    hotssl_generation_release(g[k]);
    hotssl_manager_destroy(m[k]);
  }
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  return fails != 0 || bad;
}
