#!/bin/sh
# Install the built tree into a temporary prefix, then link a consumer the
# three usual ways and run each: CMake find_package (shared and static
# targets), plain `pkg-config --libs hotssl` (shared library), and
# `pkg-config --static` (fully static binary). Also compiles the embedding
# program of docs/embedding.md with -Wall -Wextra -Werror, and checks the man page.
set -eu
build=$1
src=$(cd "$(dirname "$0")" && pwd)
embedding_doc="$src/../../docs/embedding.md"
tmp=$(mktemp -d /tmp/hotssl-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -x "$tmp/prefix/bin/hotssl"
test -f "$tmp/prefix/include/hotssl/hotssl.h"
lib=$(dirname "$(find "$tmp/prefix" -name 'libhotssl.so.0' | head -n 1)")
test -f "$lib/libhotssl.a"
readelf -d "$lib/libhotssl.so.0" | grep -q 'SONAME.*\[libhotssl\.so\.0\]'
# Only the public API is exported.
if nm -D --defined-only "$lib/libhotssl.so.0" | awk '$2 == "T" {print $3}' | grep -v '^hotssl_'; then
  echo "FAIL: symbols outside the hotssl_ API are exported"; exit 1
fi
ok "libhotssl.so.0 (soname, API-only exports) and libhotssl.a installed"

# 1. find_package: hotssl::hotssl (shared) and hotssl::hotssl_static.
for kind in shared static; do
  cmake -S "$src/consumer" -B "$tmp/consumer-$kind" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
        -DCONSUMER_STATIC=$([ $kind = static ] && echo ON || echo OFF) >/dev/null
  cmake --build "$tmp/consumer-$kind" >/dev/null
  "$tmp/consumer-$kind/consumer"
done
readelf -d "$tmp/consumer-shared/consumer" | grep -q 'NEEDED.*libhotssl\.so\.0'
if readelf -d "$tmp/consumer-static/consumer" | grep -q 'NEEDED.*libhotssl'; then
  echo "FAIL: the static consumer depends on libhotssl.so"; exit 1
fi
ok "find_package(hotssl): hotssl::hotssl (shared) and hotssl::hotssl_static"

PKG_CONFIG_PATH="$lib/pkgconfig"
export PKG_CONFIG_PATH
# 2. plain pkg-config: the shared library.
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror -o "$tmp/pc-shared" "$src/consumer/main.c" $(pkg-config --cflags --libs hotssl)
readelf -d "$tmp/pc-shared" | grep -q 'NEEDED.*libhotssl\.so\.0'
LD_LIBRARY_PATH="$lib" "$tmp/pc-shared"
ok "cc app.c \$(pkg-config --cflags --libs hotssl)"

# 3. pkg-config --static: a fully static program (Requires.private/Libs.private).
# shellcheck disable=SC2046
cc -static -o "$tmp/pc-static" "$src/consumer/main.c" $(pkg-config --cflags --libs --static hotssl) 2>"$tmp/ld.err" ||
  { cat "$tmp/ld.err"; exit 1; }
if readelf -d "$tmp/pc-static" 2>/dev/null | grep -q NEEDED; then
  echo "FAIL: the --static program has dynamic dependencies"; exit 1
fi
"$tmp/pc-static"
ok "cc -static app.c \$(pkg-config --cflags --libs --static hotssl)"

# docs/embedding.md's complete program (its first c block), warning-free.
awk '/^## A complete program/ {e = 1} e && /^```c$/ {c = 1; next} c && /^```$/ {exit} c {print}' "$embedding_doc" > "$tmp/readme.c"
test -s "$tmp/readme.c"
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror -o "$tmp/readme" "$tmp/readme.c" $(pkg-config --cflags --libs hotssl)
set +e
LD_LIBRARY_PATH="$lib" "$tmp/readme" >/dev/null 2>&1
rc=$?
set -e
[ $rc -eq 2 ] || { echo "FAIL: docs/embedding.md program without arguments exited $rc, expected 2 (usage)"; exit 1; }
ok "docs/embedding.md program compiles with -Wall -Wextra -Werror and runs"

"$tmp/prefix/bin/hotssl" version
# hotssl-backend, when the build made it: installed beside hotssl, linked
# -static, and the installed hotssl names it; hotssl carries no run path
# when it links the static archives (no shared mbedTLS to find).
if [ -e "$build/hotssl-backend" ]; then
  test -x "$tmp/prefix/bin/hotssl-backend"
  if readelf -l "$tmp/prefix/bin/hotssl-backend" | grep -q INTERP || readelf -d "$tmp/prefix/bin/hotssl-backend" | grep -q NEEDED; then
    echo "FAIL: the installed hotssl-backend is not statically linked"; exit 1
  fi
  "$tmp/prefix/bin/hotssl" version | grep -qx "spawn backend: $tmp/prefix/bin/hotssl-backend (statically linked)" ||
    { echo "FAIL: the installed hotssl does not name its hotssl-backend"; exit 1; }
  if readelf -d "$tmp/prefix/bin/hotssl" | grep -q -E 'RPATH|RUNPATH'; then
    echo "FAIL: the installed hotssl has a run path although it links the static archives"; exit 1
  fi
  ok "hotssl-backend installed beside hotssl, statically linked; hotssl without a run path"
fi
test -f "$tmp/prefix/share/man/man1/hotssl.1"
man -l "$tmp/prefix/share/man/man1/hotssl.1" >/dev/null 2>&1 || groff -man -Tutf8 "$tmp/prefix/share/man/man1/hotssl.1" >/dev/null 2>&1 ||
  grep -q '^\.TH HOTSSL 1' "$tmp/prefix/share/man/man1/hotssl.1"
ok "hotssl CLI and hotssl(1) installed"
echo "install: $passed passed, 0 failed"
