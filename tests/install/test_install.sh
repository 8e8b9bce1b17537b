#!/bin/sh
# Install the built tree into a temporary prefix, then build and run a
# consumer project with find_package(hotssl) and another with pkg-config.
set -eu
build=$1
src=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/hotssl-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -x "$tmp/prefix/bin/hotssl"
test -f "$tmp/prefix/include/hotssl/hotssl.h"
cmake -S "$src/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
"$tmp/consumer/consumer"
pcdir=$(dirname "$(find "$tmp/prefix" -name hotssl.pc | head -n 1)")
# shellcheck disable=SC2046
cc -o "$tmp/pc-consumer" "$src/consumer/main.c" $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs --static hotssl)
"$tmp/pc-consumer"
"$tmp/prefix/bin/hotssl" version
echo "install: 3 passed, 0 failed"
