/*
 * hotssl's own key buffers are left out of core images (Linux).
 *
 *   test_core_image smaps   In this process, with real files and a real
 *       passphrase command: the buffer a key file is read into, the
 *       passphrase command's output, a decrypted PKCS#8 key, a snapshot
 *       (it carries the key) and the key a snapshot decodes to each lie in
 *       pages whose /proc/self/smaps VmFlags carry "dd" (MADV_DONTDUMP);
 *       the same file read as a non-key file (malloc) does not, so the
 *       check tells the two apart.
 *   test_core_image gcore   A child reads a fresh key file (never read by
 *       any other code of this test before the core is taken) and runs a
 *       passphrase command whose output is a fresh random token, holds both
 *       buffers, and is dumped with gdb's gcore. Neither a line of the key
 *       file nor the token is in the core. A control child reads the same
 *       file as a non-key file and copies the token into malloc'ed memory:
 *       both are in its core, so the search finds what is there. Exits 77
 *       (skipped) without gcore.
 *
 * What this proves, and what it does not: the bytes hotssl itself holds
 * (file bytes, passphrase, plain PKCS#8 DER, snapshots) are excluded. The
 * key mbedTLS parses from them lives in mbedTLS's own heap as numbers in
 * its internal form, a different representation that neither check looks
 * for; docs/embedding.md ("Key material in memory") says how a host
 * excludes that too.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../os/os.h"
#include "build.h" /* hotssl__inputs_free */
#include "pkcs8.h"
#include "snapshot.h"
#include "testutil.h"

static int checks;
#define T(c)                                                                                            \
  do {                                                                                                  \
    checks++;                                                                                           \
    CHECK(c);                                                                                           \
  } while (0)

static char *dir;

/* Run a shell command in dir; exits the test when it fails. */
static void sh_in_dir(const char *what) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "cd '%s' && %s", dir, what);
  if (system(cmd) != 0) {
    fprintf(stderr, "command failed: %s\n", cmd);
    exit(1);
  }
}

/* 1 when the page holding p carries the "dd" VmFlag, 0 when not, -1 when p
 * is in no mapping of /proc/self/smaps. */
static int dontdump(const void *p) {
  FILE *f = fopen("/proc/self/smaps", "r");
  char line[512];
  int in = 0, r = -1;
  uintptr_t a = (uintptr_t)p;
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof line, f) != NULL) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
      in = a >= lo && a < hi;
      continue;
    }
    if (in && strncmp(line, "VmFlags:", 8) == 0) {
      r = strstr(line, " dd") != NULL;
      break;
    }
  }
  fclose(f);
  return r;
}

static void expect_dd(const char *what, const void *p, size_t len) {
  int first = dontdump(p), last = dontdump((const unsigned char *)p + (len ? len - 1 : 0));
  printf("%-34s %p (%zu bytes): dd %s\n", what, p, len, first == 1 && last == 1 ? "yes" : "NO");
  checks++;
  CHECK(first == 1 && last == 1);
}

static hotssl_manager *manager(void) {
  hotssl_config *cfg;
  hotssl_manager *m = NULL;
  hotssl_manager_options o = {0};
  char err[512], *conf = tu_path(dir, "m.conf");
  tu_write(conf, "ssl_cert_file = 'a.crt'\nssl_key_file = 'a.key'\n", 0644);
  hotssl_config_create(&cfg);
  if (hotssl_config_load_file(cfg, conf, err, sizeof err) != 0 ||
      hotssl_manager_create(&m, cfg, &o, err, sizeof err) != 0)
    fprintf(stderr, "manager: %s\n", err);
  hotssl_config_destroy(cfg);
  free(conf);
  return m;
}

static int run_smaps(void) {
  hotssl__os_file key, plain;
  char err[512], cmd[1024], *pass = NULL, *p;
  unsigned char *out = NULL, *snap = NULL;
  size_t outlen = 0, snaplen = 0;
  uint64_t gen;
  hotssl_manager *m;

  tu_put_testdata(dir, "a.crt", "server-cn-only.crt", 0644);
  tu_put_testdata(dir, "a.key", "server-cn-only.key", 0600);
  sh_in_dir("openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:pw -in a.key -outform DER "
            "-out enc.der 2>/dev/null");
  p = tu_path(dir, "a.key");
  T(hotssl__os_file_read(p, HOTSSL__READ_KEYFILE, 1 << 20, NULL, &key, err, sizeof err) == 0);
  T(hotssl__os_file_read(p, 0, 1 << 20, NULL, &plain, err, sizeof err) == 0);
  free(p);
  T(key.data != NULL && key.secure && plain.data != NULL && !plain.secure);
  if (key.data == NULL || plain.data == NULL)
    return tu_finish("test_core_image smaps", checks);
  expect_dd("key file bytes", key.data, key.len);
  /* The control: the same bytes read as an ordinary file are not marked. */
  printf("%-34s %p (%zu bytes): dd %s\n", "same file, not as a key (control)", (void *)plain.data,
         plain.len, dontdump(plain.data) == 0 ? "no" : "YES");
  T(dontdump(plain.data) == 0);

  snprintf(cmd, sizeof cmd, "echo core-image-passphrase");
  T(hotssl__run_passphrase_command(cmd, 10000, NULL, &pass, err, sizeof err) == 0 && pass != NULL);
  if (pass != NULL)
    expect_dd("passphrase command output", pass, strlen(pass) + 1);

  {
    hotssl__os_file enc;
    p = tu_path(dir, "enc.der");
    T(hotssl__os_file_read(p, 0, 1 << 20, NULL, &enc, err, sizeof err) == 0);
    free(p);
    T(hotssl__pkcs8_decrypt(enc.data, enc.len, (const unsigned char *)"pw", 2, &out, &outlen, err,
                            sizeof err) == HOTSSL__PKCS8_OK);
    if (out != NULL)
      expect_dd("decrypted PKCS#8 key", out, outlen);
    hotssl__os_file_free(&enc);
  }

  m = manager();
  T(m != NULL);
  if (m != NULL && hotssl__snapshot_encode(m, HOTSSL_SNAPSHOT_CONTENTS, &snap, &snaplen, &gen) == 0) {
    hotssl_config *cfg = NULL;
    hotssl__inputs in;
    int has = 0;
    uint64_t g2;
    expect_dd("snapshot (encoded)", snap, snaplen);
    memset(&in, 0, sizeof in);
    T(hotssl__snapshot_decode(snap, snaplen, &cfg, &in, &has, &g2, err, sizeof err) == 0);
    T(in.key.data != NULL && in.key.secure);
    if (in.key.data != NULL)
      expect_dd("key decoded from a snapshot", in.key.data, in.key.len);
    hotssl__inputs_free(&in);
    hotssl_config_destroy(cfg);
    hotssl__snapshot_bytes_free(snap, snaplen);
  } else {
    T(0);
  }
  hotssl_manager_destroy(m);
  hotssl__secure_free(out);
  hotssl__secure_free(pass);
  hotssl__os_file_free(&key);
  hotssl__os_file_free(&plain);
  return tu_finish("test_core_image smaps", checks);
}

/* ---- gcore ---- */

/* The child: read the key file (as a key, or as an ordinary file for the
 * control) and the passphrase, say so on ready, wait for the parent. */
static void child(int control, int ready, int go) {
  hotssl__os_file f;
  char err[512], cmd[1200], *pass = NULL, *copy = NULL, *key = tu_path(dir, "k.pem"), c = 0;
  prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0); /* Yama: let gcore attach */
  snprintf(cmd, sizeof cmd, "cat '%s/token'", dir);
  if (hotssl__os_file_read(key, control ? 0 : HOTSSL__READ_KEYFILE, 1 << 20, NULL, &f, err,
                           sizeof err) != 0 ||
      hotssl__run_passphrase_command(cmd, 10000, NULL, &pass, err, sizeof err) != 0) {
    fprintf(stderr, "child: %s\n", err);
    _exit(3);
  }
  if (control) { /* the token as ordinary memory too */
    copy = strdup(pass);
    hotssl__secure_free(pass);
    pass = NULL;
  }
  if (write(ready, "r", 1) != 1 || read(go, &c, 1) < 0)
    _exit(4);
  hotssl__os_file_free(&f);
  hotssl__secure_free(pass);
  free(copy);
  free(key);
  _exit(0);
}

/* 1 when the file holds needle, 0 when not, -1 when it cannot be read. */
static int core_has(const char *core, const char *needle) {
  enum { CHUNK = 1 << 20 };
  FILE *f = fopen(core, "rb");
  size_t n = strlen(needle), keep = 0, got;
  unsigned char *buf = malloc(CHUNK + 256);
  int found = 0;
  if (f == NULL || buf == NULL || n == 0 || n > 256) {
    if (f != NULL)
      fclose(f);
    free(buf);
    return -1;
  }
  /* Chunks that overlap by n - 1 bytes, so a needle across a border is seen. */
  while (!found && (got = fread(buf + keep, 1, CHUNK, f)) > 0) {
    size_t len = keep + got;
    for (size_t i = 0; i + n <= len && !found; i++)
      found = buf[i] == (unsigned char)needle[0] && memcmp(buf + i, needle, n) == 0;
    keep = len < n - 1 ? len : n - 1;
    memmove(buf, buf + len - keep, keep);
  }
  fclose(f);
  free(buf);
  return found;
}

/* Dump a child; 1 when the core holds each needle (key line, token)
 * as the bits of *found say, or -1. */
static int dump_child(int control, const char *tag, int *key_found, int *token_found) {
  int ready[2], go[2], st = 0;
  char cmd[1400], core[1100], *kp, line[200] = "", token[200] = "";
  FILE *f;
  pid_t pid;
  if (pipe(ready) != 0 || pipe(go) != 0)
    return -1;
  pid = fork();
  if (pid == 0) {
    close(ready[0]);
    close(go[1]);
    child(control, ready[1], go[0]);
  }
  close(ready[1]);
  close(go[0]);
  {
    char c;
    if (read(ready[0], &c, 1) != 1) {
      waitpid(pid, &st, 0);
      fprintf(stderr, "%s child did not get ready (status %d)\n", tag, st);
      return -1;
    }
  }
  snprintf(core, sizeof core, "%s/core-%s", dir, tag);
  snprintf(cmd, sizeof cmd, "gcore -o '%s' %ld >'%s/gcore-%s.log' 2>&1", core, (long)pid, dir, tag);
  st = system(cmd);
  if (write(go[1], "g", 1) != 1)
    perror("write");
  close(go[1]);
  close(ready[0]);
  waitpid(pid, NULL, 0);
  snprintf(core + strlen(core), sizeof core - strlen(core), ".%ld", (long)pid);
  if (st != 0 || access(core, R_OK) != 0) {
    fprintf(stderr, "gcore of the %s child failed (see %s/gcore-%s.log)\n", tag, dir, tag);
    return -1;
  }
  /* Only now does this process read the secrets, to search for them. */
  kp = tu_path(dir, "k.pem");
  if ((f = fopen(kp, "r")) != NULL) {
    for (int i = 0; i < 3 && fgets(line, sizeof line, f) != NULL; i++)
      ; /* the third line: 64 base64 characters from inside the key */
    fclose(f);
  }
  free(kp);
  kp = tu_path(dir, "token");
  if ((f = fopen(kp, "r")) != NULL) {
    if (fgets(token, sizeof token, f) == NULL)
      token[0] = '\0';
    fclose(f);
  }
  free(kp);
  line[strcspn(line, "\r\n")] = '\0';
  token[strcspn(token, "\r\n")] = '\0';
  if (strlen(line) < 40 || strlen(token) < 20)
    return -1;
  *key_found = core_has(core, line);
  *token_found = core_has(core, token);
  printf("%s child: core %s: key line %s, passphrase %s\n", tag, core, *key_found ? "found" : "absent",
         *token_found ? "found" : "absent");
  remove(core);
  memset(line, 0, sizeof line);
  memset(token, 0, sizeof token);
  return 0;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#  define SANITIZED 1 /* gcc */
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#    define SANITIZED 1 /* clang */
#  endif
#endif

static int run_gcore(void) {
  int k = -1, t = -1;
#ifdef SANITIZED
  /* gcore writes a sanitizer's shadow memory too: tens of GB, minutes. */
  printf(
      "built with a sanitizer: a gcore would hold its shadow memory; skipped (the smaps mode runs)\n");
  return 77;
#endif
  if (system("command -v gcore >/dev/null 2>&1") != 0) {
    printf("gcore (gdb) is not installed: skipped\n");
    return 77;
  }
  /* Made on disk by other programs: this process never holds the bytes
   * before the cores are taken, so a child cannot inherit them. */
  sh_in_dir("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out k.pem 2>/dev/null"
            " && chmod 600 k.pem && head -c 24 /dev/urandom | base64 > token");
  T(dump_child(0, "key", &k, &t) == 0);
  T(k == 0 && t == 0); /* hotssl's buffers: not in the core */
  k = t = -1;
  T(dump_child(1, "control", &k, &t) == 0);
  T(k == 1 && t == 1); /* ordinary memory: in the core; the search works */
  return tu_finish("test_core_image gcore", checks);
}

int main(int argc, char **argv) {
  int r;
  if (argc != 2 || (strcmp(argv[1], "smaps") != 0 && strcmp(argv[1], "gcore") != 0)) {
    fprintf(stderr, "usage: test_core_image smaps|gcore\n");
    return 2;
  }
  dir = tu_mkdtemp();
  if (hotssl__runtime_acquire() != 0) /* APR, for the os/ calls made directly */
    return 1;
  r = strcmp(argv[1], "smaps") == 0 ? run_smaps() : run_gcore();
  hotssl__runtime_release();
  tu_rmtree(dir);
  free(dir);
  return r;
}
