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
# hotssl-backend's C library (see "musl" below)
PKGS="$PKGS musl-tools"
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
MBEDTLS_VER=3.6.6
EVEREST=${HOTSSL_MBEDTLS_EVEREST:-1}
OPTIONS="MBEDTLS_THREADING_C MBEDTLS_THREADING_PTHREAD"
[ "$EVEREST" = 1 ] && OPTIONS="$OPTIONS MBEDTLS_ECDH_VARIANT_EVEREST_ENABLED"
# hotssl's patches to this release (tools/patches/, each says why); their
# checksums are part of the stamp, so a changed patch rebuilds.
PATCHES=$(ls "$ROOT"/tools/patches/mbedtls-$MBEDTLS_VER-*.patch 2>/dev/null || true)
PATCH_SUMS=$(for f in $PATCHES; do sha256sum "$f" | cut -c1-16; done | tr '\n' ' ')
SRC=$ROOT/.deps/src
work=""
trap '[ -z "$work" ] || rm -rf "$work"' EXIT

# A fresh scratch folder under .deps (removed at exit).
scratch() {
  [ -z "$work" ] || rm -rf "$work"
  work=$(mktemp -d "$ROOT/.deps/build-$1-XXXXXX")
}

# Debian's source of PACKAGE from SUITE into .deps/src, unless TARBALL is there.
fetch() { # PACKAGE SUITE TARBALL
  [ -f "$3" ] || sh tools/fetch-source.sh "$1" "$2" "$SRC" >/dev/null
  [ -f "$3" ] || { echo "deps.sh: $3 was not fetched" >&2; exit 1; }
}

# build_mbedtls PREFIX CC CMAKE_ARGS...: Debian 13's mbedTLS source with
# hotssl's patches and options, built by CC and installed into PREFIX.
build_mbedtls() {
  prefix=$1 mcc=$2
  shift 2
  tarball=$SRC/mbedtls_$MBEDTLS_VER.orig.tar.bz2
  fetch mbedtls trixie "$tarball"
  scratch mbedtls
  tar -xjf "$tarball" -C "$work"
  srcdir=$work/mbedtls-$MBEDTLS_VER
  for f in $PATCHES; do
    patch -s -p1 -d "$srcdir" < "$f" || { echo "deps.sh: $f does not apply" >&2; exit 1; }
    echo "mbedTLS $MBEDTLS_VER: applied ${f#"$ROOT"/}"
  done
  for o in $OPTIONS; do
    python3 "$srcdir/scripts/config.py" -f "$srcdir/include/mbedtls/mbedtls_config.h" set "$o"
  done
  rm -rf "$prefix"
  CC=$mcc cmake -S "$srcdir" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DENABLE_PROGRAMS=OFF -DENABLE_TESTING=OFF -DMBEDTLS_FATAL_WARNINGS=OFF "$@" >/dev/null
  cmake --build "$work/build" -j"$(nproc)" >/dev/null
  cmake --install "$work/build" >/dev/null
}

# stamp_ok PREFIX STAMP: PREFIX holds a build made with STAMP.
stamp_ok() { [ -f "$1/.hotssl-stamp" ] && [ "$(cat "$1/.hotssl-stamp")" = "$2" ]; }

if [ "$(system_mbedtls_version)" -ge $((0x03060600)) ]; then
  echo "mbedTLS: the system's ($(system_mbedtls_version | awk '{ printf "0x%08x", $1 }')) is >= 3.6.6, using it"
else
  if [ "$EVEREST" = 1 ]; then PREFIX=$ROOT/.deps/mbedtls-$MBEDTLS_VER; else PREFIX=$ROOT/.deps/mbedtls-$MBEDTLS_VER-stock; fi
  STAMP="mbedtls $MBEDTLS_VER; set: $OPTIONS; patches: $PATCH_SUMS; shared+static, runpath ORIGIN; cc: $(cc --version | head -1)"
  if stamp_ok "$PREFIX" "$STAMP"; then
    echo "mbedTLS $MBEDTLS_VER: already built in ${PREFIX#"$ROOT"/}"
  else
    echo "mbedTLS $MBEDTLS_VER: building into ${PREFIX#"$ROOT"/} (the system has none >= 3.6.6)"
    build_mbedtls "$PREFIX" cc -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
      -DUSE_STATIC_MBEDTLS_LIBRARY=ON -DUSE_SHARED_MBEDTLS_LIBRARY=ON "-DCMAKE_INSTALL_RPATH=\$ORIGIN"
    printf '%s\n' "$STAMP" > "$PREFIX/.hotssl-stamp"
    echo "mbedTLS $MBEDTLS_VER: installed in ${PREFIX#"$ROOT"/}"
  fi
fi

# ---- musl: the C library of hotssl-backend ----
# `hotssl serve --mode spawn` starts hotssl-backend once per connection.
# Linked -static with glibc, its start-up probes the CPU (init_cpu_features,
# the cache sizes): a few dozen `cpuid` instructions, each a trap to the
# hypervisor on a virtual machine, 0.3 ms of every backend's start here.
# musl probes nothing. So hotssl-backend is built with musl-gcc against
# musl builds of mbedTLS (same version, patches and options, static only)
# and APR (Debian 12's source with Debian's patches), in .deps/musl; CMake
# picks them up when the prefix is there (else hotssl-backend links glibc).
# HOTSSL_BACKEND_MUSL=0 skips this part.
APR_VER=1.7.2
APR_DEB=1.7.2-3+deb12u1
MUSL_PREFIX=$ROOT/.deps/musl
if [ "${HOTSSL_BACKEND_MUSL:-1}" != 1 ]; then
  echo "musl: HOTSSL_BACKEND_MUSL=${HOTSSL_BACKEND_MUSL}: hotssl-backend links glibc"
  exit 0
fi
MUSL_STAMP="musl $(dpkg-query -W -f='${Version}' musl-dev); mbedtls $MBEDTLS_VER; set: $OPTIONS; patches: $PATCH_SUMS; apr $APR_DEB; static"
if stamp_ok "$MUSL_PREFIX" "$MUSL_STAMP"; then
  echo "musl: mbedTLS $MBEDTLS_VER and APR $APR_VER already built in ${MUSL_PREFIX#"$ROOT"/}"
  exit 0
fi
echo "musl: building mbedTLS $MBEDTLS_VER and APR $APR_VER into ${MUSL_PREFIX#"$ROOT"/} (for hotssl-backend)"
build_mbedtls "$MUSL_PREFIX" musl-gcc -DUSE_STATIC_MBEDTLS_LIBRARY=ON -DUSE_SHARED_MBEDTLS_LIBRARY=OFF
apr_tar=$SRC/apr_$APR_VER.orig.tar.bz2
apr_deb=$SRC/apr_$APR_DEB.debian.tar.xz
fetch apr bookworm "$apr_deb"
[ -f "$apr_tar" ] || { echo "deps.sh: $apr_tar was not fetched" >&2; exit 1; }
scratch apr
tar -xjf "$apr_tar" -C "$work"
tar -xJf "$apr_deb" -C "$work"
for p in $(cat "$work/debian/patches/series"); do
  patch -s -p1 -d "$work/apr-$APR_VER" < "$work/debian/patches/$p" ||
    { echo "deps.sh: Debian's APR patch $p does not apply" >&2; exit 1; }
done
# configure's and make's output in a log, shown when they fail.
(cd "$work/apr-$APR_VER" &&
  CC=musl-gcc ./configure --prefix="$MUSL_PREFIX" --disable-shared --enable-static --disable-dso &&
  make -j"$(nproc)" && make install) > "$work/apr.log" 2>&1 ||
  { tail -30 "$work/apr.log" >&2; echo "deps.sh: APR $APR_VER did not build with musl-gcc" >&2; exit 1; }
printf '%s\n' "$MUSL_STAMP" > "$MUSL_PREFIX/.hotssl-stamp"
echo "musl: mbedTLS $MBEDTLS_VER and APR $APR_VER installed in ${MUSL_PREFIX#"$ROOT"/}"
