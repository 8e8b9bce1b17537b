/* File watching for `hotssl serve`: not built yet (watcher issue). */
#include <stddef.h>

#include "serve.h"

int cli_watch_start(hotssl_manager *m, cli_watch **out) {
  (void)m;
  *out = NULL;
  return 0;
}

void cli_watch_stop(cli_watch *w) { (void)w; }
