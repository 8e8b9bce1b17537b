# The per-query "did a reload publish?" check of live revocation.
add_executable(bench_liverev ${CMAKE_CURRENT_SOURCE_DIR}/bench_liverev.c)
target_compile_definitions(bench_liverev PRIVATE _GNU_SOURCE)
target_link_libraries(bench_liverev PRIVATE hotssl ${APR_LINK_LIBRARIES} Threads::Threads)
