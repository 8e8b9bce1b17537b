# Cross-build for 64-bit Windows with Debian's mingw-w64 (package
# gcc-mingw-w64-x86-64-win32); test programs run under Wine.
#   cmake -S . -B build-windows -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw64.cmake \
#         -DHOTSSL_WIN_SYSROOT=$PWD/build-windows-deps/sysroot
# .ci/windows does all of it (dependencies included).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(_hotssl_triple x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${_hotssl_triple}-gcc)
set(CMAKE_CXX_COMPILER ${_hotssl_triple}-g++)
set(CMAKE_RC_COMPILER ${_hotssl_triple}-windres)
set(CMAKE_AR ${_hotssl_triple}-ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${_hotssl_triple}-ranlib CACHE FILEPATH "")

# Where the cross-built mbedTLS and APR live (lib/, include/).
set(HOTSSL_WIN_SYSROOT "" CACHE PATH "Sysroot holding the cross-built mbedTLS and APR")
set(CMAKE_FIND_ROOT_PATH /usr/${_hotssl_triple} ${HOTSSL_WIN_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Test programs and build-time tools run through Wine (ctest, add_custom_command
# naming a target). Debian's /usr/bin/wine starts 64-bit programs with its
# wine64 loader (/usr/lib/wine/wine64, not on PATH).
find_program(HOTSSL_WINE NAMES wine64 wine PATHS /usr/lib/wine)
if(HOTSSL_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${HOTSSL_WINE})
endif()

# No runtime DLLs next to the programs: libgcc and winpthreads linked in.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
