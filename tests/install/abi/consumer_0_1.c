/*
 * A consumer of hotssl 0.1, compiled against the 0.1 public headers kept in
 * tests/install/abi-0.1/ and run against the current library (shared and
 * static): the ABI rule of hotssl/version.h. It exercises the caller-
 * allocated structs of 0.1 (hotssl_manager_options with build_hook,
 * hotssl_stats, hotssl_host_stats, hotssl_watcher_options,
 * hotssl_spawn_request) and the int wake-up descriptor, with real handshakes
 * whose served certificate `openssl s_client` reports.
 *
 *   consumer_0_1 DIR          DIR holds a.crt/a.key, b.crt/b.key (serials
 *                             below) and is the working folder
 *   consumer_0_1 backend HANDOFF SERIAL
 *                             the spawned backend: builds from the snapshot
 *                             and checks that it serves SERIAL
 * Prints "abi-0.1: N passed, M failed"; exit status 0 only when all passed.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hotssl/hotssl.h>
#include <hotssl/platform.h>
#include <hotssl/watcher.h>
#include <mbedtls/ssl.h>

/* The headers must be 0.1's, not the current ones. */
#if defined(HOTSSL_INFO_TYPE_MASK) || defined(HOTSSL_OS_FD_INVALID) || defined(HOTSSL_HAS_FIELD)
#error "consumer_0_1.c must be compiled against tests/install/abi-0.1"
#endif

#define SERIAL_A "2023071316352302"
#define SERIAL_B "2023071316352300"

static int passed, failed;
#define CHECK(c)                                                         \
  do {                                                                   \
    if (c) {                                                             \
      passed++;                                                          \
    } else {                                                             \
      failed++;                                                          \
      fprintf(stderr, "abi-0.1: %s:%d: failed: %s\n", __FILE__, __LINE__, #c); \
    }                                                                    \
  } while (0)

static const char *dir;
static int log_lines, reload_calls, last_result = 99, hook_calls;
static uint64_t last_generation;

static void log_line(void *ud, hotssl_log_level lvl, const char *msg) {
  (void)ud;
  log_lines++;
  fprintf(stderr, "  log %s: %s\n", hotssl_log_level_name(lvl), msg);
}
static void on_reload(void *ud, int result, uint64_t generation) {
  (*(int *)ud)++;
  last_result = result;
  last_generation = generation;
}
static int build_hook(void *ud, struct mbedtls_ssl_config *conf, uint64_t generation, char *errbuf,
                      size_t errlen) {
  (void)conf;
  (void)generation;
  (void)errbuf;
  (void)errlen;
  (*(int *)ud)++;
  return 0;
}

static void write_file(const char *name, const char *text) {
  char p[1024];
  FILE *f;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  if ((f = fopen(p, "w")) == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
    fprintf(stderr, "abi-0.1: cannot write %s\n", p);
    exit(1);
  }
}

static int load(hotssl_config **cfg) {
  char p[1024], err[512];
  snprintf(p, sizeof p, "%s/hotssl.conf", dir);
  if (hotssl_config_create(cfg) != 0)
    return -1;
  if (hotssl_config_load_file(*cfg, p, err, sizeof err) != 0) {
    fprintf(stderr, "abi-0.1: %s\n", err);
    return -1;
  }
  return 0;
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len) {
  ssize_t n = send(*(int *)ctx, buf, len, 0);
  return n < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : (int)n;
}
static int bio_recv(void *ctx, unsigned char *buf, size_t len) {
  ssize_t n = recv(*(int *)ctx, buf, len, 0);
  return n < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : (int)n;
}

/* One handshake served by m's current generation to `openssl s_client`;
 * returns 1 when s_client saw the serial `want` (openssl x509 -serial). */
static int served_serial_is(hotssl_manager *m, const char *want) {
  struct sockaddr_in a;
  socklen_t alen = sizeof a;
  char cmd[1200], line[256] = "", out[512];
  int lfd, cfd, r = -1, status = 0;
  pid_t pid;
  FILE *f;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
      listen(lfd, 4) != 0 || getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
    return 0;
  snprintf(out, sizeof out, "%s/served.txt", dir);
  snprintf(cmd, sizeof cmd,
           "openssl s_client -connect 127.0.0.1:%d </dev/null 2>/dev/null | openssl x509 -noout -serial > '%s'",
           ntohs(a.sin_port), out);
  if ((pid = fork()) == 0) {
    close(lfd);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  if ((cfd = accept(lfd, NULL, NULL)) >= 0) {
    hotssl_generation *g = hotssl_manager_acquire(m);
    mbedtls_ssl_context ssl;
    mbedtls_ssl_init(&ssl);
    if (mbedtls_ssl_setup(&ssl, hotssl_generation_ssl_config(g)) == 0) {
      mbedtls_ssl_set_bio(&ssl, &cfd, bio_send, bio_recv, NULL);
      do
        r = mbedtls_ssl_handshake(&ssl);
      while (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE);
      if (r == 0)
        mbedtls_ssl_close_notify(&ssl);
    }
    mbedtls_ssl_free(&ssl);
    hotssl_generation_release(g);
    close(cfd);
  }
  close(lfd);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if ((f = fopen(out, "r")) != NULL) {
    if (fgets(line, sizeof line, f) == NULL)
      line[0] = '\0';
    fclose(f);
  }
  line[strcspn(line, "\n")] = '\0';
  snprintf(cmd, sizeof cmd, "serial=%s", want);
  if (r != 0 || strcmp(line, cmd) != 0)
    fprintf(stderr, "abi-0.1: handshake %d, s_client saw \"%s\", want \"%s\"\n", r, line, cmd);
  return r == 0 && strcmp(line, cmd) == 0;
}

static int wait_readable(int fd, int ms) {
  struct pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, ms) == 1;
}

/* A struct of 0.1's size followed by a canary: a library that wrote more
 * than 0.1's struct (a field appended to a frozen struct) changes it. */
static struct {
  hotssl_stats st;
  unsigned char canary[256];
} guarded;
static struct {
  hotssl_host_stats hs;
  unsigned char canary[256];
} guarded_host;

static int canary_intact(const unsigned char *c, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (c[i] != 0xc5)
      return 0;
  return 1;
}

static void test_manager(hotssl_manager *m, const char *self) {
  hotssl_stats st;
  hotssl_config *cfg;
  hotssl_snapshot *snap = NULL;
  hotssl_manager *m2 = NULL;
  hotssl_manager_options o2 = {0};
  char err[512];
  int fd;

  CHECK(hook_calls == 1);
  memset(&st, 0x5a, sizeof st);
  CHECK(hotssl_manager_stats(m, &st) == 0);
  CHECK(st.generation == 1 && st.reloads_attempted == 0 && st.last_error[0] == '\0');
  CHECK(strcmp(st.serial, SERIAL_A) == 0);
  CHECK(strstr(st.subject, "CN=") != NULL && st.not_after_unix > st.not_before_unix);
  CHECK(st.key_bits >= 2048 && strcmp(st.key_type, "RSA") == 0 && st.chain_length == 1);
  CHECK(st.sni_hosts == 0 && st.expiry_warning_days == 30); /* the last fields */
  memset(guarded.canary, 0xc5, sizeof guarded.canary);
  CHECK(hotssl_manager_stats(m, &guarded.st) == 0 && guarded.st.generation == 1);
  CHECK(canary_intact(guarded.canary, sizeof guarded.canary));
  CHECK(served_serial_is(m, SERIAL_A));

  /* A reload to the other pair: on_reload, build_hook, stats, handshake. */
  write_file("hotssl.conf", "ssl_cert_file = 'b.crt'\nssl_key_file = 'b.key'\n");
  CHECK(hotssl_manager_reload(m, HOTSSL_TRIGGER_API) == 0);
  CHECK(reload_calls == 1 && last_result == 0 && last_generation == 2 && hook_calls == 2);
  CHECK(hotssl_manager_stats(m, &st) == 0 && st.generation == 2 && strcmp(st.serial, SERIAL_B) == 0);
  CHECK(st.reloads_attempted == 1 && st.reloads_succeeded == 1);
  CHECK(served_serial_is(m, SERIAL_B));

  /* A failing reload keeps serving and records its reason. */
  write_file("hotssl.conf", "ssl_cert_file = 'missing.crt'\nssl_key_file = 'b.key'\n");
  CHECK(hotssl_manager_reload(m, HOTSSL_TRIGGER_API) == HOTSSL_EFILE);
  CHECK(reload_calls == 2 && last_result == HOTSSL_EFILE && last_generation == 2);
  CHECK(hotssl_manager_stats(m, &st) == 0 && st.reloads_failed == 1 && strstr(st.last_error, "missing.crt") != NULL);

  /* reload_with, then the signal path through the int wake-up descriptor. */
  write_file("hotssl.conf", "ssl_cert_file = 'a.crt'\nssl_key_file = 'a.key'\n");
  if (load(&cfg) == 0) {
    CHECK(hotssl_manager_reload_with(m, cfg, HOTSSL_TRIGGER_API) == 0);
    hotssl_config_destroy(cfg);
  }
  /* reload_with signalled the wake-up (for a watcher); dispatch drains it
   * and, with no request, runs no reload. */
  fd = hotssl_manager_wakeup_fd(m);
  CHECK(fd >= 0 && wait_readable(fd, 0));
  CHECK(hotssl_manager_dispatch(m) == HOTSSL_UNCHANGED && reload_calls == 3);
  CHECK(!wait_readable(fd, 0));
  hotssl_manager_request_reload(m);
  CHECK(wait_readable(fd, 10000));
  CHECK(hotssl_manager_dispatch(m) == HOTSSL_UNCHANGED && last_result == HOTSSL_UNCHANGED);
  CHECK(hotssl_manager_stats(m, &st) == 0 && st.generation == 3 && st.reloads_unchanged == 1);
  CHECK(served_serial_is(m, SERIAL_A));

  /* Snapshot: a manager from its bytes serves the same generation. */
  CHECK(hotssl_snapshot_take(m, HOTSSL_SNAPSHOT_CONTENTS, &snap) == 0);
  if (snap != NULL) {
    size_t len = 0;
    const unsigned char *b = hotssl_snapshot_bytes(snap, &len);
    o2.log = log_line;
    CHECK(hotssl_snapshot_generation(snap) == 3);
    CHECK(hotssl_manager_create_from_snapshot(&m2, b, len, &o2, err, sizeof err) == 0);
    if (m2 != NULL) {
      CHECK(hotssl_manager_stats(m2, &st) == 0 && st.generation == 3 && strcmp(st.serial, SERIAL_A) == 0);
      hotssl_manager_destroy(m2);
    }
  }

  /* Spawn: this program as the backend, through hotssl_spawn_request. */
  if (snap != NULL) {
    const char *argv[] = {self, "backend", HOTSSL_SPAWN_HANDOFF_ARG, SERIAL_A, NULL};
    hotssl_spawn_request req;
    hotssl_process *p = NULL;
    int code = -99;
    memset(&req, 0, sizeof req);
    req.program = self;
    req.argv = argv;
    req.conn_fd = -1;
    req.snapshot = snap;
    CHECK(hotssl_spawn(m, &req, &p, err, sizeof err) == 0);
    if (p != NULL) {
      CHECK(hotssl_process_pid(p) > 0);
      CHECK(hotssl_process_wait(p, 1, &code) == 1 && code == 0);
      hotssl_process_destroy(p);
    } else {
      fprintf(stderr, "abi-0.1: spawn: %s\n", err);
    }
  }
  hotssl_snapshot_destroy(snap);
}

/* ssl_sni: hotssl_host_stats (a hotssl_stats inside) for each entry. */
static void test_hosts(void) {
  hotssl_config *cfg;
  hotssl_manager *m = NULL;
  hotssl_generation *g;
  hotssl_host_stats hs;
  char err[512];
  write_file("pg_hosts.conf", "alpha.test,beta.test a.crt a.key\n* b.crt b.key\n");
  write_file("hotssl.conf", "ssl_sni = on\nssl_cert_file = ''\nssl_key_file = ''\n");
  if (load(&cfg) != 0)
    return;
  CHECK(hotssl_manager_create(&m, cfg, NULL, err, sizeof err) == 0);
  hotssl_config_destroy(cfg);
  if (m == NULL)
    return;
  g = hotssl_manager_acquire(m);
  CHECK(hotssl_generation_host_count(g) == 2);
  memset(&hs, 0x5a, sizeof hs);
  CHECK(hotssl_generation_host_stats(g, 0, &hs) == 0);
  CHECK(hs.line == 1 && !hs.is_default && !hs.is_no_sni && !hs.has_ca && hs.n_names == 2);
  CHECK(strcmp(hs.names, "alpha.test,beta.test") == 0 && strcmp(hs.cert.serial, SERIAL_A) == 0);
  CHECK(hs.cert.generation == 1 && hs.cert.not_after_unix > 0);
  CHECK(hotssl_generation_host_stats(g, 1, &hs) == 0 && hs.is_default && strcmp(hs.cert.serial, SERIAL_B) == 0);
  CHECK(hotssl_generation_host_stats(g, 2, &hs) == HOTSSL_EINVAL);
  memset(guarded_host.canary, 0xc5, sizeof guarded_host.canary);
  CHECK(hotssl_generation_host_stats(g, 1, &guarded_host.hs) == 0 && guarded_host.hs.line == 2);
  CHECK(canary_intact(guarded_host.canary, sizeof guarded_host.canary));
  hotssl_generation_release(g);
  hotssl_manager_destroy(m);
}

static void test_watcher(hotssl_manager *m) {
  hotssl_watcher *w = NULL;
  hotssl_watcher_options wo = {HOTSSL_WATCHER_POLL, 0};
  CHECK(hotssl_watcher_create(&w, m, &wo) == 0);
  if (w != NULL) {
    CHECK(hotssl_watcher_fd(w) == -1 && strcmp(hotssl_watcher_backend_name(w), "poll") == 0);
    CHECK(hotssl_watcher_dispatch(w) >= 0);
    hotssl_watcher_destroy(w);
  }
  wo.backend = HOTSSL_WATCHER_NOTIFY;
  CHECK(hotssl_watcher_create(&w, m, &wo) == 0);
  if (w != NULL) {
    CHECK(hotssl_watcher_fd(w) >= 0);
    hotssl_watcher_destroy(w);
  }
}

static int backend(const char *handoff, const char *serial) {
  hotssl_manager_options o = {0};
  hotssl_manager *m = NULL;
  hotssl_stats st;
  char err[512];
  int fd = 0, ok;
  o.log = log_line;
  if (hotssl_backend_open(handoff, &fd, &m, &o, err, sizeof err) != 0) {
    fprintf(stderr, "abi-0.1 backend: %s\n", err);
    return 2;
  }
  ok = fd == -1 && hotssl_manager_stats(m, &st) == 0 && st.generation == 3 && strcmp(st.serial, serial) == 0;
  hotssl_manager_destroy(m);
  return ok ? 0 : 3;
}

int main(int argc, char **argv) {
  hotssl_config *cfg;
  hotssl_manager *m = NULL;
  hotssl_manager_options opts;
  char err[512];
  if (argc == 4 && strcmp(argv[1], "backend") == 0)
    return backend(argv[2], argv[3]);
  if (argc != 2 || argv[0][0] != '/') {
    fprintf(stderr, "usage: /abs/path/consumer_0_1 DIR\n");
    return 2;
  }
  dir = argv[1];
  printf("abi-0.1: header %s, library %s\n", HOTSSL_VERSION_STRING, hotssl_version_string());
  memset(&opts, 0, sizeof opts);
  opts.log = log_line;
  opts.on_reload = on_reload;
  opts.on_reload_userdata = &reload_calls;
  opts.build_hook = build_hook;
  opts.build_hook_userdata = &hook_calls;
  write_file("hotssl.conf", "ssl_cert_file = 'a.crt'\nssl_key_file = 'a.key'\n");
  if (load(&cfg) != 0)
    return 1;
  CHECK(hotssl_manager_create(&m, cfg, &opts, err, sizeof err) == 0);
  hotssl_config_destroy(cfg);
  if (m == NULL) {
    fprintf(stderr, "abi-0.1: %s\n", err);
    return 1;
  }
  CHECK(log_lines > 0);
  test_manager(m, argv[0]);
  test_watcher(m);
  hotssl_manager_destroy(m);
  test_hosts();
  printf("abi-0.1: %d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}
