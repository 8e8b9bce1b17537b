/*
 * Unchanged files cost a stat: the loader's memos
 * (core/inputs.c). On real files made with certgen (no external test data):
 *  - a trusted memo with the file's identity: the loader does not read the
 *    file (cert, key, CA and CRL unread) and the fingerprint is unchanged;
 *    without a generation that reuses the parsed objects it reads them all;
 *  - the racy rule at its boundary: a memo whose file changed less than
 *    HOTSSL__RACY_NS before it was recorded is not trusted, one older is;
 *  - a change that keeps the identity (same inode, size, mtime, ctime:
 *    what a write within one timestamp tick of the recording looks like)
 *    is caught, because such a memo is necessarily racy;
 *  - through a manager: 60 in-place rewrites of the certificate file with
 *    the other certificate of the same size, each followed at once by a
 *    reload: every one is picked up (reloaded, right serial), none missed;
 *  - a rotation back to the previous pair (A -> C -> A) reuses the kept
 *    objects and skips the pair check it already made, while a certificate
 *    with another pair's key (A + key of C, C + key of A), each of which the
 *    manager has seen in a valid pair, is still refused as a mismatch.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build.h"
#include "certgen.h"
#include "manager.h"
#include "testutil.h"

static int checks;
#define T(cond) do { checks++; CHECK(cond); } while (0)
#define TEQ(a, b) do { checks++; CHECK_EQ_INT(a, b); } while (0)

static char *dir;
static char pem_a[4096], pem_b[4096]; /* two leaves of the same length */
static char pem_c[4096], key_1[4096], key_2[4096]; /* C: another key (key_2) */

static void make_pki(void) {
  certgen_rng rng;
  mbedtls_pk_context ca, leaf;
  static char buf[8192];
  char *p;
  size_t la, lb;
  T(certgen_rng_init(&rng) == 0);
  mbedtls_pk_init(&ca);
  mbedtls_pk_init(&leaf);
  T(certgen_key(&ca, &rng) == 0 && certgen_key(&leaf, &rng) == 0);
  T(certgen_cert(&ca, "CN=memo ca", &ca, "CN=memo ca", 1, "20200101000000", "20990101000000", 1,
                 &rng, buf, sizeof buf) == 0);
  tu_write(p = tu_path(dir, "ca.crt"), buf, 0644);
  free(p);
  T(certgen_cert(&leaf, "CN=localhost", &ca, "CN=memo ca", 0xA1, "20200101000000",
                 "20990101000000", 0, &rng, pem_a, sizeof pem_a) == 0);
  T(certgen_cert(&leaf, "CN=localhost", &ca, "CN=memo ca", 0xB2, "20200101000000",
                 "20990101000000", 0, &rng, pem_b, sizeof pem_b) == 0);
  /* ECDSA signatures vary in length: pad the shorter with newlines (PEM
   * allows them after the END line) so both files have the same size. */
  la = strlen(pem_a);
  lb = strlen(pem_b);
  while (la < lb)
    pem_a[la++] = '\n', pem_a[la] = '\0';
  while (lb < la)
    pem_b[lb++] = '\n', pem_b[lb] = '\0';
  tu_write(p = tu_path(dir, "server.crt"), pem_a, 0644);
  free(p);
  T(certgen_key_pem(&leaf, key_1, sizeof key_1) == 0);
  tu_write(p = tu_path(dir, "server.key"), key_1, 0600);
  free(p);
  mbedtls_pk_free(&leaf);
  mbedtls_pk_init(&leaf);
  T(certgen_key(&leaf, &rng) == 0);
  T(certgen_cert(&leaf, "CN=localhost", &ca, "CN=memo ca", 0xC3, "20200101000000",
                 "20990101000000", 0, &rng, pem_c, sizeof pem_c) == 0);
  T(certgen_key_pem(&leaf, key_2, sizeof key_2) == 0);
  mbedtls_pk_free(&ca);
  mbedtls_pk_free(&leaf);
  certgen_rng_free(&rng);
}

static hotssl_config *conf(void) {
  hotssl_config *cfg = NULL;
  char err[512], *p = tu_path(dir, "hotssl.conf");
  tu_write(p, "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'ca.crt'\n", 0644);
  T(hotssl_config_create(&cfg) == 0);
  T(hotssl_config_load_file(cfg, p, err, sizeof err) == 0);
  free(p);
  return cfg;
}

/* Rewrite path in place (same inode) with text of the same size. */
static void rewrite_in_place(const char *path, const char *text) {
  int fd = open(path, O_WRONLY);
  size_t n = strlen(text);
  T(fd >= 0);
  T(pwrite(fd, text, n, 0) == (ssize_t)n);
  close(fd);
}

static hotssl__file_memo *memo_of(hotssl__file_memos *m, const char *name) {
  size_t i;
  for (i = 0; i < m->n; i++) {
    const char *s = strrchr(m->v[i].path, '/');
    if (s != NULL && strcmp(s + 1, name) == 0)
      return &m->v[i];
  }
  return NULL;
}

static void test_loader(void) {
  hotssl_config *cfg = conf();
  hotssl__file_memos memos = {NULL, 0};
  hotssl__inputs in, in2;
  hotssl_generation *g = NULL;
  hotssl__file_memo *mc;
  char err[512];
  size_t i;

  /* First load: everything read, memos recorded. */
  T(hotssl__inputs_load_memo(&in, cfg, &memos, NULL, err, sizeof err) == 0);
  T(in.cert.data != NULL && in.key.data != NULL && in.ca.data != NULL);
  TEQ(memos.n, 3);
  T(hotssl__generation_build(&g, &in, NULL, 0, 1, NULL, err, sizeof err) == 0);
  /* Just written: racy, not trusted. */
  T((mc = memo_of(&memos, "server.crt")) != NULL && !hotssl__file_memo_trusted(mc));
  /* Make every memo old enough (as if recorded 10 s after the writes). */
  for (i = 0; i < memos.n; i++)
    memos.v[i].seen_ns = memos.v[i].id.ctime_ns + HOTSSL__RACY_NS + 10 * 1000000000LL;
  T(hotssl__inputs_load_memo(&in2, cfg, &memos, g, err, sizeof err) == 0);
  T(HOTSSL__BLOB_UNREAD(in2.cert) && HOTSSL__BLOB_UNREAD(in2.key) && HOTSSL__BLOB_UNREAD(in2.ca));
  T(in2.cert.data == NULL && in2.key.data == NULL && in2.ca.data == NULL);
  T(memcmp(in2.fingerprint, in.fingerprint, 32) == 0);
  hotssl__inputs_free(&in2);
  /* No generation to reuse from: the loader must read them after all. */
  for (i = 0; i < memos.n; i++)
    memos.v[i].seen_ns = memos.v[i].id.ctime_ns + HOTSSL__RACY_NS + 10 * 1000000000LL;
  T(hotssl__inputs_load_memo(&in2, cfg, &memos, NULL, err, sizeof err) == 0);
  T(!HOTSSL__BLOB_UNREAD(in2.cert) && in2.cert.data != NULL && !HOTSSL__BLOB_UNREAD(in2.key) && in2.key.data != NULL);
  T(memcmp(in2.fingerprint, in.fingerprint, 32) == 0);
  hotssl__inputs_free(&in2);

  /* The racy boundary. */
  mc = memo_of(&memos, "server.crt");
  mc->seen_ns = (mc->id.ctime_ns > mc->id.mtime_ns ? mc->id.ctime_ns : mc->id.mtime_ns) + HOTSSL__RACY_NS;
  T(!hotssl__file_memo_trusted(mc));
  mc->seen_ns += 1;
  T(hotssl__file_memo_trusted(mc));

  /* A change that keeps the identity. Rewrite with B (same size), then
   * forge the memo to carry the file's new identity, as if the memo had been
   * recorded within the same tick as the write: its seen time is then at
   * most a tick after the change, so it is racy and the file is hashed. */
  {
    char *p = tu_path(dir, "server.crt");
    rewrite_in_place(p, pem_b);
    mc = memo_of(&memos, "server.crt");
    tu_memo_racy(mc, p);
    T(!hotssl__file_memo_trusted(mc));
    T(hotssl__inputs_load_memo(&in2, cfg, &memos, g, err, sizeof err) == 0);
    T(!HOTSSL__BLOB_UNREAD(in2.cert) && in2.cert.data != NULL);
    T(memcmp(in2.fp_cert, in.fp_cert, 32) != 0);
    T(memcmp(in2.fingerprint, in.fingerprint, 32) != 0);
    T(in2.cert.len == strlen(pem_b) && memcmp(in2.cert.data, pem_b, in2.cert.len) == 0);
    hotssl__inputs_free(&in2);
    rewrite_in_place(p, pem_a);
    free(p);
  }

  hotssl__generation_free(g);
  hotssl__inputs_free(&in);
  hotssl__file_memos_free(&memos);
  hotssl_config_destroy(cfg);
}

static void test_manager_rewrites(void) {
  hotssl_config *cfg = conf();
  hotssl_manager *m = NULL;
  hotssl_stats st;
  char err[512], *p = tu_path(dir, "server.crt");
  int i, missed = 0;
  rewrite_in_place(p, pem_a);
  T(hotssl_manager_create(&m, cfg, NULL, err, sizeof err) == 0);
  hotssl_config_destroy(cfg);
  if (m == NULL) {
    free(p);
    return;
  }
  for (i = 0; i < 60; i++) {
    int r;
    const char *want = (i & 1) ? "A1" : "B2";
    rewrite_in_place(p, (i & 1) ? pem_a : pem_b);
    r = hotssl_manager_reload(m, HOTSSL_TRIGGER_API);
    T(hotssl_manager_stats(m, &st) == 0);
    if (r != 0 || strcmp(st.serial, want) != 0)
      missed++;
  }
  TEQ(missed, 0);
  /* And an untouched file: unchanged. */
  TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), HOTSSL_UNCHANGED);
  hotssl_manager_destroy(m);
  free(p);
}

static int install(hotssl_manager *m, const char *crt, const char *key) {
  char *pc = tu_path(dir, "server.crt"), *pk = tu_path(dir, "server.key");
  tu_write_atomic(pc, crt, 0644);
  tu_write_atomic(pk, key, 0600);
  free(pc);
  free(pk);
  return hotssl_manager_reload(m, HOTSSL_TRIGGER_API);
}

static void test_rotate_back(void) {
  hotssl_config *cfg = conf();
  hotssl_manager *m = NULL;
  hotssl_stats st;
  char err[512];
  int i;
  T(install(NULL, pem_a, key_1) == HOTSSL_EINVAL);
  T(hotssl_manager_create(&m, cfg, NULL, err, sizeof err) == 0);
  hotssl_config_destroy(cfg);
  if (m == NULL)
    return;
  for (i = 0; i < 3; i++) {
    TEQ(install(m, pem_c, key_2), 0);
    T(hotssl_manager_stats(m, &st) == 0 && strcmp(st.serial, "C3") == 0);
    TEQ(install(m, pem_a, key_1), 0);
    T(hotssl_manager_stats(m, &st) == 0 && strcmp(st.serial, "A1") == 0);
  }
  /* Now the manager holds A (current) and C (kept), each checked once. */
  TEQ(install(m, pem_a, key_2), HOTSSL_EMISMATCH);
  TEQ(install(m, pem_c, key_1), HOTSSL_EMISMATCH);
  T(hotssl_manager_stats(m, &st) == 0 && strcmp(st.serial, "A1") == 0);
  TEQ(install(m, pem_c, key_2), 0);
  TEQ(install(m, pem_c, key_1), HOTSSL_EMISMATCH);
  TEQ(install(m, pem_a, key_2), HOTSSL_EMISMATCH);
  T(hotssl_manager_stats(m, &st) == 0 && strcmp(st.serial, "C3") == 0);
  hotssl_manager_destroy(m);
}

int main(void) {
  dir = tu_mkdtemp();
  make_pki();
  test_loader();
  test_manager_rewrites();
  test_rotate_back();
  tu_rmtree(dir);
  free(dir);
  return tu_finish("memo", checks);
}
