/*
 * ssl_sni in the library, without a network: the per-host
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
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/pk.h>

#include "build.h"
#include "certgen.h"
#include "hosts.h"
#include "hotssl/platform.h"
#include "manager.h"
#include "os.h"
#include "snapshot.h"
#include "testutil.h"

static int checks;
#define C(x) do { checks++; CHECK(x); } while (0)
#define CE(a, b) do { checks++; CHECK_EQ_INT(a, b); } while (0)

static certgen_rng rng;
static mbedtls_pk_context ca_key;

/* A leaf for key with serial, padded with newlines to pad bytes (0: none). */
static void leaf_pem(mbedtls_pk_context *key, const char *name, unsigned long serial, char *pem,
                     size_t size, size_t pad) {
  char subject[80];
  size_t l;
  snprintf(subject, sizeof subject, "CN=%s", name);
  if (certgen_cert(key, subject, &ca_key, "CN=hosts test CA", serial, "20200101000000",
                   "20991231235959", 0, &rng, pem, size) != 0) {
    fprintf(stderr, "certgen failed\n");
    exit(1);
  }
  for (l = strlen(pem); l < pad && l + 1 < size; l++)
    pem[l] = '\n', pem[l + 1] = '\0';
}

/* dir/name.crt (crt) and dir/name.key (key's PEM), written in place or
 * renamed over (atomic). */
static void put_pair(const char *dir, const char *name, mbedtls_pk_context *key, const char *crt,
                     int atomic) {
  static char pem[8192];
  char file[64], *p;
  void (*put)(const char *, const char *, int) = atomic ? tu_write_atomic : tu_write;
  snprintf(file, sizeof file, "%s.crt", name);
  put(p = tu_path(dir, file), crt, 0644);
  free(p);
  certgen_key_pem(key, pem, sizeof pem);
  snprintf(file, sizeof file, "%s.key", name);
  put(p = tu_path(dir, file), pem, 0600);
  free(p);
}

/* dir/name.crt and dir/name.key: a leaf "CN=name" with serial. */
static void make_leaf(const char *dir, const char *name, unsigned long serial) {
  mbedtls_pk_context key;
  static char pem[8192];
  mbedtls_pk_init(&key);
  if (certgen_key(&key, &rng) != 0) {
    fprintf(stderr, "certgen failed\n");
    exit(1);
  }
  leaf_pem(&key, name, serial, pem, sizeof pem, 0);
  put_pair(dir, name, &key, pem, 0);
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

/* ---- file memos for every entry ---- */

/* Reads counted through the OS call table (os/calls.c): which files the
 * loader read a byte of (an open + fstat alone is not a read). */
static apr_file_t *count_last_f;
static char count_last_path[1024];
static char *count_read[512];
static size_t count_n;
static hotssl__os_calls counting;

static apr_status_t count_open(apr_file_t **f, const char *path, apr_int32_t flag,
                               apr_fileperms_t perm, apr_pool_t *pool) {
  apr_status_t rv = hotssl__os_real()->file_open(f, path, flag, perm, pool);
  count_last_f = rv == APR_SUCCESS ? *f : NULL;
  snprintf(count_last_path, sizeof count_last_path, "%s", path);
  return rv;
}

static apr_status_t count_file_read(apr_file_t *f, void *buf, apr_size_t *n) {
  size_t i;
  if (f == count_last_f) {
    for (i = 0; i < count_n && strcmp(count_read[i], count_last_path) != 0; i++)
      ;
    if (i == count_n && count_n < sizeof count_read / sizeof *count_read)
      count_read[count_n++] = strdup(count_last_path);
  }
  return hotssl__os_real()->file_read(f, buf, n);
}

static void count_reset(void) {
  size_t i;
  for (i = 0; i < count_n; i++)
    free(count_read[i]);
  count_n = 0;
}

/* Entry files read since count_reset (the configuration and hosts files
 * are always read); with name, 1 if that file (last path component) was
 * one of them. */
static size_t entry_reads(const char *name) {
  size_t i, n = 0;
  for (i = 0; i < count_n; i++) {
    const char *base = strrchr(count_read[i], '/') + 1;
    if (strcmp(base, "pg_hosts.conf") == 0 || strcmp(base, "hotssl.conf") == 0)
      continue;
    if (name == NULL || strcmp(base, name) == 0)
      n++;
  }
  return n;
}

/* Reload m with reads counted. */
static int counted_reload(hotssl_manager *m) {
  int r;
  count_reset();
  hotssl__os_set_calls(&counting);
  r = hotssl_manager_reload(m, HOTSSL_TRIGGER_API);
  hotssl__os_set_calls(NULL);
  return r;
}

static int64_t wall_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define MEMO_HOSTS 50

static char *memo_hosts_text(int swapped) {
  static char text[MEMO_HOSTS * 64];
  size_t off = 0;
  int i;
  for (i = 0; i < MEMO_HOSTS; i++) {
    int f = swapped && i < 2 ? 1 - i : i; /* swapped: h0 and h1 trade files, not CAs */
    off += (size_t)snprintf(text + off, sizeof text - off, "h%d.test h%d.crt h%d.key%s\n", i, f, f,
                            i == 1 ? " ca2.crt" : i < 10 ? " ca1.crt" : "");
  }
  return text;
}

/* 50 entries (h0..h49; h0 and h2..h9 share ca1.crt, h1 has ca2.crt):
 * (a) once every file is older than the racy window, a reload reads no
 *     entry file (counted through the OS call table), and the counter does
 *     see the reads of the reload before; one memo per path;
 * (b) h7's pair rotated by rename-over: only h7.crt and h7.key are read,
 *     and a handshake for h7.test is served the new certificate;
 * (c) h3.crt rewritten in place with another certificate of the same size
 *     and key, its memo carrying the new identity as if recorded within
 *     the same timestamp tick (racy): picked up (without the racy rule it
 *     would be skipped and the reload "unchanged");
 * (d) the hosts file swaps h0's and h1's pairs but keeps their CAs: each
 *     entry's lender (the previous h1, resp. h0) has the other CA, so the
 *     skipped ca1.crt / ca2.crt are read again and each entry gets its own
 *     CA, with the lender's certificate and key reused. */
static void memo_entries(const char *top) {
  char *dir = tu_path(top, "memo"), *conf, *hosts, err[512], serial[80], file[64], *p;
  static char pem[8192], pem3b[8192];
  hotssl_config *cfg = NULL;
  hotssl_manager *m = NULL;
  hotssl_generation *g0, *g;
  hotssl_host_stats h;
  mbedtls_pk_context key3;
  tu_server *srv;
  int64_t newest = 0;
  size_t i, pad;

  counting = *hotssl__os_real();
  counting.file_open = count_open;
  counting.file_read = count_file_read;
  mkdir(dir, 0700);
  for (i = 0; i < MEMO_HOSTS; i++) {
    snprintf(file, sizeof file, "h%zu", i);
    if (i != 3)
      make_leaf(dir, file, 0x100 + i);
  }
  /* h3: two certificates of one key, padded to the same size. */
  mbedtls_pk_init(&key3);
  C(certgen_key(&key3, &rng) == 0);
  leaf_pem(&key3, "h3", 0x103, pem, sizeof pem, 0);
  leaf_pem(&key3, "h3", 0x3B, pem3b, sizeof pem3b, 0);
  pad = strlen(pem) > strlen(pem3b) ? strlen(pem) : strlen(pem3b);
  leaf_pem(&key3, "h3", 0x103, pem, sizeof pem, pad);
  leaf_pem(&key3, "h3", 0x3B, pem3b, sizeof pem3b, pad);
  put_pair(dir, "h3", &key3, pem, 0);
  mbedtls_pk_free(&key3);
  {
    mbedtls_pk_context k2;
    mbedtls_pk_init(&k2);
    C(certgen_key(&k2, &rng) == 0);
    C(certgen_cert(&ca_key, "CN=hosts test CA", &ca_key, "CN=hosts test CA", 1, "20200101000000",
                   "20991231235959", 1, &rng, pem, sizeof pem) == 0);
    tu_write(p = tu_path(dir, "ca1.crt"), pem, 0644);
    free(p);
    C(certgen_cert(&k2, "CN=other CA", &k2, "CN=other CA", 2, "20200101000000",
                   "20991231235959", 1, &rng, pem, sizeof pem) == 0);
    tu_write(p = tu_path(dir, "ca2.crt"), pem, 0644);
    free(p);
    mbedtls_pk_free(&k2);
  }
  conf = tu_path(dir, "hotssl.conf");
  hosts = tu_path(dir, "pg_hosts.conf");
  tu_write(conf, "ssl_sni = on\nssl_cert_file = ''\nssl_key_file = ''\n", 0644);
  tu_write(hosts, memo_hosts_text(0), 0644);
  C(hotssl_config_create(&cfg) == 0);
  C(hotssl_config_load_file(cfg, conf, err, sizeof err) == 0);
  CE(hotssl_manager_create(&m, cfg, NULL, err, sizeof err), 0);
  hotssl_config_destroy(cfg);
  if (m == NULL) {
    fprintf(stderr, "%s\n", err);
    goto out;
  }
  /* One memo per path: 50 pairs and 2 CA files (ca1.crt named 9 times). */
  CE(m->memos.n, 2 * MEMO_HOSTS + 2);

  /* Wait (bounded) until every file is older than the racy window. */
  for (i = 0; i < m->memos.n; i++) {
    if (m->memos.v[i].id.ctime_ns > newest)
      newest = m->memos.v[i].id.ctime_ns;
    if (m->memos.v[i].id.mtime_ns > newest)
      newest = m->memos.v[i].id.mtime_ns;
  }
  {
    uint64_t deadline = tu_now_ms() + 30000;
    while (wall_ns() <= newest + HOTSSL__RACY_NS + 100000000 && tu_now_ms() < deadline) {
      struct timespec ts = {0, 20000000};
      nanosleep(&ts, NULL);
    }
  }
  /* Memos as the start recorded them when it ran right after the writes
   * (racy; a slow start under valgrind may be later): everything is read,
   * which shows the counter counts, and the memos recorded now are trusted. */
  for (i = 0; i < m->memos.n; i++) {
    /* each memo just after its own file's times: racy whatever the writes' spread */
    int64_t own = m->memos.v[i].id.mtime_ns > m->memos.v[i].id.ctime_ns ? m->memos.v[i].id.mtime_ns
                                                                        : m->memos.v[i].id.ctime_ns;
    m->memos.v[i].seen_ns = own + 1000000;
  }
  CE(counted_reload(m), HOTSSL_UNCHANGED);
  CE(entry_reads(NULL), 2 * MEMO_HOSTS + 2);
  /* (a) */
  g0 = hotssl_manager_acquire(m);
  CE(counted_reload(m), HOTSSL_UNCHANGED);
  CE(entry_reads(NULL), 0);
  CE(count_n, 2); /* the configuration and hosts files */
  tu_write_atomic(hosts, memo_hosts_text(0), 0644);
  {
    /* A build (the hosts file changed: a comment), every entry lent. */
    FILE *f = fopen(hosts, "a");
    fputs("# touched\n", f);
    fclose(f);
  }
  CE(counted_reload(m), 0);
  CE(entry_reads(NULL), 0);
  g = hotssl_manager_acquire(m);
  C(g != g0);
  for (i = 0; i < MEMO_HOSTS; i++) {
    C(g->hosts->v[i].g->cert == g0->hosts->v[i].g->cert);
    C(g->hosts->v[i].g->key == g0->hosts->v[i].g->key);
  }
  hotssl_generation_release(g);
  hotssl_generation_release(g0);

  srv = tu_server_start(m, 1);
  /* (b) */
  {
    mbedtls_pk_context k7;
    mbedtls_pk_init(&k7);
    C(certgen_key(&k7, &rng) == 0);
    leaf_pem(&k7, "h7", 0x7B, pem, sizeof pem, 0);
    put_pair(dir, "h7", &k7, pem, 1); /* rename-over */
    mbedtls_pk_free(&k7);
  }
  CE(counted_reload(m), 0);
  CE(entry_reads(NULL), 2);
  CE(entry_reads("h7.crt"), 1);
  CE(entry_reads("h7.key"), 1);
  C(tu_client_sni(tu_server_port(srv), NULL, NULL, NULL, "h7.test", serial, sizeof serial) == 0 &&
    strcmp(serial, "7B") == 0);
  C(tu_client_sni(tu_server_port(srv), NULL, NULL, NULL, "h8.test", serial, sizeof serial) == 0 &&
    strcmp(serial, "0108") == 0);

  /* (c) */
  p = tu_path(dir, "h3.crt");
  {
    int fd = open(p, O_WRONLY);
    size_t n = strlen(pem3b);
    hotssl__file_memo *mm = NULL;
    C(fd >= 0 && pwrite(fd, pem3b, n, 0) == (ssize_t)n);
    if (fd >= 0)
      close(fd);
    for (i = 0; i < m->memos.n; i++)
      if (strcmp(m->memos.v[i].path, p) == 0)
        mm = &m->memos.v[i];
    C(mm != NULL);
    if (mm != NULL)
      tu_memo_racy(mm, p);
  }
  free(p);
  CE(counted_reload(m), 0);
  CE(entry_reads("h3.crt"), 1);
  C(tu_client_sni(tu_server_port(srv), NULL, NULL, NULL, "h3.test", serial, sizeof serial) == 0 &&
    strcmp(serial, "3B") == 0);

  /* (d) */
  g0 = hotssl_manager_acquire(m);
  tu_write_atomic(hosts, memo_hosts_text(1), 0644);
  CE(counted_reload(m), 0);
  CE(entry_reads("h0.crt") + entry_reads("h0.key") + entry_reads("h1.crt") + entry_reads("h1.key"), 0);
  CE(entry_reads("ca1.crt"), 1);
  CE(entry_reads("ca2.crt"), 1);
  g = hotssl_manager_acquire(m);
  C(g->hosts->v[0].g->cert == g0->hosts->v[1].g->cert && g->hosts->v[0].g->key == g0->hosts->v[1].g->key);
  C(g->hosts->v[1].g->cert == g0->hosts->v[0].g->cert && g->hosts->v[1].g->key == g0->hosts->v[0].g->key);
  C(g->hosts->v[0].g->ca != NULL && g->hosts->v[1].g->ca != NULL);
  C(memcmp(g->hosts->v[0].g->ca->fp, g0->hosts->v[0].g->ca->fp, 32) == 0);
  C(memcmp(g->hosts->v[1].g->ca->fp, g0->hosts->v[1].g->ca->fp, 32) == 0);
  C(strcmp(host_serial(g, 0, &h), "0101") == 0 && strcmp(host_serial(g, 1, &h), "0100") == 0);
  C(tu_client_sni(tu_server_port(srv), NULL, NULL, NULL, "h0.test", serial, sizeof serial) == 0 &&
    strcmp(serial, "0101") == 0);
  hotssl_generation_release(g);
  hotssl_generation_release(g0);
  CE(tu_server_handshake_failures(srv), 0);
  tu_server_stop(srv);
  hotssl_manager_destroy(m);
out:
  count_reset();
  free(conf);
  free(hosts);
  free(dir);
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
  if (argc > 1 && strcmp(argv[1], "stress") == 0) {
    rc = stress(dir);
  } else {
    memo_entries(dir);
    rc = basic(dir);
  }
  mbedtls_pk_free(&ca_key);
  certgen_rng_free(&rng);
  tu_rmtree(dir);
  free(dir);
  return rc;
}
