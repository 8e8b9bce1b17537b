/*
 * File watching for `hotssl serve`: a watcher thread owned by the manager's
 * host (hotssl_watcher with own_thread = 1). The environment variable
 * HOTSSL_WATCH_BACKEND=poll|notify|auto picks the backend (tests use it to
 * run the same rotations with inotify disabled); the library itself never
 * reads the environment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotssl/watcher.h"
#include "serve.h"

struct cli_watch {
  hotssl_watcher *w;
};

int cli_watch_start(hotssl_manager *m, cli_watch **out) {
  hotssl_watcher_options o;
  const char *env = getenv("HOTSSL_WATCH_BACKEND");
  cli_watch *cw;
  int r;

  *out = NULL;
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
  hotssl_watcher_after_fork_child(w->w);
  free(w);
}

void cli_watch_stop(cli_watch *w) {
  if (w == NULL)
    return;
  hotssl_watcher_destroy(w->w);
  free(w);
}
