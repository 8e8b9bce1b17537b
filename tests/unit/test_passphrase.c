/*
 * The passphrase command's process group: a hung command
 * is killed at hotssl_passphrase_timeout_ms with everything it started. The
 * command records the shell's pid and its children's; after the timeout none
 * may be alive (Linux /proc): killing only the shell would leave its
 * `sleep`s alive.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/pem.h>

#include "testutil.h"

static int checks;
#define T(cond) do { checks++; CHECK(cond); } while (0)
#define TEQ(a, b) do { checks++; CHECK_EQ_INT(a, b); } while (0)

static char *dir;

static void put(const char *name, const char *src, int mode) { tu_put_testdata(dir, name, src, mode); }

static int manager_from(const char *conf_text, hotssl_manager **m, char *err, size_t errlen) {
  hotssl_config *cfg;
  hotssl_manager_options o = {0};
  char *p = tu_path(dir, "hotssl.conf");
  int r;
  tu_write_atomic(p, conf_text, 0644);
  hotssl_config_create(&cfg);
  r = hotssl_config_load_file(cfg, p, err, errlen);
  free(p);
  if (r == 0)
    r = hotssl_manager_create(m, cfg, &o, err, errlen);
  hotssl_config_destroy(cfg);
  return r;
}

/* How many of the command's recorded processes are still alive (not zombies). */
static int group_alive(const long *pids, int n) {
  char path[64], buf[512];
  int alive = 0;
  for (int i = 0; i < n; i++) {
    FILE *f;
    snprintf(path, sizeof path, "/proc/%ld/stat", pids[i]);
    if ((f = fopen(path, "r")) == NULL)
      continue;
    if (fgets(buf, sizeof buf, f) != NULL) {
      const char *rp = strrchr(buf, ')');
      char state = 0;
      if (rp != NULL && sscanf(rp + 2, "%c", &state) == 1 && state != 'Z' && state != 'X')
        alive++;
    }
    fclose(f);
  }
  return alive;
}

/* The command runs in a process group of its own and the whole group is
 * killed at the deadline: a background child and a foreground child of the
 * shell (the `sleep`s) must not outlive the timeout, with and without the
 * output pipe open. */
static void test_passphrase_group(void) {
  static const char *shapes[] = {"sleep 30 & echo $! >> %s; sleep 31 & echo $! >> %s; wait",
                                 "exec >&-; sleep 30 & echo $! >> %s; sleep 31 & echo $! >> %s; wait"};
  char conf[1024], cmd[600], err[512];
  char *pidfile = tu_path(dir, "group.pids");
  put("server.crt", "server-cn-only.crt", 0644);
  put("server.key", "server-password.key", 0600);
  for (int i = 0; i < 2; i++) {
    hotssl_manager *m = NULL;
    long pids[3] = {0, 0, 0};
    int n = 0, alive = 0;
    FILE *f;
    unlink(pidfile);
    /* The shell records its own pid first: the group's id. */
    snprintf(cmd, sizeof cmd, "echo $$ >> %s; ", pidfile);
    snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), shapes[i], pidfile, pidfile);
    snprintf(conf, sizeof conf,
             "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
             "ssl_passphrase_command = '%s'\nhotssl_passphrase_timeout_ms = 500\n", cmd);
    TEQ(manager_from(conf, &m, err, sizeof err), HOTSSL_EPASSPHRASE);
    T(strstr(err, "did not finish within 500 ms") != NULL);
    hotssl_manager_destroy(m);
    if ((f = fopen(pidfile, "r")) != NULL) {
      while (n < 3 && fscanf(f, "%ld", &pids[n]) == 1)
        n++;
      fclose(f);
    }
    TEQ(n, 3); /* the shell and both sleeps started before the deadline */
    /* Killed processes are reaped by init; wait (bounded) for them to go. */
    uint64_t deadline = tu_now_ms() + 5000; /* SIGKILL is immediate; init reaps */
    while ((alive = group_alive(pids, n)) > 0 && tu_now_ms() < deadline)
      usleep(20000);
    TEQ(alive, 0);
    for (int k = 1; k < n; k++) /* never leave them behind, pass or fail */
      kill((pid_t)pids[k], SIGKILL);
  }
  free(pidfile);
}

/* A wrong passphrase that decrypts a legacy encrypted PEM key with valid
 * padding (about one in 256 for AES-CBC): mbedTLS's PEM layer checks only
 * the padding, and the garbage then fails to parse as a key. That is still a
 * wrong passphrase, not "ASN1 tag was of an unexpected value" (what CI once
 * printed). The passphrase is searched for here, so the case runs on every
 * run, not once in 256 generated sets. The key is always the generated set's
 * legacy-PEM server-password.key (PostgreSQL's own is PKCS#8 PBES2, whose
 * decoder, core/pkcs8.c, checks the structure as well as the padding). */
static void test_wrong_passphrase_valid_padding(void) {
  char conf[512], err[512], pass[32] = "";
  char *keypath;
  unsigned char *pem = NULL;
  size_t pemlen = 0;
  FILE *f;
  int found = 0;
  char *gen_crt = tu_path(HOTSSL_TESTDATA_DIR, "server-cn-only.crt");
  char *gen_key = tu_path(HOTSSL_TESTDATA_DIR, "server-password.key");
  char *crtpath = tu_path(dir, "server.crt");
  keypath = tu_path(dir, "server.key");
  tu_copy(gen_crt, crtpath, 0644);
  tu_copy(gen_key, keypath, 0600);
  free(gen_crt);
  free(gen_key);
  free(crtpath);
  f = fopen(keypath, "rb");
  T(f != NULL);
  if (f != NULL) {
    pem = calloc(1, 65536);
    pemlen = fread(pem, 1, 65535, f);
    fclose(f);
  }
  free(keypath);
  T(pem != NULL && strstr((const char *)pem, "Proc-Type: 4,ENCRYPTED") != NULL); /* legacy PEM */
  for (unsigned i = 0; pem != NULL && i < 100000u && !found; i++) {
    mbedtls_pem_context ctx;
    size_t used = 0;
    snprintf(pass, sizeof pass, "wrong%u", i);
    mbedtls_pem_init(&ctx);
    if (mbedtls_pem_read_buffer(&ctx, "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----",
                                pem, (const unsigned char *)pass, strlen(pass), &used) == 0)
      found = 1;
    mbedtls_pem_free(&ctx);
  }
  T(pemlen > 0);
  T(found); /* mbedTLS took a wrong passphrase: the case below is the one that matters */
  if (found) {
    hotssl_manager *m = NULL;
    snprintf(conf, sizeof conf,
             "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
             "ssl_passphrase_command = 'echo %s'\n", pass);
    TEQ(manager_from(conf, &m, err, sizeof err), HOTSSL_EPASSPHRASE);
    T(strstr(err, "server.key\": wrong passphrase") != NULL);
    if (strstr(err, "wrong passphrase") == NULL)
      fprintf(stderr, "passphrase %s: %s\n", pass, err);
    hotssl_manager_destroy(m);
    /* and the right one still loads the same file */
    snprintf(conf, sizeof conf,
             "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
             "ssl_passphrase_command = 'echo secret1'\n");
    m = NULL;
    TEQ(manager_from(conf, &m, err, sizeof err), 0);
    hotssl_manager_destroy(m);
  }
  free(pem);
}

int main(void) {
  dir = tu_mkdtemp();
  test_wrong_passphrase_valid_padding();
  test_passphrase_group();
  tu_rmtree(dir);
  free(dir);
  return tu_finish("test_passphrase", checks);
}
