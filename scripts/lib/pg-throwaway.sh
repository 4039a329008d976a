# shellcheck shell=bash
# Sourced by scripts/bench.sh and scripts/bench-pg-hosts.sh. `pg_throwaway DIR` starts a
# throwaway PostgreSQL server: initdb into DIR/data, a Unix socket in DIR only, fsync off as
# in the tests; run as postgres when this runs as root (DIR, from mktemp, is private to its
# owner). Sets PGBIN, PGPORT and PGPID; the caller stops it (kill "$PGPID") and removes DIR.
pg_throwaway() {
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -x "$PGBIN/initdb" ] || { echo "no PostgreSQL server (apt-get install postgresql)" >&2; return 1; }
  PGPORT=$((20000 + $$ % 20000))
  local as="" tries=0
  if [ "$(id -u)" = 0 ]; then chown postgres "$1"; as="runuser -u postgres --"; fi
  $as "$PGBIN/initdb" -D "$1/data" -U postgres --auth=trust -E UTF8 >/dev/null
  $as "$PGBIN/postgres" -D "$1/data" -k "$1" -p "$PGPORT" -c listen_addresses= \
    -c fsync=off >"$1/server.log" 2>&1 &
  PGPID=$!
  until "$PGBIN/pg_isready" -q -h "$1" -p "$PGPORT"; do
    tries=$((tries + 1))
    [ "$tries" -lt 300 ] || { echo "the throwaway PostgreSQL server did not start: $1/server.log" >&2; return 1; }
    sleep 0.2
  done
}
