# Fork and spawn support: snapshots in core/, one implementation
# per OS in platform/posix/ or platform/win32/ (the win32 files are
# fork calls report HOTSSL_ENOTSUP on Windows).
list(APPEND HOTSSL_EXTRA_SOURCES ${CMAKE_CURRENT_LIST_DIR}/../core/snapshot.c
  ${CMAKE_CURRENT_LIST_DIR}/../core/snapshot_api.c
  ${CMAKE_CURRENT_LIST_DIR}/../platform/spawn_common.c) # what both spawn.c share
if(WIN32)
  list(APPEND HOTSSL_EXTRA_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/../platform/win32/fork.c
    ${CMAKE_CURRENT_LIST_DIR}/../platform/win32/spawn.c)
else()
  list(APPEND HOTSSL_EXTRA_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/../platform/posix/fork.c
    ${CMAKE_CURRENT_LIST_DIR}/../platform/posix/spawn.c)
endif()
