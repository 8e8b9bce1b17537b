#!/bin/sh
# Run one libFuzzer target for SECONDS over the committed corpus, writing new
# inputs to a temporary directory (the repository is not modified).
#   run.sh FUZZER SECONDS CORPUS_DIR
set -eu
work=$(mktemp -d /tmp/hotssl-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir new
"$1" -max_total_time="$2" -rss_limit_mb=2048 -timeout=20 new "$3"
