#!/bin/sh
# Fetch a Debian source package's files (orig tarball, debian tarball, .dsc)
# from a given Debian suite, without touching the system's apt sources.
#   sh tools/fetch-source.sh PACKAGE SUITE DESTDIR
# e.g. sh tools/fetch-source.sh mbedtls trixie .deps/src
# The archive URI is read from the system's own
# /etc/apt/sources.list.d/debian.sources (or sources.list); no registry host
# is written into any file of this project. A private apt configuration
# (source list, lists directory) lives under DESTDIR/.apt.
set -eu
pkg=$1 suite=$2 dest=$3
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
uri=""
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
        /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
  uri=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list)
fi
[ -n "$uri" ] || { echo "fetch-source: no Debian archive URI in the system's apt sources" >&2; exit 1; }
apt_dir="$dest/.apt"
mkdir -p "$apt_dir/lists/partial"
printf 'deb-src [trusted=yes] %s %s main\n' "$uri" "$suite" > "$apt_dir/sources.list"
opts="-o Dir::Etc::SourceList=$apt_dir/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$apt_dir/lists -o APT::Sandbox::User=root"
# apt's own lock can be held by another apt process: wait for it.
# shellcheck disable=SC2086
apt-get $opts -o DPkg::Lock::Timeout=300 -qq update
cd "$dest"
# shellcheck disable=SC2086
apt-get $opts -qq source --download-only "$pkg"
