/*
 * PostgreSQL's key-file rule, both owners (CI runs as root: without this
 * test none would run the server as another user with a root-owned key, and
 * disabling the root-owner rule would pass everything). Needs root to chown; as
 * another user it exits 77 (ctest: skipped, not passed). A forked child
 * drops to uid/gid 65534 and starts a manager on each key file:
 *   root-owned, group 65534, 0640 -> accepted (root may grant group read)
 *   root-owned 0644 / 0660        -> refused  (world read / group write)
 *   owned by 65534, 0600          -> accepted
 *   owned by 65534, 0640          -> refused  (the server user's own key: 0600)
 *   owned by uid 12345, 0640      -> refused  (neither the server user nor root)
 */
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "certgen.h"
#include "testutil.h"

#define NOBODY 65534

static char *dir;
static int checks;

typedef struct kcase {
  const char *name;
  uid_t uid;
  gid_t gid;
  int mode;
  int accepted;
} kcase;

static const kcase cases[] = {
    {"root-0640.key", 0, NOBODY, 0640, 1},
    {"root-0644.key", 0, NOBODY, 0644, 0},
    {"root-0660.key", 0, NOBODY, 0660, 0},
    {"own-0600.key", NOBODY, NOBODY, 0600, 1},
    {"own-0640.key", NOBODY, NOBODY, 0640, 0},
    {"other-0640.key", 12345, NOBODY, 0640, 0},
};

static int start(const char *key, char *err, size_t errlen) {
  char conf[512];
  hotssl_config *cfg;
  hotssl_manager *m = NULL;
  hotssl_manager_options o = {0};
  int r;
  snprintf(conf, sizeof conf, "%s/server.crt", dir);
  hotssl_config_create(&cfg);
  hotssl_config_set(cfg, "ssl_cert_file", conf, err, errlen);
  snprintf(conf, sizeof conf, "%s/%s", dir, key);
  hotssl_config_set(cfg, "ssl_key_file", conf, err, errlen);
  r = hotssl_manager_create(&m, cfg, &o, err, errlen);
  hotssl_manager_destroy(m);
  hotssl_config_destroy(cfg);
  return r;
}

int main(void) {
  certgen_rng rng;
  mbedtls_pk_context key;
  static char pem[8192], keypem[8192];
  if (geteuid() != 0) {
    printf("test_keyperm: needs root (to own files as root and as another user): skipped\n");
    return 77;
  }
  dir = tu_mkdtemp();
  chmod(dir, 0755);
  mbedtls_pk_init(&key);
  if (certgen_rng_init(&rng) != 0 || certgen_key(&key, &rng) != 0 ||
      certgen_cert(&key, "CN=keyperm", &key, "CN=keyperm", 3, "20240101000000", "20990101000000", 0,
                   &rng, pem, sizeof pem) != 0 ||
      certgen_key_pem(&key, keypem, sizeof keypem) != 0)
    return 1;
  char *p = tu_path(dir, "server.crt");
  tu_write(p, pem, 0644);
  free(p);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    p = tu_path(dir, cases[i].name);
    tu_write(p, keypem, 0600);
    if (chown(p, cases[i].uid, cases[i].gid) != 0 || chmod(p, (mode_t)cases[i].mode) != 0) {
      perror("chown/chmod");
      return 1;
    }
    free(p);
  }
  mbedtls_pk_free(&key);
  certgen_rng_free(&rng);

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int st = 0;
    pid_t pid = fork();
    if (pid == 0) {
      char err[512];
      int r;
      if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
        _exit(90);
      r = start(cases[i].name, err, sizeof err);
      if (r != 0)
        fprintf(stderr, "  %s as uid %d: %s\n", cases[i].name, NOBODY, err);
      if (cases[i].accepted)
        _exit(r == 0 ? 0 : 1);
      _exit(r == HOTSSL_EKEYPERM && strstr(err, cases[i].name) != NULL ? 0 : 2);
    }
    waitpid(pid, &st, 0);
    checks++;
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
      fprintf(stderr, "%s (mode %04o, owner %d): expected %s, child status %d\n", cases[i].name,
              cases[i].mode, (int)cases[i].uid, cases[i].accepted ? "accepted" : "refused",
              WIFEXITED(st) ? WEXITSTATUS(st) : -1);
      tu_failures++;
    }
  }
  tu_rmtree(dir);
  free(dir);
  return tu_finish("test_keyperm", checks);
}
