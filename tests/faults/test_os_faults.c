/*
 * Fault injection over a whole start and a whole reload: one
 * counter over every allocation of the library (link-time seam, faultalloc)
 * and every os/ call (the call table: open, fstat, read, directory open, the
 * passphrase command's pipe and spawn, the pages for secrets that hold the
 * key file, the passphrase and the decrypted key). For N = 1, 2, ... until a run
 * completes without reaching N, the N-th call fails, and:
 *   start  (manager create: cert, encrypted key + passphrase command, CA,
 *           CRL file, CRL directory): either it succeeds and serves, or it
 *           fails with a message naming the cause; no block leaks;
 *   reload (from a served pair B to the same full configuration): the old
 *           generation is still served (a real handshake gets B's serial),
 *           exactly one "was not reloaded" line, naming the cause; no leak.
 * A cause is "out of memory" or the injected error's text (EIO for files,
 * EMFILE for the pipe, EAGAIN for the spawn). Run under ASan too (CI), which
 * adds its own leak and memory-error checks to every N.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_errno.h>

#include "faultalloc.h"
#include "os.h"
#include "testutil.h"

static int checks;
static char *dir;

/* ---- the failing table ---- */

static apr_status_t f_open(apr_file_t **f, const char *p, apr_int32_t fl, apr_fileperms_t pe, apr_pool_t *pool) {
  return fa_tick() ? APR_FROM_OS_ERROR(EIO) : hotssl__os_real()->file_open(f, p, fl, pe, pool);
}
static apr_status_t f_info(apr_finfo_t *fi, apr_int32_t w, apr_file_t *f) {
  return fa_tick() ? APR_FROM_OS_ERROR(EIO) : hotssl__os_real()->file_info_get(fi, w, f);
}
static apr_status_t f_read(apr_file_t *f, void *b, apr_size_t *n) {
  if (fa_tick()) {
    *n = 0;
    return APR_FROM_OS_ERROR(EIO);
  }
  return hotssl__os_real()->file_read(f, b, n);
}
static apr_status_t f_dir(apr_dir_t **d, const char *p, apr_pool_t *pool) {
  return fa_tick() ? APR_FROM_OS_ERROR(EIO) : hotssl__os_real()->dir_open(d, p, pool);
}
static apr_status_t f_pipe(apr_procattr_t *a, apr_int32_t i, apr_int32_t o, apr_int32_t e) {
  return fa_tick() ? APR_FROM_OS_ERROR(EMFILE) : hotssl__os_real()->procattr_io_set(a, i, o, e);
}
static apr_status_t f_spawn(apr_proc_t *p, const char *prog, const char *const *args,
                            const char *const *env, apr_procattr_t *a, apr_pool_t *pool) {
  return fa_tick() ? APR_FROM_OS_ERROR(EAGAIN) : hotssl__os_real()->proc_create(p, prog, args, env, a, pool);
}
static const hotssl__os_calls failing = {f_open, f_info,  f_read,       f_dir,
                                         f_pipe, f_spawn, fa_pages_map, fa_pages_unmap};

static int names_cause(const char *msg) {
  return strstr(msg, "out of memory") != NULL || strstr(msg, strerror(EIO)) != NULL ||
         strstr(msg, strerror(EMFILE)) != NULL || strstr(msg, strerror(EAGAIN)) != NULL;
}

/* ---- files ---- */

static void put(const char *name, const char *src, int mode) { tu_put_testdata(dir, name, src, mode); }

#define FULL                                                                          \
  "ssl_cert_file='a.crt'\nssl_key_file='a-enc.key'\nssl_ca_file='ca.crt'\n"           \
  "ssl_crl_file='crl.pem'\nssl_crl_dir='crldir'\nssl_passphrase_command='echo secret1'\n" \
  "ssl_passphrase_command_supports_reload=on\nhotssl_watch=off\n"
#define PAIR_B "ssl_cert_file='b.crt'\nssl_key_file='b.key'\nhotssl_watch=off\n"

/* The log callback allocates nothing (the test's own allocations would
 * count too): it counts failure lines and keeps the last one. */
static int fail_lines;
static char last_fail[1024];
static void flog(void *ud, hotssl_log_level level, const char *msg) {
  (void)ud;
  (void)level;
  if (strstr(msg, "was not reloaded") != NULL) {
    fail_lines++;
    snprintf(last_fail, sizeof last_fail, "%s", msg);
  }
}

static char conf_path[1024];

/* Config load + manager create: the whole start (nothing of the test's own
 * allocates in between). */
static int create(hotssl_manager **m, char *err, size_t errlen) {
  hotssl_config *cfg = NULL;
  hotssl_manager_options o = {0};
  int r;
  o.log = flog;
  *m = NULL;
  if ((r = hotssl_config_create(&cfg)) == 0 && (r = hotssl_config_load_file(cfg, conf_path, err, errlen)) == 0)
    r = hotssl_manager_create(m, cfg, &o, err, errlen);
  else if (r == HOTSSL_ENOMEM && err[0] == '\0')
    snprintf(err, errlen, "out of memory (hotssl_config_create)");
  hotssl_config_destroy(cfg);
  return r;
}

static void conf(const char *text) { tu_write_atomic(conf_path, text, 0644); }

static int served_serial(hotssl_manager *m, char *serial, size_t len) {
  tu_server *s = tu_server_start(m, 1);
  int r = tu_client_serial(tu_server_port(s), NULL, serial, len);
  tu_server_stop(s);
  return r;
}

int main(void) {
  long n, start_points = 0, reload_points = 0;
  int bad_msg = 0, leaks = 0, not_served = 0, lines_wrong = 0, ok_after_fault = 0;
  dir = tu_mkdtemp();
  snprintf(conf_path, sizeof conf_path, "%s/hotssl.conf", dir);
  put("a.crt", "server-cn-only.crt", 0644);
  put("a-enc.key", "server-password.key", 0600);
  put("b.crt", "server-cn-and-alt-names.crt", 0644);
  put("b.key", "server-cn-and-alt-names.key", 0600);
  put("ca.crt", "root+client_ca.crt", 0644);
  put("crl.pem", "root+client.crl", 0644);
  {
    char *d = tu_path(dir, "crldir");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp -r '%s/root+client-crldir' '%s'", tu_testdata(), d);
    if (system(cmd) != 0)
      return 1;
    free(d);
  }

  /* Sanity: both configurations work without faults. */
  {
    hotssl_manager *m;
    char err[512];
    conf(FULL);
    checks++;
    CHECK_EQ_INT(create(&m, err, sizeof err), 0);
    if (m == NULL) {
      fprintf(stderr, "%s\n", err);
      return 1;
    }
    hotssl_manager_destroy(m);
  }

  /* ---- a whole start ---- */
  for (n = 1;; n++) {
    hotssl_manager *m = NULL;
    char err[512] = "";
    long before = fa_live();
    int r;
    conf(FULL);
    hotssl__os_set_calls(&failing);
    fa_fail_at(n);
    r = create(&m, err, sizeof err);
    fa_fail_at(0);
    /* Pages a manager keeps for its life (the session-ticket seed) are
     * unmapped at destroy: count that unmap too. */
    fa_install_pages();
    int fired = fa_fired();
    if (r != 0 && !names_cause(err)) {
      if (bad_msg++ < 10)
        fprintf(stderr, "start, call %ld failing: refused without naming the cause: %s\n", n, err);
    }
    if (r == 0 && fired)
      ok_after_fault++; /* a failure the library worked around (e.g. an optional step) */
    hotssl_manager_destroy(m);
    hotssl__os_set_calls(NULL);
    if (fa_live() != before && leaks++ < 10)
      fprintf(stderr, "start, call %ld failing: %ld block(s) leaked\n", n, fa_live() - before);
    if (!fired) {
      start_points = n - 1;
      break;
    }
  }

  /* ---- a whole reload ---- */
  for (n = 1;; n++) {
    hotssl_manager *m = NULL;
    char err[512] = "", serial[64] = "";
    long before = fa_live();
    int r, lines;
    conf(PAIR_B);
    if (create(&m, err, sizeof err) != 0) {
      fprintf(stderr, "reload setup: %s\n", err);
      return 1;
    }
    conf(FULL);
    fail_lines = 0;
    last_fail[0] = '\0';
    hotssl__os_set_calls(&failing);
    fa_fail_at(n);
    r = hotssl_manager_reload(m, HOTSSL_TRIGGER_API);
    fa_fail_at(0);
    hotssl__os_set_calls(NULL);
    int fired = fa_fired();
    lines = fail_lines;
    if (r < 0) {
      hotssl_stats st;
      hotssl_manager_stats(m, &st);
      if (lines != 1 || !names_cause(last_fail)) {
        if (lines_wrong++ < 10)
          fprintf(stderr, "reload, call %ld failing: %d failure line(s): %s\n", n, lines, last_fail);
      }
      if (served_serial(m, serial, sizeof serial) != 0 || strcmp(serial, TU_SERIAL_B) != 0) {
        if (not_served++ < 10)
          fprintf(stderr, "reload, call %ld failing: old generation not served (serial '%s')\n", n, serial);
      }
    } else if (fired) {
      ok_after_fault++;
    }
    hotssl_manager_destroy(m);
    if (fa_live() != before && leaks++ < 10)
      fprintf(stderr, "reload, call %ld failing: %ld block(s) leaked\n", n, fa_live() - before);
    if (!fired) {
      reload_points = n - 1;
      break;
    }
  }

  printf("fault points walked: start %ld, reload %ld; failures worked around: %d\n", start_points,
         reload_points, ok_after_fault);
  checks += 6;
  CHECK(start_points > 20);
  CHECK(reload_points > 20);
  CHECK_EQ_INT(bad_msg, 0);
  CHECK_EQ_INT(leaks, 0);
  CHECK_EQ_INT(not_served, 0);
  CHECK_EQ_INT(lines_wrong, 0);
  tu_rmtree(dir);
  free(dir);
  return tu_finish("test_os_faults", checks);
}
