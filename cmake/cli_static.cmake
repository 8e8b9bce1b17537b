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
set(HOTSSL_CLI_STATIC_LIBS "")
set(HOTSSL_CLI_STATIC_NOTE "shared mbedTLS and APR")
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
  endif()
endif()
