/*
 * The client-certificate verifier on a chain whose intermediate only
 * the client sends, with that intermediate's CRL configured although its
 * issuer is not in ssl_ca_file (PostgreSQL's root_ca.crt + root+client.crl
 * layout). Certificates from cli/certgen.c, CRLs from the openssl CLI.
 * - the CRL set loads; the good leaf is accepted and the revoked one refused
 *   ("certificate revoked" at depth 0), by the revocation table and by the
 *   CRL walk alike;
 * - the table checks the intermediate's key against its CRL once, not per
 *   handshake: 200 verifications, one check;
 * - 4 threads verifying at once on a fresh generation all get the same
 *   answers (the lock-free cache; run under TSan in CI);
 * - without the intermediate's CRL, every leaf is refused ("unable to get
 *   certificate CRL"), on both paths.
 * - by default a generation holds the table only (no parsed CRL: the walk
 *   is refused with HOTSSL_EINVAL) and gives the same verdicts;
 * - a manager built from a CONTENTS snapshot (a spawned backend: the CRL
 *   set arrives as the parent's table, never parsed) gives the parent's
 *   verdicts for both CRL sets, checks the intermediate's key once from the
 *   table's digests, and holds a table that encodes to the parent's bytes.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "certgen.h"
#include "hotssl/platform.h"
#include "manager.h"
#include "verify.h"
#include "revocation.h"
#include "testutil.h"

static int checks;
#define T(c) do { checks++; CHECK(c); } while (0)
#define TEQ(a, b) do { checks++; CHECK_EQ_INT(a, b); } while (0)

static char *dir;

static void put(const char *sub, const char *name, const char *text) {
  char *d = tu_path(dir, sub), *p = tu_path(d, name);
  tu_write(p, text, 0600);
  free(p);
  free(d);
}

static char *slurp(const char *sub, const char *name) {
  char *d = tu_path(dir, sub), *p = tu_path(d, name);
  FILE *f = fopen(p, "rb");
  static char buf[8][16384];
  static int k;
  char *b = buf[k++ % 8];
  size_t n = f ? fread(b, 1, sizeof buf[0] - 1, f) : 0;
  b[n] = '\0';
  if (f)
    fclose(f);
  free(p);
  free(d);
  return b;
}

static void subdir(const char *name) {
  char *d = tu_path(dir, name);
  mkdir(d, 0700);
  free(d);
}

static int make(void) {
  certgen_rng r;
  mbedtls_pk_context rk, ik, lk, sk;
  static char b[16384];
  int rc = -1;
  char *d1, *d2;

  subdir("r");
  subdir("i");
  mbedtls_pk_init(&rk);
  mbedtls_pk_init(&ik);
  mbedtls_pk_init(&lk);
  mbedtls_pk_init(&sk);
  if (certgen_rng_init(&r) != 0)
    return -1;
  if (certgen_key(&rk, &r) != 0 || certgen_key(&ik, &r) != 0 || certgen_key(&lk, &r) != 0 ||
      certgen_key(&sk, &r) != 0)
    goto out;
#define CERT(key, subj, ikey, iss, serial, ca, sub, name)                                   \
  do {                                                                                     \
    if (certgen_cert(key, subj, ikey, iss, serial, "20200101000000", "20491231000000", ca, \
                     &r, b, sizeof b) != 0)                                                \
      goto out;                                                                            \
    put(sub, name, b);                                                                     \
  } while (0)
  CERT(&rk, "CN=paths root", &rk, "CN=paths root", 0x11, 1, "r", "ca.crt");
  CERT(&ik, "CN=paths intermediate", &rk, "CN=paths root", 0x12, 1, "i", "ca.crt");
  CERT(&lk, "CN=good", &ik, "CN=paths intermediate", 0x21, 0, ".", "good.crt");
  CERT(&lk, "CN=revoked", &ik, "CN=paths intermediate", 0x22, 0, ".", "revoked.crt");
  CERT(&sk, "CN=localhost", &rk, "CN=paths root", 0x13, 0, ".", "server.crt");
#undef CERT
  certgen_key_pem(&rk, b, sizeof b);
  put("r", "ca.key", b);
  certgen_key_pem(&ik, b, sizeof b);
  put("i", "ca.key", b);
  certgen_key_pem(&sk, b, sizeof b);
  put(".", "server.key", b);
  put("r", "index.txt", "R\t491231000000Z\t230101000000Z\t99\tunknown\t/CN=other\n");
  put("i", "index.txt", "R\t491231000000Z\t230101000000Z\t22\tunknown\t/CN=revoked\n");
  d1 = tu_path(dir, "r");
  d2 = tu_path(dir, "i");
  rc = tu_openssl_gencrl(d1) != 0 || tu_openssl_gencrl(d2) != 0 ? -1 : 0;
  free(d1);
  free(d2);
  /* The presented chains: leaf + intermediate; the CRL sets. */
  snprintf(b, sizeof b, "%s%s", slurp(".", "good.crt"), slurp("i", "ca.crt"));
  put(".", "good-chain.pem", b);
  snprintf(b, sizeof b, "%s%s", slurp(".", "revoked.crt"), slurp("i", "ca.crt"));
  put(".", "revoked-chain.pem", b);
  snprintf(b, sizeof b, "%s%s", slurp("r", "crl.pem"), slurp("i", "crl.pem"));
  put(".", "both.crl", b);
  put(".", "root.crl", slurp("r", "crl.pem"));
out:
  mbedtls_pk_free(&rk);
  mbedtls_pk_free(&ik);
  mbedtls_pk_free(&lk);
  mbedtls_pk_free(&sk);
  certgen_rng_free(&r);
  return rc;
}

static hotssl_manager *manager_ex(const char *crl, int keep) {
  char conf[512], err[512], *p = tu_path(dir, "hotssl.conf");
  hotssl_config *cfg = NULL;
  hotssl_manager *m = NULL;
  snprintf(conf, sizeof conf,
           "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'r/ca.crt'\n"
           "ssl_crl_file = '%s'\nssl_client_cert = require\nhotssl_watch = off\n", crl);
  tu_write(p, conf, 0644);
  hotssl_config_create(&cfg);
  if (keep)
    hotssl__config_keep_crl_walk(cfg); /* the walk is the reference */
  if (hotssl_config_load_file(cfg, p, err, sizeof err) != 0 ||
      hotssl_manager_create(&m, cfg, NULL, err, sizeof err) != 0)
    fprintf(stderr, "%s\n", err);
  hotssl_config_destroy(cfg);
  free(p);
  return m;
}

static hotssl_manager *manager(const char *crl) {
  return manager_ex(crl, 1);
}

/* 0 accepted, else the reason; same on both paths. */
static const char *verdict(hotssl_generation *g, const char *chain_name, int walk) {
  static char reason[2][200];
  mbedtls_x509_crt chain;
  hotssl_client_verify *v;
  char *p = tu_path(dir, chain_name);
  int r;
  mbedtls_x509_crt_init(&chain);
  TEQ(mbedtls_x509_crt_parse_file(&chain, p), 0);
  free(p);
  hotssl_client_verify_create(&v);
  r = hotssl__verify_chain(g, &chain, walk, v);
  snprintf(reason[walk], sizeof reason[walk], "%s", r == 0 ? "accept" : hotssl_client_verify_reason(v));
  hotssl_client_verify_destroy(v);
  mbedtls_x509_crt_free(&chain);
  return reason[walk];
}

typedef struct worker {
  hotssl_generation *g;
  int bad;
} worker;

static void *run(void *arg) {
  worker *w = arg;
  int i;
  for (i = 0; i < 20; i++) {
    mbedtls_x509_crt chain;
    hotssl_client_verify *v;
    char *p = tu_path(dir, i % 2 ? "good-chain.pem" : "revoked-chain.pem");
    mbedtls_x509_crt_init(&chain);
    if (mbedtls_x509_crt_parse_file(&chain, p) != 0 || hotssl_client_verify_create(&v) != 0)
      w->bad++;
    else {
      w->bad += hotssl__verify_chain(w->g, &chain, 0, v) != (i % 2 ? 0 : 1);
      hotssl_client_verify_destroy(v);
    }
    mbedtls_x509_crt_free(&chain);
    free(p);
  }
  return NULL;
}

/* The parent m's generation against a backend built from its snapshot. */
static void backend_same(hotssl_manager *m, const char *good_verdict, const char *bad_verdict) {
  hotssl_snapshot *s = NULL;
  hotssl_manager *b = NULL;
  hotssl_generation *gp, *gb;
  const unsigned char *bytes;
  unsigned char *ep, *eb;
  size_t len, lp, lb;
  char err[512];
  int i;
  TEQ(hotssl_snapshot_take(m, HOTSSL_SNAPSHOT_CONTENTS, &s), 0);
  bytes = hotssl_snapshot_bytes(s, &len);
  TEQ(hotssl_manager_create_from_snapshot(&b, bytes, len, NULL, err, sizeof err), 0);
  hotssl_snapshot_destroy(s);
  if (b == NULL)
    return;
  gp = hotssl_manager_acquire(m);
  gb = hotssl_manager_acquire(b);
  T(gb->crl != NULL && gb->crl->u.crl.raw.p == NULL); /* no CRL parsed */
  TEQ(gb->crl->crl_entries, gp->crl->crl_entries);
  T(gb->crl->crl_next_update == gp->crl->crl_next_update);
  lp = hotssl__revocation_encode(gp->crl->revocation, NULL);
  lb = hotssl__revocation_encode(gb->crl->revocation, NULL);
  TEQ(lp, lb);
  ep = malloc(lp);
  eb = malloc(lb);
  hotssl__revocation_encode(gp->crl->revocation, ep);
  hotssl__revocation_encode(gb->crl->revocation, eb);
  T(lp == lb && memcmp(ep, eb, lp) == 0);
  free(ep);
  free(eb);
  T(strcmp(verdict(gb, "good-chain.pem", 0), good_verdict) == 0);
  T(strcmp(verdict(gb, "revoked-chain.pem", 0), bad_verdict) == 0);
  T(strcmp(verdict(gp, "good-chain.pem", 0), good_verdict) == 0);
  T(strcmp(verdict(gp, "revoked-chain.pem", 0), bad_verdict) == 0);
  for (i = 0; i < 20; i++)
    verdict(gb, i % 2 ? "good-chain.pem" : "revoked-chain.pem", 0);
  /* The presented intermediate's key: checked once, from the table. */
  T(atomic_load(&gb->crl->revocation->presented_checks) <= 1);
  hotssl_generation_release(gp);
  hotssl_generation_release(gb);
  hotssl_manager_destroy(b);
}

int main(void) {
  hotssl_manager *m;
  hotssl_generation *g;
  int i, walk;

  dir = tu_mkdtemp();
  TEQ(make(), 0);

  /* The intermediate's CRL loads though its issuer is not in ssl_ca_file. */
  T((m = manager("both.crl")) != NULL);
  if (m != NULL) {
    g = hotssl_manager_acquire(m);
    for (walk = 0; walk < 2; walk++) {
      T(strcmp(verdict(g, "good-chain.pem", walk), "accept") == 0);
      T(strcmp(verdict(g, "revoked-chain.pem", walk), "certificate revoked") == 0);
    }
    /* Once per key: 200 more verifications, still one check. */
    for (i = 0; i < 100; i++) {
      verdict(g, "good-chain.pem", 0);
      verdict(g, "revoked-chain.pem", 0);
    }
    TEQ(atomic_load(&g->crl->revocation->presented_checks), 1);
    hotssl_generation_release(g);
    backend_same(m, "accept", "certificate revoked");
    hotssl_manager_destroy(m);
  }

  /* Threads on a fresh generation: same answers, a check or a few (racing
   * first verifications), never one per verification. */
  T((m = manager("both.crl")) != NULL);
  if (m != NULL) {
    pthread_t th[4];
    worker w[4];
    g = hotssl_manager_acquire(m);
    for (i = 0; i < 4; i++) {
      w[i].g = g;
      w[i].bad = 0;
      pthread_create(&th[i], NULL, run, &w[i]);
    }
    for (i = 0; i < 4; i++) {
      pthread_join(th[i], NULL);
      TEQ(w[i].bad, 0);
    }
    T(atomic_load(&g->crl->revocation->presented_checks) >= 1);
    T(atomic_load(&g->crl->revocation->presented_checks) <= 4);
    hotssl_generation_release(g);
    hotssl_manager_destroy(m);
  }

  /* Without the intermediate's CRL: fail closed, on both paths. */
  T((m = manager("root.crl")) != NULL);
  if (m != NULL) {
    g = hotssl_manager_acquire(m);
    for (walk = 0; walk < 2; walk++) {
      T(strcmp(verdict(g, "good-chain.pem", walk), "unable to get certificate CRL") == 0);
      T(strcmp(verdict(g, "revoked-chain.pem", walk), "unable to get certificate CRL") == 0);
    }
    hotssl_generation_release(g);
    backend_same(m, "unable to get certificate CRL", "unable to get certificate CRL");
    hotssl_manager_destroy(m);
  }

  /* By default a generation keeps the table only: no parsed CRL, the walk
   * refused, the table's verdicts unchanged. */
  T((m = manager_ex("both.crl", 0)) != NULL);
  if (m != NULL) {
    mbedtls_x509_crt chain;
    hotssl_client_verify *v;
    char *p = tu_path(dir, "good-chain.pem");
    g = hotssl_manager_acquire(m);
    T(g->crl->u.crl.raw.p == NULL);
    T(strcmp(verdict(g, "good-chain.pem", 0), "accept") == 0);
    T(strcmp(verdict(g, "revoked-chain.pem", 0), "certificate revoked") == 0);
    mbedtls_x509_crt_init(&chain);
    TEQ(mbedtls_x509_crt_parse_file(&chain, p), 0);
    hotssl_client_verify_create(&v);
    TEQ(hotssl__verify_chain(g, &chain, 1, v), HOTSSL_EINVAL);
    TEQ(hotssl__generation_use_mbedtls_crl(g), HOTSSL_EINVAL);
    hotssl_client_verify_destroy(v);
    mbedtls_x509_crt_free(&chain);
    free(p);
    hotssl_generation_release(g);
    backend_same(m, "accept", "certificate revoked");
    hotssl_manager_destroy(m);
  }

  tu_rmtree(dir);
  free(dir);
  return tu_finish("verify_paths", checks);
}
