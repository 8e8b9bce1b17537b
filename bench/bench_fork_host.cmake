# A fork-per-connection TLS echo server built from one source (bench/run,
# section "fork host"): plain mbedTLS with one static mbedtls_ssl_config;
# hotssl linked the way a host links it through pkg-config (hotssl::hotssl,
# the shared library when it is built); and hotssl from libhotssl.a, as the
# PostgreSQL integration links it (APR and mbedTLS still shared). Same
# compiler and link options for all.
foreach(_variant static hotssl hotssl_a)
  add_executable(bench_fork_host_${_variant} ${CMAKE_CURRENT_SOURCE_DIR}/fork_host.c)
  target_compile_options(bench_fork_host_${_variant} PRIVATE ${HOTSSL_WARNINGS})
  target_compile_definitions(bench_fork_host_${_variant} PRIVATE _GNU_SOURCE)
endforeach()
target_compile_definitions(bench_fork_host_static PRIVATE FORK_HOST_STATIC=1)
target_link_libraries(bench_fork_host_static PRIVATE MbedTLS::mbedtls MbedTLS::mbedx509 MbedTLS::mbedcrypto)
target_link_libraries(bench_fork_host_hotssl PRIVATE hotssl::hotssl)
target_link_libraries(bench_fork_host_hotssl_a PRIVATE hotssl)
