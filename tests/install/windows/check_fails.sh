#!/bin/sh
# tools/check-dll-exports.sh fails when the DLL misses a HOTSSL_EXTERN
# function and when it exports an internal or a linked-in library's name:
# the real export table with one API name removed, then with mbedtls_ and
# hotssl__ names added, each must be refused.
#   sh check_fails.sh CHECK-SCRIPT HOTSSL.DLL OBJDUMP
set -eu
check=$1 dll=$2 objdump=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$objdump" -p "$dll" > "$tmp/real"
sh "$check" --dump "$tmp/real" >/dev/null || { echo "the real export table is refused" >&2; exit 1; }
grep -v '[[:space:]]hotssl_manager_acquire$' "$tmp/real" > "$tmp/missing"
cmp -s "$tmp/real" "$tmp/missing" && { echo "hotssl_manager_acquire not in the table" >&2; exit 1; }
sed '/\[Ordinal\/Name Pointer\] Table/a\
\t[ 998] hotssl__snapshot_receive\
\t[ 999] mbedtls_ssl_setup' "$tmp/real" > "$tmp/extra"
for f in missing extra; do
  if sh "$check" --dump "$tmp/$f" > "$tmp/out" 2>&1; then
    echo "check-dll-exports.sh passed a table with $f names:" >&2
    cat "$tmp/out" >&2
    exit 1
  fi
  cat "$tmp/out"
done
echo "check-dll-exports.sh refuses both altered tables"
