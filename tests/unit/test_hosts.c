/*
 * ssl_sni in the library (issue 13), without a network: the per-host
 * iteration API (hotssl_generation_host_stats), reuse of an unchanged
 * entry's parsed objects across a reload while another entry rotates, a
 * broken entry at reload keeping the whole previous set, and a spawn
 * snapshot carrying every entry (taken, decoded into a new manager, and
 * compared). Certificates come from cli/certgen.c: no test data needed.
 *
 * `test_hosts stress` (label concurrency, run under TSan): client threads
 * handshake with three server names while the main thread rotates one
 * host's files and reloads; every handshake must be served the right
 * host's certificate.
 */
#include <pthread.h>
#include <string.h>

#include <mbedtls/pk.h>

#include "certgen.h"
#include "hosts.h"
#include "hotssl/platform.h"
#include "internal.h"
#include "snapshot.h"
#include "testutil.h"

static int checks;
#define C(x) do { checks++; CHECK(x); } while (0)
#define CE(a, b) do { checks++; CHECK_EQ_INT(a, b); } while (0)

static certgen_rng rng;
static mbedtls_pk_context ca_key;

/* dir/name.crt and dir/name.key: a leaf "CN=name" with serial. */
static void make_leaf(const char *dir, const char *name, unsigned long serial) {
  mbedtls_pk_context key;
  static char pem[8192];
  char subject[64], file[64], *p;
  mbedtls_pk_init(&key);
  snprintf(subject, sizeof subject, "CN=%s", name);
  if (certgen_key(&key, &rng) != 0 ||
      certgen_cert(&key, subject, &ca_key, "CN=hosts test CA", serial, "20200101000000",
                   "20991231235959", 0, &rng, pem, sizeof pem) != 0) {
    fprintf(stderr, "certgen failed\n");
    exit(1);
  }
  snprintf(file, sizeof file, "%s.crt", name);
  tu_write(p = tu_path(dir, file), pem, 0644);
  free(p);
  certgen_key_pem(&key, pem, sizeof pem);
  snprintf(file, sizeof file, "%s.key", name);
  tu_write(p = tu_path(dir, file), pem, 0600);
  free(p);
  mbedtls_pk_free(&key);
}

static void copy_pair(const char *dir, const char *from, const char *to) {
  char a[64], b[64], *pa, *pb;
  const char *ext[2] = {"crt", "key"};
  int i;
  for (i = 0; i < 2; i++) {
    snprintf(a, sizeof a, "%s.%s", from, ext[i]);
    snprintf(b, sizeof b, "%s.%s", to, ext[i]);
    tu_copy(pa = tu_path(dir, a), pb = tu_path(dir, b), i ? 0600 : 0644);
    free(pa);
    free(pb);
  }
}

/* core/snapshot.c's checksum: FNV-1a 64 over bytes 0..24 and 32..len,
 * big-endian at 24. */
static void fix_checksum(unsigned char *b, size_t len) {
  uint64_t h = 0xcbf29ce484222325ull;
  size_t i;
  for (i = 0; i < len; i++) {
    if (i >= 24 && i < 32)
      continue;
    h ^= b[i];
    h *= 0x100000001b3ull;
  }
  for (i = 0; i < 8; i++)
    b[24 + i] = (unsigned char)(h >> (56 - 8 * i));
}

static const char *host_serial(hotssl_generation *g, uint32_t i, hotssl_host_stats *h) {
  if (hotssl_generation_host_stats(g, i, h) != 0)
    return "(none)";
  return h->cert.serial;
}

/* Leaves a, b, b2, c in dir, bcur = b, an ssl_sni configuration naming no
 * certificate, the hosts file text, and a manager from them (NULL on
 * failure, reason printed). */
static hotssl_manager *start(const char *dir, const char *hosts_text, hotssl_config **cfg,
                             const hotssl_manager_options *o) {
  char *conf = tu_path(dir, "hotssl.conf"), *hosts = tu_path(dir, "pg_hosts.conf"), err[512];
  hotssl_manager *m = NULL;
  make_leaf(dir, "a", 0xA1);
  make_leaf(dir, "b", 0xB1);
  make_leaf(dir, "b2", 0xB2);
  make_leaf(dir, "c", 0xC1);
  copy_pair(dir, "b", "bcur");
  tu_write(conf, "ssl_sni = on\nssl_cert_file = ''\nssl_key_file = ''\n", 0644);
  tu_write(hosts, hosts_text, 0644);
  C(hotssl_config_create(cfg) == 0);
  C(hotssl_config_load_file(*cfg, conf, err, sizeof err) == 0);
  CE(hotssl_manager_create(&m, *cfg, o, err, sizeof err), 0);
  if (m == NULL)
    fprintf(stderr, "%s\n", err);
  free(conf);
  free(hosts);
  return m;
}

/* ---- stress ---- */

static atomic_int stress_stop;
static int stress_port;
static _Atomic unsigned long stress_ok, stress_bad, stress_failed;

static void *stress_client(void *arg) {
  static const char *names[3] = {"a.test", "B.TEST", "x.test"};
  unsigned i = (unsigned)(size_t)arg;
  char serial[80];
  while (!stress_stop) {
    const char *name = names[i++ % 3];
    if (tu_client_sni(stress_port, NULL, NULL, NULL, name, serial, sizeof serial) != 0)
      stress_failed++;
    else if (name[0] == 'a' ? strcmp(serial, "A1") == 0
             : name[0] == 'B' ? (strcmp(serial, "B1") == 0 || strcmp(serial, "B2") == 0)
                              : strcmp(serial, "C1") == 0)
      stress_ok++;
    else
      stress_bad++;
  }
  return NULL;
}

static int stress(const char *dir) {
  hotssl_config *cfg = NULL;
  hotssl_manager *m = start(dir, "a.test a.crt a.key\nb.test bcur.crt bcur.key\n* c.crt c.key\n", &cfg, NULL);
  tu_server *srv;
  pthread_t th[2];
  uint64_t end;
  const char *secs = getenv("HOTSSL_STRESS_SECONDS");
  unsigned long reloads = 0, t;

  if (m == NULL)
    return tu_finish("test_hosts stress", checks);
  srv = tu_server_start(m, 4);
  stress_port = tu_server_port(srv);
  for (t = 0; t < 2; t++)
    pthread_create(&th[t], NULL, stress_client, (void *)(size_t)t);
  end = tu_now_ms() + 1000 * (uint64_t)(secs != NULL ? atoi(secs) : 2);
  while (tu_now_ms() < end) {
    copy_pair(dir, reloads % 2 ? "b" : "b2", "bcur");
    if (hotssl_manager_reload(m, HOTSSL_TRIGGER_API) == 0)
      reloads++;
  }
  stress_stop = 1;
  for (t = 0; t < 2; t++)
    pthread_join(th[t], NULL);
  printf("stress: %lu handshakes served the right host, %lu the wrong one, %lu failed; %lu reloads\n",
         (unsigned long)stress_ok, (unsigned long)stress_bad, (unsigned long)stress_failed, reloads);
  C(stress_ok > 10);
  CE(stress_bad, 0);
  CE(stress_failed, 0);
  CE(tu_server_handshake_failures(srv), 0);
  C(reloads > 10);
  tu_server_stop(srv);
  hotssl_manager_destroy(m);
  hotssl_config_destroy(cfg);
  return tu_finish("test_hosts stress", checks);
}

static int basic(const char *dir) {
  char err[512], *bcrt = tu_path(dir, "bcur.crt");
  hotssl_config *cfg = NULL;
  hotssl_manager *m = NULL, *m2 = NULL;
  hotssl_manager_options o = {0};
  hotssl_generation *g1, *g2, *g3;
  hotssl_host_stats h;
  hotssl_stats st;
  hotssl_snapshot *snap = NULL;
  const unsigned char *bytes;
  size_t len;

  {
    char *names = tu_path(dir, "names");
    tu_write(names, "a2.test\nA3.Test\n", 0644);
    free(names);
  }
  o.log = tu_log;
  m = start(dir, "# two hosts\nA.test,@names a.crt a.key\nb.test bcur.crt bcur.key\n", &cfg, &o);
  if (m == NULL) {
    free(bcrt);
    return tu_finish("test_hosts", checks);
  }
  /* The iteration API. */
  C(hotssl_manager_stats(m, &st) == 0);
  CE(st.sni_hosts, 2);
  g1 = hotssl_manager_acquire(m);
  CE(hotssl_generation_host_count(g1), 2);
  C(strcmp(host_serial(g1, 0, &h), "A1") == 0);
  CE(h.line, 2);
  CE(h.n_names, 3);
  C(strcmp(h.names, "a.test,a2.test,a3.test") == 0);
  C(strcmp(h.cert.subject, "CN=a") == 0);
  C(!h.is_default && !h.is_no_sni && !h.has_ca);
  C(strcmp(host_serial(g1, 1, &h), "B1") == 0);
  CE(h.line, 3);
  CE(hotssl_generation_host_stats(g1, 2, &h), HOTSSL_EINVAL);
  CE(hotssl_generation_host_stats(NULL, 0, &h), HOTSSL_EINVAL);
  CE(hotssl_generation_host_count(NULL), 0);

  /* Rotate b: a's parsed certificate and key are reused, b's are new. */
  copy_pair(dir, "c", "bcur");
  CE(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), 0);
  g2 = hotssl_manager_acquire(m);
  C(g2 != g1);
  C(g2->hosts->v[0].g->cert == g1->hosts->v[0].g->cert);
  C(g2->hosts->v[0].g->key == g1->hosts->v[0].g->key);
  C(g2->hosts->v[1].g->cert != g1->hosts->v[1].g->cert);
  C(strcmp(host_serial(g2, 1, &h), "C1") == 0);
  /* g1 still holds its own set. */
  C(strcmp(host_serial(g1, 1, &h), "B1") == 0);
  hotssl_generation_release(g1);

  /* A broken entry at reload: the whole previous set keeps serving, and the
   * one failure line names the hosts file line and the file. */
  tu_write(bcrt, "-----BEGIN CERTIFICATE-----\nAAAA\n", 0644);
  tu_log_clear();
  C(hotssl_manager_reload(m, HOTSSL_TRIGGER_API) < 0);
  CE(tu_log_count("was not reloaded"), 1);
  CE(tu_log_count("line 3"), 1);
  CE(tu_log_count("bcur.crt"), 1);
  g3 = hotssl_manager_acquire(m);
  C(g3 == g2);
  hotssl_generation_release(g3);
  copy_pair(dir, "c", "bcur");
  CE(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), HOTSSL_UNCHANGED);

  /* A snapshot carries every entry; a backend built from it serves the same
   * set, with the same names. */
  C(hotssl_snapshot_take(m, HOTSSL_SNAPSHOT_CONTENTS, &snap) == 0);
  bytes = hotssl_snapshot_bytes(snap, &len);
  CE(hotssl_manager_create_from_snapshot(&m2, bytes, len, &o, err, sizeof err), 0);
  if (m2 != NULL) {
    hotssl_generation *b = hotssl_manager_acquire(m2);
    CE(hotssl_generation_host_count(b), 2);
    C(strcmp(host_serial(b, 0, &h), "A1") == 0);
    C(strcmp(h.names, "a.test,a2.test,a3.test") == 0);
    CE(h.line, 2);
    C(strcmp(host_serial(b, 1, &h), "C1") == 0);
    C(memcmp(b->fingerprint, g2->fingerprint, 32) == 0);
    hotssl_generation_release(b);
    hotssl_manager_destroy(m2);
  }
  {
    /* A prefork worker's rebuild from the snapshot (prev: what it serves)
     * reuses every entry's parsed objects. */
    hotssl_generation *w = NULL;
    hotssl_config *wc = NULL;
    hotssl__log nolog = {NULL, NULL};
    CE(hotssl__snapshot_build(bytes, len, g2, &nolog, &w, &wc, err, sizeof err), 0);
    if (w != NULL) {
      CE(hotssl_generation_host_count(w), 2);
      C(w->hosts->v[0].g->cert == g2->hosts->v[0].g->cert);
      C(w->hosts->v[1].g->key == g2->hosts->v[1].g->key);
      C(strcmp(host_serial(w, 1, &h), "C1") == 0);
      hotssl_generation_release(w);
    }
    hotssl_config_destroy(wc);
  }
  {
    /* Any flipped byte is refused (checksum), never crashes. */
    unsigned char *copy = malloc(len);
    size_t i, refused = 0;
    for (i = 32; copy != NULL && i < len; i += 97) {
      memcpy(copy, bytes, len);
      copy[i] ^= 0x20;
      m2 = NULL;
      if (hotssl_manager_create_from_snapshot(&m2, copy, len, NULL, err, sizeof err) != 0)
        refused++;
      hotssl_manager_destroy(m2);
    }
    CE(refused, (len - 32 + 96) / 97);
    free(copy);
  }
  {
    /* Bytes changed with a valid checksum (the decoder's own checks,
     * T_HOSTS/T_HOST included): decode refuses or accepts, never reads out
     * of bounds (ASan, valgrind), never leaks. */
    unsigned char *copy = malloc(len);
    size_t i;
    int decoded = 0;
    for (i = 32; copy != NULL && i < len; i += 3) { /* every third byte: valgrind time */
      hotssl_config *dc;
      hotssl__inputs din;
      int contents;
      uint64_t gen;
      memcpy(copy, bytes, len);
      copy[i] ^= (unsigned char)(i & 1 ? 0x01 : 0x80);
      fix_checksum(copy, len);
      if (hotssl__snapshot_decode(copy, len, &dc, &din, &contents, &gen, err, sizeof err) == 0) {
        decoded++;
        if (contents)
          hotssl__inputs_free(&din);
        hotssl_config_destroy(dc);
      }
    }
    C(decoded > 0); /* flips inside DER or names still decode */
    free(copy);
  }
  hotssl_snapshot_destroy(snap);
  hotssl_generation_release(g2);

  hotssl_manager_destroy(m);
  hotssl_config_destroy(cfg);
  free(bcrt);
  return tu_finish("test_hosts", checks);
}

int main(int argc, char **argv) {
  char *dir = tu_mkdtemp();
  static char pem[8192];
  int rc;
  mbedtls_pk_init(&ca_key);
  if (certgen_rng_init(&rng) != 0 || certgen_key(&ca_key, &rng) != 0 ||
      certgen_cert(&ca_key, "CN=hosts test CA", &ca_key, "CN=hosts test CA", 1, "20200101000000",
                   "20991231235959", 1, &rng, pem, sizeof pem) != 0) {
    fprintf(stderr, "certgen failed\n");
    return 1;
  }
  rc = argc > 1 && strcmp(argv[1], "stress") == 0 ? stress(dir) : basic(dir);
  mbedtls_pk_free(&ca_key);
  certgen_rng_free(&rng);
  tu_rmtree(dir);
  free(dir);
  return rc;
}
