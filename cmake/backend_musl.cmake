# hotssl-backend built with musl (POSIX; HOTSSL_BACKEND_MUSL, default ON).
# `hotssl serve --mode spawn` starts hotssl-backend once per connection.
# Linked -static with glibc, every start runs glibc's CPU probe
# (init_cpu_features and the cache sizes: a few dozen `cpuid`, each a trap
# to the hypervisor on a virtual machine); musl probes nothing at start
# (docs/performance.md measures both). tools/deps.sh builds mbedTLS (same
# version, patches and options as the main build's, static only) and APR
# with musl-gcc into .deps/musl; when that prefix is there, musl-gcc is
# found, its mbedTLS is the main build's version and the glibc static
# backend would be built (HOTSSL_CLI_STATIC_BACKEND: not in sanitizer or
# fuzzer builds), hotssl-backend comes from a sub-build of this source tree
# with musl-gcc (only the target hotssl_backend) instead. Sets
# HOTSSL_BACKEND_LIBC (musl or glibc) and HOTSSL_BACKEND_MUSL_NOTE.
option(HOTSSL_BACKEND_MUSL "Build hotssl-backend with musl-gcc when tools/deps.sh made .deps/musl" ON)
set(HOTSSL_BACKEND_MUSL_PREFIX "${CMAKE_CURRENT_SOURCE_DIR}/.deps/musl" CACHE PATH
    "musl builds of mbedTLS and APR for hotssl-backend (tools/deps.sh)")
set(HOTSSL_BACKEND_LIBC glibc)
set(HOTSSL_BACKEND_MUSL_NOTE "off")
if(HOTSSL_BACKEND_MUSL AND HOTSSL_CLI_STATIC_BACKEND)
  find_program(HOTSSL_MUSL_GCC musl-gcc)
  set(_bm_info "${HOTSSL_BACKEND_MUSL_PREFIX}/include/mbedtls/build_info.h")
  set(_bm_version "")
  if(EXISTS "${HOTSSL_BACKEND_MUSL_PREFIX}/.hotssl-stamp" AND EXISTS "${_bm_info}")
    file(STRINGS "${_bm_info}" _bm_line REGEX "^#define MBEDTLS_VERSION_STRING ")
    string(REGEX REPLACE ".*\"([0-9.]+)\".*" "\\1" _bm_version "${_bm_line}")
  endif()
  if(NOT HOTSSL_MUSL_GCC)
    set(HOTSSL_BACKEND_MUSL_NOTE "no musl-gcc (package musl-tools)")
  elseif(_bm_version STREQUAL "")
    set(HOTSSL_BACKEND_MUSL_NOTE "no ${HOTSSL_BACKEND_MUSL_PREFIX} (tools/deps.sh builds it)")
  elseif(NOT _bm_version STREQUAL HOTSSL_MBEDTLS_VERSION)
    set(HOTSSL_BACKEND_MUSL_NOTE "its mbedTLS is ${_bm_version}, this build's ${HOTSSL_MBEDTLS_VERSION}")
  else()
    set(HOTSSL_BACKEND_LIBC musl)
    set(HOTSSL_BACKEND_MUSL_NOTE "${HOTSSL_MUSL_GCC}, ${HOTSSL_BACKEND_MUSL_PREFIX}")
  endif()
endif()

# hotssl_backend_musl_target(): the target hotssl_backend, whose
# hotssl-backend in the build folder is the sub-build's.
function(hotssl_backend_musl_target)
  include(ExternalProject)
  set(_p "${HOTSSL_BACKEND_MUSL_PREFIX}")
  set(_bt "${CMAKE_BUILD_TYPE}")
  if(NOT _bt)
    set(_bt Release)
  endif()
  if(CMAKE_GENERATOR MATCHES "Makefiles")
    set(_build $(MAKE) -C <BINARY_DIR> hotssl_backend) # in the parent's job server
  else()
    set(_build ${CMAKE_COMMAND} --build <BINARY_DIR> --target hotssl_backend)
  endif()
  ExternalProject_Add(hotssl_backend_musl
    SOURCE_DIR "${CMAKE_CURRENT_SOURCE_DIR}"
    BINARY_DIR "${CMAKE_BINARY_DIR}/backend-musl"
    # Only the musl prefix's pkg-config files: APR is its apr-1.
    CONFIGURE_COMMAND ${CMAKE_COMMAND} -E env "PKG_CONFIG_LIBDIR=${_p}/lib/pkgconfig" PKG_CONFIG_PATH=
                      "CC=${HOTSSL_MUSL_GCC}"
                      ${CMAKE_COMMAND} -S <SOURCE_DIR> -B <BINARY_DIR> -G "${CMAKE_GENERATOR}"
                      -DCMAKE_BUILD_TYPE=${_bt} "-DHOTSSL_MBEDTLS=${_p}" -DHOTSSL_BACKEND_MUSL=OFF
                      -DHOTSSL_WERROR=${HOTSSL_WERROR} -DHOTSSL_BUILD_TESTS=OFF -DHOTSSL_BUILD_EXAMPLES=OFF
                      -DHOTSSL_BUILD_SHARED=OFF -DHOTSSL_BUILD_FUZZERS=OFF -DHOTSSL_SANITIZE=
    BUILD_COMMAND ${_build}
    INSTALL_COMMAND ${CMAKE_COMMAND} -E copy_if_different <BINARY_DIR>/hotssl-backend
                    "${CMAKE_BINARY_DIR}/hotssl-backend"
    # The sub-build is incremental: run it whenever the main build runs.
    BUILD_ALWAYS ON
    BUILD_BYPRODUCTS "${CMAKE_BINARY_DIR}/hotssl-backend")
  add_custom_target(hotssl_backend ALL DEPENDS hotssl_backend_musl)
endfunction()
