# ssl_sni reload cost with many unchanged entries.
add_executable(bench_sni ${CMAKE_CURRENT_SOURCE_DIR}/bench_sni.c)
target_compile_options(bench_sni PRIVATE ${HOTSSL_WARNINGS})
target_include_directories(bench_sni PRIVATE ${CMAKE_SOURCE_DIR}/tests/lib)
target_link_libraries(bench_sni PRIVATE hotssl_testutil ${APR_LINK_LIBRARIES})
