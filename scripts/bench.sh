#!/usr/bin/env bash
# make bench: podpipe against a plain DuckDB script on the same generated files (issue 5).
#
#   1. podpiped --once, 1M events in 10 NDJSON files (+ users, episodes) into a fresh database
#   2. the same plus one more 100k-event file (incremental), gold included
#   3. gold refresh alone after one 10k-event file on a 10M-event database   (BENCH_10M=1)
#   4. one 1 GB NDJSON file (peak RSS is the point)                           (BENCH_1GB=1)
#   5. podpipectl status on the 10M-event database                             (BENCH_10M=1)
#   6. scripts/duckdb_pipeline.py doing 1 and 2 (and 2b, +100k of the following week), and the ratios
#
# Each figure is the median of RUNS runs (default 3), wall seconds and peak RSS from
# /usr/bin/time. Data sets are generated deterministically and cached in bench-data/.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
DATA=${BENCH_DATA:-bench-data}
mkdir -p "$DATA"

swift build -c release --product podpiped >/dev/null
swift build -c release --product podpipectl >/dev/null
BIN=$(swift build -c release --show-bin-path)
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

if [ ! -x "$DATA/venv/bin/python" ]; then
  python3 -m venv "$DATA/venv"
  "$DATA/venv/bin/pip" install -q duckdb
fi
PY="$DATA/venv/bin/python"

gen() { # gen DIR EVENTS FILES SEED
  if [ ! -f "$1/.done" ]; then
    rm -rf "$1"
    "$BIN/podpipectl" generate --out "$1" --events "$2" --files "$3" --seed "$4" \
      --users 10000 --episodes 2000 --gzip-files 0 --days 365 --start-day 2023-01-01 >/dev/null
    touch "$1/.done"
  fi
}
gen "$DATA/1m" 1000000 10 1
gen "$DATA/inc" 100000 1 2
# The incremental file: only its events (its reference files would reload users).
INC=$(ls "$DATA/inc"/events-*.ndjson | head -1)

# measure LABEL -- command… : prints "wall rss_kb" medians over RUNS; SETUP runs before each.
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() {
  local label=$1; shift; shift
  local walls=() rsss=() golds=() batches=()
  for _ in $(seq "$RUNS"); do
    eval "${SETUP:-true}"
    # The set-up's copies leave dirty pages in the OS cache; flush them outside the timing,
    # or the first fsync of a copied database (a checkpoint) pays for writing the copy back.
    sync
    local out
    /usr/bin/time -f "%e %M" -o /tmp/bench.time "$@" >/dev/null 2>/tmp/bench.err || {
      echo "$label failed:" >&2; tail -5 /tmp/bench.err >&2; exit 1; }
    out=$(tail -1 /tmp/bench.time)
    walls+=("$(echo "$out" | awk '{print $1}')")
    rsss+=("$(echo "$out" | awk '{print $2}')")
    # podpiped logs the gold refresh's own duration: the gold part of the wall time.
    golds+=("$(grep -o 'duration_ms=[0-9]* event=gold_refreshed' /tmp/bench.err | grep -o '[0-9]*' | head -1 || true)")
    # An incremental refresh says where its batch came from: gathered while the file loaded
    # (GoldPrefetch) or scanned from silver (the fallback, slower).
    batches+=("$(grep -o 'batch=[a-z]*' /tmp/bench.err | head -1 | cut -d= -f2 || true)")
  done
  local w r g
  w=$(printf '%s\n' "${walls[@]}" | median)
  r=$(printf '%s\n' "${rsss[@]}" | median)
  g=$(printf '%s\n' "${golds[@]}" | grep . | median || true)
  local b
  b=$(printf '%s\n' "${batches[@]}" | grep . | sort | uniq -c | awk '{s = s (NR > 1 ? ", " : "") $2 " ×" $1} END {printf "%s", s}' || true)
  printf '%-44s %8.2f s %8.0f MB %s%s\n' "$label" "$w" "$((r / 1024))" "${g:+  (gold refresh ${g} ms)}" \
    "${b:+ [batch: $b]}"
  echo "$w" > "/tmp/bench.$label.wall"
}

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
printf '%-44s %10s %11s\n' "measurement (median of $RUNS)" "wall" "peak RSS"

SETUP="rm -rf $W/db* $W/in && cp -r $DATA/1m $W/in && rm -f $W/in/.done"
measure podpipe-1m -- "$BIN/podpiped" --once --data-load "$W/in" --database "$W/db.sqlite"
SETUP="rm -rf $W/duck* $W/in && cp -r $DATA/1m $W/in && rm -f $W/in/.done"
measure duckdb-1m -- "$PY" scripts/duckdb_pipeline.py --db "$W/duck.db" --data "$W/in"

# Incremental: a database holding the 1M, plus the 100k file under a new name. Copies keep
# their timestamps (cp -a), as a drop folder's files do between two passes.
rm -rf "$W/base" && mkdir -p "$W/base" && cp -a "$DATA/1m" "$W/base/in" && rm -f "$W/base/in/.done"
"$BIN/podpiped" --once --data-load "$W/base/in" --database "$W/base/db.sqlite" 2>/dev/null
"$PY" scripts/duckdb_pipeline.py --db "$W/base/duck.db" --data "$W/base/in" 2>/dev/null
SETUP="rm -rf $W/i && cp -a $W/base $W/i && cp $INC $W/i/in/events-0011.ndjson"
measure podpipe-plus-100k -- "$BIN/podpiped" --once --data-load "$W/i/in" --database "$W/i/db.sqlite"
measure duckdb-plus-100k -- "$PY" scripts/duckdb_pipeline.py --db "$W/i/duck.db" --data "$W/i/in"

# The same with the typical increment: 100k events of the week after the history (they
# append to silver's natural-key index instead of landing between its entries, as the
# year-long file above does).
if [ ! -f "$DATA/next/.done" ]; then
  rm -rf "$DATA/next"
  "$BIN/podpipectl" generate --out "$DATA/next" --events 100000 --files 1 --seed 6 \
    --users 10000 --episodes 2000 --gzip-files 0 --days 7 --start-day 2024-01-01 >/dev/null
  touch "$DATA/next/.done"
fi
SETUP="rm -rf $W/i && cp -a $W/base $W/i && cp $DATA/next/events-0001.ndjson $W/i/in/events-0011.ndjson"
measure podpipe-plus-100k-next-week -- "$BIN/podpiped" --once --data-load "$W/i/in" --database "$W/i/db.sqlite"
measure duckdb-plus-100k-next-week -- "$PY" scripts/duckdb_pipeline.py --db "$W/i/duck.db" --data "$W/i/in"

awk -v a="$(cat /tmp/bench.podpipe-1m.wall)" -v b="$(cat /tmp/bench.duckdb-1m.wall)" \
  'BEGIN {printf "ratio podpipe/duckdb, 1M fresh:        %.2f\n", a / b}'
awk -v a="$(cat /tmp/bench.podpipe-plus-100k.wall)" -v b="$(cat /tmp/bench.duckdb-plus-100k.wall)" \
  'BEGIN {printf "ratio podpipe/duckdb, +100k incremental: %.2f\n", a / b}'
awk -v a="$(cat /tmp/bench.podpipe-plus-100k-next-week.wall)" \
  -v b="$(cat /tmp/bench.duckdb-plus-100k-next-week.wall)" \
  'BEGIN {printf "ratio podpipe/duckdb, +100k of the next week: %.2f\n", a / b}'

if [ "${BENCH_1GB:-0}" = 1 ]; then
  gen "$DATA/1gb" 8000000 1 3
  SETUP="rm -rf $W/g && mkdir -p $W/g && ln $DATA/1gb/events-0001.ndjson $W/g/ 2>/dev/null || cp $DATA/1gb/events-0001.ndjson $W/g/"
  RUNS=1 measure podpipe-1gb-file -- "$BIN/podpiped" --once --data-load "$W/g" --database "$W/g.sqlite"
fi

if [ "${BENCH_10M:-0}" = 1 ]; then
  gen "$DATA/10m" 10000000 100 4
  gen "$DATA/10k" 10000 1 5
  if [ ! -f "$DATA/10m.sqlite.done" ]; then
    rm -f "$DATA"/10m.sqlite*
    "$BIN/podpiped" --once --data-load "$DATA/10m" --database "$DATA/10m.sqlite" 2>/dev/null
    touch "$DATA/10m.sqlite.done"
  fi
  # Bring the cached database to this build's schema once (a pass over an empty folder runs
  # the pending migrations and checkpoints the WAL), so that no timed run migrates it.
  mkdir -p "$W/empty"
  "$BIN/podpiped" --once --data-load "$W/empty" --database "$DATA/10m.sqlite" 2>/dev/null
  SETUP="rm -rf $W/t && mkdir -p $W/t/in && cp $DATA/10m.sqlite $W/t/db.sqlite && cp $(ls $DATA/10k/events-*.ndjson | head -1) $W/t/in/events-0101.ndjson"
  measure podpipe-10k-on-10m -- "$BIN/podpiped" --once --data-load "$W/t/in" --database "$W/t/db.sqlite"
  SETUP=true
  measure status-10m -- "$BIN/podpipectl" --database "$DATA/10m.sqlite" --data-load "$DATA/10m" status --json
fi
