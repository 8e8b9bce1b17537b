/*
 * A process-per-connection TLS echo server that starts its backends itself,
 * as PostgreSQL's EXEC_BACKEND (internal_forkexec) or a Windows server's own
 * CreateProcess does: hotssl only supplies the snapshot bytes
 * (hotssl_snapshot_take) and builds the backend's manager from them
 * (hotssl_manager_create_from_snapshot). The channel is the host's: a sealed
 * memfd re-created after each successful reload (a pipe per backend where
 * memfd_create is missing, or with --pipe). Key material never touches disk.
 *   host_exec_server [--no-watch] [--pipe] CONF [PORT]
 *   (internal) host_exec_server --backend CONN_FD SNAPSHOT_FD
 * The files are watched in the host's own poll loop (watcher, own_thread 0);
 * SIGHUP reloads too. A backend that cannot build its manager closes its
 * connection and logs why; nobody else is affected.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#include <hotssl/hotssl.h>
#include <hotssl/platform.h>
#include <hotssl/watcher.h>

#include "example_common.h"

#define MAX_SNAPSHOT (64u << 20) /* what a backend accepts at most */
#define SNAPSHOT_DEADLINE_MS 30000 /* how long a backend waits for a pipe's bytes */
#define MAX_KIDS 256

static volatile sig_atomic_t stop;
static hotssl_manager *mgr;
static int refresh = 1; /* set by on_reload: the channel holds an old generation */

static void on_hup(int s) { (void)s; hotssl_manager_request_reload(mgr); }
static void on_term(int s) { (void)s; stop = 1; }
static void on_reload(void *ud, int result, uint64_t gen) {
  (void)ud, (void)gen;
  if (result == 0)
    refresh = 1;
}

/* All of fd's bytes into a fresh buffer of at most MAX_SNAPSHOT: pread from
 * offset 0 for a memfd (shared by every backend: never move its offset),
 * read to EOF for a pipe, within SNAPSHOT_DEADLINE_MS (a host that stopped
 * writing does not leave a hanging backend). Every copy is zeroized. */
static unsigned char *read_snapshot(int fd, size_t *len, const char **why) {
  struct stat st;
  struct timespec t0, now;
  unsigned char *buf = NULL, *big;
  size_t cap = 0, n = 0;
  ssize_t r;
  int seekable = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (seekable && (st.st_size <= 0 || (unsigned long long)st.st_size > MAX_SNAPSHOT))
    return NULL;
  for (;;) {
    if (n == cap) {
      if (seekable && cap != 0)
        break; /* all st_size bytes */
      cap = seekable ? (size_t)st.st_size : cap ? 2 * cap : 65536;
      if (cap > MAX_SNAPSHOT || (big = malloc(cap)) == NULL)
        goto fail;
      if (n != 0) {
        memcpy(big, buf, n);
        mbedtls_platform_zeroize(buf, n);
      }
      free(buf);
      buf = big;
    }
    if (!seekable) {
      struct pollfd p = {fd, POLLIN, 0};
      long left;
      clock_gettime(CLOCK_MONOTONIC, &now);
      left = SNAPSHOT_DEADLINE_MS -
             ((now.tv_sec - t0.tv_sec) * 1000L + (now.tv_nsec - t0.tv_nsec) / 1000000L);
      if (left <= 0 || (poll(&p, 1, (int)left) == 0)) {
        *why = "no complete snapshot within 30000 ms (the host stopped writing)";
        goto fail;
      }
    }
    r = seekable ? pread(fd, buf + n, cap - n, (off_t)n) : read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0 || (r == 0 && seekable))
      goto fail; /* short memfd: not what the host sealed */
    if (r == 0)
      break;
    n += (size_t)r;
  }
  *len = n;
  return buf;
fail:
  if (buf != NULL)
    mbedtls_platform_zeroize(buf, n);
  free(buf);
  return NULL;
}

static int backend(int conn, int snap) {
  hotssl_manager_options mo = {0};
  hotssl_manager *m = NULL;
  hotssl_generation *g;
  unsigned char *bytes;
  size_t len = 0;
  char err[512];
  const char *why = "unreadable or oversized snapshot";
  mo.log = example_log;
  mo.log_userdata = (void *)"backend";
  signal(SIGPIPE, SIG_IGN);
  bytes = read_snapshot(snap, &len, &why);
  close(snap);
  snprintf(err, sizeof err, "%s", why);
  if (bytes == NULL || hotssl_manager_create_from_snapshot(&m, bytes, len, &mo, err, sizeof err) != 0) {
    fprintf(stderr, "backend[%ld] ERROR: this backend has no TLS: %s\n", (long)getpid(), err);
    if (bytes != NULL)
      mbedtls_platform_zeroize(bytes, len);
    free(bytes);
    close(conn);
    return 1;
  }
  mbedtls_platform_zeroize(bytes, len);
  free(bytes);
  g = hotssl_manager_acquire(m);
  fprintf(stderr, "backend[%ld] LOG: built from the host's snapshot (generation %llu)\n", (long)getpid(),
          (unsigned long long)hotssl_generation_number(g));
  example_tls_echo(g, conn, 0);
  hotssl_generation_release(g);
  hotssl_manager_destroy(m);
  close(conn);
  return 0;
}

/* Parent: a sealed memfd holding the current snapshot (-1 when memfd_create
 * is missing: the pipe fallback writes the bytes per backend). */
static int make_memfd(const unsigned char *b, size_t len) {
#ifdef HOTSSL_HAVE_MEMFD_CREATE
  size_t off = 0;
  ssize_t w;
  int fd = memfd_create("hotssl-snapshot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  while (fd >= 0 && off < len)
    if ((w = write(fd, b + off, len - off)) > 0)
      off += (size_t)w;
    else if (w < 0 && errno != EINTR)
      break;
  if (fd >= 0 && (off < len || fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK |
                                                          F_SEAL_SEAL) != 0)) {
    close(fd);
    fd = -1;
  }
  return fd;
#else
  (void)b, (void)len;
  return -1;
#endif
}

/* Pipe fallback: write all bytes before a deadline (the backend reads them
 * at its start; a stalled one fails alone). */
static int write_pipe(int fd, const unsigned char *b, size_t len) {
  size_t off = 0;
  ssize_t w;
  struct pollfd p = {fd, POLLOUT, 0};
  fcntl(fd, F_SETFL, O_NONBLOCK);
  while (off < len)
    if ((w = write(fd, b + off, len - off)) > 0)
      off += (size_t)w;
    else if (w < 0 && errno != EINTR && (errno != EAGAIN || poll(&p, 1, 5000) != 1))
      return -1;
  return 0;
}

int main(int argc, char **argv) {
  hotssl_config *cfg;
  hotssl_manager_options mo = {0};
  hotssl_watcher *w = NULL;
  hotssl_watcher_options wo = {HOTSSL_WATCHER_AUTO, 0};
  hotssl_snapshot *snap = NULL;
  const unsigned char *sb = NULL;
  size_t slen = 0;
  int port;
  struct sigaction sa = {0};
  sigset_t block, old;
  pid_t kids[MAX_KIDS] = {0}, pid;
  char err[512], exe[4096], cfd[16], sfd[16];
  char *bargv[] = {exe, "--backend", cfd, sfd, NULL};
  int lfd, i, st, one = 1, watch = 1, use_pipe = 0, memfd = -1, timeout = -1;

  if (argc == 4 && strcmp(argv[1], "--backend") == 0)
    return backend(atoi(argv[2]), atoi(argv[3]));
  for (; argc > 1 && strncmp(argv[1], "--", 2) == 0; argc--, argv++)
    if (strcmp(argv[1], "--no-watch") == 0)
      watch = 0;
    else if (strcmp(argv[1], "--pipe") == 0)
      use_pipe = 1;
    else
      break;
  if (argc < 2 || argc > 3 || (i = readlink("/proc/self/exe", exe, sizeof exe - 1)) <= 0) {
    fprintf(stderr, "usage: host_exec_server [--no-watch] [--pipe] CONF [PORT]\n");
    return 2;
  }
  exe[i] = '\0';
  mo.log = example_log;
  mo.log_userdata = (void *)"host";
  mo.on_reload = on_reload;
  if (hotssl_config_create(&cfg) != 0 || hotssl_config_load_file(cfg, argv[1], err, sizeof err) != 0 ||
      hotssl_manager_create(&mgr, cfg, &mo, err, sizeof err) != 0) {
    fprintf(stderr, "could not start: %s\n", err);
    return 1;
  }
  hotssl_config_destroy(cfg);
  if (watch && hotssl_watcher_create(&w, mgr, &wo) != 0)
    return 1;
  if ((lfd = example_listen(argc > 2 ? atoi(argv[2]) : 0, &port)) < 0)
    return 1;
  example_signals(on_hup, on_term);
  sigemptyset(&block);
  sigaddset(&block, SIGHUP);
  sigaddset(&block, SIGTERM);
  fprintf(stderr, "host[%ld] LOG: watching: %s\n", (long)getpid(), w ? hotssl_watcher_backend_name(w) : "off");
  printf("listening on 127.0.0.1:%d\n", port);
  fflush(stdout);
  while (!stop) {
    struct pollfd p[3] = {{lfd, POLLIN, 0}, {hotssl_manager_wakeup_fd(mgr), POLLIN, 0},
                          {w ? hotssl_watcher_fd(w) : -1, POLLIN, 0}};
    int fd, pfd[2] = {-1, -1}, snapfd;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) /* reap ended backends */
      for (i = 0; i < MAX_KIDS; i++)
        if (kids[i] == pid) {
          kids[i] = 0;
          fprintf(stderr, "host[%ld] LOG: backend %ld exited %d\n", (long)getpid(), (long)pid,
                  WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        }
    /* 200 ms bounds how long an ended backend stays a zombie. */
    poll(p, 3, timeout >= 0 && timeout < 200 ? timeout : 200);
    if (w != NULL)
      timeout = hotssl_watcher_dispatch(w); /* file events, timers, SIGHUP */
    else if (p[1].revents & POLLIN)
      hotssl_manager_dispatch(mgr);
    if (refresh) { /* once per good generation: new backends get it */
      hotssl_snapshot *s = NULL;
      if (hotssl_snapshot_take(mgr, HOTSSL_SNAPSHOT_CONTENTS, &s) == 0) {
        const unsigned char *b = hotssl_snapshot_bytes(s, &slen);
        int nfd = use_pipe ? -1 : make_memfd(b, slen);
        if (memfd >= 0)
          close(memfd);
        memfd = nfd;
        hotssl_snapshot_destroy(snap); /* zeroizes */
        snap = s;
        sb = hotssl_snapshot_bytes(snap, &slen);
        refresh = 0;
        fprintf(stderr, "host[%ld] LOG: snapshot of generation %llu in a %s\n", (long)getpid(),
                (unsigned long long)hotssl_snapshot_generation(snap), memfd >= 0 ? "memfd" : "pipe per backend");
        if (memfd >= 0) { /* the memfd holds it: no copy in the host's heap */
          hotssl_snapshot_destroy(snap);
          snap = NULL;
          sb = NULL;
        }
      }
    }
    if (!(p[0].revents & POLLIN) || (fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
      continue;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* kept by the backend */
    for (i = 0; i < MAX_KIDS && kids[i] != 0; i++)
      ;
    snapfd = memfd;
    if (memfd < 0 && snap != NULL && pipe2(pfd, O_CLOEXEC) == 0)
      snapfd = pfd[0];
    if (i == MAX_KIDS || snapfd < 0) {
      fprintf(stderr, "host[%ld] WARNING: no backend for this connection (%s)\n", (long)getpid(),
              i == MAX_KIDS ? "busy" : "no snapshot");
      close(fd);
      continue;
    }
    snprintf(cfd, sizeof cfd, "%d", fd); /* before fork: the child only execs */
    snprintf(sfd, sizeof sfd, "%d", snapfd);
    sigprocmask(SIG_BLOCK, &block, &old); /* no handler of ours runs in the child */
    pid = fork();
    if (pid == 0) {
      sa.sa_handler = SIG_DFL;
      sigaction(SIGHUP, &sa, NULL);
      sigaction(SIGTERM, &sa, NULL);
      sigprocmask(SIG_SETMASK, &old, NULL);
      /* Only these two cross exec: everything else is close-on-exec. */
      if (fcntl(fd, F_SETFD, 0) == 0 && fcntl(snapfd, F_SETFD, 0) == 0)
        execv(exe, bargv);
      _exit(127);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0)
      fprintf(stderr, "host[%ld] WARNING: fork failed: %s\n", (long)getpid(), strerror(errno));
    else
      kids[i] = pid;
    close(fd);
    if (pfd[0] >= 0) {
      close(pfd[0]);
      if (pid > 0 && write_pipe(pfd[1], sb, slen) != 0)
        fprintf(stderr, "host[%ld] WARNING: backend %ld did not take its snapshot\n", (long)getpid(), (long)pid);
      close(pfd[1]);
    }
  }
  for (i = 0; i < MAX_KIDS; i++)
    if (kids[i] != 0)
      kill(kids[i], SIGTERM);
  while (wait(NULL) > 0)
    ;
  if (memfd >= 0)
    close(memfd);
  hotssl_snapshot_destroy(snap);
  hotssl_watcher_destroy(w);
  close(lfd);
  hotssl_manager_destroy(mgr);
  return 0;
}
