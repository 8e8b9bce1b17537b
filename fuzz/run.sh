#!/bin/sh
# Run one libFuzzer target for SECONDS (FUZZ_S in the environment overrides
# it) over the committed corpus plus generated seeds, writing new inputs to a
# temporary directory (the repository is not modified). Prints libFuzzer's
# final statistics (stat::number_of_executed_units = executions).
#   run.sh FUZZER SECONDS CORPUS_DIR [SEEDS_PROGRAM TARGET [POSTGRESQL_SSL_DIR]]
set -eu
abs() { case $1 in /*) echo "$1" ;; *) echo "$(pwd)/$1" ;; esac; }
fuzzer=$(abs "$1")
corpus=$(abs "$3")
secs=${FUZZ_S:-$2}
work=$(mktemp -d /tmp/hotssl-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/new"
dirs="$corpus"
[ -d "$corpus" ] || { mkdir -p "$work/empty"; dirs="$work/empty"; }
if [ $# -ge 5 ]; then
  "$(abs "$4")" "$work/seeds" "${6:-}" >"$work/seeds.log" 2>&1 || { cat "$work/seeds.log"; exit 1; }
  [ -d "$work/seeds/$5" ] && dirs="$dirs $work/seeds/$5"
fi
cd "$work"
# shellcheck disable=SC2086
"$fuzzer" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 new $dirs
