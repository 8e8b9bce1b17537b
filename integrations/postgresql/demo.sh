#!/bin/sh
# The installed PostgreSQL-on-hotssl server, used as a user would: initdb,
# pg_ctl start with TLS, psql over TLS, then a certificate rotation by
# rename-over that needs no pg_ctl reload, then a broken key that changes
# nothing. Everything lives in a temporary folder and is removed at the end.
#
#   sh integrations/postgresql/demo.sh [fork|exec]     (default: fork)
#
# Needs `run.sh --build-only` first. PostgreSQL refuses to run as root: as
# root, the server runs as the unprivileged user run.sh's tests use.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
tree=${1:-fork}
BIN=$HERE/build/$tree/install/bin
[ -x "$BIN/postgres" ] || { echo "demo.sh: $BIN/postgres missing: run 'sh integrations/postgresql/run.sh --build-only' first" >&2; exit 1; }
. "$HERE/pguser.sh"
W=$(mktemp -d /tmp/hotssl-pgdemo-XXXXXX)
chmod 755 "$W"
if [ "$(id -u)" = 0 ]; then
  # The server's user must reach the binaries: a checkout under /root would
  # not let it. PostgreSQL's installed tree is relocatable.
  cp -a "$HERE/build/$tree/install" "$W/install"
  BIN=$W/install/bin
fi
D=$W/data
PORT=${PGDEMO_PORT:-54329}
cleanup() {
  as_pg "$BIN/pg_ctl" -D "$D" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT INT TERM
say() { printf '\n# %s\n' "$*"; }

say "certificates: one CA, two server certificates (serials 1001 and 2002)"
cd "$W"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=demo CA" -keyout ca.key -out ca.crt 2>/dev/null
for s in 1001 2002; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "s$s.key" -out "s$s.csr" 2>/dev/null
  openssl x509 -req -in "s$s.csr" -CA ca.crt -CAkey ca.key -set_serial "$s" -days 30 \
    -out "s$s.crt" 2>/dev/null
done
[ "$(id -u)" = 0 ] && chown -R "$TEST_USER" "$W"

say "initdb and pg_ctl start ($tree build: $BIN)"
as_pg "$BIN/initdb" -D "$D" -U postgres --auth=trust >/dev/null
as_pg cp s1001.crt "$D/server.crt"
as_pg cp s1001.key "$D/server.key"
chmod 600 "$D/server.key"
cat >> "$D/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$W'
ssl = on
EOF
as_pg "$BIN/pg_ctl" -D "$D" -l "$D/log" -w start >/dev/null
pm_pid=$(head -1 "$D/postmaster.pid")
conn="host=localhost hostaddr=127.0.0.1 port=$PORT user=postgres dbname=postgres sslmode=verify-full sslrootcert=$W/ca.crt"
as_pg "$BIN/psql" -XAtq -d "$conn" -c "SELECT 'connected: ssl=' || ssl || ', ' || version || ', ' || cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()"

served() { # the serial a new TLS connection is served
  openssl s_client -starttls postgres -connect "127.0.0.1:$PORT" </dev/null 2>/dev/null |
    openssl x509 -noout -serial | sed 's/serial=//'
}
wait_serial() { # serial (hex): a condition with a deadline, not a fixed sleep
  i=0
  while [ "$(served)" != "$1" ]; do
    i=$((i + 1))
    [ $i -lt 600 ] || { echo "demo.sh: serial $1 never served" >&2; exit 1; }
    sleep 0.1
  done
}
echo "served serial: $(served)"

say "rotation: rename the new pair over the old one; no pg_ctl reload"
as_pg cp s2002.key "$D/server.key.new"
chmod 600 "$D/server.key.new"
as_pg cp s2002.crt "$D/server.crt.new"
as_pg mv "$D/server.key.new" "$D/server.key"
as_pg mv "$D/server.crt.new" "$D/server.crt"
wait_serial 07D2
echo "served serial: $(served)"
grep -o 'SSL configuration reloaded.*' "$D/log" | tail -1

say "a key that does not match: nothing changes, the log names the file"
as_pg cp s1001.key "$D/server.key.new"
chmod 600 "$D/server.key.new"
as_pg mv "$D/server.key.new" "$D/server.key"
i=0
until grep -q 'SSL configuration was not reloaded' "$D/log"; do
  i=$((i + 1)); [ $i -lt 600 ] || { echo "demo.sh: no 'not reloaded' line" >&2; exit 1; }
  sleep 0.1
done
grep -o 'SSL configuration was not reloaded.*' "$D/log" | tail -1
echo "served serial: $(served)"
[ "$(served)" = 07D2 ] || { echo "demo.sh: the last good pair is not served" >&2; exit 1; }
as_pg "$BIN/psql" -XAtq -d "$conn" -c "SELECT 'a new connection: ssl=' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"

[ "$(head -1 "$D/postmaster.pid")" = "$pm_pid" ] || { echo "demo.sh: the postmaster changed" >&2; exit 1; }
say "demo OK: the same postmaster (pid $pm_pid) served both certificates"
