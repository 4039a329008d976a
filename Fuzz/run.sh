#!/usr/bin/env bash
# Builds and runs the libFuzzer targets.
#   Fuzz/run.sh build            build both targets into .build-fuzz/
#   Fuzz/run.sh run SECONDS      build, then run each target for SECONDS (default 10)
# Seeds: Tests/Corpus/files (plus the committed regression inputs in Fuzz/regressions/).
# Findings (crash-*, timeout-*, oom-*) land in .build-fuzz/findings/<target>/; copy each into
# Fuzz/regressions/<target>/ once fixed: `run` replays them first.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.build-fuzz
mkdir -p "$out"
SWIFTC=${SWIFTC:-swiftc}
flags=(-sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6)

# Rebuilds a target only when one of its sources is newer than it.
stale() {
    local target=$1; shift
    [ -x "$target" ] || return 0
    local f
    for f in "$@"; do [ "$f" -nt "$target" ] && return 0; done
    return 1
}

build() {
    stale "$out/fuzz-ndjson" Sources/PodpipeRules/*.swift Fuzz/NDJSONFuzz.swift || return_ndjson=1
    [ -n "${return_ndjson:-}" ] || "$SWIFTC" "${flags[@]}" -module-name FuzzNDJSON Sources/PodpipeRules/*.swift Fuzz/NDJSONFuzz.swift \
        -o "$out/fuzz-ndjson"
    # The CSV reader is podpipe's own splitter (no CSV.swift): its two files, the rules, the
    # fuzz target, compiled as one module (the reader's `import PodpipeRules` removed).
    stale "$out/fuzz-csv" Sources/PodpipeCore/Readers/CSVRecordSplitter.swift \
        Sources/PodpipeCore/Readers/CSVRecordReader.swift Sources/PodpipeRules/*.swift Fuzz/CSVFuzz.swift || return 0
    sed '/^import PodpipeRules$/d' Sources/PodpipeCore/Readers/CSVRecordReader.swift > "$out/CSVRecordReader.swift"
    "$SWIFTC" "${flags[@]}" -module-name FuzzCSV Sources/PodpipeCore/Readers/CSVRecordSplitter.swift \
        "$out/CSVRecordReader.swift" Sources/PodpipeRules/*.swift Fuzz/CSVFuzz.swift -o "$out/fuzz-csv"
}

run() {
    local seconds=${1:-10}
    for target in ndjson csv; do
        [ -x "$out/fuzz-$target" ] || continue
        local work="$out/corpus/$target" findings="$out/findings/$target"
        mkdir -p "$work" "$findings"
        if [ -d "Fuzz/regressions/$target" ] && ls "Fuzz/regressions/$target"/* >/dev/null 2>&1; then
            "$out/fuzz-$target" "Fuzz/regressions/$target"/*   # replay: fails on a regression
        fi
        local seeds=()
        for f in Tests/Corpus/files/*; do
            case "$target:$f" in
                ndjson:*.json | csv:*.csv) seeds+=("$f") ;;
            esac
        done
        local seed_dir="$out/seeds/$target"
        mkdir -p "$seed_dir"
        cp "${seeds[@]}" "$seed_dir/"
        echo "fuzz-$target: ${seconds}s"
        "$out/fuzz-$target" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="$findings/" -print_final_stats=1 "$work" "$seed_dir" 2>&1 | tail -n 12
    done
}

case "${1:-run}" in
    build) build ;;
    run) build; run "${2:-10}" ;;
    *) echo "usage: $0 build | run [SECONDS]" >&2; exit 64 ;;
esac
