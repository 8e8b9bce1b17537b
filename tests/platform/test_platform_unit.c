/*
 * Library-level tests of the platform layer, with real files, real fork()
 * and real handshakes (tu_server / tu_client):
 *  - snapshot round trip: a manager built from a CONTENTS snapshot serves the
 *    same certificate, generation number and fingerprint, even with every
 *    file deleted from disk; a PATHS snapshot then fails (it re-reads);
 *  - snapshots are hostile input: every truncation, bit flips, and records
 *    with lying lengths behind a valid checksum are refused without a crash;
 *  - the flat revocation table (the snapshot's CRL record) is hostile input:
 *    a hand-made table decodes and answers lookups; each lie (unsorted or
 *    repeated serials, a serial with a leading zero, offsets outside the
 *    pool, ranges that do not tile, unknown digest or key type, a wrong
 *    digest length, a CA link out of range, a count the bytes cannot hold,
 *    trailing bytes, the wrong CA count) and every truncation is refused;
 *    the real table survives every byte flip, and a lying table inside a
 *    checksummed snapshot is refused;
 *  - every record kind (settings, load flags, chain, CA + CRL, DH
 *    parameters, ssl_sni entries) survives a round trip byte for byte: a
 *    manager built from a snapshot takes the same snapshot again; unknown,
 *    repeated, misplaced and missing records are refused with their reason;
 *  - fork: without after_fork_child two children draw the SAME random bytes
 *    (the hazard, shown), with it they differ; a DRBG mutex held by a parent
 *    thread at fork time does not deadlock the child; the child's wake-up
 *    pipe is closed;
 *  - prefork: a forked worker picks up the parent's next generation through
 *    hotssl_prefork_check and serves it;
 *  - spawn: a backend program that cannot be executed fails in
 *    hotssl_spawn itself (HOTSSL_ESYS, the program and the reason), with
 *    no process to wait for and no descriptor left open.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hotssl/platform.h"
#include "manager.h"
#include "revocation.h"
#include "testutil.h"

static int checks;
#define T(c) do { checks++; CHECK(c); } while (0)
#define TEQ(a, b) do { checks++; CHECK_EQ_INT(a, b); } while (0)

static char *dir;

static void put(const char *name, const char *src, int mode) {
  char *from = tu_path(tu_testdata(), src), *to = tu_path(dir, name);
  tu_copy(from, to, mode);
  free(from);
  free(to);
}

static int manager_from(const char *conf, hotssl_manager **m) {
  hotssl_config *cfg;
  hotssl_manager_options o = {0};
  char *p = tu_path(dir, "hotssl.conf"), err[512];
  int r;
  tu_write(p, conf, 0644);
  hotssl_config_create(&cfg);
  r = hotssl_config_load_file(cfg, p, err, sizeof err);
  o.log = tu_log;
  if (r == 0)
    r = hotssl_manager_create(m, cfg, &o, err, sizeof err);
  if (r != 0)
    fprintf(stderr, "manager: %s\n", err);
  hotssl_config_destroy(cfg);
  free(p);
  return r;
}

static const char *full_conf =
    "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
    "ssl_ca_file = 'ca.crt'\nssl_crl_file = 'root.crl'\nhotssl_watch = off\n";

/* A manager on server-cn-only with no client CA, or with full_conf's. */
static int plain_manager(hotssl_manager **m) {
  put("server.crt", "server-cn-only.crt", 0644);
  put("server.key", "server-cn-only.key", 0600);
  return manager_from("ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n", m);
}

static int full_manager(hotssl_manager **m) {
  put("server.crt", "server-cn-only.crt", 0644);
  put("server.key", "server-cn-only.key", 0600);
  put("ca.crt", "root+client_ca.crt", 0644);
  put("root.crl", "root+client.crl", 0644);
  return manager_from(full_conf, m);
}

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n) {
  while (n--) {
    h ^= *p++;
    h *= 0x100000001b3ull;
  }
  return h;
}

static void fix_checksum(unsigned char *b, size_t len) {
  uint64_t h = fnv(0xcbf29ce484222325ull, b, 24);
  h = fnv(h, b + 32, len - 32);
  int i;
  for (i = 0; i < 8; i++)
    b[24 + i] = (unsigned char)(h >> (56 - 8 * i));
}

/* A hand-made table: issuer "DN1" with serials 01, 02, 0100, one CRL, one CA. */
typedef struct synth {
  hotssl__revocation t;
  hotssl__rev_issuer is[1];
  hotssl__rev_entry en[3];
  hotssl__rev_crl crl[1];
  int ca_sign[1];
  long ca_parent[1];
  unsigned char bytes[14];
} synth;

static void synth_init(synth *y) {
  static const unsigned char pool[14] = {'D', 'N', '1', 'K', 'E', 'Y', '1', 1, 2, 1, 0, 'S', 'I', 'G'};
  memset(y, 0, sizeof *y);
  memcpy(y->bytes, pool, sizeof pool);
  y->is[0] = (hotssl__rev_issuer){0, 3, 3, 4, 0, 3, 0, 1};
  y->en[0] = (hotssl__rev_entry){7, 1};
  y->en[1] = (hotssl__rev_entry){8, 1};
  y->en[2] = (hotssl__rev_entry){9, 2};
  y->crl[0].next_update = INT64_MAX;
  y->crl[0].sig_off = 11;
  y->crl[0].sig_len = 3;
  y->crl[0].md = MBEDTLS_MD_SHA256;
  y->crl[0].pk = MBEDTLS_PK_ECDSA;
  y->crl[0].hash_len = 32;
  y->ca_sign[0] = 0;
  y->ca_parent[0] = -1;
  y->t.issuers = y->is;
  y->t.entries = y->en;
  y->t.crls = y->crl;
  y->t.ca_sign = y->ca_sign;
  y->t.ca_parent = y->ca_parent;
  y->t.bytes = y->bytes;
  y->t.n_issuers = 1;
  y->t.n_entries = 3;
  y->t.n_crls = 1;
  y->t.n_bytes = sizeof pool;
  y->t.n_ca = 1;
}

/* Encode y and decode it against n_ca: the decode's result. */
static int synth_decode(const synth *y, size_t n_ca, const unsigned char *patch_at, size_t patch_len,
                        size_t cut) {
  size_t n = hotssl__revocation_encode(&y->t, NULL);
  unsigned char *b = malloc(n + 1);
  hotssl__revocation *t = NULL;
  int r;
  hotssl__revocation_encode(&y->t, b);
  if (patch_at != NULL) /* trailing bytes */
    memcpy(b + n, patch_at, patch_len), n += patch_len;
  r = hotssl__revocation_decode(b, cut != 0 ? cut : n, n_ca, &t);
  if (r == 0) {
    unsigned char q[2] = {0, 2}, x[1] = {3}, z[2] = {1, 0};
    T(hotssl__revocation_lookup(t, (const unsigned char *)"DN1", 3, q, 2) == 1);
    T(hotssl__revocation_lookup(t, (const unsigned char *)"DN1", 3, z, 2) == 1);
    T(hotssl__revocation_lookup(t, (const unsigned char *)"DN1", 3, x, 1) == 0);
    T(hotssl__revocation_lookup(t, (const unsigned char *)"DN2", 3, q, 2) == 0);
  } else {
    T(t == NULL);
  }
  hotssl__revocation_free(t);
  free(b);
  return r;
}

static void test_table_hostile(void) {
  synth y;
  size_t i, n;
  unsigned char extra = 0;
#define LIE(...)                                                 \
  do {                                                           \
    synth_init(&y);                                              \
    __VA_ARGS__;                                                 \
    TEQ(synth_decode(&y, 1, NULL, 0, 0), HOTSSL_EINVAL);         \
  } while (0)
  synth_init(&y);
  TEQ(synth_decode(&y, 1, NULL, 0, 0), 0);
  TEQ(synth_decode(&y, 2, NULL, 0, 0), HOTSSL_EINVAL); /* another CA list */
  TEQ(synth_decode(&y, 0, NULL, 0, 0), HOTSSL_EINVAL);
  TEQ(synth_decode(&y, 1, &extra, 1, 0), HOTSSL_EINVAL); /* trailing byte */
  n = hotssl__revocation_encode(&y.t, NULL);
  for (i = 1; i < n; i++)
    TEQ(synth_decode(&y, 1, NULL, 0, i), HOTSSL_EINVAL);
  LIE((y.en[0] = (hotssl__rev_entry){8, 1}, y.en[1] = (hotssl__rev_entry){7, 1})); /* unsorted */
  LIE(y.en[1] = y.en[0]);                          /* listed twice */
  LIE(y.en[0] = (hotssl__rev_entry){10, 1});       /* leading zero byte */
  LIE(y.en[2] = (hotssl__rev_entry){13, 2});       /* past the pool */
  LIE(y.en[2].off = 0xFFFFFFFFu);
  LIE(y.is[0].count = 4);                          /* more than there are */
  LIE(y.is[0].count = 2);                          /* entries left over */
  LIE(y.is[0].first = 1);
  LIE(y.is[0].crl_first = 1);
  LIE(y.is[0].n_crl = 0);
  LIE(y.is[0].dn_len = 0);
  LIE(y.is[0].key_off = 14);
  LIE(y.is[0].dn_off = 12);
  LIE(y.crl[0].md = 0);                            /* no digest */
  LIE(y.crl[0].md = 1000);
  LIE(y.crl[0].hash_len = 20);                     /* not SHA-256's length */
  LIE(y.crl[0].pk = 99);
  LIE(y.crl[0].sig_len = 0);
  LIE(y.crl[0].sig_off = 12);
  LIE(y.ca_sign[0] = 5);
  LIE(y.ca_parent[0] = 0);                         /* itself */
  LIE(y.ca_parent[0] = 1);                         /* no such CA */
  LIE(y.ca_parent[0] = -2);
  LIE(y.t.n_crls = 0);
  LIE(y.t.n_issuers = 0);
  /* Counts the bytes cannot hold: refused before any allocation. */
  {
    unsigned char *b;
    hotssl__revocation *t = NULL;
    synth_init(&y);
    n = hotssl__revocation_encode(&y.t, NULL);
    b = malloc(n);
    for (i = 0; i < 20; i += 4) {
      hotssl__revocation_encode(&y.t, b);
      memset(b + i, 0xFF, 4);
      TEQ(hotssl__revocation_decode(b, n, 1, &t), HOTSSL_EINVAL);
      T(t == NULL);
    }
    free(b);
  }
#undef LIE
}

/* The real table of m's generation: every byte flipped once decodes or is
 * refused, never crashes (ASan/valgrind); a lie inside the snapshot's CRL
 * record behind a valid checksum is refused. */
static void test_table_real(hotssl_manager *m, const unsigned char *snap, size_t slen) {
  hotssl_generation *g = hotssl_manager_acquire(m);
  size_t n = hotssl__revocation_encode(g->crl->revocation, NULL), i, at;
  unsigned char *b = malloc(n), *copy;
  hotssl__revocation *t = NULL;
  hotssl_manager *bm = NULL;
  char err[512];
  hotssl__revocation_encode(g->crl->revocation, b);
  TEQ(hotssl__revocation_decode(b, n, g->crl->revocation->n_ca, &t), 0);
  hotssl__revocation_free(t);
  for (i = 0; i < n; i++) {
    int r;
    t = NULL;
    b[i] ^= 0x81;
    r = hotssl__revocation_decode(b, n, g->crl->revocation->n_ca, &t);
    T(r == 0 || (r == HOTSSL_EINVAL && t == NULL));
    hotssl__revocation_free(t);
    b[i] ^= 0x81;
  }
  /* Find the table inside the snapshot: after the CRL record's fingerprint
   * and its two counters. */
  copy = malloc(slen);
  for (at = 32; at + n <= slen && memcmp(snap + at, b, n) != 0; at++)
    ;
  T(at + n <= slen);
  if (at + n <= slen) {
    memcpy(copy, snap, slen);
    copy[at + 4] ^= 0x10; /* n_entries */
    fix_checksum(copy, slen);
    TEQ(hotssl_manager_create_from_snapshot(&bm, copy, slen, NULL, err, sizeof err), HOTSSL_EINVAL);
    T(bm == NULL && strstr(err, "revocation table") != NULL);
    memcpy(copy, snap, slen);
    copy[at + 16] ^= 0x01; /* n_ca */
    fix_checksum(copy, slen);
    TEQ(hotssl_manager_create_from_snapshot(&bm, copy, slen, NULL, err, sizeof err), HOTSSL_EINVAL);
    T(bm == NULL);
  }
  free(copy);
  free(b);
  hotssl_generation_release(g);
}

static void test_snapshot(void) {
  hotssl_manager *m = NULL, *b = NULL;
  hotssl_snapshot *s = NULL, *sp = NULL;
  hotssl_stats st1, st2;
  const unsigned char *bytes;
  unsigned char *copy;
  size_t len, i;
  char serial[80], err[512];
  tu_server *srv;
  hotssl_generation *g1, *g2;

  TEQ(full_manager(&m), 0);
  if (m == NULL)
    return;
  TEQ(hotssl_snapshot_take(m, HOTSSL_SNAPSHOT_CONTENTS, &s), 0);
  TEQ(hotssl_snapshot_take(m, HOTSSL_SNAPSHOT_PATHS, &sp), 0);
  TEQ(hotssl_snapshot_generation(s), 1);
  bytes = hotssl_snapshot_bytes(s, &len);
  T(len > 32 && memcmp(bytes, "HTSN", 4) == 0);

  /* Files gone from disk: CONTENTS still builds, PATHS cannot. */
  tu_rmtree(dir);
  TEQ(hotssl_manager_create_from_snapshot(&b, bytes, len, NULL, err, sizeof err), 0);
  if (b != NULL) {
    hotssl_manager_stats(m, &st1);
    hotssl_manager_stats(b, &st2);
    T(strcmp(st1.serial, st2.serial) == 0);
    T(strcmp(st1.sha256, st2.sha256) == 0);
    TEQ(st2.generation, 1);
    g1 = hotssl_manager_acquire(m);
    g2 = hotssl_manager_acquire(b);
    T(memcmp(g1->fingerprint, g2->fingerprint, 32) == 0);
    T(g2->ca != NULL && g2->crl != NULL);
    T(memcmp(g1->crl->fp, g2->crl->fp, 32) == 0);
    hotssl_generation_release(g1);
    hotssl_generation_release(g2);
    srv = tu_server_start(b, 1);
    TEQ(tu_client_serial(tu_server_port(srv), NULL, serial, sizeof serial), 0);
    T(strcmp(serial, st1.serial) == 0);
    tu_server_stop(srv);
    hotssl_manager_destroy(b);
    b = NULL;
  }
  bytes = hotssl_snapshot_bytes(sp, &len);
  T(hotssl_manager_create_from_snapshot(&b, bytes, len, NULL, err, sizeof err) == HOTSSL_EFILE);
  T(b == NULL && strstr(err, "server.crt") != NULL);

  /* Hostile input. */
  bytes = hotssl_snapshot_bytes(s, &len);
  test_table_real(m, bytes, len);
  copy = malloc(len);
  for (i = 0; i < len; i += (i < 600 ? 1 : 61)) {
    T(hotssl_manager_create_from_snapshot(&b, bytes, i, NULL, err, sizeof err) == HOTSSL_EINVAL);
    T(b == NULL);
  }
  for (i = 0; i < len; i += 1 + i / 7) {
    memcpy(copy, bytes, len);
    copy[i] ^= 0x40;
    T(hotssl_manager_create_from_snapshot(&b, copy, len, NULL, err, sizeof err) != 0);
    T(b == NULL);
  }
  /* Lying record lengths behind a valid checksum. */
  for (i = 36; i < 200 && i < len; i++) {
    int r;
    memcpy(copy, bytes, len);
    copy[i] ^= 0x80;
    fix_checksum(copy, len);
    r = hotssl_manager_create_from_snapshot(&b, copy, len, NULL, err, sizeof err);
    if (r == 0) { /* a flipped byte inside a value may still decode */
      hotssl_manager_destroy(b);
      b = NULL;
    }
    T(b == NULL);
  }
  memcpy(copy, bytes, len);
  copy[4] = 0x7f; /* version */
  fix_checksum(copy, len);
  T(hotssl_manager_create_from_snapshot(&b, copy, len, NULL, err, sizeof err) == HOTSSL_EINVAL);
  T(strstr(err, "version") != NULL);
  free(copy);
  hotssl_snapshot_destroy(s);
  hotssl_snapshot_destroy(sp);
  hotssl_manager_destroy(m);
}

/* A snapshot of the configuration conf in dir decodes into a manager whose
 * own snapshot is byte for byte the same (the format carries everything a
 * backend serves, and encoding is deterministic). */
static void roundtrip(const char *what, const char *conf) {
  hotssl_manager *m = NULL, *b = NULL;
  hotssl_snapshot *s = NULL, *s2 = NULL;
  const unsigned char *p1, *p2;
  size_t l1 = 0, l2 = 0;
  char err[512];
  TEQ(manager_from(conf, &m), 0);
  if (m == NULL)
    return;
  TEQ(hotssl_snapshot_take(m, HOTSSL_SNAPSHOT_CONTENTS, &s), 0);
  p1 = hotssl_snapshot_bytes(s, &l1);
  TEQ(hotssl_manager_create_from_snapshot(&b, p1, l1, NULL, err, sizeof err), 0);
  if (b != NULL) {
    TEQ(hotssl_snapshot_take(b, HOTSSL_SNAPSHOT_CONTENTS, &s2), 0);
    p2 = hotssl_snapshot_bytes(s2, &l2);
    T(l1 == l2 && memcmp(p1, p2, l1) == 0);
    if (l1 != l2 || memcmp(p1, p2, l1) != 0)
      fprintf(stderr, "%s: re-encoded snapshot differs (%zu, %zu bytes)\n", what, l1, l2);
  } else {
    fprintf(stderr, "%s: %s\n", what, err);
  }
  hotssl_snapshot_destroy(s2);
  hotssl_snapshot_destroy(s);
  hotssl_manager_destroy(b);
  hotssl_manager_destroy(m);
}

/* bytes with one more record (tag, reserved, value) at the end, the header's
 * length and checksum fixed; malloc'ed. */
static unsigned char *with_record(const unsigned char *bytes, size_t len, unsigned tag,
                                  unsigned reserved, const char *value, size_t *out_len) {
  size_t vl = strlen(value), n = len + 8 + vl;
  unsigned char *b = malloc(n);
  int i;
  memcpy(b, bytes, len);
  b[len] = (unsigned char)(tag >> 8);
  b[len + 1] = (unsigned char)tag;
  b[len + 2] = (unsigned char)(reserved >> 8);
  b[len + 3] = (unsigned char)reserved;
  for (i = 0; i < 4; i++)
    b[len + 4 + i] = (unsigned char)(vl >> (24 - 8 * i));
  memcpy(b + len + 8, value, vl);
  for (i = 0; i < 8; i++)
    b[8 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
  fix_checksum(b, n);
  *out_len = n;
  return b;
}

/* The decoder's verdict on b: HOTSSL_EINVAL with reason in its message. */
static void refused(const unsigned char *b, size_t len, const char *reason) {
  hotssl_manager *m = NULL;
  char err[512] = "";
  TEQ(hotssl_manager_create_from_snapshot(&m, b, len, NULL, err, sizeof err), HOTSSL_EINVAL);
  T(m == NULL && strstr(err, reason) != NULL);
  if (strstr(err, reason) == NULL)
    fprintf(stderr, "expected \"%s\", got \"%s\"\n", reason, err);
  hotssl_manager_destroy(m);
}

/* Every record kind round-trips (settings, load flags, chain, CA + CRL, DH
 * parameters, ssl_sni entries with and without a /no_sni/ entry), and the
 * record-level rules: unknown tags, repeated records, a nonzero reserved
 * field, file records in a PATHS snapshot, required records missing. */
static void test_snapshot_records(void) {
  hotssl_manager *m = NULL;
  hotssl_snapshot *s = NULL, *sp = NULL;
  const unsigned char *bytes;
  unsigned char *b;
  size_t len, n;
  char *p;

  put("server.crt", "server-cn-only.crt", 0644);
  put("server.key", "server-cn-only.key", 0600);
  put("chain.crt", "server-cn-only+server_ca.crt", 0644);
  put("alt.crt", "server-cn-and-alt-names.crt", 0644);
  put("alt.key", "server-cn-and-alt-names.key", 0600);
  put("ca.crt", "root+client_ca.crt", 0644);
  put("root.crl", "root+client.crl", 0644);
  p = tu_path(dir, "dh.der");
  tu_write_dh_params(p);
  free(p);
  roundtrip("plain", "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nhotssl_watch = off\n");
  roundtrip("chain", "ssl_cert_file = 'chain.crt'\nssl_key_file = 'server.key'\n"
                     "ssl_min_protocol_version = 'TLSv1.2'\nhotssl_watch = off\n");
  roundtrip("ca-crl", full_conf);
  roundtrip("dh", "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
                  "ssl_dh_params_file = 'dh.der'\nhotssl_watch = off\n");
  p = tu_path(dir, "pg_hosts.conf");
  tu_write(p, "a.test,b.test alt.crt alt.key ca.crt\n* server.crt server.key\n", 0644);
  roundtrip("sni", "ssl_sni = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
                   "ssl_ca_file = 'ca.crt'\nssl_crl_file = 'root.crl'\nhotssl_watch = off\n");
  tu_write(p, "a.test alt.crt alt.key\n/no_sni/ server.crt server.key ca.crt\n", 0644);
  roundtrip("sni-nosni", "ssl_sni = on\nssl_cert_file = ''\nssl_key_file = ''\nhotssl_watch = off\n");
  free(p);

  TEQ(manager_from("ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nhotssl_watch = off\n", &m), 0);
  if (m == NULL)
    return;
  TEQ(hotssl_snapshot_take(m, HOTSSL_SNAPSHOT_CONTENTS, &s), 0);
  TEQ(hotssl_snapshot_take(m, HOTSSL_SNAPSHOT_PATHS, &sp), 0);
  bytes = hotssl_snapshot_bytes(s, &len);
  b = with_record(bytes, len, 6, 0, "x", &n); /* unknown, below 32 */
  refused(b, n, "invalid snapshot: unknown record");
  free(b);
  b = with_record(bytes, len, 99, 0, "x", &n);
  refused(b, n, "invalid snapshot: unknown or repeated record");
  free(b);
  b = with_record(bytes, len, 2, 0, "/tmp", &n); /* a second BASEDIR */
  refused(b, n, "invalid snapshot: unknown or repeated record");
  free(b);
  b = with_record(bytes, len, 1, 1, "ssl_ciphers\0", &n); /* reserved field not 0 */
  refused(b, n, "invalid snapshot: malformed record");
  free(b);
  b = with_record(bytes, len, 1, 0, "no_such_setting", &n); /* no NUL */
  refused(b, n, "invalid snapshot: malformed record");
  free(b);
  b = with_record(bytes, len, 5, 0, "\x02", &n); /* unknown load flag */
  refused(b, n, "invalid snapshot: malformed record");
  free(b);
  b = with_record(bytes, len, 21, 0, "", &n); /* a host entry without the hosts record */
  refused(b, n, "invalid snapshot: certificate, key or fingerprint missing");
  free(b);
  b = malloc(len);
  memcpy(b, bytes, len);
  memset(b + 16, 0, 8);
  fix_checksum(b, len);
  refused(b, len, "invalid snapshot: generation number is 0");
  free(b);

  /* PATHS: no file record allowed; as CONTENTS it lacks them all. */
  bytes = hotssl_snapshot_bytes(sp, &len);
  b = with_record(bytes, len, 10, 0, "x", &n); /* CERT */
  refused(b, n, "invalid snapshot: malformed record");
  free(b);
  b = malloc(len);
  memcpy(b, bytes, len);
  b[7] = HOTSSL_SNAPSHOT_CONTENTS;
  fix_checksum(b, len);
  refused(b, len, "invalid snapshot: certificate, key or fingerprint missing");
  free(b);
  hotssl_snapshot_destroy(s);
  hotssl_snapshot_destroy(sp);
  hotssl_manager_destroy(m);
}

/* The DRBG's mutex: a private field on mbedTLS 3.x, with no accessor. The
 * test holds it to stand for a parent thread inside mbedtls_ctr_drbg_random. */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#  define DRBG_MUTEX(g) (&(g)->drbg.MBEDTLS_PRIVATE(mutex))
#else
#  define DRBG_MUTEX(g) (&(g)->drbg.mutex)
#endif

/* Fork a child that (maybe) runs after_fork_child, then sends 32 random
 * bytes and whether its wake-up pipe is closed. */
static int child_random(hotssl_manager *m, int use_after_fork, int hold_mutex,
                        unsigned char out[32], int *wakeup_closed) {
  int fds[2], st, old = hotssl_manager_wakeup_fd(m);
  pid_t pid;
  unsigned char msg[33];
  size_t got = 0;
  uint64_t deadline = tu_now_ms() + 20000;
  hotssl_generation *g = hotssl_manager_acquire(m);
  if (pipe(fds) != 0)
    return -1;
  if (hold_mutex)
    mbedtls_mutex_lock(DRBG_MUTEX(g)); /* as a parent thread mid-handshake */
  if (use_after_fork)
    hotssl_manager_before_fork(m);
  pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (use_after_fork && hotssl_manager_after_fork_child(m) != 0)
      _exit(3);
    if (mbedtls_ctr_drbg_random(&g->drbg, msg, 32) != 0)
      _exit(4);
    msg[32] = (unsigned char)(hotssl_manager_wakeup_fd(m) == -1 && fcntl(old, F_GETFD) < 0 &&
                              errno == EBADF);
    if (write(fds[1], msg, 33) != 33)
      _exit(5);
    _exit(0);
  }
  if (use_after_fork)
    hotssl_manager_after_fork_parent(m);
  if (hold_mutex)
    mbedtls_mutex_unlock(DRBG_MUTEX(g));
  hotssl_generation_release(g);
  close(fds[1]);
  while (got < 33 && tu_now_ms() < deadline) {
    struct pollfd p = {fds[0], POLLIN, 0};
    ssize_t n;
    if (poll(&p, 1, 500) <= 0)
      continue;
    n = read(fds[0], msg + got, 33 - got);
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fds[0]);
  if (got != 33)
    kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  if (got != 33)
    return -1;
  memcpy(out, msg, 32);
  *wakeup_closed = msg[32];
  return 0;
}

static void test_fork(void) {
  hotssl_manager *m = NULL;
  unsigned char a[32], b[32];
  int wa = 0, wb = 0;
  TEQ(plain_manager(&m), 0);
  if (m == NULL)
    return;
  /* The hazard: inherited DRBG state gives two children the same bytes. */
  TEQ(child_random(m, 0, 0, a, &wa), 0);
  TEQ(child_random(m, 0, 0, b, &wb), 0);
  T(memcmp(a, b, 32) == 0);
  TEQ(wa, 0);
  /* With after_fork_child: different, and the wake-up pipe is closed. */
  TEQ(child_random(m, 1, 0, a, &wa), 0);
  TEQ(child_random(m, 1, 0, b, &wb), 0);
  T(memcmp(a, b, 32) != 0);
  TEQ(wa, 1);
  TEQ(wb, 1);
  /* A DRBG mutex held at fork time does not deadlock the child. */
  TEQ(child_random(m, 1, 1, a, &wa), 0);
  T(memcmp(a, b, 32) != 0);
  /* The parent still works and still owns its wake-up pipe. */
  T(hotssl_manager_wakeup_fd(m) >= 0);
  T(hotssl_manager_reload(m, HOTSSL_TRIGGER_API) == HOTSSL_UNCHANGED);
  hotssl_manager_destroy(m);
}

/* waitpid with a deadline: a child stuck (e.g. on a lock it inherited
 * locked) is killed and reported, never waited for forever. */
static int wait_child(pid_t pid, uint64_t deadline) {
  int st = 0;
  while (waitpid(pid, &st, WNOHANG) == 0) {
    if (tu_now_ms() > deadline) {
      fprintf(stderr, "child %ld did not exit in time: killed\n", (long)pid);
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return -1;
    }
    usleep(10000);
  }
  return st;
}

static void test_prefork(void) {
  hotssl_manager *m = NULL;
  hotssl_prefork *p = NULL;
  int fds[2], st;
  pid_t pid;
  char buf[200] = "", *sp;
  size_t got = 0;
  uint64_t deadline;
  TEQ(plain_manager(&m), 0);
  if (m == NULL)
    return;
  TEQ(hotssl_prefork_create(&p, m, 0), 0);
  if (p == NULL)
    return;
  if (pipe(fds) != 0)
    return;
  hotssl_manager_before_fork(m);
  pid = fork();
  if (pid == 0) {
    char serial[80], line[200];
    int r = 0, first;
    uint64_t end = tu_now_ms() + 20000;
    tu_server *srv;
    close(fds[0]);
    if (hotssl_manager_after_fork_child(m) != 0)
      _exit(3);
    first = hotssl_prefork_check(p, m); /* nothing new yet: 0 */
    if (write(fds[1], "R", 1) != 1) /* tell the parent it may publish now */
      _exit(4);
    while (tu_now_ms() < end && (r = hotssl_prefork_check(p, m)) == 0)
      usleep(2000); /* a worker's accept loop */
    srv = tu_server_start(m, 1);
    if (r != 1 || tu_client_serial(tu_server_port(srv), NULL, serial, sizeof serial) != 0)
      strcpy(serial, "none");
    tu_server_stop(srv);
    snprintf(line, sizeof line, "%d %d %s\n", first, r, serial);
    if (write(fds[1], line, strlen(line)) < 0)
      _exit(4);
    _exit(0);
  }
  hotssl_manager_after_fork_parent(m);
  close(fds[1]);
  {
    /* Publish only after the worker's first check, or it might already see
     * generation 2 there. */
    struct pollfd q = {fds[0], POLLIN, 0};
    char ready = 0;
    T(poll(&q, 1, 30000) == 1 && read(fds[0], &ready, 1) == 1 && ready == 'R');
  }
  put("server.crt", "server-cn-and-alt-names.crt", 0644);
  put("server.key", "server-cn-and-alt-names.key", 0600);
  TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), 0);
  TEQ(hotssl_prefork_publish(p), 0);
  deadline = tu_now_ms() + 30000;
  while (tu_now_ms() < deadline && strchr(buf, '\n') == NULL) {
    struct pollfd q = {fds[0], POLLIN, 0};
    ssize_t n;
    if (poll(&q, 1, 500) <= 0)
      continue;
    if ((n = read(fds[0], buf + got, sizeof buf - 1 - got)) <= 0)
      break;
    got += (size_t)n;
    buf[got] = '\0';
  }
  close(fds[0]);
  st = wait_child(pid, tu_now_ms() + 10000);
  T(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
  {
    hotssl_stats s;
    hotssl_manager_stats(m, &s);
    sp = strstr(buf, s.serial);
    T(strncmp(buf, "0 1 ", 4) == 0);
    T(sp != NULL);
    if (sp == NULL)
      fprintf(stderr, "worker said \"%s\", parent serves %s\n", buf, s.serial);
  }
  hotssl_prefork_destroy(p);
  hotssl_manager_destroy(m);
}

/* Descriptors open in this process. */
static int open_fds(void) {
  int fd, n = 0;
  for (fd = 0; fd < 1024; fd++)
    n += fcntl(fd, F_GETFD) >= 0;
  return n;
}

static void test_spawn_missing_program(void) {
  static const char *const argv[] = {"hotssl-missing", "__backend", HOTSSL_SPAWN_HANDOFF_ARG, NULL};
  hotssl_manager *m = NULL;
  hotssl_snapshot *s = NULL;
  hotssl_process *p = NULL;
  hotssl_spawn_request req;
  char err[512] = "";
  int sv[2], before;
  TEQ(full_manager(&m), 0);
  if (m == NULL)
    return;
  TEQ(hotssl_snapshot_take(m, HOTSSL_SNAPSHOT_CONTENTS, &s), 0);
  TEQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  before = open_fds();
  memset(&req, 0, sizeof req);
  req.program = "/nonexistent/hotssl-missing";
  req.argv = argv;
  req.conn_fd = sv[0];
  req.snapshot = s;
  TEQ(hotssl_spawn(m, &req, &p, err, sizeof err), HOTSSL_ESYS);
  T(p == NULL);
  T(strstr(err, "could not start backend \"/nonexistent/hotssl-missing\"") != NULL);
  T(strstr(err, strerror(ENOENT)) != NULL);
  TEQ(open_fds(), before);
  close(sv[0]);
  close(sv[1]);
  hotssl_snapshot_destroy(s);
  hotssl_manager_destroy(m);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  dir = tu_mkdtemp();
  test_table_hostile();
  test_snapshot();
  tu_rmtree(dir);
  free(dir);
  dir = tu_mkdtemp();
  test_snapshot_records();
  tu_rmtree(dir);
  free(dir);
  dir = tu_mkdtemp();
  test_fork();
  test_prefork();
  test_spawn_missing_program();
  tu_rmtree(dir);
  free(dir);
  return tu_finish("test_platform_unit", checks);
}
