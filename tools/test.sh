#!/bin/sh
# The README's second command: the whole test suite, as CI runs it.
# First, cheaply: the layering rules (tools/check-layers.sh) and that
# script's self-test.
# Suites 1-6 build against mbedTLS 3.6 (the system's, or the one tools/deps.sh
# builds once into .deps/); suite 7 against the system's mbedTLS 2.28; suite 8
# cross-builds mbedTLS 3.6.6 itself for Windows.
#   1. default build (-Werror): every test (unit, faults, e2e, watcher, platform, soak 10 s per mode, valgrind)
#   2. AddressSanitizer + UBSan build: every test but the soak
#   3. ThreadSanitizer build: the concurrency, watcher and platform tests
#   4. libFuzzer smoke run (clang): config, PKCS#8, snapshot, loader, revocation table, 15 s each
#   5. the README's first command in a fresh clone: builds and `hotssl demo` exits 0
#   6. a bare clone (no ../shared beside it, no HOTSSL_TESTDATA): Release build with
#      -Werror, then the default ctest suite (minus valgrind) on the generated test data
#   7. compatibility: default build against the system's mbedTLS 2.28, every test
#   8. Windows: .ci/windows cross-builds with mingw-w64 and runs the Windows tests under Wine
#   9. mutation check (tools/mutants.sh): every listed mutation must be caught
#  10. PostgreSQL on hotssl (integrations/postgresql/run.sh --baseline): stock,
#      fork and EXEC_BACKEND builds of PostgreSQL 15, src/test/ssl plus
#      hotssl's reload test in each
# Each part prints how long it took ("=== NAME: N s ===").
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
T_START=$(date +%s)
T_PART=$T_START
took() { # name: seconds since the previous part
  now=$(date +%s)
  echo "=== $1: $((now - T_PART)) s (total $((now - T_START)) s) ==="
  T_PART=$now
}

status=0

# ---- layers: os/ at the bottom, core/ above it (tools/check-layers.sh) ----
echo "=== layers ==="
if ! sh tools/check-layers.sh || ! sh tools/check-layers.sh --self-test; then
  echo "=== layers: FAILED ==="
  status=1
fi
took "layers"
# ---- end of the layers block ----

sh tools/deps.sh
took "deps"
JOBS=$(nproc)

run_suite() { # name, cmake args, ctest args
  name=$1; shift
  cargs=$1; shift
  echo "=== $name ==="
  # shellcheck disable=SC2086
  cmake -S . -B "build-$name" -DHOTSSL_WERROR=ON $cargs >/dev/null || { echo "=== $name: configure FAILED ==="; return 1; }
  cmake --build "build-$name" -j"$JOBS" >/dev/null || { echo "=== $name: build FAILED ==="; return 1; }
  # shellcheck disable=SC2068
  if ! ctest --test-dir "build-$name" --no-tests=error --output-on-failure --timeout 900 -j"$JOBS" $@; then
    echo "=== $name: FAILED ==="
    return 1
  fi
}

# Each suite in a subshell, so its environment does not leak into the next.
(run_suite default "-DCMAKE_BUILD_TYPE=RelWithDebInfo") || status=1
took "default"
(export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
 run_suite asan "-DCMAKE_BUILD_TYPE=Debug -DHOTSSL_SANITIZE=address" -LE "valgrind|soak") || status=1
took "asan"
(export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
 run_suite tsan "-DCMAKE_BUILD_TYPE=Debug -DHOTSSL_SANITIZE=thread" -L "concurrency|watcher|platform" -LE valgrind) || status=1
took "tsan"

(export CC=clang
 run_suite fuzz "-DCMAKE_BUILD_TYPE=Debug -DHOTSSL_BUILD_FUZZERS=ON -DHOTSSL_BUILD_TESTS=OFF -DHOTSSL_BUILD_CLI=OFF -DHOTSSL_BUILD_EXAMPLES=OFF" -L fuzz) || status=1
took "fuzz"

# ---- mutation check (each critical check mutated in a scratch copy; ~3 min) ----
echo "=== mutants ==="
if ! sh tools/mutants.sh; then
  echo "=== mutants: FAILED ==="
  status=1
fi
# ---- end of the mutation check ----
took "mutants"

echo "=== fresh clone: README set-up command ==="
clone=$(mktemp -d /tmp/hotssl-clone-XXXXXX)
git clone -q "$ROOT" "$clone/hotssl"
# mbedTLS 3.6 is built once per run: the clone gets the prefix built above
# (tools/deps.sh checks its stamp and skips the build).
if [ -d .deps/mbedtls-3.6.6 ]; then
  mkdir -p "$clone/hotssl/.deps" && cp -a .deps/mbedtls-3.6.6 "$clone/hotssl/.deps/"
fi
# The demo's client must have negotiated TLS 1.3 (mbedTLS 3.6 by default).
if (cd "$clone/hotssl" && sh tools/setup.sh > "$clone/setup.log" 2>&1; rc=$?; cat "$clone/setup.log"; exit $rc) &&
   grep -q "client: TLSv1.3, verified" "$clone/setup.log"; then
  echo "fresh clone: demo OK (TLS 1.3)"
else
  echo "=== fresh clone: FAILED ==="
  status=1
fi
rm -rf "$clone"
took "fresh clone"

# ---- bare clone: Release -Werror build and the default tests ----
echo "=== bare clone: Release -Werror build, tests on the generated test data ==="
clone=$(mktemp -d /tmp/hotssl-bare-XXXXXX)
# Searchable by other users, as a checkout usually is: the dumpable tests
# run the server as nobody when they run as root.
chmod 755 "$clone"
git clone -q "$ROOT" "$clone/hotssl"
# The same mbedTLS 3.6 build as above (what tools/deps.sh gives a user's clone).
if [ -d .deps/mbedtls-3.6.6 ]; then
  mkdir -p "$clone/hotssl/.deps" && cp -a .deps/mbedtls-3.6.6 "$clone/hotssl/.deps/"
fi
if (cd "$clone/hotssl" && unset HOTSSL_TESTDATA &&
    test ! -e ../shared &&
    cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DHOTSSL_WERROR=ON | grep 'hotssl test data' &&
    cmake --build build-release -j"$JOBS" >/dev/null &&
    ctest --test-dir build-release --no-tests=error --output-on-failure --timeout 900 -j"$JOBS" -LE "valgrind|soak"); then
  echo "bare clone: Release build and tests OK"
else
  echo "=== bare clone: FAILED ==="
  status=1
fi
rm -rf "$clone"
# ---- end of the bare-clone block ----
took "bare clone"

# ---- mbedTLS 2.28 compatibility: one default-build run on the
# system's mbedTLS (Debian 12's 2.28), every test; version-dependent
# expectations branch on `hotssl version`, nothing is skipped. ----
if [ "$(sed -n 's/^#define MBEDTLS_VERSION_NUMBER *0x\([0-9A-Fa-f]*\).*/\1/p' /usr/include/mbedtls/version.h 2>/dev/null | cut -c1-4)" = "021C" ]; then
  # (the chaos soak runs once, in the default suite: CI budget)
  (run_suite compat-mbedtls228 "-DCMAKE_BUILD_TYPE=RelWithDebInfo -DHOTSSL_MBEDTLS=system" -LE soak) || status=1
else
  echo "=== compat-mbedtls228: the system's mbedTLS is not 2.28: FAILED (CI runs on Debian 12) ==="
  status=1
fi
# ---- end of the mbedTLS 2.28 block ----
took "compat-mbedtls228"

# ---- Windows: mingw-w64 cross-build, tests under Wine (.ci/windows) ----
echo "=== windows ==="
if sh .ci/windows; then
  echo "=== windows: passed ==="
else
  echo "=== windows: FAILED ==="
  status=1
fi
# ---- end of the Windows block ----
took "windows"
# ---- PostgreSQL on hotssl (integrations/postgresql): PostgreSQL's own
# src/test/ssl against stock, fork and EXEC_BACKEND builds, plus the reload
# test; fails on any failed check or on a skip expected-skips does not list ----
echo "=== postgresql ==="
if sh integrations/postgresql/run.sh --baseline; then
  echo "=== postgresql: passed ==="
else
  echo "=== postgresql: FAILED ==="
  status=1
fi
took "postgresql"
# ---- end of the PostgreSQL block ----
[ $status -eq 0 ] && echo "ALL SUITES PASSED" || echo "SOME SUITES FAILED"
exit $status
