#!/bin/sh
# PostgreSQL 15 with its server-side TLS on hotssl, judged by PostgreSQL's own
# src/test/ssl. See integrations/postgresql/README.md.
#
#   sh integrations/postgresql/run.sh [--baseline] [--build-only] [--trees "fork exec"]
#
# 1. fetches PostgreSQL 15's source (tools/fetch-source.sh, Debian 12's
#    postgresql-15 package), once, into build/src;
# 2. builds hotssl's static library (build/hotssl);
# 3. for each tree: a fresh copy of the source, postgresql-15.patch,
#    be-secure-hotssl.c and src/Makefile.custom (no change to configure),
#    configure (once per tree and set of flags), make, make install into
#    build/TREE/install (contrib/sslinfo included):
#      fork   the default build: the postmaster forks each backend
#      exec   CPPFLAGS=-DEXEC_BACKEND: each backend is exec'd, as on Windows
#      stock  (--baseline) unmodified PostgreSQL, OpenSSL server
# 4. unless --build-only: src/test/ssl (plus t/*.pl of this folder in the
#    hotssl trees) as `make installcheck` runs it, prove's own output kept;
#    demo.sh on each hotssl tree; then one table of pass counts per test
#    file per tree.
# PROVE_TESTS (e.g. t/100_hotssl_reload.pl) runs only those files.
# Fails when a check fails, when a hotssl tree skips a check that
# expected-skips does not list, or skips more than it lists.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
B=$HERE/build
PGVER=15.18
JOBS=$(nproc)
baseline=0 build_only=0 trees="fork exec"
while [ $# -gt 0 ]; do
  case $1 in
    --baseline) baseline=1 ;;
    --build-only) build_only=1 ;;
    --trees) shift; trees=$1 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ $baseline = 1 ] && trees="stock $trees"

now() { date +%s; }
T0=$(now)
step() { echo "=== postgresql: $* ($(( $(now) - T0 )) s) ==="; }

mkdir -p "$B"
# ccache, cached in the checkout (build/ is ignored by git)
export CCACHE_DIR="$B/ccache"
CC="gcc"
command -v ccache >/dev/null 2>&1 && CC="ccache gcc"

# ---- 1. source ----
TARBALL=$B/src/postgresql-15_$PGVER.orig.tar.bz2
if [ ! -f "$TARBALL" ]; then
  step "fetching the PostgreSQL $PGVER source"
  sh "$ROOT/tools/fetch-source.sh" postgresql-15 bookworm "$B/src"
fi
[ -f "$TARBALL" ] || { echo "run.sh: $TARBALL missing after the fetch" >&2; exit 1; }

# ---- 2. hotssl ----
step "building hotssl (static)"
# mbedTLS 3.6: tools/deps.sh's build in .deps (Debian 12), else the system's
# (Debian 13 and later); never Debian 12's 2.28 (no TLS 1.3).
MBEDTLS=$ROOT/.deps/mbedtls-3.6.6
if [ -f "$MBEDTLS/.hotssl-stamp" ]; then
  MB_CMAKE=local
  MBEDTLS_CPPFLAGS="-I$MBEDTLS/include"
  MBEDTLS_LIBS="$MBEDTLS/lib/libmbedtls.a $MBEDTLS/lib/libmbedx509.a $MBEDTLS/lib/libmbedcrypto.a"
  for extra in everest p256m; do
    [ -f "$MBEDTLS/lib/lib$extra.a" ] && MBEDTLS_LIBS="$MBEDTLS_LIBS $MBEDTLS/lib/lib$extra.a"
  done
else
  MB_CMAKE=system
  MBEDTLS_CPPFLAGS=""
  MBEDTLS_LIBS="-lmbedtls -lmbedx509 -lmbedcrypto"
fi
cmake -S "$ROOT" -B "$B/hotssl" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHOTSSL_MBEDTLS=$MB_CMAKE \
  -DHOTSSL_BUILD_TESTS=OFF -DHOTSSL_BUILD_CLI=OFF -DHOTSSL_BUILD_EXAMPLES=OFF \
  -DHOTSSL_BUILD_SHARED=OFF >/dev/null
cmake --build "$B/hotssl" -j"$JOBS" >/dev/null

# ---- 3. trees ----
PATCH_SUM=$(cat "$HERE/postgresql-15.patch" | sha256sum | cut -c1-16)
build_tree() { # tree
  t=$1 src=$B/$1/src inst=$B/$1/install
  cppflags=""
  [ "$t" = exec ] && cppflags="-DEXEC_BACKEND"
  stamp="postgresql $PGVER; tree $t; patch $PATCH_SUM; cppflags '$cppflags'; cc $CC"
  if [ ! -f "$src/.hotssl-stamp" ] || [ "$(cat "$src/.hotssl-stamp")" != "$stamp" ]; then
    step "$t: fresh source"
    rm -rf "$B/$t"
    mkdir -p "$B/$t"
    tar -xjf "$TARBALL" -C "$B/$t"
    mv "$B/$t/postgresql-$PGVER" "$src"
    if [ "$t" != stock ]; then
      (cd "$src" && patch -p1 -s < "$HERE/postgresql-15.patch")
    fi
    step "$t: configure"
    (cd "$src" && CC="$CC" CPPFLAGS="$cppflags" ./configure -q --prefix="$inst" --with-ssl=openssl \
       --enable-tap-tests --without-readline --without-zlib --without-icu >"$B/$t/configure.log" 2>&1) ||
      { tail -20 "$B/$t/configure.log"; return 1; }
    echo "$stamp" > "$src/.hotssl-stamp"
  fi
  if [ "$t" != stock ]; then
    # The hotssl server: this folder's file, selected by src/Makefile.custom.
    cp "$HERE/be-secure-hotssl.c" "$src/src/backend/libpq/be-secure-hotssl.c"
    cp "$HERE"/t/*.pl "$src/src/test/ssl/t/"
    cat > "$src/src/Makefile.custom.new" <<EOF
# Written by integrations/postgresql/run.sh: the server's TLS on hotssl.
with_hotssl = yes
override CPPFLAGS := -DUSE_HOTSSL -I$ROOT/include $MBEDTLS_CPPFLAGS \$(CPPFLAGS)
ifeq (\$(subdir),src/backend)
LIBS += $B/hotssl/libhotssl.a $MBEDTLS_LIBS -lapr-1 -lpthread
endif
# src/test/ssl's harness picks SSL::Backend::Hotssl
export PG_TEST_SSL_SERVER = hotssl
EOF
    # Only a changed file makes make rebuild everything.
    cmp -s "$src/src/Makefile.custom.new" "$src/src/Makefile.custom" 2>/dev/null ||
      mv "$src/src/Makefile.custom.new" "$src/src/Makefile.custom"
    rm -f "$src/src/Makefile.custom.new"
    # A new libhotssl.a relinks postgres.
    [ "$B/hotssl/libhotssl.a" -nt "$src/src/backend/postgres" ] && rm -f "$src/src/backend/postgres"
  fi
  step "$t: make"
  (cd "$src" && make -s -j"$JOBS" >"$B/$t/make.log" 2>&1 &&
     make -s -C contrib/sslinfo >>"$B/$t/make.log" 2>&1) || { tail -40 "$B/$t/make.log"; return 1; }
  step "$t: make install -> ${inst#"$ROOT"/}"
  (cd "$src" && make -s install >"$B/$t/install.log" 2>&1 &&
     make -s -C contrib/sslinfo install >>"$B/$t/install.log" 2>&1) || { tail -40 "$B/$t/install.log"; return 1; }
}

for t in $trees; do
  build_tree "$t"
done
if [ $build_only = 1 ]; then
  step "built: $(for t in $trees; do printf '%s ' "${B#"$ROOT"/}/$t/install"; done)"
  exit 0
fi

# ---- 4. tests ----
# As root (CI) the tests run as an unprivileged user (pguser.sh), from a staging
# folder under /tmp that the user can reach (a checkout under /root would not
# be), holding what `make installcheck` uses: the installed tree (PostgreSQL
# is relocatable), src/test/perl, src/test/ssl and pg_regress.
. "$HERE/pguser.sh"
status=0
for t in $trees; do
  src=$B/$t/src
  step "$t: src/test/ssl (prove, as make installcheck runs it)"
  stage=$(mktemp -d /tmp/hotssl-pgtest-XXXXXX)
  mkdir -p "$stage/src/test/regress"
  cp -a "$B/$t/install" "$stage/install"
  cp -a "$src/src/test/perl" "$src/src/test/ssl" "$stage/src/test/"
  cp -a "$src/src/test/regress/pg_regress" "$stage/src/test/regress/"
  rm -rf "$stage/src/test/ssl/tmp_check"
  mkdir -p "$stage/src/test/ssl/tmp_check"
  chmod 755 "$stage"
  [ "$(id -u)" = 0 ] && chown -R "$TEST_USER" "$stage"
  server=""
  [ "$t" != stock ] && server=hotssl
  if (cd "$stage/src/test/ssl" && as_pg env TESTDIR="$stage/src/test/ssl" \
        PATH="$stage/install/bin:$stage/src/test/ssl:$PATH" PGPORT=65432 \
        top_builddir="$stage" PG_REGRESS="$stage/src/test/regress/pg_regress" \
        with_ssl=openssl PG_TEST_SSL_SERVER=$server \
        prove -I ../../../src/test/perl/ -I . --timer ${PROVE_TESTS:-t/*.pl} >"$B/$t/prove.log" 2>&1); then
    :
  else
    status=1
  fi
  rm -rf "$B/$t/test-logs"
  cp -a "$stage/src/test/ssl/tmp_check/log" "$B/$t/test-logs"
  rm -rf "$stage"
  # prove's own lines: one per file, Files=/Tests=, Result:
  grep -E '^\[|^t/|^Files=|^Result:|^Test Summary|Failed|^  Non-zero' "$B/$t/prove.log" || tail -30 "$B/$t/prove.log"
done
step "tests done"
# The README's walk-through, on each hotssl tree
for t in $trees; do
  [ "$t" = stock ] && continue
  step "$t: demo.sh (initdb, pg_ctl start, rotation without reload)"
  sh "$HERE/demo.sh" "$t" >"$B/$t/demo.log" 2>&1 || { cat "$B/$t/demo.log"; status=1; }
  grep -E '^# demo OK|^SSL configuration' "$B/$t/demo.log" || true
done
python3 "$HERE/summarize.py" "$HERE/expected-skips" "$B" $trees || status=1
step "total"
exit $status
