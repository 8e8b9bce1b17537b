# Sourced by run.sh and demo.sh. PostgreSQL refuses to run as root: as root
# (CI), its processes run as an unprivileged user, created once (no home, no
# shell); as anyone else, as that user. as_pg CMD... runs CMD so.
TEST_USER=hotssl-pgtest
if [ "$(id -u)" = 0 ]; then
  id -u "$TEST_USER" >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$TEST_USER"
  as_pg() { runuser -u "$TEST_USER" -- "$@"; }
else
  as_pg() { "$@"; }
fi
