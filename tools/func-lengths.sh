#!/bin/sh
# Lengths of the C functions of the given files (default: the library's,
# core/ os/ platform/ watcher/), longest first: "lines file:line name".
# A function runs from its opening line (a line at column 0 that starts its
# declaration) to its closing brace at column 0.
#   tools/func-lengths.sh [FILE...]
set -u
cd "$(dirname "$0")/.." || exit 2
# shellcheck disable=SC2046 # the tree's file names have no blanks
[ $# -gt 0 ] || set -- $(find core os platform watcher -type f -name '*.c' | sort)
awk '
  FNR == 1 { start = 0; infn = 0; text = "" }
  infn {
    if ($0 ~ /^}/) {
      printf "%d %s:%d %s\n", FNR - start + 1, FILENAME, start, name
      infn = 0
      start = 0
    }
    next
  }
  /^[A-Za-z_]/ && start == 0 { start = FNR; text = "" }
  start > 0 {
    text = text " " $0
    if ($0 ~ /;[ \t]*$/ && text !~ /\{/) { start = 0; next }
    if ($0 ~ /\{[ \t]*$/) {
      if (text ~ /\(/ && text !~ /=[ \t]*\{/) {
        name = text
        sub(/\(.*/, "", name)
        sub(/.*[ *]/, "", name)
        infn = 1
      } else {
        start = 0
      }
    }
  }' "$@" | sort -k1,1nr
