/*
 * Revocation that reaches open connections, in the library
 * (docs/live-revocation.md), on the PostgreSQL-shaped test set:
 * - client chains accepted under a generation without CRLs are recorded;
 *   hotssl_client_verify_revoked answers against a newer generation whose
 *   CRLs (root+client.crl) list the leaf (client-revoked.crt): 1, depth 0,
 *   the serial in decimal as `openssl x509 -serial` gives it in hex; a leaf
 *   they do not list (client.crt): 0; a generation without CRLs: 0;
 * - nothing recorded (fresh verifier, refused chain, NULL arguments):
 *   HOTSSL_EINVAL;
 * - the generation-change counter follows publications (create, reload;
 *   not an unchanged reload);
 * - a forked child reads its parent's counter: its own reload does not
 *   move it, the parent's next publication shows up in the child;
 * - HOTSSL_INFO_GENERATION_COUNTER_FD attached to another manager
 *   (hotssl_manager_attach_generation_counter) makes it read the first
 *   one's counter, which its own reloads do not write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mbedtls/x509_crt.h>

#include "hotssl/platform.h"
#include "testutil.h"
#include "verify.h"

static int checks;
#define T(c) do { checks++; CHECK(c); } while (0)
#define TEQ(a, b) do { checks++; CHECK_EQ_INT(a, b); } while (0)

static char *dir;

static hotssl_config *config(const char *crl) {
  hotssl_config *cfg;
  char err[512];
  const char *td = tu_testdata();
  char *p;
  hotssl_config_create(&cfg);
  hotssl_config_set_base_dir(cfg, td);
  hotssl_config_set(cfg, "ssl_cert_file", "server-cn-only.crt", err, sizeof err);
  hotssl_config_set(cfg, "ssl_ca_file", "root+client_ca.crt", err, sizeof err);
  hotssl_config_set(cfg, "ssl_client_cert", "require", err, sizeof err);
  /* The key's permissions: a private copy of the key. */
  p = tu_path(dir, "server.key");
  tu_put_testdata(dir, "server.key", "server-cn-only.key", 0600);
  hotssl_config_set(cfg, "ssl_key_file", p, err, sizeof err);
  free(p);
  if (crl != NULL)
    T(hotssl_config_set(cfg, "ssl_crl_file", crl, err, sizeof err) == 0);
  return cfg;
}

/* Verify the named chain under g into v: 0 accepted, 1 refused. */
static int verify(hotssl_generation *g, const char *name, hotssl_client_verify *v) {
  mbedtls_x509_crt chain;
  char *p = tu_path(tu_testdata(), name);
  int r;
  mbedtls_x509_crt_init(&chain);
  TEQ(mbedtls_x509_crt_parse_file(&chain, p), 0);
  free(p);
  r = hotssl__verify_chain(g, &chain, 0, v);
  mbedtls_x509_crt_free(&chain);
  return r;
}

/* The serial of a test certificate in decimal, through the openssl CLI. */
static void serial_dec(const char *name, char *out, size_t len) {
  char cmd[1024], hex[128] = "";
  FILE *f;
  snprintf(cmd, sizeof cmd, "openssl x509 -in '%s/%s' -noout -serial", tu_testdata(), name);
  f = popen(cmd, "r");
  T(f != NULL && fgets(hex, sizeof hex, f) != NULL);
  if (f != NULL)
    pclose(f);
  T(strncmp(hex, "serial=", 7) == 0 && strlen(hex) <= 7 + 17);
  snprintf(out, len, "%llu", strtoull(hex + 7, NULL, 16));
}

static void revoked_checks(void) {
  hotssl_config *plain = config(NULL), *with_crl = config("root+client.crl");
  hotssl_manager *m = NULL;
  hotssl_client_verify *alice, *bob, *fresh;
  hotssl_generation *g1, *g2;
  char err[512], serial[160], want[64];
  int depth = -1;

  TEQ(hotssl_manager_create(&m, plain, NULL, err, sizeof err), 0);
  if (m == NULL) {
    fprintf(stderr, "%s\n", err);
    return;
  }
  hotssl_client_verify_create(&alice);
  hotssl_client_verify_create(&bob);
  hotssl_client_verify_create(&fresh);
  g1 = hotssl_manager_acquire(m);
  TEQ(verify(g1, "client-revoked.crt", alice), 0);
  TEQ(verify(g1, "client.crt", bob), 0);
  TEQ(hotssl_client_verify_revoked(alice, g1, &depth, serial, sizeof serial), 0);
  TEQ(hotssl_manager_reload_with(m, with_crl, HOTSSL_TRIGGER_API), 0);
  g2 = hotssl_manager_acquire(m);
  TEQ(hotssl_generation_number(g2), 2);
  TEQ(hotssl_client_verify_revoked(alice, g2, &depth, serial, sizeof serial), 1);
  TEQ(depth, 0);
  serial_dec("client-revoked.crt", want, sizeof want);
  T(strcmp(serial, want) == 0);
  TEQ(hotssl_client_verify_revoked(alice, g2, NULL, NULL, 0), 1);
  TEQ(hotssl_client_verify_revoked(bob, g2, &depth, serial, sizeof serial), 0);
  T(serial[0] == '\0');
  TEQ(hotssl_client_verify_revoked(alice, g1, NULL, NULL, 0), 0); /* no CRL */
  /* Nothing accepted recorded. */
  TEQ(hotssl_client_verify_revoked(fresh, g2, NULL, NULL, 0), HOTSSL_EINVAL);
  TEQ(verify(g2, "client-revoked.crt", fresh), 1); /* refused now: no record */
  TEQ(hotssl_client_verify_revoked(fresh, g2, NULL, NULL, 0), HOTSSL_EINVAL);
  TEQ(hotssl_client_verify_revoked(NULL, g2, NULL, NULL, 0), HOTSSL_EINVAL);
  TEQ(hotssl_client_verify_revoked(alice, NULL, NULL, NULL, 0), HOTSSL_EINVAL);
  hotssl_generation_release(g1);
  hotssl_generation_release(g2);
  hotssl_client_verify_destroy(alice);
  hotssl_client_verify_destroy(bob);
  hotssl_client_verify_destroy(fresh);
  hotssl_manager_destroy(m);
  hotssl_config_destroy(plain);
  hotssl_config_destroy(with_crl);
}

/* Child: its own reload, then wait for the parent's generation 3. */
static int child(hotssl_manager *m, hotssl_config *cfg, int wfd) {
  const volatile uint64_t *c = hotssl_manager_generation_counter(m);
  uint64_t end;
  if (hotssl_manager_after_fork_child(m) != 0)
    return 10;
  if (hotssl_manager_reload_with(m, cfg, HOTSSL_TRIGGER_API) != 0)
    return 11;
  if (write(wfd, "x", 1) != 1)
    return 12;
  end = tu_now_ms() + 30000;
  while (hotssl_generation_counter_load(c) != 3 && tu_now_ms() < end)
    usleep(1000);
  return hotssl_generation_counter_load(c) == 3 ? 0 : 13;
}

static void counter_checks(void) {
  hotssl_config *plain = config(NULL), *with_crl = config("root+client.crl");
  hotssl_manager *m = NULL;
  const volatile uint64_t *c;
  char err[512], b;
  int fds[2], st = -1;
  pid_t pid;

  T(hotssl_manager_generation_counter(NULL) == NULL);
  TEQ(hotssl_manager_create(&m, plain, NULL, err, sizeof err), 0);
  if (m == NULL)
    return;
  c = hotssl_manager_generation_counter(m);
  T(c != NULL && c == hotssl_manager_generation_counter(m));
  TEQ(hotssl_generation_counter_load(c), 1);
  TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), HOTSSL_UNCHANGED);
  TEQ(hotssl_generation_counter_load(c), 1);
  TEQ(hotssl_manager_reload_with(m, with_crl, HOTSSL_TRIGGER_API), 0);
  TEQ(hotssl_generation_counter_load(c), 2);

  T(pipe(fds) == 0);
  hotssl_manager_before_fork(m);
  pid = fork();
  if (pid == 0) {
    int rc;
    close(fds[0]);
    rc = child(m, plain, fds[1]);
    /* Freed as the parent frees them: the child's leaks count too (valgrind). */
    hotssl_manager_destroy(m);
    hotssl_config_destroy(plain);
    hotssl_config_destroy(with_crl);
    free(dir);
    _exit(rc);
  }
  hotssl_manager_after_fork_parent(m);
  close(fds[1]);
  T(pid > 0);
  T(read(fds[0], &b, 1) == 1);      /* the child published its own generation */
  TEQ(hotssl_generation_counter_load(c), 2); /* ... without touching ours */
  TEQ(hotssl_manager_reload_with(m, plain, HOTSSL_TRIGGER_API), 0);
  TEQ(hotssl_generation_counter_load(c), 3);
  T(waitpid(pid, &st, 0) == pid);
  T(WIFEXITED(st));
  TEQ(WEXITSTATUS(st), 0); /* the child saw generation 3 */
  close(fds[0]);
  hotssl_manager_destroy(m);
  hotssl_config_destroy(plain);
  hotssl_config_destroy(with_crl);
}

/* A process the host starts itself: the counter's descriptor, attached to
 * another manager (here in the same process, through a duplicate). */
static void attach_checks(void) {
  hotssl_config *plain = config(NULL), *with_crl = config("root+client.crl");
  hotssl_manager *a = NULL, *b = NULL;
  hotssl_os_fd fd = HOTSSL_OS_FD_INVALID;
  const volatile uint64_t *cb;
  char err[512];

  TEQ(hotssl_manager_create(&a, plain, NULL, err, sizeof err), 0);
  TEQ(hotssl_manager_create(&b, plain, NULL, err, sizeof err), 0);
  if (a == NULL || b == NULL)
    return;
  TEQ(hotssl_manager_info(a, HOTSSL_INFO_GENERATION_COUNTER_FD, &fd, sizeof fd), 0);
  T(fd >= 0);
  TEQ(hotssl_manager_info(a, HOTSSL_INFO_GENERATION_COUNTER_FD, &fd, 1), HOTSSL_EINVAL);
  TEQ(hotssl_manager_attach_generation_counter(b, HOTSSL_OS_FD_INVALID), HOTSSL_EINVAL);
  TEQ(hotssl_manager_attach_generation_counter(NULL, dup(fd)), HOTSSL_EINVAL);
  TEQ(hotssl_manager_reload_with(b, with_crl, HOTSSL_TRIGGER_API), 0); /* b at 2, a at 1 */
  TEQ(hotssl_manager_attach_generation_counter(b, dup(fd)), 0);
  cb = hotssl_manager_generation_counter(b);
  TEQ(hotssl_generation_counter_load(cb), 1); /* a's */
  TEQ(hotssl_manager_reload_with(a, with_crl, HOTSSL_TRIGGER_API), 0);
  TEQ(hotssl_generation_counter_load(cb), 2);
  TEQ(hotssl_manager_reload_with(b, plain, HOTSSL_TRIGGER_API), 0); /* b's own: not written */
  TEQ(hotssl_generation_counter_load(hotssl_manager_generation_counter(a)), 2);
  TEQ(hotssl_manager_info(b, HOTSSL_INFO_GENERATION_COUNTER_FD, &fd, sizeof fd), 0);
  T(fd == HOTSSL_OS_FD_INVALID); /* b hands nothing on */
  hotssl_manager_destroy(b);
  hotssl_manager_destroy(a);
  hotssl_config_destroy(plain);
  hotssl_config_destroy(with_crl);
}

int main(void) {
  dir = tu_mkdtemp();
  revoked_checks();
  counter_checks();
  attach_checks();
  tu_rmtree(dir);
  free(dir);
  return tu_finish("test_liverev", checks);
}
