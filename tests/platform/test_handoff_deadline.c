/*
 * A spawned backend never waits for its hand-off without a bound
 * (POSIX; tests/windows/test_win_handoff_deadline.c is the Windows
 * counterpart). This program plays the parent P of hotssl_spawn's protocol
 * (a socket pair, the hand-off text "hotssl1:-1:<fd>", the snapshot's bytes)
 * and runs itself as the backend B (hotssl_backend_open). P writes half of
 * a real snapshot and then:
 *   killed: P is killed (SIGKILL): B sees the hand-off end at once and
 *     fails with "truncated (the parent closed the hand-off early",
 *     long before the deadline;
 *   stalled: P stays alive and writes nothing more: B fails at its deadline
 *     (HOTSSL__HANDOFF_DEADLINE_MS, 30 s) with "nothing more arrived within
 *     30000 ms";
 *   held: P is killed while another process (this test) still holds the
 *     write end: no end of stream ever comes, B fails at its deadline.
 * Every B exits with status 1 and its error line; the cases run at once.
 * The test is a subreaper (Linux) so that it reaps B after P died.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hotssl/hotssl.h"
#include "hotssl/platform.h"
#include "testutil.h"

#define DEADLINE_MS 30000 /* HOTSSL__HANDOFF_DEADLINE_MS */

static int checks;
#define T(c)                                                                                            \
  do {                                                                                                  \
    checks++;                                                                                           \
    CHECK(c);                                                                                           \
  } while (0)

enum { KILLED, STALLED, HELD, NCASES };
static const char *const names[NCASES] = {"killed", "stalled", "held"};
static const char *const want[NCASES] = {
    "truncated (the parent closed the hand-off early",
    "nothing more arrived within 30000 ms (the parent stopped writing)",
    "nothing more arrived within 30000 ms (the parent stopped writing)"};

typedef struct hcase {
  pid_t parent, backend;
  int out;  /* B's stderr, read here */
  int held; /* this test's copy of the write end (held case) */
  uint64_t t0, t1;
  char text[2048];
  size_t len;
} hcase;

static int backend(const char *handoff) {
  hotssl_manager *m = NULL;
  char err[1024];
  int fd = -1, r = hotssl_backend_open(handoff, &fd, &m, NULL, err, sizeof err);
  fprintf(stderr, "backend %ld: %s\n", (long)getpid(), r == 0 ? "built its manager" : err);
  hotssl_manager_destroy(m);
  return r == 0 ? 0 : 1;
}

/* The parent P: start B on a socket pair, write half the snapshot, report
 * B's pid on info, then wait to be killed. */
static void parent(const char *self, int sv[2], int out, int info, const unsigned char *b, size_t len) {
  char handoff[64];
  pid_t bpid = fork();
  if (bpid == 0) {
    int fd = fcntl(sv[1], F_DUPFD, 3); /* inherited across exec */
    dup2(out, 2);
    snprintf(handoff, sizeof handoff, "hotssl1:-1:%d", fd);
    execl(self, self, "backend", handoff, (char *)NULL);
    _exit(127);
  }
  close(sv[1]);
  close(out);
  if (bpid < 0 || send(sv[0], b, len / 2, MSG_NOSIGNAL) != (ssize_t)(len / 2))
    _exit(2);
  if (write(info, &bpid, sizeof bpid) != (ssize_t)sizeof bpid)
    _exit(2);
  for (;;)
    pause();
}

static void start(hcase *c, int which, const char *self, const unsigned char *b, size_t len) {
  int sv[2], out[2], info[2];
  memset(c, 0, sizeof *c);
  c->held = -1;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
      pipe2(info, O_CLOEXEC) != 0) {
    perror("socketpair/pipe");
    exit(1);
  }
  if ((c->parent = fork()) == 0) {
    close(out[0]);
    close(info[0]);
    parent(self, sv, out[1], info[1], b, len);
  }
  close(sv[1]);
  close(out[1]);
  close(info[1]);
  T(read(info[0], &c->backend, sizeof c->backend) == (ssize_t)sizeof c->backend);
  close(info[0]);
  c->out = out[0];
  if (which == HELD)
    c->held = sv[0];
  else
    close(sv[0]);
  if (which != STALLED) {
    kill(c->parent, SIGKILL);
    waitpid(c->parent, NULL, 0);
  }
  c->t0 = tu_now_ms();
}

/* Collect every B's stderr until it closes (B exited), within the deadline
 * plus a generous margin. */
static void collect(hcase *c) {
  uint64_t end = tu_now_ms() + 2 * DEADLINE_MS + 30000;
  int open = NCASES, i;
  while (open > 0 && tu_now_ms() < end) {
    struct pollfd p[NCASES];
    for (i = 0; i < NCASES; i++) {
      p[i].fd = c[i].t1 == 0 ? c[i].out : -1;
      p[i].events = POLLIN;
    }
    if (poll(p, NCASES, 1000) < 0 && errno != EINTR)
      break;
    for (i = 0; i < NCASES; i++) {
      ssize_t n;
      if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
        continue;
      n = read(c[i].out, c[i].text + c[i].len, sizeof c[i].text - 1 - c[i].len);
      if (n > 0) {
        c[i].len += (size_t)n;
        continue;
      }
      c[i].t1 = tu_now_ms();
      open--;
    }
  }
}

int main(int argc, char **argv) {
  hotssl_manager *m = NULL;
  hotssl_snapshot *snap = NULL;
  hcase c[NCASES];
  const unsigned char *b;
  size_t len;
  char *dir, *conf;
  int i;

  if (argc == 3 && strcmp(argv[1], "backend") == 0)
    return backend(argv[2]);
  signal(SIGPIPE, SIG_IGN);
  T(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
  dir = tu_mkdtemp();
  conf = tu_two_pairs_manager(dir, NULL, &m);
  free(conf);
  if (conf == NULL || hotssl_snapshot_take(m, HOTSSL_SNAPSHOT_CONTENTS, &snap) != 0)
    return tu_finish("handoff_deadline", checks + 1);
  b = hotssl_snapshot_bytes(snap, &len);
  for (i = 0; i < NCASES; i++)
    start(&c[i], i, argv[0], b, len);
  hotssl_snapshot_destroy(snap);
  collect(c);
  for (i = 0; i < NCASES; i++) {
    int status = -1;
    uint64_t took = c[i].t1 ? c[i].t1 - c[i].t0 : 0;
    c[i].text[c[i].len] = '\0';
    printf("%-8s backend exited after %llu ms: %s", names[i], (unsigned long long)took, c[i].text);
    T(c[i].t1 != 0);
    T(strstr(c[i].text, want[i]) != NULL);
    if (i == KILLED)
      T(took < DEADLINE_MS / 2); /* the end of stream, not the deadline */
    else
      T(took > DEADLINE_MS / 2 && took < 2 * DEADLINE_MS + 30000);
    if (i == STALLED) {
      kill(c[i].parent, SIGKILL);
      waitpid(c[i].parent, NULL, 0);
    }
    if (c[i].held >= 0)
      close(c[i].held);
    /* P is gone: B is this subreaper's child now. */
    T(waitpid(c[i].backend, &status, 0) == c[i].backend && WIFEXITED(status) &&
      WEXITSTATUS(status) == 1);
    close(c[i].out);
  }
  hotssl_manager_destroy(m);
  tu_rmtree(dir);
  free(dir);
  return tu_finish("handoff_deadline", checks);
}
