/*
 * hotssl-backend: the program `hotssl serve --mode spawn` runs for each
 * connection when it is beside the hotssl executable (cli_backend_program).
 * The same command line as `hotssl __backend HANDOFF [options]` (argv[1]
 * is "__backend") and the same code (cli_cmd_backend, session.c), in an
 * executable linked -static (CMakeLists.txt): a process started once per
 * connection then pays no dynamic loading (docs/performance.md, spawn).
 * Only the backend's sources are linked in, and no name service
 * (backend_nss.c).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "phases.h"

int main(int argc, char **argv) {
  cli_phase_main(); /* bench/run's phase timings (phases.h) */
  if (argc < 2 || strcmp(argv[1], "__backend") != 0) {
    fprintf(stderr, "hotssl-backend: the per-connection program of `hotssl serve --mode spawn`"
                    " (run as hotssl-backend __backend HANDOFF ...)\n");
    return 2;
  }
  return cli_cmd_backend(argc - 1, argv + 1);
}
