# The CLI with mbedTLS and APR from their static archives (HOTSSL_CLI_STATIC_DEPS,
# default ON; POSIX). `hotssl serve --mode spawn` executes the CLI once per
# connection: linked to the shared mbedTLS (three libraries) and APR, every
# backend pays the loader's symbol lookup and relocations at start and a lazy
# binding at the first call of each function during its build and handshake.
# bench/run's spawn breakdown measures it (docs/performance.md). The archives
# are used only when they exist beside the libraries found and a test program
# links with them; else the CLI stays on the shared ones. Sets
# HOTSSL_CLI_STATIC_LIBS (the archives, in link order) and
# HOTSSL_CLI_STATIC_NOTE (what was chosen).
#
# With the archives, hotssl-backend (cli/backend_main.c) is built too: the
# spawn backend alone, linked -static (glibc included), so a backend pays
# no dynamic loading at all. Only when a -static test program with the same
# archives and cli/backend_nss.c links without a single linker warning
# (glibc's static library warns about its name-service calls), and never in a
# sanitizer build (the sanitizers' run-times do not link -static). Sets
# HOTSSL_CLI_STATIC_BACKEND (ON/OFF).
set(HOTSSL_CLI_STATIC_LIBS "")
set(HOTSSL_CLI_STATIC_NOTE "shared mbedTLS and APR")
set(HOTSSL_CLI_STATIC_BACKEND OFF)
# The name-service functions hotssl-backend replaces (cli/backend_nss.c).
set(HOTSSL_BACKEND_NSS_WRAP "")
foreach(_cs getaddrinfo freeaddrinfo getservbyname_r getpwnam_r getpwuid_r getgrnam_r getgrgid_r)
  list(APPEND HOTSSL_BACKEND_NSS_WRAP -Wl,--wrap=${_cs})
endforeach()
if(HOTSSL_CLI_STATIC_DEPS AND NOT WIN32)
  if(HOTSSL_MBEDTLS_PREFIX)
    set(_cs_hints HINTS "${HOTSSL_MBEDTLS_PREFIX}/lib" "${HOTSSL_MBEDTLS_PREFIX}/lib64" NO_DEFAULT_PATH)
  else()
    set(_cs_hints "")
  endif()
  set(_cs_libs "")
  set(_cs_ok ON)
  foreach(_cs mbedtls mbedx509 mbedcrypto everest p256m)
    find_library(HOTSSL_CS_${_cs} NAMES lib${_cs}.a ${_cs_hints})
    if(HOTSSL_CS_${_cs})
      list(APPEND _cs_libs "${HOTSSL_CS_${_cs}}")
    elseif(_cs MATCHES "^mbed")
      set(_cs_ok OFF) # everest and p256m exist only in some builds
    endif()
  endforeach()
  find_library(HOTSSL_CS_apr NAMES libapr-1.a HINTS ${APR_LIBRARY_DIRS})
  find_library(HOTSSL_CS_uuid NAMES libuuid.a)
  if(NOT HOTSSL_CS_apr)
    set(_cs_ok OFF)
  else()
    list(APPEND _cs_libs "${HOTSSL_CS_apr}")
    if(HOTSSL_CS_uuid)
      list(APPEND _cs_libs "${HOTSSL_CS_uuid}")
    endif()
  endif()
  if(_cs_ok)
    include(CheckCSourceCompiles)
    set(CMAKE_REQUIRED_INCLUDES ${HOTSSL_MBEDTLS_INCLUDE_DIR} ${APR_INCLUDE_DIRS})
    set(CMAKE_REQUIRED_DEFINITIONS ${APR_CFLAGS_OTHER})
    set(CMAKE_REQUIRED_LIBRARIES ${_cs_libs} ${_cs_libs} Threads::Threads)
    check_c_source_compiles([=[
#include <mbedtls/ssl.h>
#include <apr_general.h>
int main(void) {
  mbedtls_ssl_context s;
  mbedtls_ssl_init(&s);
  mbedtls_ssl_free(&s);
  return apr_initialize() == APR_SUCCESS ? 0 : 1;
}]=] HOTSSL_CLI_STATIC_LINKS)
    unset(CMAKE_REQUIRED_INCLUDES)
    unset(CMAKE_REQUIRED_DEFINITIONS)
    unset(CMAKE_REQUIRED_LIBRARIES)
    if(HOTSSL_CLI_STATIC_LINKS)
      set(HOTSSL_CLI_STATIC_LIBS ${_cs_libs})
      set(HOTSSL_CLI_STATIC_NOTE "static mbedTLS and APR")
    endif()
    set(_cs_flags "${CMAKE_C_FLAGS} ${CMAKE_EXE_LINKER_FLAGS}")
    if(CMAKE_BUILD_TYPE)
      string(TOUPPER "${CMAKE_BUILD_TYPE}" _cs_bt)
      string(APPEND _cs_flags " ${CMAKE_C_FLAGS_${_cs_bt}} ${CMAKE_EXE_LINKER_FLAGS_${_cs_bt}}")
    endif()
    if(HOTSSL_CLI_STATIC_LINKS AND HOTSSL_SANITIZE STREQUAL "" AND NOT HOTSSL_BUILD_FUZZERS
       AND NOT _cs_flags MATCHES "-fsanitize")
      set(CMAKE_REQUIRED_INCLUDES ${HOTSSL_MBEDTLS_INCLUDE_DIR} ${APR_INCLUDE_DIRS})
      set(CMAKE_REQUIRED_DEFINITIONS ${APR_CFLAGS_OTHER})
      set(CMAKE_REQUIRED_LIBRARIES ${_cs_libs} ${_cs_libs} Threads::Threads)
      set(CMAKE_REQUIRED_LINK_OPTIONS -static -Wl,--fatal-warnings ${HOTSSL_BACKEND_NSS_WRAP})
      file(READ ${CMAKE_CURRENT_SOURCE_DIR}/cli/backend_nss.c _cs_nss)
      check_c_source_compiles("${_cs_nss}
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
int main(int argc, char **argv) {
  mbedtls_ssl_context s;
  apr_pool_t *p;
  apr_procattr_t *a;
  apr_proc_t pr;
  const char *args[] = {\"true\", NULL};
  mbedtls_ssl_init(&s);
  mbedtls_ssl_set_bio(&s, NULL, mbedtls_net_send, mbedtls_net_recv, NULL);
  mbedtls_ssl_free(&s);
  if (apr_initialize() != APR_SUCCESS || apr_pool_create(&p, NULL) != APR_SUCCESS ||
      apr_procattr_create(&a, p) != APR_SUCCESS)
    return 1;
  if (argc > 5)
    return apr_proc_create(&pr, argv[0], args, NULL, a, p) + (apr_psprintf(p, \"%d\", argc) == NULL);
  return 0;
}" HOTSSL_CLI_BACKEND_STATIC_LINKS)
      unset(CMAKE_REQUIRED_INCLUDES)
      unset(CMAKE_REQUIRED_DEFINITIONS)
      unset(CMAKE_REQUIRED_LIBRARIES)
      unset(CMAKE_REQUIRED_LINK_OPTIONS)
      if(HOTSSL_CLI_BACKEND_STATIC_LINKS)
        set(HOTSSL_CLI_STATIC_BACKEND ON)
      endif()
    endif()
  endif()
endif()
