# Find mbedTLS and provide one set of imported targets for every part of the
# build (library, CLI, tests, examples, bench, fuzzers) and for consumers of
# the installed package:
#   MbedTLS::mbedcrypto, MbedTLS::mbedx509, MbedTLS::mbedtls
# each carrying its include directory as a usage requirement, so whatever
# links them also compiles against the same headers.
#
# hotssl_find_mbedtls(<where>) with <where>:
#   system   the compiler's default search paths (Debian 12: 2.28, Debian 13: 3.6)
#   <dir>    an installation prefix (tools/deps.sh builds .deps/mbedtls-3.6.6)
# Sets HOTSSL_MBEDTLS_VERSION (e.g. 3.6.6), HOTSSL_MBEDTLS_PREFIX ("" for
# system), HOTSSL_MBEDTLS_INCLUDE_DIR and HOTSSL_MBEDTLS_LINK_FLAGS (for
# pkg-config: -L/-l flags of the libraries, third-party ones included).
# This file is installed with hotssl's CMake package and is self-contained.

function(_hotssl_mbedtls_version incdir outvar)
  set(_v "")
  foreach(h build_info.h version.h)
    if(_v STREQUAL "" AND EXISTS "${incdir}/mbedtls/${h}")
      file(STRINGS "${incdir}/mbedtls/${h}" _line REGEX "^#define[ \t]+MBEDTLS_VERSION_STRING[ \t]+\"")
      if(_line)
        string(REGEX REPLACE ".*\"([0-9.]+)\".*" "\\1" _v "${_line}")
      endif()
    endif()
  endforeach()
  set(${outvar} "${_v}" PARENT_SCOPE)
endfunction()

macro(hotssl_find_mbedtls where)
  find_package(Threads REQUIRED)
  if(TARGET MbedTLS::mbedtls)
    # Already provided (a parent project, or a second call).
  elseif(NOT "${where}" STREQUAL "system" AND EXISTS "${where}/lib/cmake/MbedTLS/MbedTLSConfig.cmake")
    # mbedTLS 3.x's own package (it also knows the third-party libraries
    # everest and p256m that its static libcrypto needs).
    find_package(MbedTLS CONFIG REQUIRED PATHS "${where}" NO_DEFAULT_PATH)
    set_property(TARGET MbedTLS::mbedcrypto APPEND PROPERTY INTERFACE_LINK_LIBRARIES Threads::Threads)
  else()
    if("${where}" STREQUAL "system")
      set(_hotssl_mb_hints "")
    else()
      set(_hotssl_mb_hints HINTS "${where}" NO_DEFAULT_PATH)
    endif()
    find_path(HOTSSL_MBEDTLS_INCLUDE_DIR_ mbedtls/ssl.h PATH_SUFFIXES include ${_hotssl_mb_hints})
    find_library(HOTSSL_MBEDTLS_LIB_ mbedtls PATH_SUFFIXES lib lib64 ${_hotssl_mb_hints})
    find_library(HOTSSL_MBEDX509_LIB_ mbedx509 PATH_SUFFIXES lib lib64 ${_hotssl_mb_hints})
    find_library(HOTSSL_MBEDCRYPTO_LIB_ mbedcrypto PATH_SUFFIXES lib lib64 ${_hotssl_mb_hints})
    if(NOT HOTSSL_MBEDTLS_INCLUDE_DIR_ OR NOT HOTSSL_MBEDTLS_LIB_ OR NOT HOTSSL_MBEDX509_LIB_ OR NOT HOTSSL_MBEDCRYPTO_LIB_)
      message(FATAL_ERROR "mbedTLS not found (${where}): run 'sh tools/deps.sh', or pass -DHOTSSL_MBEDTLS=system|local|<prefix>")
    endif()
    add_library(MbedTLS::mbedcrypto UNKNOWN IMPORTED)
    set_target_properties(MbedTLS::mbedcrypto PROPERTIES IMPORTED_LOCATION "${HOTSSL_MBEDCRYPTO_LIB_}"
      INTERFACE_INCLUDE_DIRECTORIES "${HOTSSL_MBEDTLS_INCLUDE_DIR_}" INTERFACE_LINK_LIBRARIES Threads::Threads)
    add_library(MbedTLS::mbedx509 UNKNOWN IMPORTED)
    set_target_properties(MbedTLS::mbedx509 PROPERTIES IMPORTED_LOCATION "${HOTSSL_MBEDX509_LIB_}"
      INTERFACE_INCLUDE_DIRECTORIES "${HOTSSL_MBEDTLS_INCLUDE_DIR_}" INTERFACE_LINK_LIBRARIES MbedTLS::mbedcrypto)
    add_library(MbedTLS::mbedtls UNKNOWN IMPORTED)
    set_target_properties(MbedTLS::mbedtls PROPERTIES IMPORTED_LOCATION "${HOTSSL_MBEDTLS_LIB_}"
      INTERFACE_INCLUDE_DIRECTORIES "${HOTSSL_MBEDTLS_INCLUDE_DIR_}" INTERFACE_LINK_LIBRARIES MbedTLS::mbedx509)
  endif()
  get_target_property(HOTSSL_MBEDTLS_INCLUDE_DIR MbedTLS::mbedtls INTERFACE_INCLUDE_DIRECTORIES)
  list(GET HOTSSL_MBEDTLS_INCLUDE_DIR 0 HOTSSL_MBEDTLS_INCLUDE_DIR)
  _hotssl_mbedtls_version("${HOTSSL_MBEDTLS_INCLUDE_DIR}" HOTSSL_MBEDTLS_VERSION)
  if("${where}" STREQUAL "system")
    set(HOTSSL_MBEDTLS_PREFIX "")
    set(HOTSSL_MBEDTLS_LINK_FLAGS "-lmbedtls -lmbedx509 -lmbedcrypto")
  else()
    get_filename_component(HOTSSL_MBEDTLS_PREFIX "${where}" ABSOLUTE)
    # A private prefix is not on the loader's path: the run path goes with it.
    set(HOTSSL_MBEDTLS_LINK_FLAGS "-L${HOTSSL_MBEDTLS_PREFIX}/lib -Wl,-rpath,${HOTSSL_MBEDTLS_PREFIX}/lib -lmbedtls -lmbedx509 -lmbedcrypto")
    foreach(_tp everest p256m)
      if(EXISTS "${HOTSSL_MBEDTLS_PREFIX}/lib/lib${_tp}.a")
        string(APPEND HOTSSL_MBEDTLS_LINK_FLAGS " -l${_tp}")
      endif()
    endforeach()
  endif()
endmacro()
