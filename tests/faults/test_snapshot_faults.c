/*
 * Two snapshot checks with the link-time allocation seam (faultalloc):
 *  - hotssl_prefork_check retries its copy when the parent publishes during
 *    it; a retry with a SHORTER snapshot reuses the buffer, whose whole
 *    length must be wiped at free. A copy hook publishes a shorter
 *    snapshot in the middle of the first copy; every block of the first
 *    copy's size freed during the check must be all zero;
 *  - decoding a snapshot whose CRL set has several CRLs (PostgreSQL's
 *    root+client.crl: two, in the snapshot's revocation table) with the N-th
 *    allocation failing, for every N
 *    until decoding succeeds: each fails cleanly and leaves no block behind
 *    (live-block count; ASan's leak check in the sanitizer build too). The
 *    snapshot also carries DH parameters (T_DH);
 *  - the backend's receiver allocates as bytes arrive: a real snapshot of
 *    about 200 KiB arrives in growing reads and builds; a header claiming
 *    1 GiB followed by 100 bytes and the end of the stream fails cleanly
 *    with a peak of live bytes under 128 KiB (faultalloc's byte count), and
 *    with each of its allocations failing in turn, without a leak.
 * Snapshot buffers and key bytes are pages for secrets (os/secmem.c): the
 * test installs faultalloc's pages_map / pages_unmap, so they are counted,
 * failed and wipe-checked like malloc'ed blocks.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faultalloc.h"
#include "hotssl/platform.h"
#include "../../platform/prefork.h"
#include "revocation.h"
#include "generation.h"
#include "build.h"
#include "snapshot.h"
#include "testutil.h"

static int checks;
#define T(c) do { checks++; CHECK(c); } while (0)

static char *dir;

static void put(const char *name, const char *src, int mode) { tu_put_testdata(dir, name, src, mode); }

static hotssl_manager *manager(const char *conf_name, const char *text) {
  hotssl_config *cfg;
  hotssl_manager *m = NULL;
  hotssl_manager_options o = {0};
  char err[512], *p = tu_path(dir, conf_name);
  tu_write_atomic(p, text, 0644);
  hotssl_config_create(&cfg);
  if (hotssl_config_load_file(cfg, p, err, sizeof err) != 0 ||
      hotssl_manager_create(&m, cfg, &o, err, sizeof err) != 0)
    fprintf(stderr, "manager: %s\n", err);
  hotssl_config_destroy(cfg);
  free(p);
  return m;
}

/* ---- a shorter snapshot published during the prefork copy ---- */

#define CONF_LONG "ssl_cert_file='a.crt'\nssl_key_file='a.key'\nssl_ca_file='ca.crt'\n"
#define CONF_SHORT "ssl_cert_file='a.crt'\nssl_key_file='a.key'\n"
#define CONF_SHORT_B "ssl_cert_file='b.crt'\nssl_key_file='b.key'\n"

static struct {
  hotssl_manager *m; /* the parent's manager (the worker's copy of it after fork) */
  hotssl_prefork *p;
  char *conf;
  size_t long_len;
  int hook_calls, in_check, freed_big, freed_dirty;
} w;

/* In the worker, between its first copy and its seqlock check: a newer,
 * shorter snapshot is published (generation 3), forcing a retry. */
static void copy_hook(void *arg) {
  (void)arg;
  if (w.hook_calls++ != 0)
    return;
  tu_write_atomic(w.conf, CONF_LONG, 0644);
  if (hotssl_manager_reload(w.m, HOTSSL_TRIGGER_API) != 0) /* 2, as the parent's */
    fprintf(stderr, "copy hook: reload 2 failed\n");
  tu_write_atomic(w.conf, CONF_SHORT_B, 0644);
  if (hotssl_manager_reload(w.m, HOTSSL_TRIGGER_API) != 0 || hotssl_prefork_publish(w.p) != 0)
    fprintf(stderr, "copy hook: reload 3 / publish failed\n");
}

/* Snapshot buffers are pages for secrets: the hook sees whole mappings,
 * each at least as long as what it held. Every one freed during the check
 * must be all zero; one at least is the first copy's. */
static void wipe_hook(void *p, size_t n, void *arg) {
  (void)arg;
  if (!w.in_check)
    return;
  if (n >= w.long_len)
    w.freed_big++;
  for (size_t i = 0; i < n; i++)
    if (((unsigned char *)p)[i] != 0) {
      w.freed_dirty++;
      break;
    }
}

static void test_prefork_wipe(void) {
  hotssl_manager *wm;
  unsigned char *bytes;
  size_t len;
  uint64_t gen;
  int pfd[2], st = 0;
  pid_t pid;
  w.conf = tu_path(dir, "parent.conf");
  put("a.crt", "server-cn-only.crt", 0644);
  put("a.key", "server-cn-only.key", 0600);
  put("b.crt", "server-cn-and-alt-names.crt", 0644);
  put("b.key", "server-cn-and-alt-names.key", 0600);
  put("ca.crt", "root+client_ca.crt", 0644);
  wm = manager("worker.conf", CONF_SHORT); /* generation 1 */
  w.m = manager("parent.conf", CONF_SHORT); /* generation 1 */
  T(wm != NULL && w.m != NULL);
  if (wm == NULL || w.m == NULL || pipe(pfd) != 0)
    return;
  T(hotssl_prefork_create(&w.p, w.m, 0) == 0); /* publishes 1 */
  pid = fork();
  if (pid == 0) {
    /* The worker: waits for generation 2 (long), then checks. */
    int r;
    close(pfd[1]);
    if (read(pfd[0], &w.long_len, sizeof w.long_len) != sizeof w.long_len)
      _exit(90);
    hotssl__prefork_set_copy_hook(w.p, copy_hook, NULL);
    fa_set_unmap_hook(wipe_hook, NULL);
    w.in_check = 1;
    r = hotssl_prefork_check(w.p, wm);
    w.in_check = 0;
    fa_set_unmap_hook(NULL, NULL);
    T(r == 1);
    T(w.hook_calls == 2); /* the copy was retried */
    T(w.freed_big >= 1);  /* the first copy's buffer was freed during the check */
    checks++;
    CHECK_EQ_INT(w.freed_dirty, 0);
    hotssl_generation *g = hotssl_manager_acquire(wm);
    T(g->number == 3); /* the worker installed the shorter generation */
    hotssl_generation_release(g);
    _exit(tu_failures > 50 ? 50 : tu_failures);
  }
  close(pfd[0]);
  tu_write_atomic(w.conf, CONF_LONG, 0644);
  T(hotssl_manager_reload(w.m, HOTSSL_TRIGGER_API) == 0); /* generation 2, long */
  T(hotssl_prefork_publish(w.p) == 0);
  T(hotssl__snapshot_encode(w.m, HOTSSL_SNAPSHOT_CONTENTS, &bytes, &len, &gen) == 0);
  hotssl__snapshot_bytes_free(bytes, len);
  T(write(pfd[1], &len, sizeof len) == sizeof len);
  close(pfd[1]);
  /* The worker needs no more than a few builds; a hang is a failure. */
  uint64_t deadline = tu_now_ms() + 120000;
  while (waitpid(pid, &st, WNOHANG) == 0) {
    if (tu_now_ms() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      break;
    }
    usleep(10000);
  }
  checks++;
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  hotssl_prefork_destroy(w.p);
  hotssl_manager_destroy(w.m);
  hotssl_manager_destroy(wm);
  free(w.conf);
}

/* ---- allocation failures while decoding a snapshot ---- */

static void test_decode_faults(void) {
  hotssl_manager *m;
  unsigned char *bytes;
  size_t len;
  uint64_t gen;
  long n, leaks = 0, unclean = 0;
  put("root.crt", "root+client_ca.crt", 0644);
  put("two.crl", "root+client.crl", 0644);
  {
    /* And DH parameters: the T_DH record's allocations are walked too. */
    char *p = tu_path(dir, "dh.der");
    tu_write_dh_params(p);
    free(p);
  }
  m = manager("crl.conf", CONF_SHORT "ssl_ca_file='root.crt'\nssl_crl_file='two.crl'\n"
                          "ssl_dh_params_file='dh.der'\n");
  T(m != NULL);
  if (m == NULL)
    return;
  T(hotssl__snapshot_encode(m, HOTSSL_SNAPSHOT_CONTENTS, &bytes, &len, &gen) == 0);
  for (n = 1;; n++) {
    hotssl_config *cfg = NULL;
    hotssl__inputs in;
    int has = 0, r;
    uint64_t g2;
    char err[512];
    long before = fa_live();
    memset(&in, 0, sizeof in);
    fa_fail_at(n);
    r = hotssl__snapshot_decode(bytes, len, &cfg, &in, &has, &g2, err, sizeof err);
    fa_fail_at(0);
    if (r == 0) {
      /* Both CRLs arrive in the revocation table (no CRL bytes to parse). */
      T(in.rev != NULL && in.rev->n_crls == 2 && in.n_crl_dir_files == 0 && in.crl.data == NULL);
      T(in.dh.data != NULL && in.dh.len > 256 && in.dh_checked);
      hotssl__inputs_free(&in);
      hotssl_config_destroy(cfg);
      if (!fa_fired())
        break; /* the walk went past the last allocation */
    } else {
      if (r != HOTSSL_ENOMEM || strstr(err, "out of memory") == NULL) {
        if (unclean++ < 5)
          fprintf(stderr, "allocation %ld failing: r=%d \"%s\"\n", n, r, err);
      }
    }
    if (fa_live() != before) {
      if (leaks++ < 5)
        fprintf(stderr, "allocation %ld failing: %ld block(s) leaked\n", n, fa_live() - before);
    }
  }
  printf("snapshot decode: %ld allocation points walked\n", n - 1);
  T(n > 10);
  checks++;
  CHECK_EQ_INT(leaks, 0);
  checks++;
  CHECK_EQ_INT(unclean, 0);
  hotssl__snapshot_bytes_free(bytes, len);
  hotssl_manager_destroy(m);
}

/* ---- the receiver allocates only what has arrived ---- */

typedef struct mem_stream {
  const unsigned char *p;
  size_t len, off, calls, most; /* most: the largest request */
} mem_stream;

/* hotssl__snapshot_receive's read_fn: all n bytes, else end of stream (-2,
 * as the platform readers say when the stream ends within a read). */
static int mem_read(void *ctx, unsigned char *p, size_t n) {
  mem_stream *ms = ctx;
  ms->calls++;
  if (n > ms->most)
    ms->most = n;
  if (ms->off == ms->len)
    return -2;
  if (n > ms->len - ms->off) {
    ms->off = ms->len;
    return -2; /* truncated: the stream ends within this read */
  }
  memcpy(p, ms->p + ms->off, n);
  ms->off += n;
  return 0;
}

static int receive(const unsigned char *b, size_t len, hotssl_manager **m, char *err, size_t errn,
                   long *peak, size_t *most) {
  mem_stream ms = {b, len, 0, 0, 0};
  hotssl_manager_options o = {0};
  char eb[512];
  int built = 0, r;
  *m = NULL;
  fa_reset_peak();
  long before = fa_live_bytes();
  r = hotssl__snapshot_receive(mem_read, &ms, m, &o, eb, sizeof eb, err, errn, &built);
  *peak = fa_peak_bytes() - before;
  *most = ms.most;
  return r;
}

static void test_receive_grows(void) {
  hotssl_manager *m, *got;
  unsigned char *bytes, lie[HOTSSL__SNAPSHOT_HEADER + 100];
  size_t len, most;
  uint64_t gen;
  long peak, before;
  char err[512];
  int r;
  /* A real snapshot of about 200 KiB (a CA file of 150 certificates): it
   * arrives in doubling reads and builds. */
  {
    char *src = tu_path(tu_testdata(), "root+client_ca.crt"), *big = NULL, *p;
    size_t n = 0, i;
    FILE *f = fopen(src, "rb");
    char one[16384];
    if (f != NULL) {
      n = fread(one, 1, sizeof one, f);
      fclose(f);
    }
    T(n > 100 && n < sizeof one);
    if (n <= 100 || n >= sizeof one || (big = malloc(150 * n + 1)) == NULL) {
      free(src);
      return;
    }
    for (i = 0; i < 150; i++)
      memcpy(big + i * n, one, n);
    big[150 * n] = '\0';
    p = tu_path(dir, "big_ca.crt");
    tu_write_atomic(p, big, 0644);
    free(p);
    free(big);
    free(src);
  }
  m = manager("big.conf", CONF_SHORT "ssl_ca_file='big_ca.crt'\n");
  T(m != NULL);
  if (m == NULL)
    return;
  T(hotssl__snapshot_encode(m, HOTSSL_SNAPSHOT_CONTENTS, &bytes, &len, &gen) == 0);
  printf("snapshot receive: a real snapshot of %zu bytes\n", len);
  T(len > ((size_t)128 << 10));
  before = fa_live();
  r = receive(bytes, len, &got, err, sizeof err, &peak, &most);
  T(r == 0 && got != NULL);
  if (r != 0)
    fprintf(stderr, "receive: %d %s\n", r, err);
  T(most < len); /* more than one read: the buffer grew */
  hotssl_manager_destroy(got);
  checks++;
  CHECK_EQ_INT(fa_live() - before, 0);

  /* A header that claims 1 GiB (with a valid magic and version, as a
   * hostile or broken parent could send), 100 bytes, then the end of the
   * stream: a clean error, and no more than the first 64 KiB buffer. */
  memcpy(lie, bytes, HOTSSL__SNAPSHOT_HEADER);
  for (int i = 0; i < 8; i++)
    lie[8 + i] = (unsigned char)((((uint64_t)1 << 30) >> (56 - 8 * i)) & 0xff);
  memset(lie + HOTSSL__SNAPSHOT_HEADER, 'x', 100);
  before = fa_live();
  r = receive(lie, sizeof lie, &got, err, sizeof err, &peak, &most);
  printf("snapshot receive: header claims 1 GiB, 100 bytes sent: r=%d \"%s\", peak %ld bytes\n", r, err,
         peak);
  T(r == HOTSSL_EINVAL && got == NULL && strstr(err, "truncated") != NULL);
  T(peak > 0 && peak <= (long)(128 << 10));
  T(most <= ((size_t)64 << 10));
  checks++;
  CHECK_EQ_INT(fa_live() - before, 0);

  /* The same lie, every allocation failing in turn: ENOMEM or EINVAL, no leak. */
  for (long n = 1; n < 10; n++) {
    before = fa_live();
    fa_fail_at(n);
    r = receive(lie, sizeof lie, &got, err, sizeof err, &peak, &most);
    fa_fail_at(0);
    T((r == HOTSSL_ENOMEM && strstr(err, "out of memory") != NULL) || r == HOTSSL_EINVAL);
    checks++;
    CHECK_EQ_INT(fa_live() - before, 0);
  }
  hotssl__snapshot_bytes_free(bytes, len);
  hotssl_manager_destroy(m);
}

int main(void) {
  dir = tu_mkdtemp();
  fa_install_pages(); /* snapshot buffers and key bytes are pages for secrets */
  test_prefork_wipe();
  test_decode_faults();
  test_receive_grows();
  tu_rmtree(dir);
  free(dir);
  return tu_finish("test_snapshot_faults", checks);
}
