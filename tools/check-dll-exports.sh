#!/bin/sh
# hotssl.dll exports exactly the public API: every function declared
# HOTSSL_EXTERN in include/hotssl/*.h, and no other name (no hotssl__
# internal, no mbedtls_, psa_ or apr_ symbol of the libraries linked in).
# The list of expected names comes from the headers, so a function added to
# the API is checked without editing this script.
#   sh tools/check-dll-exports.sh BUILD-WINDOWS/hotssl.dll [OBJDUMP]
#   sh tools/check-dll-exports.sh --dump FILE      (FILE: saved "objdump -p" output)
# Exit status 0 when the export table matches, 1 with the differences.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)

# The names after HOTSSL_EXTERN in the public headers (a declaration may
# span lines: the function's name is the first hotssl_ identifier followed
# by an opening parenthesis).
api_names() {
  grep -hv '^[[:space:]]*#' "$ROOT"/include/hotssl/*.h | tr '\n' ' ' |
    grep -o 'HOTSSL_EXTERN[^;]*;' |
    sed -n 's/^HOTSSL_EXTERN[^(]*[^a-zA-Z0-9_]\(hotssl_[a-zA-Z0-9_]*\)[[:space:]]*(.*/\1/p' | sort -u
}

# The export table's names (objdump -p: "[Ordinal/Name Pointer] Table").
dll_names() {
  sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' "$1" |
    sed -n 's/^[[:space:]]*\[[[:space:]]*[0-9]*\][[:space:]]*\([^[:space:]]*\).*/\1/p' | sort -u
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ "${1:-}" = "--dump" ]; then
  dump=$2
else
  dll=$1
  [ -f "$dll" ] || { echo "check-dll-exports: $dll not found" >&2; exit 1; }
  dump=$tmp/objdump
  "${2:-x86_64-w64-mingw32-objdump}" -p "$dll" > "$dump"
fi
api_names > "$tmp/api"
dll_names "$dump" > "$tmp/dll"
napi=$(wc -l < "$tmp/api")
[ "$napi" -ge 40 ] || { echo "check-dll-exports: only $napi HOTSSL_EXTERN functions found in the headers" >&2; exit 1; }
rc=0
missing=$(comm -23 "$tmp/api" "$tmp/dll")
extra=$(comm -13 "$tmp/api" "$tmp/dll")
if [ -n "$missing" ]; then
  echo "check-dll-exports: HOTSSL_EXTERN functions not exported by the DLL:" >&2
  echo "$missing" | sed 's/^/  /' >&2
  rc=1
fi
if [ -n "$extra" ]; then
  echo "check-dll-exports: exported by the DLL but not HOTSSL_EXTERN in include/hotssl/:" >&2
  echo "$extra" | sed 's/^/  /' >&2
  rc=1
fi
[ $rc -ne 0 ] || echo "check-dll-exports: $napi functions, exactly the public API"
exit $rc
