/*
 * Spawn (POSIX): process-per-connection backends started with posix_spawn
 * (glibc: a vfork-style clone, so the parent's page tables are not copied
 * and its pages not made copy-on-write for a child that only execs; waited
 * for through APR), the hand-off of the accepted connection and of a
 * snapshot, and the backend side that reads them.
 *
 * Descriptors. Everything the library opens is close-on-exec, and the host
 * must open its listening socket close-on-exec (the CLI does), so a backend
 * inherits only stdin/stdout/stderr plus two descriptors made inheritable
 * for it: a duplicate of the connection and the read end of a socket pair
 * carrying the snapshot. The duplicates exist only while posix_spawn
 * runs, under the manager's spawn_lock, which a reload also holds while it
 * starts the passphrase command (the library's only other child process),
 * so neither leaks into the other; the host's own concurrent forks are the
 * host's business. A reload in progress does not hold spawn_lock while it
 * builds: spawning never waits for it. A socket pair rather than a pipe: send(MSG_NOSIGNAL) never
 * raises SIGPIPE in a host whose backend died early (the library installs no
 * signal handlers).
 *
 * The hand-off text on the backend's command line is "hotssl1:<conn>:<snap>"
 * (descriptor numbers in the backend). On Windows it would carry inherited
 * HANDLE values instead (platform/win32/spawn.c).
 *
 * The snapshot is written before hotssl_spawn returns, bounded by a
 * deadline; a snapshot larger than the socket buffer is read by the backend
 * as it starts, so the parent waits about as long as the backend needs to
 * exec and read it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include <mbedtls/platform_util.h>

#include "../../core/snapshot.h"
#include "../spawn.h"

struct hotssl_process {
  apr_pool_t *pool;
  apr_proc_t proc; /* pid from posix_spawn; apr_proc_wait reaps it */
  int done, code;
};

extern char **environ;

/* Start program with argv and this process's environment; 0 or an errno
 * value (a program that cannot be executed fails here, not in the child). */
static int start_backend(apr_proc_t *proc, const char *program, const char *const *argv) {
  pid_t pid;
  int e = posix_spawn(&pid, program, NULL, NULL, (char *const *)argv, environ);
  if (e == 0)
    proc->pid = pid;
  return e;
}

static int dup_inheritable(int fd) {
  /* F_DUPFD (not F_DUPFD_CLOEXEC): the copy is inherited across exec. */
  return fcntl(fd, F_DUPFD, 3);
}

/* Wait until fd is ready for events, at most until deadline. */
static int wait_fd(int fd, short events, uint64_t deadline) {
  for (;;) {
    struct pollfd p;
    uint64_t now = hotssl__now_ms();
    int r;
    if (now >= deadline)
      return -1;
    p.fd = fd;
    p.events = events;
    r = poll(&p, 1, (int)(deadline - now));
    if (r > 0)
      return 0;
    if (r < 0 && errno != EINTR)
      return -1;
  }
}

static int send_all(int fd, const unsigned char *p, size_t n, char *errbuf, size_t errlen) {
  uint64_t deadline = hotssl__now_ms() + HOTSSL__HANDOFF_DEADLINE_MS;
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (wait_fd(fd, POLLOUT, deadline) != 0)
        return hotssl__spawn_handoff_timeout(errbuf, errlen);
      continue;
    }
    hotssl__fmt(errbuf, errlen, "could not hand the snapshot to the backend: %s",
                w < 0 ? strerror(errno) : "connection closed");
    return HOTSSL_ESYS;
  }
  return 0;
}

int hotssl_spawn(hotssl_manager *m, const hotssl_spawn_request *req, hotssl_process **out,
                 char *errbuf, size_t errlen) {
  hotssl_process *p;
  const char **argv = NULL;
  char handoff[64];
  int sv[2] = {-1, -1}, cfd = -1, sfd = -1, kfd = -1, r, e;
  size_t n = 0, i, len;
  const unsigned char *bytes;

  if ((r = hotssl__spawn_check(m, req, out)) != 0)
    return r;
  bytes = hotssl_snapshot_bytes(req->snapshot, &len);
  while (req->argv[n] != NULL)
    n++;
  if ((r = hotssl__runtime_acquire()) != 0)
    return r;
  if ((p = calloc(1, sizeof *p)) == NULL) {
    hotssl__runtime_release();
    return HOTSSL_ENOMEM;
  }
  if (apr_pool_create(&p->pool, NULL) != APR_SUCCESS) {
    free(p);
    hotssl__runtime_release();
    return HOTSSL_ENOMEM;
  }
  if ((argv = apr_pcalloc(p->pool, (n + 1) * sizeof *argv)) == NULL) {
    r = HOTSSL_ENOMEM;
    goto fail;
  }
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    hotssl__fmt(errbuf, errlen, "could not create the hand-off socket pair: %s", strerror(errno));
    r = HOTSSL_ESYS;
    goto fail;
  }

  hotssl__mutex_lock(m->spawn_lock);
  cfd = req->conn_fd >= 0 ? dup_inheritable(req->conn_fd) : -1;
  sfd = dup_inheritable(sv[1]);
  if ((req->conn_fd >= 0 && cfd < 0) || sfd < 0) {
    hotssl__fmt(errbuf, errlen, "could not duplicate descriptors for the backend: %s",
                strerror(errno));
    r = HOTSSL_ESYS;
    goto unlock;
  }
  /* The generation-change counter's page, when the manager has one. */
  if (hotssl__manager_counter_fd(m) >= 0 && (kfd = dup_inheritable(hotssl__manager_counter_fd(m))) >= 0)
    hotssl__fmt(handoff, sizeof handoff, "hotssl1:%d:%d:%d", cfd, sfd, kfd);
  else
    hotssl__fmt(handoff, sizeof handoff, "hotssl1:%d:%d", cfd, sfd);
  for (i = 0; i < n; i++)
    argv[i] = strcmp(req->argv[i], HOTSSL_SPAWN_HANDOFF_ARG) == 0 ? handoff : req->argv[i];
  argv[n] = NULL;
  if ((e = start_backend(&p->proc, req->program, argv)) != 0) {
    hotssl__fmt(errbuf, errlen, "could not start backend \"%s\": %s", req->program, strerror(e));
    r = HOTSSL_ESYS;
    goto unlock;
  }
  r = 0;
unlock:
  if (cfd >= 0)
    close(cfd);
  if (sfd >= 0)
    close(sfd);
  if (kfd >= 0)
    close(kfd);
  hotssl__mutex_unlock(m->spawn_lock);
  close(sv[1]);
  sv[1] = -1;
  if (r != 0)
    goto fail;
  r = send_all(sv[0], bytes, len, errbuf, errlen);
  close(sv[0]);
  sv[0] = -1;
  /* The backend would wait for the rest: it sees EOF and fails alone. */
  hotssl__spawn_handoff_failed(m, r, errbuf);
  *out = p;
  return r;
fail:
  if (sv[0] >= 0)
    close(sv[0]);
  if (sv[1] >= 0)
    close(sv[1]);
  apr_pool_destroy(p->pool);
  free(p);
  hotssl__runtime_release();
  return r;
}

long hotssl_process_pid(const hotssl_process *p) { return p != NULL ? (long)p->proc.pid : -1; }

int hotssl_process_wait(hotssl_process *p, int block, int *exit_code) {
  int code = 0;
  apr_exit_why_e why;
  apr_status_t rv;
  if (p == NULL)
    return HOTSSL_EINVAL;
  if (!p->done) {
    rv = apr_proc_wait(&p->proc, &code, &why, block ? APR_WAIT : APR_NOWAIT);
    if (APR_STATUS_IS_CHILD_NOTDONE(rv))
      return 0;
    if (!APR_STATUS_IS_CHILD_DONE(rv))
      return HOTSSL_ESYS;
    p->done = 1;
    p->code = why == APR_PROC_EXIT ? code : -code;
  }
  if (exit_code != NULL)
    *exit_code = p->code;
  return 1;
}

void hotssl_process_destroy(hotssl_process *p) {
  if (p == NULL)
    return;
  apr_pool_destroy(p->pool);
  free(p);
  hotssl__runtime_release();
}

/* ---- backend side ---- */

static int parse_fd(const char **s, int *fd, char end) {
  long v = 0;
  const char *p = *s;
  if (*p < '0' || *p > '9')
    return -1;
  while (*p >= '0' && *p <= '9') {
    v = v * 10 + (*p - '0');
    if (v > 1 << 20)
      return -1;
    p++;
  }
  if (*p != end)
    return -1;
  *fd = (int)v;
  *s = p + (end != '\0');
  return 0;
}

/* Read exactly n bytes by the deadline: 0, -2 at the end of the stream, -3
 * when the deadline passed, -1 on error. */
static int recv_all(int fd, unsigned char *p, size_t n, uint64_t deadline) {
  while (n > 0) {
    ssize_t r = recv(fd, p, n, MSG_DONTWAIT);
    if (r > 0) {
      p += r;
      n -= (size_t)r;
      continue;
    }
    if (r == 0)
      return -2; /* EOF */
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (wait_fd(fd, POLLIN, deadline) == 0)
        continue;
      return hotssl__now_ms() >= deadline ? -3 : -1;
    }
    return -1;
  }
  return 0;
}

typedef struct recv_state {
  int fd;
  uint64_t deadline;
} recv_state;

static int recv_some(void *ctx, unsigned char *p, size_t n) {
  recv_state *rs = ctx;
  return recv_all(rs->fd, p, n, rs->deadline);
}

int hotssl_backend_open(const char *handoff, int *conn_fd, hotssl_manager **m,
                        const hotssl_manager_options *opts, char *errbuf, size_t errlen) {
  hotssl__log log;
  const char *s = handoff;
  int cfd = -1, sfd = -1, kfd = -1, r, built = 0;
  recv_state rs;
  char err[HOTSSL__ERRLEN];

  if ((r = hotssl__backend_check(handoff, conn_fd, m, opts, &log)) != 0)
    return r;
  if (strncmp(s, "hotssl1:", 8) != 0) {
    hotssl__fmt(err, sizeof err, "invalid hand-off \"%.40s\"", handoff);
    r = HOTSSL_EINVAL;
    goto fail;
  }
  s += 8;
  if (*s == '-' && s[1] == '1' && s[2] == ':') {
    s += 3;
  } else if (parse_fd(&s, &cfd, ':') != 0) {
    hotssl__fmt(err, sizeof err, "invalid hand-off \"%.40s\"", handoff);
    r = HOTSSL_EINVAL;
    goto fail;
  }
  if ((strchr(s, ':') != NULL ? parse_fd(&s, &sfd, ':') != 0 || parse_fd(&s, &kfd, '\0') != 0
                              : parse_fd(&s, &sfd, '\0') != 0) ||
      fcntl(sfd, F_GETFD) < 0 || (kfd >= 0 && fcntl(kfd, F_GETFD) < 0) ||
      (cfd >= 0 && fcntl(cfd, F_GETFD) < 0)) {
    hotssl__fmt(err, sizeof err, "invalid hand-off \"%.40s\" (descriptor not inherited)", handoff);
    cfd = kfd = -1;
    r = HOTSSL_EINVAL;
    goto fail;
  }
  /* Ours now: not to be inherited further (e.g. by a passphrase command). */
  fcntl(sfd, F_SETFD, FD_CLOEXEC);
  if (cfd >= 0)
    fcntl(cfd, F_SETFD, FD_CLOEXEC);
  if (kfd >= 0)
    fcntl(kfd, F_SETFD, FD_CLOEXEC);
  *conn_fd = cfd;
  rs.fd = sfd;
  rs.deadline = hotssl__now_ms() + HOTSSL__HANDOFF_DEADLINE_MS;
  r = hotssl__snapshot_receive(recv_some, &rs, m, opts, errbuf, errlen, err, sizeof err, &built);
  close(sfd);
  sfd = -1;
  /* The parent's generation-change counter (closed in every case). */
  if (kfd >= 0 && r != 0)
    close(kfd);
  else if (kfd >= 0 && hotssl__manager_attach_counter(*m, kfd) != 0)
    hotssl__logf(&log, HOTSSL_LOG_WARNING,
                 "could not map the parent's generation counter: this backend does not see reloads");
  kfd = -1;
  if (r == 0 || built)
    return r; /* create_from_snapshot logged any failure */
fail:
  if (sfd >= 0)
    close(sfd);
  if (kfd >= 0)
    close(kfd);
  return hotssl__backend_fail(&log, err, errbuf, errlen, r);
}
