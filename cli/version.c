/*
 * `hotssl version`: the hotssl version, the mbedTLS it was built against
 * (headers) and linked with (library), what that mbedTLS offers, and (on
 * POSIX) the program `serve --mode spawn` runs for each connection.
 */
#include <stdio.h>

#include <mbedtls/version.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#  include <mbedtls/build_info.h>
#else
#  include <mbedtls/config.h>
#endif

#include <mbedtls/ssl.h>

#include "cli.h"
#include "sys.h"

#ifndef _WIN32
/* hotssl-backend beside this executable, else this program; whether the
 * build made a hotssl-backend at all is HOTSSL_CLI_STATIC_BACKEND
 * (CMakeLists.txt). */
static void print_spawn_backend(void) {
  char path[4096];
  int is_static;
  if (cli_backend_program(path, sizeof path, &is_static) == 1)
    printf("spawn backend: %s (%s)\n", path, is_static ? "statically linked" : "dynamically linked");
#  ifdef HOTSSL_CLI_STATIC_BACKEND
  else
    printf("spawn backend: this program (no " CLI_STATIC_BACKEND " beside it)\n");
#  else
  else
    printf("spawn backend: this program (no static backend built)\n");
#  endif
}
#endif

int cli_cmd_version(int argc, char **argv) {
  static const cli_opt no_opts[] = {{0, NULL, NULL, NULL}};
  const char *vals[1];
  char linked[32] = "unknown";
  int help, r = cli_parse_args("version", no_opts, argc, argv, vals, &help);
  if (r != 0)
    return r;
  if (help)
    return cli_help(stdout, "version"), 0;
#if defined(MBEDTLS_VERSION_C)
  mbedtls_version_get_string(linked);
#endif
  printf("hotssl %s\n", hotssl_version_string());
  printf("mbedTLS %s (built against), %s (linked)\n", MBEDTLS_VERSION_STRING, linked);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
  printf("TLS 1.3: available\n");
  /* tools/patches/: the local build's fix of Mbed-TLS/mbedtls#10877. */
#  if defined(MBEDTLS_SSL_TLS13_SERVER_POST_FINISHED_KEYS_FIX)
  printf("TLS 1.3 alerts after the server's Finished: readable (patched, Mbed-TLS/mbedtls#10877)\n");
#  else
  printf("TLS 1.3 alerts after the server's Finished: unreadable by clients (Mbed-TLS/mbedtls#10877)\n");
#  endif
#else
  printf("TLS 1.3: not available (mbedTLS %s has no TLS 1.3; build against mbedTLS 3.6)\n",
         MBEDTLS_VERSION_STRING);
#endif
  /* TLS 1.2's ECDHE uses the legacy ECDH context, TLS 1.3's key share PSA
   * (mbedtls_ecp_mul): Everest reaches the second only with tools/patches/'
   * X25519 patch. */
#if defined(MBEDTLS_ECDH_VARIANT_EVEREST_ENABLED)
  printf("X25519, TLS 1.2: Project Everest (Apache-2.0)\n");
#else
  printf("X25519, TLS 1.2: mbedTLS's generic code\n");
#endif
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
#  if defined(MBEDTLS_ECP_CURVE25519_EVEREST)
  printf("X25519, TLS 1.3 (PSA): Project Everest (patched)\n");
#  else
  printf("X25519, TLS 1.3 (PSA): mbedTLS's generic code (slower; tools/deps.sh builds the patched one)\n");
#  endif
#endif
#ifndef _WIN32
  print_spawn_backend();
#endif
  return 0;
}
