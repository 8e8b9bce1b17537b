#!/bin/sh
# The layering rules of the source tree, checked on the include lines:
#   - os/ is the bottom layer: no file under os/ includes anything from
#     core/, platform/, watcher/ or cli/ (os/ uses the C library, APR, system
#     headers and the public include/hotssl/ headers only);
#   - core/ includes nothing from platform/, watcher/ or cli/;
#   - core/ has no #if/#ifdef on _WIN32 (what differs per OS is os/'s);
#   - core/'s modules form no circle: module X (core/X.c and core/X.h)
#     depends on module Y when X.c or X.h includes core/Y.h, and no module
#     may depend on itself through others (a circle among headers is one).
# A quoted include is resolved as the compiler does: beside the including
# file first, then in include/ and core/ (the library's include folders).
# Prints one line per violation (file:line: what) and exits 1, else exits 0.
#   tools/check-layers.sh [DIR]     check the tree at DIR (default: this one)
#   tools/check-layers.sh --self-test
#       copy the tree's folders to a temporary directory, inject each kind of
#       violation once into a fresh copy, and check that each is reported
#       and that the clean copy passes.
# Run by tools/test.sh before the test suites; POSIX sh, find and awk.
set -u

check() { # root directory
  (
    cd "$1" || exit 2
    known=$(mktemp) || exit 2
    find os core platform watcher cli include -type f 2>/dev/null > "$known"
    # shellcheck disable=SC2046 # the tree's file names have no blanks
    set -- $(find os core -type f -name '*.[ch]' 2>/dev/null | sort)
    awk -v known="$known" '
      BEGIN {
        while ((getline f < known) > 0)
          exists[f] = 1
        close(known)
        bad = 0
        sp = 0
      }
      # a/b/../c -> a/c; "./" and empty parts dropped.
      function norm(p,   n, a, i, k, st, out) {
        n = split(p, a, "/")
        k = 0
        for (i = 1; i <= n; i++) {
          if (a[i] == "" || a[i] == ".")
            continue
          if (a[i] == ".." && k > 0 && st[k] != "..") {
            k--
            continue
          }
          st[++k] = a[i]
        }
        out = ""
        for (i = 1; i <= k; i++)
          out = out (i > 1 ? "/" : "") st[i]
        return out
      }
      function dirname(p) {
        return p ~ /\// ? substr(p, 1, match(p, /\/[^\/]*$/) - 1) : "."
      }
      function resolve(file, inc,   p) {
        p = norm(dirname(file) "/" inc)
        if (p in exists) return p
        if (norm("include/" inc) in exists) return norm("include/" inc)
        if (norm("core/" inc) in exists) return norm("core/" inc)
        return p
      }
      function report(msg) {
        print msg
        bad = 1
      }
      function dfs(u,   i, v, j, k, cyc) {
        color[u] = 1
        stack[++sp] = u
        for (i = 1; i <= nout[u]; i++) {
          v = out[u, i]
          if (color[v] == 1) {
            for (j = sp; stack[j] != v; j--)
              ;
            cyc = stack[j]
            for (k = j + 1; k <= sp; k++)
              cyc = cyc " -> " stack[k]
            report(eline[u, v] ": include circle among core/ modules: " cyc " -> " v)
          } else if (color[v] == 0) {
            dfs(v)
          }
        }
        sp--
        color[u] = 2
      }
      # core/X.c and core/X.h are module core/X.
      function module(p) {
        sub(/\.[ch]$/, "", p)
        return p
      }
      FNR == 1 {
        top = FILENAME
        sub(/\/.*/, "", top)
        if (top == "core" && FILENAME ~ /^core\/[^\/]*\.[ch]$/ && !(module(FILENAME) in seen)) {
          seen[module(FILENAME)] = 1
          modules[++nm] = module(FILENAME)
        }
      }
      /^[ \t]*#[ \t]*include[ \t]*"/ {
        inc = $0
        sub(/^[^"]*"/, "", inc)
        sub(/".*/, "", inc)
        to = resolve(FILENAME, inc)
        totop = to
        sub(/\/.*/, "", totop)
        if (top == "os" && totop ~ /^(core|platform|watcher|cli)$/)
          report(FILENAME ":" FNR ": os/ includes \"" inc "\" (" to "): os/ is the bottom layer")
        if (top == "core" && totop ~ /^(platform|watcher|cli)$/)
          report(FILENAME ":" FNR ": core/ includes \"" inc "\" (" to "): " totop "/ is above core/")
        if (top == "core" && FILENAME ~ /^core\/[^\/]*\.[ch]$/ && to ~ /^core\/[^\/]*\.h$/) {
          mu = module(FILENAME)
          mv = module(to)
          if (mu != mv && !((mu, mv) in eline)) {
            out[mu, ++nout[mu]] = mv
            eline[mu, mv] = FILENAME ":" FNR
          }
        }
      }
      top == "core" && /^[ \t]*#[ \t]*(if|ifdef|ifndef|elif)([^A-Za-z0-9_].*)?[^A-Za-z0-9_]_WIN32([^A-Za-z0-9_]|$)/ {
        report(FILENAME ":" FNR ": _WIN32 conditional in core/: what differs per OS belongs in os/")
      }
      END {
        for (h = 1; h <= nm; h++)
          if (color[modules[h]] == 0)
            dfs(modules[h])
        exit bad
      }' "$@"
    rc=$?
    rm -f "$known"
    exit $rc
  )
}

self_test() {
  root=$(cd "$(dirname "$0")/.." && pwd)
  tmp=$(mktemp -d) || exit 2
  trap 'rm -rf "$tmp"' EXIT
  mkdir "$tmp/clean"
  for d in os core platform watcher cli include; do
    [ -d "$root/$d" ] && cp -R "$root/$d" "$tmp/clean/"
  done
  fail=0
  if ! out=$(check "$tmp/clean"); then
    echo "check-layers self-test: the clean copy fails:"
    echo "$out"
    fail=1
  fi
  n=0
  # case name | file:line the report must name | the injection (run in the copy)
  for c in os-includes-core core-includes-platform win32-in-core header-circle module-circle; do
    n=$((n + 1))
    copy="$tmp/case$n"
    cp -R "$tmp/clean" "$copy"
    case $c in
    os-includes-core)
      want="os/file.c:1:"
      { echo '#include "../core/internal.h"'; cat "$copy/os/file.c"; } > "$copy/x" && mv "$copy/x" "$copy/os/file.c" ;;
    core-includes-platform)
      want="core/util.c:1:"
      { echo '#include "../platform/spawn.h"'; cat "$copy/core/util.c"; } > "$copy/x" && mv "$copy/x" "$copy/core/util.c" ;;
    win32-in-core)
      want="core/util.c:1:"
      { printf '#ifdef _WIN32\n#endif\n'; cat "$copy/core/util.c"; } > "$copy/x" && mv "$copy/x" "$copy/core/util.c" ;;
    header-circle)
      want="include circle"
      printf '#include "layers_b.h"\n' > "$copy/core/layers_a.h"
      printf '#include "layers_a.h"\n' > "$copy/core/layers_b.h" ;;
    module-circle)
      # No circle among the headers: the sources close it.
      want="include circle among core/ modules: core/layers_"
      : > "$copy/core/layers_a.h"
      : > "$copy/core/layers_b.h"
      printf '#include "layers_b.h"\n' > "$copy/core/layers_a.c"
      printf '#include "layers_a.h"\n' > "$copy/core/layers_b.c" ;;
    esac
    if out=$(check "$copy"); then
      echo "check-layers self-test: $c: not reported"
      fail=1
    elif ! echo "$out" | grep -q "$want"; then
      echo "check-layers self-test: $c: reported without \"$want\":"
      echo "$out"
      fail=1
    else
      echo "check-layers self-test: $c: reported: $(echo "$out" | head -n 1)"
    fi
  done
  [ $fail -eq 0 ] && echo "check-layers self-test: passed"
  return $fail
}

case ${1:-} in
--self-test) self_test ;;
"") check "$(cd "$(dirname "$0")/.." && pwd)" ;;
*) check "$1" ;;
esac
