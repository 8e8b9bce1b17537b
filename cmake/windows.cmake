# Windows (mingw-w64 cross-build, cmake/toolchain-mingw64.cmake): APR has no
# pkg-config file there. .ci/windows installs the static apr-1 library and
# its headers into HOTSSL_WIN_SYSROOT (lib/, include/apr-1/); this file sets
# the same variables pkg_check_modules(APR apr-1) sets on Linux.
find_path(APR_INCLUDE_DIRS apr.h PATH_SUFFIXES apr-1 REQUIRED)
find_library(_hotssl_apr_lib NAMES apr-1 REQUIRED)
# A static APR: its headers must not ask for dllimport, and it needs the
# socket and RPC libraries it was built against.
set(APR_CFLAGS_OTHER -DAPR_DECLARE_STATIC)
set(APR_LINK_LIBRARIES ${_hotssl_apr_lib} ws2_32 mswsock rpcrt4 iphlpapi advapi32 bcrypt)
add_compile_definitions(APR_DECLARE_STATIC)
# Windows 10 API level (handle lists, GetTickCount64, FILE_ID_INFO,
# GetSystemTimePreciseAsFileTime, CompareStringOrdinal). Wine 8 has them.
add_compile_definitions(_WIN32_WINNT=0x0A00 WIN32_LEAN_AND_MEAN)
# C99 printf formats (%zu, %lld) at run time and in format checks.
add_compile_definitions(__USE_MINGW_ANSI_STDIO=1 HOTSSL__PRINTF_ARCHETYPE=gnu_printf)
# gmtime_r / localtime_r (mingw-w64's time.h has them under this name).
add_compile_definitions(_POSIX_THREAD_SAFE_FUNCTIONS=200112L)
# The cross-built mbedTLS headers for every target (on Linux they sit in
# /usr/include or come with the library's imported target).
if(HOTSSL_WIN_SYSROOT)
  include_directories(SYSTEM ${HOTSSL_WIN_SYSROOT}/include)
endif()
# mbedTLS's threading layer is on mingw's winpthreads: last on every link line.
set(CMAKE_C_STANDARD_LIBRARIES "${CMAKE_C_STANDARD_LIBRARIES} -lpthread")
