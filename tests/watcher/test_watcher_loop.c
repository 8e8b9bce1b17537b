/*
 * The watcher's two ways to run, in C against the library:
 *  1. host-loop mode (own_thread = 0): one thread polls hotssl_watcher_fd()
 *     and hotssl_manager_wakeup_fd() and calls hotssl_watcher_dispatch();
 *     a rename-over rotation is picked up, a SIGHUP (handler calls
 *     hotssl_manager_request_reload) reloads through the same dispatch;
 *  2. after fork, hotssl_watcher_after_fork_child() closes the inherited
 *     inotify descriptor in the child, and the parent keeps reloading;
 *  3. thread mode: no dispatch by the host, rotations and the signal path
 *     still work; a fork child of a thread-mode watcher cleans up without
 *     touching the (absent) thread.
 * Real files, real handshakes (tu_server + mbedTLS client), the served
 * serial checked. Run with argument "poll" to force the polling backend.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hotssl/watcher.h"
#include "testutil.h"

static hotssl_manager *volatile g_m;
static int checks;

static void on_hup(int sig) {
  (void)sig;
  if (g_m != NULL)
    hotssl_manager_request_reload(g_m);
}

static void serial_of(int port, char *out, size_t len) {
  if (tu_client_serial(port, NULL, out, len) != 0)
    snprintf(out, len, "error");
}

/* Host loop: run until the served serial differs from `old` (or 20 s). */
static int loop_until_serial_changes(hotssl_watcher *w, hotssl_manager *m, int port,
                                     const char *old, char *now, size_t len) {
  uint64_t end = tu_now_ms() + 20000, t0 = tu_now_ms();
  for (;;) {
    struct pollfd p[2];
    int t = w != NULL ? hotssl_watcher_dispatch(w) : 50;
    serial_of(port, now, len);
    if (strcmp(now, old) != 0 && strcmp(now, "error") != 0) {
      printf("rotation seen after %llu ms\n", (unsigned long long)(tu_now_ms() - t0));
      return 0;
    }
    if (tu_now_ms() > end)
      return -1;
    p[0].fd = w != NULL ? hotssl_watcher_fd(w) : -1;
    p[1].fd = hotssl_manager_wakeup_fd(m);
    p[0].events = p[1].events = POLLIN;
    if (t < 0 || t > 50)
      t = 50; /* we also poll the served serial */
    poll(p, 2, t);
  }
}

static int wait_log(hotssl_watcher *w, const char *what, int n) {
  uint64_t end = tu_now_ms() + 20000;
  while (tu_log_count(what) < n) {
    if (tu_now_ms() > end)
      return -1;
    if (w != NULL) {
      struct pollfd p;
      p.fd = hotssl_manager_wakeup_fd(g_m);
      p.events = POLLIN;
      poll(&p, 1, 20);
      hotssl_watcher_dispatch(w);
    } else {
      usleep(20000);
    }
  }
  return 0;
}

static void rotate(const char *dir, const char *name) {
  char from[512], tmp[512], dst[512];
  snprintf(from, sizeof from, "%s/%s.key", tu_testdata(), name);
  snprintf(tmp, sizeof tmp, "%s/new.key", dir);
  snprintf(dst, sizeof dst, "%s/server.key", dir);
  tu_copy(from, tmp, 0600);
  snprintf(from, sizeof from, "%s/%s.crt", tu_testdata(), name);
  snprintf(tmp, sizeof tmp, "%s/new.crt", dir);
  tu_copy(from, tmp, 0644);
  /* key first, then cert: a short mismatch window the retry covers */
  {
    char kt[512];
    snprintf(kt, sizeof kt, "%s/new.key", dir);
    CHECK(rename(kt, dst) == 0);
  }
  snprintf(dst, sizeof dst, "%s/server.crt", dir);
  CHECK(rename(tmp, dst) == 0);
}

int main(int argc, char **argv) {
  hotssl_config *cfg;
  hotssl_manager *m = NULL;
  hotssl_manager_options mo = {0};
  hotssl_watcher_options wo;
  hotssl_watcher *w = NULL;
  tu_server *srv;
  char *dir = tu_mkdtemp(), s0[80], s1[80], s2[80], s3[80], path[512], err[512];
  int poll_only = argc > 1 && strcmp(argv[1], "poll") == 0;
  struct sigaction sa;
  pid_t pid;
  int status, port, fd;

  snprintf(path, sizeof path, "%s/server.crt", dir);
  {
    char from[512];
    snprintf(from, sizeof from, "%s/server-cn-only.crt", tu_testdata());
    tu_copy(from, path, 0644);
    snprintf(from, sizeof from, "%s/server-cn-only.key", tu_testdata());
    snprintf(path, sizeof path, "%s/server.key", dir);
    tu_copy(from, path, 0600);
  }
  CHECK(hotssl_config_create(&cfg) == 0);
  CHECK(hotssl_config_set_base_dir(cfg, dir) == 0);
  CHECK(hotssl_config_set(cfg, "hotssl_debounce_ms", "50", NULL, 0) == 0);
  CHECK(hotssl_config_set(cfg, "hotssl_poll_interval_ms", "100", NULL, 0) == 0);
  mo.log = tu_log;
  if (hotssl_manager_create(&m, cfg, &mo, err, sizeof err) != 0) {
    fprintf(stderr, "manager: %s\n", err);
    return 1;
  }
  hotssl_config_destroy(cfg);
  g_m = m;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_hup;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGHUP, &sa, NULL);
  srv = tu_server_start(m, 2);
  port = tu_server_port(srv);
  serial_of(port, s0, sizeof s0);
  CHECK(strcmp(s0, "error") != 0);

  /* 1. host-loop mode */
  memset(&wo, 0, sizeof wo);
  wo.backend = poll_only ? HOTSSL_WATCHER_POLL : HOTSSL_WATCHER_AUTO;
  wo.own_thread = 0;
  CHECK(hotssl_watcher_create(&w, m, &wo) == 0);
  checks += 3;
  if (w == NULL)
    return tu_finish("test_watcher_loop", checks);
  printf("backend: %s\n", hotssl_watcher_backend_name(w));
  if (poll_only)
    CHECK(hotssl_watcher_fd(w) < 0);
  else
    CHECK(hotssl_watcher_fd(w) >= 0);
  rotate(dir, "server-cn-and-alt-names");
  CHECK(loop_until_serial_changes(w, m, port, s0, s1, sizeof s1) == 0);
  CHECK(tu_log_count("trigger: file change") >= 1);
  CHECK(tu_log_count("was not reloaded") == 0);

  raise(SIGHUP);
  CHECK(wait_log(w, "trigger: signal", 1) == 0);
  CHECK(tu_log_count("SSL configuration unchanged") >= 1);
  checks += 6;

  /* 2. fork: the child drops the watcher's descriptors */
  fd = hotssl_watcher_fd(w);
  pid = fork();
  if (pid == 0) {
    hotssl_watcher_after_fork_child(w);
    /* inotify descriptor closed in the child (poll-only has none) */
    _exit(fd < 0 || (fcntl(fd, F_GETFD) == -1 && errno == EBADF) ? 0 : 3);
  }
  CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
        WEXITSTATUS(status) == 0);
  if (fd >= 0)
    CHECK(fcntl(fd, F_GETFD) != -1); /* still open in the parent */
  rotate(dir, "server-cn-only");
  CHECK(loop_until_serial_changes(w, m, port, s1, s2, sizeof s2) == 0);
  CHECK(strcmp(s2, s0) == 0);
  hotssl_watcher_destroy(w);
  w = NULL;
  checks += 4;

  /* 3. thread mode: the host never dispatches */
  wo.own_thread = 1;
  CHECK(hotssl_watcher_create(&w, m, &wo) == 0);
  CHECK(hotssl_watcher_dispatch(w) == -1); /* not the host's job now */
  rotate(dir, "server-cn-and-alt-names");
  CHECK(loop_until_serial_changes(NULL, m, port, s2, s3, sizeof s3) == 0);
  CHECK(strcmp(s3, s1) == 0);
  raise(SIGHUP);
  CHECK(wait_log(NULL, "trigger: signal", 2) == 0);
  pid = fork();
  if (pid == 0) {
    hotssl_watcher_after_fork_child(w); /* must not join a thread that is not here */
    _exit(0);
  }
  CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
        WEXITSTATUS(status) == 0);
  hotssl_watcher_destroy(w);
  checks += 7;

  CHECK(tu_server_handshake_failures(srv) == 0);
  checks++;
  tu_server_stop(srv);
  g_m = NULL;
  hotssl_manager_destroy(m);
  tu_rmtree(dir);
  free(dir);
  return tu_finish("test_watcher_loop", checks);
}
