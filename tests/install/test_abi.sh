#!/bin/sh
# The ABI rule of hotssl/version.h: a program compiled against the previous
# public headers (tests/install/abi-0.1/, hotssl 0.1 as released) runs
# against the current library, linked both ways: the shared library
# (libhotssl.so.0) and the static one (a fully static program). The program
# (abi/consumer_0_1.c) creates, reloads, takes stats, host stats, a snapshot,
# spawns a backend and serves real handshakes to `openssl s_client`.
#   test_abi.sh BUILD_DIR TESTDATA_DIR
set -eu
build=$1
testdata=$2
src=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/hotssl-abi-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
lib=$(dirname "$(find "$tmp/prefix" -name 'libhotssl.so.0' | head -n 1)")
PKG_CONFIG_PATH="$lib/pkgconfig"
export PKG_CONFIG_PATH
# The 0.1 headers come first, so <hotssl/hotssl.h> is 0.1's (the program
# refuses to compile against the current ones).
old="-I$src/abi-0.1"

setup() { # folder: the two certificate pairs of the generated test data
  mkdir -p "$1"
  cp "$testdata/server-cn-only.crt" "$1/a.crt"
  cp "$testdata/server-cn-only.key" "$1/a.key"
  cp "$testdata/server-cn-and-alt-names.crt" "$1/b.crt"
  cp "$testdata/server-cn-and-alt-names.key" "$1/b.key"
  chmod 600 "$1/a.key" "$1/b.key"
}

# shellcheck disable=SC2046
cc -Wall -Wextra -Werror "$old" -o "$tmp/consumer-shared" "$src/abi/consumer_0_1.c" \
  $(pkg-config --cflags --libs hotssl)
readelf -d "$tmp/consumer-shared" | grep -q 'NEEDED.*libhotssl\.so\.0'
setup "$tmp/shared"
LD_LIBRARY_PATH="$lib" "$tmp/consumer-shared" "$tmp/shared"
ok "built against the 0.1 headers, runs against the current libhotssl.so.0"

# shellcheck disable=SC2046
cc -static -Wall -Wextra -Werror "$old" -o "$tmp/consumer-static" "$src/abi/consumer_0_1.c" \
  $(pkg-config --cflags --libs --static hotssl) 2>"$tmp/ld.err" || { cat "$tmp/ld.err"; exit 1; }
if readelf -d "$tmp/consumer-static" 2>/dev/null | grep -q NEEDED; then
  echo "FAIL: the static consumer has dynamic dependencies"; exit 1
fi
setup "$tmp/static"
"$tmp/consumer-static" "$tmp/static"
ok "built against the 0.1 headers, linked with the current libhotssl.a"

# The control: the same program refuses the current headers, so the runs
# above did use 0.1's.
# shellcheck disable=SC2046
if cc -fsyntax-only $(pkg-config --cflags hotssl) "$src/abi/consumer_0_1.c" 2>/dev/null; then
  echo "FAIL: consumer_0_1.c compiles against the current headers: the ABI runs prove nothing"; exit 1
fi
ok "consumer_0_1.c is bound to the 0.1 headers"
echo "abi: $passed passed, 0 failed"
