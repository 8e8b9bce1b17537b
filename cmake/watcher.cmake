# The watcher (watcher/): common logic, the polling backend everywhere, and
# the notification backend the platform has. Included from cmake/sources.cmake
# before the library target exists, so it only appends to
# HOTSSL_EXTRA_SOURCES and sets per-source definitions.
include(CheckIncludeFile)

set(_hotssl_w ${CMAKE_CURRENT_LIST_DIR}/../watcher)
get_filename_component(_hotssl_w ${_hotssl_w} ABSOLUTE)
list(APPEND HOTSSL_EXTRA_SOURCES ${_hotssl_w}/watcher.c ${_hotssl_w}/poll/poll.c)
if(WIN32)
  list(APPEND HOTSSL_EXTRA_SOURCES ${_hotssl_w}/paths_win32.c ${_hotssl_w}/win32/rdcw.c)
  set_property(SOURCE ${_hotssl_w}/watcher.c ${_hotssl_w}/win32/rdcw.c
               APPEND PROPERTY COMPILE_DEFINITIONS HOTSSL_HAVE_RDCW=1)
else()
  list(APPEND HOTSSL_EXTRA_SOURCES ${_hotssl_w}/paths_posix.c)
endif()

check_include_file(sys/inotify.h HOTSSL_HAVE_INOTIFY)
if(HOTSSL_HAVE_INOTIFY)
  list(APPEND HOTSSL_EXTRA_SOURCES ${_hotssl_w}/inotify/inotify.c)
  set_property(SOURCE ${_hotssl_w}/watcher.c ${_hotssl_w}/inotify/inotify.c
               APPEND PROPERTY COMPILE_DEFINITIONS HOTSSL_HAVE_INOTIFY=1)
endif()
