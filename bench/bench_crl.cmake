# Client-certificate verification with a 100,000-entry CRL: revocation table
# vs mbedTLS's own CRL path (bench/RESULTS-crl.md).
add_executable(bench_crl ${CMAKE_CURRENT_SOURCE_DIR}/bench_crl.c)
target_include_directories(bench_crl PRIVATE ${CMAKE_SOURCE_DIR}/core ${CMAKE_SOURCE_DIR}/cli ${APR_INCLUDE_DIRS})
target_compile_options(bench_crl PRIVATE ${HOTSSL_WARNINGS})
target_include_directories(bench_crl PRIVATE ${CMAKE_SOURCE_DIR}/tests/lib)
target_link_libraries(bench_crl PRIVATE hotssl_testutil ${APR_LINK_LIBRARIES} Threads::Threads)
