/* Fork and spawn modes of `hotssl serve`: not built yet (platform issue). */
#include <stdio.h>

#include "serve.h"

int cli_serve_mode(hotssl_manager *m, int listen_fd, const cli_serve_opts *o) {
  (void)m;
  (void)listen_fd;
  fprintf(stderr, "hotssl serve: --mode %s is not available in this build\n", o->mode);
  return 1;
}
