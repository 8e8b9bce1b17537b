#!/bin/sh
# The README's second command: the whole test suite, as CI runs it.
#   1. default build (-Werror): every test (unit, faults, e2e, watcher, platform, soak 10 s per mode, valgrind)
#   2. AddressSanitizer + UBSan build: every test but the soak
#   3. ThreadSanitizer build: the concurrency, watcher and platform tests
#   4. libFuzzer smoke run (clang): config, PKCS#8, snapshot, loader, revocation table, 15 s each
#   5. mutation check (tools/mutants.sh): every listed mutation must be caught
#   6. the README's first command in a fresh clone: builds and `hotssl demo` exits 0
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
sh tools/deps.sh
JOBS=$(nproc)
status=0

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
(export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
 run_suite asan "-DCMAKE_BUILD_TYPE=Debug -DHOTSSL_SANITIZE=address" -LE "valgrind|soak") || status=1
(export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
 run_suite tsan "-DCMAKE_BUILD_TYPE=Debug -DHOTSSL_SANITIZE=thread" -L "concurrency|watcher|platform" -LE valgrind) || status=1

(export CC=clang
 run_suite fuzz "-DCMAKE_BUILD_TYPE=Debug -DHOTSSL_BUILD_FUZZERS=ON -DHOTSSL_BUILD_TESTS=OFF -DHOTSSL_BUILD_CLI=OFF -DHOTSSL_BUILD_EXAMPLES=OFF" -L fuzz) || status=1

# ---- issue 11: mutation check (each critical check mutated in a scratch copy; ~3 min) ----
echo "=== mutants ==="
if ! sh tools/mutants.sh; then
  echo "=== mutants: FAILED ==="
  status=1
fi
# ---- end of the mutation check ----

echo "=== fresh clone: README set-up command ==="
clone=$(mktemp -d /tmp/hotssl-clone-XXXXXX)
git clone -q "$ROOT" "$clone/hotssl"
if (cd "$clone/hotssl" && sh tools/setup.sh); then
  echo "fresh clone: demo OK"
else
  echo "=== fresh clone: FAILED ==="
  status=1
fi
rm -rf "$clone"
[ $status -eq 0 ] && echo "ALL SUITES PASSED" || echo "SOME SUITES FAILED"
exit $status
