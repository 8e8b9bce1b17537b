/*
 * The self-pipe behind hotssl_manager_request_reload(): a signal handler may
 * write one byte (write(2) is async-signal-safe); the host's loop or the
 * watcher thread polls the read end. Both ends are non-blocking and
 * close-on-exec, so a full pipe never blocks a handler and no child inherits it.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "hotssl/hotssl.h"
#include "../os.h"

static int set_flags(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return -1;
  return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int hotssl__wakeup_open(hotssl__wakeup *w) {
  int fds[2];
  w->rfd = w->wfd = -1;
  if (pipe(fds) != 0)
    return HOTSSL_ESYS;
  if (set_flags(fds[0]) < 0 || set_flags(fds[1]) < 0) {
    close(fds[0]);
    close(fds[1]);
    return HOTSSL_ESYS;
  }
  w->rfd = fds[0];
  w->wfd = fds[1];
  return 0;
}

HOTSSL__HOT void hotssl__wakeup_close(hotssl__wakeup *w) {
  if (w->rfd >= 0)
    close(w->rfd);
  if (w->wfd >= 0)
    close(w->wfd);
  w->rfd = w->wfd = -1;
}

void hotssl__wakeup_signal(hotssl__wakeup *w) {
  int saved = errno; /* a signal handler must not change errno */
  char c = 1;
  ssize_t n;
  if (w->wfd >= 0) {
    do {
      n = write(w->wfd, &c, 1);
    } while (n < 0 && errno == EINTR);
  }
  errno = saved; /* EAGAIN (pipe full) is fine: a wake-up is already pending */
}

void hotssl__wakeup_drain(hotssl__wakeup *w) {
  char buf[64];
  if (w->rfd < 0)
    return;
  while (read(w->rfd, buf, sizeof buf) > 0)
    ;
}
