#!/bin/sh
# Install what hotssl needs to build, test and run its demo, from Debian's
# packages, and make sure an mbedTLS >= 3.6 is available. Idempotent; needs
# root (apt-get).
#
# mbedTLS: when the system has mbedTLS >= 3.6.6 (Debian 13), it is
# used. Otherwise mbedTLS 3.6.6 is fetched as Debian 13's source package
# (tools/fetch-source.sh) and built into .deps/mbedtls-3.6.6 inside the
# checkout (ignored by git), where CMake finds it with no extra flags. The
# build is skipped when that prefix already holds the same configuration.
# The system's mbedTLS 2.28 (Debian 12) stays installed: it is the tested
# compatibility build (cmake -DHOTSSL_MBEDTLS=system).
#
# Configuration of the local build (see docs/tls-dh.md, "mbedTLS versions"):
#   MBEDTLS_THREADING_C + MBEDTLS_THREADING_PTHREAD   required by hotssl
#   MBEDTLS_ECDH_VARIANT_EVEREST_ENABLED              Project Everest X25519
#     (Apache-2.0 only; hotssl is Apache-2.0). Set HOTSSL_MBEDTLS_EVEREST=0 to
#     build without it (prefix .deps/mbedtls-3.6.6-stock).
#   tools/patches/mbedtls-3.6.6-*.patch                applied to the source:
#     the TLS 1.3 server's alerts (post-Finished keys, Mbed-TLS/mbedtls#10877;
#     certificate_required); X25519 through Everest for PSA too, so TLS 1.3's
#     key share gets it (not only TLS 1.2's ECDH), and Everest built at -O3.
#     A system mbedTLS >= 3.6.6 is used as it is (`hotssl version` says
#     whether the fix is in).
#
# Environment: HOTSSL_APT_LOCK_TIMEOUT (seconds to wait for another apt
# process's lock, default 600).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LOCK_TIMEOUT=${HOTSSL_APT_LOCK_TIMEOUT:-600}
case $LOCK_TIMEOUT in ''|*[!0-9]*) echo "deps.sh: HOTSSL_APT_LOCK_TIMEOUT must be a number of seconds" >&2; exit 2;; esac
APT="apt-get -o DPkg::Lock::Timeout=$LOCK_TIMEOUT"

PKGS="build-essential clang cmake pkg-config libmbedtls-dev libapr1-dev openssl curl python3 valgrind git util-linux procps bzip2 xz-utils patch"
# integrations/postgresql: PostgreSQL's build (libpq stays on OpenSSL) and its
# TAP tests (IPC::Run), ccache for its three trees
PKGS="$PKGS libssl-dev libipc-run-perl ccache"
# the metrics tests: two real Prometheus text parsers (prometheus_client's,
# and promtool's, which also checks the alert rules of docs/operating.md)
PKGS="$PKGS python3-prometheus-client prometheus"
# unit.test_core_image_gcore dumps a child with gcore (gdb); without it the
# test would only skip
PKGS="$PKGS gdb"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  # apt-get update takes the lists lock, not the dpkg one: retry it while
  # another apt process holds it, up to the same timeout.
  waited=0
  until $APT update -qq; do
    [ "$waited" -lt "$LOCK_TIMEOUT" ] || { echo "deps.sh: apt-get update failed (lock held for ${LOCK_TIMEOUT}s?)" >&2; exit 1; }
    echo "deps.sh: apt-get update failed, retrying in 10 s (another apt process may hold the lock)" >&2
    sleep 10; waited=$((waited + 10))
  done
  # shellcheck disable=SC2086
  $APT install -y -qq --no-install-recommends $missing >/dev/null
fi

# ---- mbedTLS >= 3.6 ----
system_mbedtls_version() { # prints MMmmpp as a number, or 0
  for h in /usr/include/mbedtls/build_info.h /usr/include/mbedtls/version.h; do
    [ -f "$h" ] || continue
    v=$(sed -n 's/^#define MBEDTLS_VERSION_NUMBER *0x\([0-9A-Fa-f]*\).*/\1/p' "$h" | head -1)
    [ -n "$v" ] && { printf '%d\n' "0x$v"; return; }
  done
  echo 0
}
# 3.6.6 is the first 3.6 release with psa_random_reseed (core/internal.h).
if [ "$(system_mbedtls_version)" -ge $((0x03060600)) ]; then
  echo "mbedTLS: the system's ($(system_mbedtls_version | awk '{ printf "0x%08x", $1 }')) is >= 3.6.6, using it"
  exit 0
fi

MBEDTLS_VER=3.6.6
EVEREST=${HOTSSL_MBEDTLS_EVEREST:-1}
if [ "$EVEREST" = 1 ]; then PREFIX=$ROOT/.deps/mbedtls-$MBEDTLS_VER; else PREFIX=$ROOT/.deps/mbedtls-$MBEDTLS_VER-stock; fi
OPTIONS="MBEDTLS_THREADING_C MBEDTLS_THREADING_PTHREAD"
[ "$EVEREST" = 1 ] && OPTIONS="$OPTIONS MBEDTLS_ECDH_VARIANT_EVEREST_ENABLED"
# hotssl's patches to this release (tools/patches/, each says why); their
# checksums are part of the stamp, so a changed patch rebuilds.
PATCHES=$(ls "$ROOT"/tools/patches/mbedtls-$MBEDTLS_VER-*.patch 2>/dev/null || true)
PATCH_SUMS=$(for f in $PATCHES; do sha256sum "$f" | cut -c1-16; done | tr '\n' ' ')
STAMP="mbedtls $MBEDTLS_VER; set: $OPTIONS; patches: $PATCH_SUMS; shared+static, runpath ORIGIN; cc: $(cc --version | head -1)"
if [ -f "$PREFIX/.hotssl-stamp" ] && [ "$(cat "$PREFIX/.hotssl-stamp")" = "$STAMP" ]; then
  echo "mbedTLS $MBEDTLS_VER: already built in ${PREFIX#"$ROOT"/}"
  exit 0
fi

echo "mbedTLS $MBEDTLS_VER: building into ${PREFIX#"$ROOT"/} (the system has none >= 3.6.6)"
SRC=$ROOT/.deps/src
tarball=$SRC/mbedtls_$MBEDTLS_VER.orig.tar.bz2
[ -f "$tarball" ] || sh tools/fetch-source.sh mbedtls trixie "$SRC" >/dev/null
[ -f "$tarball" ] || { echo "deps.sh: $tarball was not fetched" >&2; exit 1; }
work=$(mktemp -d "$ROOT/.deps/build-mbedtls-XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -xjf "$tarball" -C "$work"
srcdir=$work/mbedtls-$MBEDTLS_VER
for f in $PATCHES; do
  patch -s -p1 -d "$srcdir" < "$f" || { echo "deps.sh: $f does not apply" >&2; exit 1; }
  echo "mbedTLS $MBEDTLS_VER: applied ${f#"$ROOT"/}"
done
for o in $OPTIONS; do
  python3 "$srcdir/scripts/config.py" -f "$srcdir/include/mbedtls/mbedtls_config.h" set "$o"
done
rm -rf "$PREFIX"
cmake -S "$srcdir" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" \
  -DENABLE_PROGRAMS=OFF -DENABLE_TESTING=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
  -DUSE_STATIC_MBEDTLS_LIBRARY=ON -DUSE_SHARED_MBEDTLS_LIBRARY=ON -DMBEDTLS_FATAL_WARNINGS=OFF \
  "-DCMAKE_INSTALL_RPATH=\$ORIGIN" >/dev/null
cmake --build "$work/build" -j"$(nproc)" >/dev/null
cmake --install "$work/build" >/dev/null
printf '%s\n' "$STAMP" > "$PREFIX/.hotssl-stamp"
echo "mbedTLS $MBEDTLS_VER: installed in ${PREFIX#"$ROOT"/}"
