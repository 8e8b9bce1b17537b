#!/bin/sh
# Install what hotssl needs to build, test and run its demo, from Debian's
# packages. Idempotent; needs root (apt-get).
set -eu
PKGS="build-essential clang cmake pkg-config libmbedtls-dev libapr1-dev openssl curl python3 valgrind git util-linux procps"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
