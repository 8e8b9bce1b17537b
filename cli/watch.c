/*
 * Reloads for `hotssl serve`, always on a thread of their own, never in the
 * accept loop: with file watching, the watcher's thread (hotssl_watcher with
 * own_thread = 1, which also serves SIGHUP's hotssl_manager_request_reload);
 * without, a small thread that waits for hotssl_manager_wakeup_fd and
 * dispatches. The accepting thread only ever acquires. The environment variable
 * HOTSSL_WATCH_BACKEND=poll|notify|auto picks the backend (tests use it to
 * run the same rotations with inotify disabled); the library itself never
 * reads the environment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#  include <windows.h>
#  include <stdint.h>
#else
#  include <fcntl.h>
#  include <poll.h>
#  include <pthread.h>
#  include <unistd.h>
#endif

#include "hotssl/watcher.h"
#include "serve.h"

struct cli_watch {
  hotssl_watcher *w; /* file watching, or: */
  hotssl_manager *m; /* the plain reload thread */
#ifdef _WIN32
  HANDLE th, stop; /* the thread, and an event that ends it */
#else
  pthread_t th;
  int stop[2];
#endif
};

#ifdef _WIN32
/* The manager's wake-up is an event there (hotssl_manager_wakeup_fd), set
 * by Ctrl+Break's hotssl_manager_request_reload. */
static DWORD WINAPI reload_main(LPVOID arg) {
  cli_watch *cw = arg;
  HANDLE h[2];
  h[0] = cw->stop;
  h[1] = (HANDLE)(intptr_t)hotssl_manager_wakeup_fd(cw->m);
  while (WaitForMultipleObjects(2, h, FALSE, INFINITE) == WAIT_OBJECT_0 + 1)
    hotssl_manager_dispatch(cw->m);
  return 0;
}

static int reload_thread_start(hotssl_manager *m, cli_watch **out) {
  cli_watch *cw = calloc(1, sizeof *cw);
  if (cw == NULL)
    return -1;
  cw->m = m;
  if ((cw->stop = CreateEventW(NULL, TRUE, FALSE, NULL)) == NULL) {
    free(cw);
    return -1;
  }
  if ((cw->th = CreateThread(NULL, 0, reload_main, cw, 0, NULL)) == NULL) {
    CloseHandle(cw->stop);
    free(cw);
    return -1;
  }
  *out = cw;
  return 0;
}
#else

static void *reload_main(void *arg) {
  cli_watch *cw = arg;
  for (;;) {
    struct pollfd p[2];
    p[0].fd = hotssl_manager_wakeup_fd(cw->m);
    p[1].fd = cw->stop[0];
    p[0].events = p[1].events = POLLIN;
    if (poll(p, 2, -1) < 0)
      continue; /* EINTR */
    if (p[1].revents)
      return NULL;
    if (p[0].revents)
      hotssl_manager_dispatch(cw->m);
  }
}

static int reload_thread_start(hotssl_manager *m, cli_watch **out) {
  cli_watch *cw = calloc(1, sizeof *cw);
  if (cw == NULL)
    return -1;
  cw->m = m;
  if (pipe(cw->stop) != 0) {
    free(cw);
    return -1;
  }
  fcntl(cw->stop[0], F_SETFD, FD_CLOEXEC);
  fcntl(cw->stop[1], F_SETFD, FD_CLOEXEC);
  if (pthread_create(&cw->th, NULL, reload_main, cw) != 0) {
    close(cw->stop[0]);
    close(cw->stop[1]);
    free(cw);
    return -1;
  }
  *out = cw;
  return 0;
}
#endif

int cli_watch_start(hotssl_manager *m, int watch_files, cli_watch **out) {
  hotssl_watcher_options o;
  const char *env = getenv("HOTSSL_WATCH_BACKEND");
  cli_watch *cw;
  int r;

  *out = NULL;
  if (!watch_files)
    return reload_thread_start(m, out);
  memset(&o, 0, sizeof o);
  o.backend = HOTSSL_WATCHER_AUTO;
  o.own_thread = 1;
  if (env != NULL && strcmp(env, "poll") == 0)
    o.backend = HOTSSL_WATCHER_POLL;
  else if (env != NULL && (strcmp(env, "notify") == 0 || strcmp(env, "inotify") == 0))
    o.backend = HOTSSL_WATCHER_NOTIFY;
  if ((cw = calloc(1, sizeof *cw)) == NULL)
    return -1;
  if ((r = hotssl_watcher_create(&cw->w, m, &o)) != 0) {
    fprintf(stderr, "hotssl: could not start the file watcher: %s\n", hotssl_strerror(r));
    free(cw);
    return -1;
  }
  *out = cw;
  return 0;
}

void cli_watch_after_fork_child(cli_watch *w) {
  if (w == NULL)
    return;
#ifndef _WIN32
  if (w->w == NULL) {
    close(w->stop[0]);
    close(w->stop[1]);
  } else
#endif
    hotssl_watcher_after_fork_child(w->w);
  free(w);
}

void cli_watch_stop(cli_watch *w) {
  if (w == NULL)
    return;
#ifdef _WIN32
  if (w->w == NULL) {
    SetEvent(w->stop);
    WaitForSingleObject(w->th, INFINITE);
    CloseHandle(w->th);
    CloseHandle(w->stop);
  } else
#else
  if (w->w == NULL) {
    if (write(w->stop[1], "x", 1) != 1) {
      /* cannot happen on a fresh pipe; the join below would hang */
    }
    pthread_join(w->th, NULL);
    close(w->stop[0]);
    close(w->stop[1]);
  } else
#endif
    hotssl_watcher_destroy(w->w);
  free(w);
}
