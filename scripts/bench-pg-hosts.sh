#!/usr/bin/env bash
# The measured limits of doc/scale-out.md (issue 18): 1, 2 and 3 hosts loading at once into
# one PostgreSQL server. The 1M data set (bench-data/1m: 10 event files of 100k events and
# the reference exports) is split over one drop folder per host (the reference files in the
# first); each host is a `podpiped --once` named by PODPIPE_HOST_NAME, all started together
# into a fresh database of a throwaway server (initdb in a temporary folder, Unix socket,
# fsync off, as `make bench`). Hosts and server share this machine's cores.
#
# Per host: its wall time (the pass and its gold refresh) and its files' load time (the
# ledger's duration_ms summed: the ingest alone); events/s = its events / its load time.
# For the server: every event / the longest host wall time (the run), and the same with the
# longest load time (the ingest alone).
#
# Usage: scripts/bench-pg-hosts.sh [BIN_DIR] (default: the release build in .build-rel)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/pg-throwaway.sh
. scripts/lib/pg-throwaway.sh
BIN=${1:-$(swift build -c release --scratch-path .build-rel --show-bin-path)}
DATA=${BENCH_DATA:-bench-data}/1m
[ -d "$DATA" ] || { echo "no $DATA: run make bench first (it generates bench-data/)" >&2; exit 1; }
W=$(mktemp -d /tmp/podpipe-bench-hosts.XXXXXX); chmod 755 "$W"
PGDIR=$W/pg; mkdir -p "$PGDIR"
pg_throwaway "$PGDIR"
trap 'kill $PGPID 2>/dev/null || true; wait $PGPID 2>/dev/null || true; rm -rf "$W"' EXIT
psql_() { PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -qAt -h "$PGDIR" -p "$PGPORT" -U postgres -d "$1" -c "$2"; }
uri() { echo "postgresql:///$1?host=$PGDIR&port=$PGPORT&user=postgres"; }

EVENTS=$(cd "$DATA" && ls events-*.ndjson* | sort)
printf '%-6s %-7s %9s %9s %8s %12s\n' hosts host events wall_s load_s events/s
for HOSTS in ${HOSTS_LIST:-1 2 3}; do
  psql_ postgres "DROP DATABASE IF EXISTS hosts$HOSTS" >/dev/null
  psql_ postgres "CREATE DATABASE hosts$HOSTS" >/dev/null
  # Migrate once before the clock starts (hosts starting at once wait for each other).
  mkdir -p "$W/empty"
  "$BIN/podpiped" --once --data-load "$W/empty" --database "$(uri hosts$HOSTS)" 2>/dev/null
  for h in $(seq 1 "$HOSTS"); do rm -rf "$W/h$h"; mkdir -p "$W/h$h"; done
  cp "$DATA"/*.csv "$W/h1/"
  i=0
  for f in $EVENTS; do cp "$DATA/$f" "$W/h$((i % HOSTS + 1))/"; i=$((i + 1)); done
  pids=()
  for h in $(seq 1 "$HOSTS"); do
    ( start=$(date +%s.%N)
      PODPIPE_HOST_NAME=host-$h "$BIN/podpiped" --once --data-load "$W/h$h" \
        --database "$(uri hosts$HOSTS)" 2>"$W/h$h.log" \
        || { echo "host-$h: podpiped exited $?:" >&2; grep -v ' info ' "$W/h$h.log" | tail -5 >&2; }
      echo "$(date +%s.%N) - $start" | bc >"$W/h$h.wall" ) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  total_events=0; max_wall=0; max_load=0
  for h in $(seq 1 "$HOSTS"); do
    read -r events load < <(psql_ "hosts$HOSTS" \
      "SELECT sum(rows_read), sum(duration_ms) / 1000.0 FROM ingest_file WHERE host = 'host-$h' AND kind = 'events'" | tr '|' ' ')
    wall=$(cat "$W/h$h.wall")
    printf '%-6s %-7s %9d %9.1f %8.1f %12.0f\n' "$HOSTS" "host-$h" "$events" "$wall" "$load" \
      "$(echo "$events / $load" | bc -l)"
    total_events=$((total_events + events))
    max_wall=$(echo "if ($wall > $max_wall) $wall else $max_wall" | bc -l)
    max_load=$(echo "if ($load > $max_load) $load else $max_load" | bc -l)
  done
  loaded=$(psql_ "hosts$HOSTS" "SELECT count(*) FROM ingest_file WHERE state = 'loaded'")
  printf '%-6s %-7s %9d %9.1f %8.1f %12.0f  (server: by wall %.0f events/s; %s files loaded)\n' \
    "$HOSTS" all "$total_events" "$max_wall" "$max_load" "$(echo "$total_events / $max_load" | bc -l)" \
    "$(echo "$total_events / $max_wall" | bc -l)" "$loaded"
done
