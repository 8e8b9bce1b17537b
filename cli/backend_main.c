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
#include "sys.h"

/* The C library this program is linked with, in a section of its own that
 * `hotssl serve` and `hotssl version` read from the file
 * (cli_backend_program): the build links it with musl when it can
 * (cmake/backend_musl.cmake), else with glibc. */
#if defined(__GLIBC__)
#  define BACKEND_LIBC "glibc"
#elif defined(__linux__)
#  define BACKEND_LIBC "musl" /* the only other C library the build uses; it defines no macro */
#else
#  define BACKEND_LIBC "unknown"
#endif
__attribute__((used, section(CLI_BACKEND_LIBC_SECTION))) static const char backend_libc[] = BACKEND_LIBC;

int main(int argc, char **argv) {
  cli_phase_main(); /* bench/run's phase timings (phases.h) */
  if (argc < 2 || strcmp(argv[1], "__backend") != 0) {
    fprintf(stderr, "hotssl-backend: the per-connection program of `hotssl serve --mode spawn`"
                    " (run as hotssl-backend __backend HANDOFF ...)\n");
    return 2;
  }
  return cli_cmd_backend(argc - 1, argv + 1);
}
