add_executable(bench_acquire ${CMAKE_CURRENT_SOURCE_DIR}/bench_acquire.c)
target_include_directories(bench_acquire PRIVATE ${CMAKE_SOURCE_DIR}/core ${APR_INCLUDE_DIRS})
target_compile_definitions(bench_acquire PRIVATE _GNU_SOURCE)
target_link_libraries(bench_acquire PRIVATE hotssl ${APR_LINK_LIBRARIES} Threads::Threads)
