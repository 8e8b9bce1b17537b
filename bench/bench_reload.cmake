# In-process measurements that bench/run drives.
add_executable(bench_reload ${CMAKE_CURRENT_SOURCE_DIR}/bench_reload.c)
target_compile_options(bench_reload PRIVATE ${HOTSSL_WARNINGS})
target_include_directories(bench_reload PRIVATE ${CMAKE_SOURCE_DIR}/tests/lib)
target_link_libraries(bench_reload PRIVATE hotssl_testutil ${APR_LINK_LIBRARIES} Threads::Threads)
