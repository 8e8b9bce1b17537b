/*
 * The wake-up behind hotssl_manager_request_reload() on Windows: a
 * manual-reset event. SetEvent may be called from a console control handler
 * (Windows' SIGINT/SIGBREAK, run on its own thread) or any thread; the
 * watcher thread or the host's loop waits for it with WaitForSingleObject /
 * WaitForMultipleObjects. Drain resets it before the flag is checked, as
 * reading the POSIX pipe does. The event handle is not inheritable.
 *
 * rfd and wfd both hold the event HANDLE as an int: kernel handle values fit
 * in 32 bits (documented for 32/64-bit interoperability), so
 * hotssl_manager_wakeup_fd() returns it and a host casts it back with
 * (HANDLE)(intptr_t)fd.
 */
#include <stdint.h>
#include <windows.h>

#include "hotssl/hotssl.h"
#include "../os.h"

int hotssl__wakeup_open(hotssl__wakeup *w) {
  HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL);
  w->rfd = w->wfd = -1;
  if (ev == NULL)
    return HOTSSL_ESYS;
  w->rfd = w->wfd = (int)(intptr_t)ev;
  return 0;
}

void hotssl__wakeup_close(hotssl__wakeup *w) {
  if (w->rfd != -1)
    CloseHandle((HANDLE)(intptr_t)w->rfd);
  w->rfd = w->wfd = -1;
}

void hotssl__wakeup_signal(hotssl__wakeup *w) {
  if (w->wfd != -1)
    SetEvent((HANDLE)(intptr_t)w->wfd);
}

void hotssl__wakeup_drain(hotssl__wakeup *w) {
  if (w->rfd != -1)
    ResetEvent((HANDLE)(intptr_t)w->rfd);
}
