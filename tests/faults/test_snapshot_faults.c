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
 *    snapshot also carries DH parameters (T_DH).
 */
#include <signal.h>
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

static void wipe_hook(void *p, size_t n, void *arg) {
  (void)arg;
  if (!w.in_check || n != w.long_len)
    return;
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
    fa_set_free_hook(wipe_hook, NULL);
    w.in_check = 1;
    r = hotssl_prefork_check(w.p, wm);
    w.in_check = 0;
    fa_set_free_hook(NULL, NULL);
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

int main(void) {
  dir = tu_mkdtemp();
  test_prefork_wipe();
  test_decode_faults();
  tu_rmtree(dir);
  free(dir);
  return tu_finish("test_snapshot_faults", checks);
}
