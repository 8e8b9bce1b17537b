/*
 * Windows has no pipe that a signal handler could write to and a loop could
 * poll together with sockets. Until the Windows port (watcher/win32) lands,
 * request_reload only sets the manager's flag; hosts call
 * hotssl_manager_dispatch() from their loop (hotssl_manager_wakeup_fd
 * returns -1). The Windows port replaces this with an event object.
 */
#include "../../core/internal.h"

int hotssl__wakeup_open(hotssl__wakeup *w) {
  w->rfd = w->wfd = -1;
  return 0;
}

void hotssl__wakeup_close(hotssl__wakeup *w) { w->rfd = w->wfd = -1; }

void hotssl__wakeup_signal(hotssl__wakeup *w) { (void)w; }

void hotssl__wakeup_drain(hotssl__wakeup *w) { (void)w; }
