# Session tickets: the cost of the write and parse callbacks alone.
add_executable(bench_tickets ${CMAKE_CURRENT_SOURCE_DIR}/bench_tickets.c)
target_compile_options(bench_tickets PRIVATE ${HOTSSL_WARNINGS})
target_include_directories(bench_tickets PRIVATE ${CMAKE_SOURCE_DIR}/core ${APR_INCLUDE_DIRS})
target_compile_definitions(bench_tickets PRIVATE _GNU_SOURCE)
target_link_libraries(bench_tickets PRIVATE hotssl ${APR_LINK_LIBRARIES})
