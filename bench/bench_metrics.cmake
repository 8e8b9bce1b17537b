# A metrics scrape (served-versus-disk check, the exposition) with a
# 100,000-entry CRL, against an unchanged reload and a full parse
# (bench/RESULTS-metrics.md).
add_executable(bench_metrics ${CMAKE_CURRENT_SOURCE_DIR}/bench_metrics.c)
target_include_directories(bench_metrics PRIVATE ${CMAKE_SOURCE_DIR}/core ${CMAKE_SOURCE_DIR}/cli ${APR_INCLUDE_DIRS})
target_compile_options(bench_metrics PRIVATE ${HOTSSL_WARNINGS})
target_include_directories(bench_metrics PRIVATE ${CMAKE_SOURCE_DIR}/tests/lib)
target_link_libraries(bench_metrics PRIVATE hotssl_testutil ${APR_LINK_LIBRARIES} Threads::Threads)
