# Optional parts of the library, each owned by its own file.
include(${CMAKE_CURRENT_LIST_DIR}/watcher.cmake OPTIONAL)
include(${CMAKE_CURRENT_LIST_DIR}/platform.cmake OPTIONAL)
