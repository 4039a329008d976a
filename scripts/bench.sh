#!/usr/bin/env bash
# make bench: podpipe against a plain DuckDB script on the same generated files (issue 5).
#
#   1. podpiped --once, 1M events in 10 NDJSON files (+ users, episodes) into a fresh database
#   2. the same plus one more 100k-event file (incremental), gold included
#   3. gold refresh alone after one 10k-event file on a 10M-event database   (BENCH_10M=1)
#   4. one 1 GB NDJSON file (peak RSS is the point)                           (BENCH_1GB=1)
#   5. podpipectl status on the 10M-event database                             (BENCH_10M=1)
#   6. scripts/duckdb_pipeline.py doing 1 and 2 (and 2b, +100k of the following week), and the ratios
#   7. the same on data shaped like the seed sample (issue 15): each file spans the same four
#      months in random timestamp order, CRLF, with the seed sample's kinds of dirt only
#      (generate --faults seed): 1M fresh, +100k onto it; with BENCH_5M=1 also 5M fresh in
#      both shapes and +100k seed-shaped onto the seed-shaped 5M; and the time-ordered 1M of 1
#      with the seed sample's kinds of dirt (time-1m-seed-dirt), for both yardsticks
#   8. 1M fresh and +100k into a throwaway PostgreSQL server (initdb, Unix socket), beside
#      the SQLite figures of 1 and 2 (BENCH_PG=1; RUNS_PG, default 1)
#
# Beside the spec's job done by DuckDB (scripts/duckdb_pipeline.py), the seed-shaped cases are
# also run through the seed project's own pipeline as a plain DuckDB script (no
# de-duplication, no raw lines), which its users would run instead: it lives outside this
# repository, in ../shared/bench/seed_pipeline_duckdb.py (or SEED_YARDSTICK=path); without it,
# or with BENCH_SEED_PIPELINE=0, those columns are skipped. The time-ordered cases (1 to 6,
# and time-5m) keep the generator's full fault catalogue (lines that are not JSON, invalid
# UTF-8, not an object), at which the seed pipeline stops: they have no seed-pipeline
# columns; time-1m-seed-dirt is their time-ordered 1M with the seed's dirt, which has. Ratios are against the faster of the two. Fresh podpipe cases also print the
# ledger's load time of the first and the last event file (the growth with history).
#
# Each figure is the median of RUNS runs (default 3), wall seconds and peak RSS from
# /usr/bin/time. Data sets are generated deterministically and cached in bench-data/: each
# folder's .done holds the generate arguments, and a folder made with other arguments (or by
# an older script) is generated again.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/pg-throwaway.sh
. scripts/lib/pg-throwaway.sh
RUNS=${RUNS:-3}
DATA=${BENCH_DATA:-bench-data}
mkdir -p "$DATA"
rm -f /tmp/bench.*.wall

swift build -c release --product podpiped >/dev/null
swift build -c release --product podpipectl >/dev/null
BIN=$(swift build -c release --show-bin-path)
# BENCH_PODPIPED=path measures another podpiped (an A/B against an older build; copy its
# .resources bundles beside it) on the same data.
PODPIPED=${BENCH_PODPIPED:-$BIN/podpiped}
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

if [ ! -x "$DATA/venv/bin/python" ]; then
  python3 -m venv "$DATA/venv"
  "$DATA/venv/bin/pip" install -q duckdb
fi
PY="$DATA/venv/bin/python"

# cached DIR ARGS…: podpipectl generate ARGS into DIR, unless DIR/.done holds the same ARGS.
cached() {
  local dir=$1; shift
  if [ ! -f "$dir/.done" ] || [ "$(cat "$dir/.done")" != "$*" ]; then
    rm -rf "$dir"
    "$BIN/podpipectl" generate --out "$dir" "$@" >/dev/null
    printf '%s\n' "$*" > "$dir/.done"
  fi
}
gen() { # gen DIR EVENTS FILES SEED
  cached "$1" --events "$2" --files "$3" --seed "$4" \
    --users 10000 --episodes 2000 --gzip-files 0 --days 365 --start-day 2023-01-01
}
# gen_seed DIR EVENTS FILES SEED: shaped like the seed sample (four months, random order, CRLF,
# only its kinds of dirt: every line a JSON object).
gen_seed() {
  cached "$1" --events "$2" --files "$3" --seed "$4" \
    --users 10000 --episodes 2000 --gzip-files 0 --days 120 --start-day 2024-01-01 \
    --order random --line-ends crlf --faults seed
}
gen "$DATA/1m" 1000000 10 1
gen "$DATA/inc" 100000 1 2
gen_seed "$DATA/seed-1m" 1000000 10 11
gen_seed "$DATA/seed-inc" 100000 1 12
# The time-ordered 1M again with only the seed sample's kinds of dirt, so that the seed
# pipeline runs on the time-ordered shape too (issue 15's target for it is against the faster
# yardstick).
cached "$DATA/time-1m-seed-dirt" --events 1000000 --files 10 --seed 1 \
  --users 10000 --episodes 2000 --gzip-files 0 --days 365 --start-day 2023-01-01 --faults seed
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
    # A refresh says where its input came from: gathered while the files loaded
    # (GoldPrefetch: an incremental batch, or a full rebuild's aggregates) or scanned from
    # silver (the fallback, slower).
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

SEED_PY=${SEED_YARDSTICK:-../shared/bench/seed_pipeline_duckdb.py}
# The seed pipeline stops at the first malformed JSON, invalid UTF-8 or non-object line. The
# seed-shaped data sets carry the seed sample's kinds of dirt only (generate --faults seed),
# every line a JSON object, so it runs on them by default (BENCH_SEED_PIPELINE=0 skips it);
# the time-ordered ones keep the full fault catalogue and are not given to it.
if [ "${BENCH_SEED_PIPELINE:-1}" = 0 ]; then
  SEED_PY=
elif [ ! -f "$SEED_PY" ]; then
  echo "note: the seed yardstick $SEED_PY is missing (set SEED_YARDSTICK=path): seed-pipeline columns skipped" >&2
  SEED_PY=
fi
# seed_args DB DIR: the seed pipeline over a drop folder (loads only files it has not yet).
# Its strict CSV reader stops at the generator's dirty reference rows (a field too many, an
# impossible date) and reads columns by position (the second episodes file has another
# order), so it reads copies of the reference files: clean rows, the seed's column order.
seed_args() {
  mkdir -p "$2.ref"
  for f in "$2"/users.csv "$2"/episodes*.csv; do
    "$PY" - "$f" "$2.ref/$(basename "$f")" <<'PYEOF'
import csv, datetime, sys
def clean(header, row):
    if len(row) != len(header) or any(not v.strip() for v in row):
        return False
    for name, value in zip(header, row):
        try:
            if name.endswith("_date"):
                datetime.date.fromisoformat(value)
            elif name == "duration_seconds":
                int(value)
        except ValueError:
            return False
    return True
ORDER = {"users": ["user_id", "signup_date", "country"],
         "episodes": ["episode_id", "podcast_id", "title", "release_date", "duration_seconds"]}
with open(sys.argv[1], newline="") as src, open(sys.argv[2], "w", newline="") as out:
    rows = csv.reader(src)
    header = [h.strip() for h in next(rows)]
    order = ORDER["users" if "signup_date" in header else "episodes"]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(order)
    for r in rows:
        if clean(header, r):
            record = dict(zip(header, r))
            writer.writerow([record.get(name, "") for name in order])
PYEOF
  done
  SEED_ARGS=("$PY" "$SEED_PY" --db "$1" --events-glob "$2/events-*.ndjson"
    --episodes-glob "$2.ref/episodes*.csv" --users "$2.ref/users.csv")
}

# file_times DB: load time of the first and the last event file, from the ledger.
file_times() {
  "$PY" - "$1" <<'PYEOF'
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute(
    "SELECT duration_ms FROM ingest_file WHERE kind = 'events' AND state = 'loaded' ORDER BY file_id"
).fetchall()
if rows:
    print(f"    per-file load: first {rows[0][0]} ms, last {rows[-1][0]} ms ({len(rows)} files)")
PYEOF
}

# ratio LABEL PODPIPE DUCKDB [SEED]: podpipe against the faster yardstick.
ratio() {
  awk -v l="$1" -v a="$(cat "/tmp/bench.$2.wall")" -v b="$(cat "/tmp/bench.$3.wall")" \
    -v c="$( [ -n "${4:-}" ] && [ -f "/tmp/bench.$4.wall" ] && cat "/tmp/bench.$4.wall")" \
    'BEGIN {f = b; w = "duckdb script"; if (c != "" && c + 0 < f) {f = c; w = "seed pipeline"}
            printf "ratio podpipe/%s, %s: %.2f\n", w, l, a / f}'
}

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
printf '%-44s %10s %11s\n' "measurement (median of $RUNS)" "wall" "peak RSS"

SETUP="rm -rf $W/db* $W/in && cp -r $DATA/1m $W/in && rm -f $W/in/.done"
measure podpipe-1m -- "$PODPIPED" --once --data-load "$W/in" --database "$W/db.sqlite"
SETUP="rm -rf $W/duck* $W/in && cp -r $DATA/1m $W/in && rm -f $W/in/.done"
measure duckdb-1m -- "$PY" scripts/duckdb_pipeline.py --db "$W/duck.db" --data "$W/in"

# Incremental: a database holding the 1M, plus the 100k file under a new name. Copies keep
# their timestamps (cp -a), as a drop folder's files do between two passes.
rm -rf "$W/base" && mkdir -p "$W/base" && cp -a "$DATA/1m" "$W/base/in" && rm -f "$W/base/in/.done"
"$PODPIPED" --once --data-load "$W/base/in" --database "$W/base/db.sqlite" 2>/dev/null
"$PY" scripts/duckdb_pipeline.py --db "$W/base/duck.db" --data "$W/base/in" 2>/dev/null
SETUP="rm -rf $W/i && cp -a $W/base $W/i && cp $INC $W/i/in/events-0011.ndjson"
measure podpipe-plus-100k -- "$PODPIPED" --once --data-load "$W/i/in" --database "$W/i/db.sqlite"
measure duckdb-plus-100k -- "$PY" scripts/duckdb_pipeline.py --db "$W/i/duck.db" --data "$W/i/in"

# The same with the typical increment: 100k events of the week after the history (they
# append to silver's natural-key index instead of landing between its entries, as the
# year-long file above does).
cached "$DATA/next" --events 100000 --files 1 --seed 6 \
  --users 10000 --episodes 2000 --gzip-files 0 --days 7 --start-day 2024-01-01
SETUP="rm -rf $W/i && cp -a $W/base $W/i && cp $DATA/next/events-0001.ndjson $W/i/in/events-0011.ndjson"
measure podpipe-plus-100k-next-week -- "$PODPIPED" --once --data-load "$W/i/in" --database "$W/i/db.sqlite"
measure duckdb-plus-100k-next-week -- "$PY" scripts/duckdb_pipeline.py --db "$W/i/duck.db" --data "$W/i/in"

awk -v a="$(cat /tmp/bench.podpipe-1m.wall)" -v b="$(cat /tmp/bench.duckdb-1m.wall)" \
  'BEGIN {printf "ratio podpipe/duckdb, 1M fresh:        %.2f\n", a / b}'
awk -v a="$(cat /tmp/bench.podpipe-plus-100k.wall)" -v b="$(cat /tmp/bench.duckdb-plus-100k.wall)" \
  'BEGIN {printf "ratio podpipe/duckdb, +100k incremental: %.2f\n", a / b}'
awk -v a="$(cat /tmp/bench.podpipe-plus-100k-next-week.wall)" \
  -v b="$(cat /tmp/bench.duckdb-plus-100k-next-week.wall)" \
  'BEGIN {printf "ratio podpipe/duckdb, +100k of the next week: %.2f\n", a / b}'

# The seed shape (issue 15): every file spans the same four months in random order.
# fresh_case NAME DIR SHAPE [RUNS]: podpipe and the yardsticks on a fresh database; the seed
# pipeline only when SHAPE is seed (DIR has only the seed's dirt: generate --faults seed);
# the time shape's full fault catalogue has lines at which it stops.
fresh_case() {
  local name=$1 dir=$2 seed_py=$SEED_PY
  [ "$3" = seed ] || seed_py=
  RUNS=${4:-$RUNS}
  SETUP="rm -rf $W/db* $W/in && cp -r $dir $W/in && rm -f $W/in/.done"
  measure "podpipe-$name" -- "$PODPIPED" --once --data-load "$W/in" --database "$W/db.sqlite"
  file_times "$W/db.sqlite"
  SETUP="rm -rf $W/duck* $W/in && cp -r $dir $W/in && rm -f $W/in/.done"
  measure "duckdb-$name" -- "$PY" scripts/duckdb_pipeline.py --db "$W/duck.db" --data "$W/in"
  if [ -n "$seed_py" ]; then
    SETUP="rm -rf $W/seed* $W/in && cp -r $dir $W/in && rm -f $W/in/.done"
    seed_args "$W/seed.duckdb" "$W/in"
    measure "seed-$name" -- "${SEED_ARGS[@]}"
    ratio "$name fresh" "podpipe-$name" "duckdb-$name" "seed-$name"
  else
    ratio "$name fresh" "podpipe-$name" "duckdb-$name"
  fi
}
# inc_case NAME BASE_DIR INC_FILE SHAPE [RUNS]: +1 file onto a database holding BASE_DIR.
inc_case() {
  local name=$1 dir=$2 inc=$3 seed_py=$SEED_PY
  [ "$4" = seed ] || seed_py=
  RUNS=${5:-$RUNS}
  rm -rf "$W/base" && mkdir -p "$W/base" && cp -a "$dir" "$W/base/in" && rm -f "$W/base/in/.done"
  "$PODPIPED" --once --data-load "$W/base/in" --database "$W/base/db.sqlite" 2>/dev/null
  "$PY" scripts/duckdb_pipeline.py --db "$W/base/duck.db" --data "$W/base/in" 2>/dev/null
  if [ -n "$seed_py" ]; then
    seed_args "$W/base/seed.duckdb" "$W/base/in"
    "${SEED_ARGS[@]}" >/dev/null 2>/tmp/bench.err || {
      echo "seed pipeline failed on $dir:" >&2; tail -5 /tmp/bench.err >&2; exit 1; }
  fi
  local next
  next=$(printf 'events-%04d.ndjson' $(( $(ls "$W/base/in"/events-*.ndjson | wc -l) + 1 )))
  SETUP="rm -rf $W/i && cp -a $W/base $W/i && cp $inc $W/i/in/$next"
  measure "podpipe-$name" -- "$PODPIPED" --once --data-load "$W/i/in" --database "$W/i/db.sqlite"
  measure "duckdb-$name" -- "$PY" scripts/duckdb_pipeline.py --db "$W/i/duck.db" --data "$W/i/in"
  if [ -n "$seed_py" ]; then
    seed_args "$W/i/seed.duckdb" "$W/i/in"
    measure "seed-$name" -- "${SEED_ARGS[@]}"
    ratio "$name" "podpipe-$name" "duckdb-$name" "seed-$name"
  else
    ratio "$name" "podpipe-$name" "duckdb-$name"
  fi
}
SAVED_RUNS=$RUNS
fresh_case time-1m-seed-dirt "$DATA/time-1m-seed-dirt" seed
fresh_case seed-1m "$DATA/seed-1m" seed
inc_case seed-plus-100k "$DATA/seed-1m" "$DATA/seed-inc/events-0001.ndjson" seed
if [ "${BENCH_5M:-0}" = 1 ]; then
  gen "$DATA/5m" 5000000 50 7
  gen_seed "$DATA/seed-5m" 5000000 50 13
  fresh_case time-5m "$DATA/5m" time "${RUNS_5M:-1}"
  fresh_case seed-5m "$DATA/seed-5m" seed "${RUNS_5M:-1}"
  inc_case seed-5m-plus-100k "$DATA/seed-5m" "$DATA/seed-inc/events-0001.ndjson" seed "${RUNS_5M:-1}"
fi
RUNS=$SAVED_RUNS
rm -rf "$W/base" "$W/i" "$W/in" "$W"/*.ref "$W"/db* "$W"/duck* "$W"/seed*

# PostgreSQL (issue 18, BENCH_PG=1): the same 1M fresh and +100k onto it into a throwaway
# server (initdb in the work folder, Unix socket only, fsync off as in the tests), beside
# the SQLite figures above. The +100k runs on a copy of the loaded database (CREATE DATABASE
# … TEMPLATE) with the same drop folder: the ledger's names are per (host, folder).
if [ "${BENCH_PG:-0}" = 1 ]; then
  # A folder of its own: the server runs as postgres when this runs as root.
  PGDIR=$(mktemp -d /tmp/podpipe-bench-pg.XXXXXX)
  pg_throwaway "$PGDIR"
  trap 'kill $PGPID 2>/dev/null || true; wait $PGPID 2>/dev/null || true; rm -rf "$W" "$PGDIR"' EXIT
  psql_() { PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -q -h "$PGDIR" -p "$PGPORT" -U postgres -d postgres -c "$1" >/dev/null; }
  uri() { echo "postgresql:///$1?host=$PGDIR&port=$PGPORT&user=postgres"; }
  RUNS_PG=${RUNS_PG:-1}
  SAVED_RUNS=$RUNS; RUNS=$RUNS_PG
  SETUP="psql_ 'DROP DATABASE IF EXISTS fresh' && psql_ 'CREATE DATABASE fresh' && rm -rf $W/in && cp -r $DATA/1m $W/in && rm -f $W/in/.done"
  measure podpipe-pg-1m -- "$PODPIPED" --once --data-load "$W/in" --database "$(uri fresh)"
  rm -rf "$W/pgin" && cp -a "$DATA/1m" "$W/pgin" && rm -f "$W/pgin/.done"
  psql_ 'CREATE DATABASE base'
  "$PODPIPED" --once --data-load "$W/pgin" --database "$(uri base)" 2>/dev/null
  SETUP="psql_ 'DROP DATABASE IF EXISTS inc' && psql_ 'CREATE DATABASE inc TEMPLATE base' && cp $INC $W/pgin/events-0011.ndjson"
  measure podpipe-pg-plus-100k -- "$PODPIPED" --once --data-load "$W/pgin" --database "$(uri inc)"
  RUNS=$SAVED_RUNS
  awk -v a="$(cat /tmp/bench.podpipe-pg-1m.wall)" -v b="$(cat /tmp/bench.podpipe-1m.wall)" \
    -v c="$(cat /tmp/bench.duckdb-1m.wall)" \
    'BEGIN {printf "ratio PostgreSQL/SQLite, 1M fresh: %.2f (PostgreSQL/duckdb %.2f)\n", a / b, a / c}'
  awk -v a="$(cat /tmp/bench.podpipe-pg-plus-100k.wall)" -v b="$(cat /tmp/bench.podpipe-plus-100k.wall)" \
    -v c="$(cat /tmp/bench.duckdb-plus-100k.wall)" \
    'BEGIN {printf "ratio PostgreSQL/SQLite, +100k: %.2f (PostgreSQL/duckdb %.2f)\n", a / b, a / c}'
  kill "$PGPID"; wait "$PGPID" 2>/dev/null || true
  trap 'rm -rf "$W"' EXIT
  rm -rf "$W/pgin" "$W/in" "$PGDIR"
fi

if [ "${BENCH_1GB:-0}" = 1 ]; then
  gen "$DATA/1gb" 8000000 1 3
  SETUP="rm -rf $W/g && mkdir -p $W/g && ln $DATA/1gb/events-0001.ndjson $W/g/ 2>/dev/null || cp $DATA/1gb/events-0001.ndjson $W/g/"
  RUNS=1 measure podpipe-1gb-file -- "$PODPIPED" --once --data-load "$W/g" --database "$W/g.sqlite"
fi

if [ "${BENCH_10M:-0}" = 1 ]; then
  gen "$DATA/10m" 10000000 100 4
  gen "$DATA/10k" 10000 1 5
  if [ ! -f "$DATA/10m.sqlite.done" ]; then
    rm -f "$DATA"/10m.sqlite*
    "$PODPIPED" --once --data-load "$DATA/10m" --database "$DATA/10m.sqlite" 2>/dev/null
    touch "$DATA/10m.sqlite.done"
  fi
  # Bring the cached database to this build's schema once (a pass over an empty folder runs
  # the pending migrations and checkpoints the WAL), so that no timed run migrates it.
  mkdir -p "$W/empty"
  "$PODPIPED" --once --data-load "$W/empty" --database "$DATA/10m.sqlite" 2>/dev/null
  SETUP="rm -rf $W/t && mkdir -p $W/t/in && cp $DATA/10m.sqlite $W/t/db.sqlite && cp $(ls $DATA/10k/events-*.ndjson | head -1) $W/t/in/events-0101.ndjson"
  measure podpipe-10k-on-10m -- "$PODPIPED" --once --data-load "$W/t/in" --database "$W/t/db.sqlite"
  SETUP=true
  measure status-10m -- "$BIN/podpipectl" --database "$DATA/10m.sqlite" --data-load "$DATA/10m" status --json
fi
