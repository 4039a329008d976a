#!/usr/bin/env bash
# The long crash test: podpiped --once killed with SIGKILL at >= KILLS random moments and
# FORCED times at each fault point of PODPIPE_CRASH_AT (reference-upsert, event-rows,
# ledger-commit, gold-refresh), over EVENTS generated events in FILES files plus
# REFERENCE_UPDATES users/episodes updates arriving among them, restarted each time, and
# compared with a run that was never killed (ledger, bronze outcomes, silver, gold tables,
# the answers, the per-file invariant). It prints "crash test: N kills (random R, …)".
# The short version (6 random, 2 at each point) runs in `make test`.
#   KILLS=60 FORCED=6 EVENTS=300000 FILES=200 REFERENCE_UPDATES=10 SEED=... scripts/crash-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
SCRATCH=${SCRATCH:-.build}
$SWIFT build --build-tests --scratch-path "$SCRATCH"
bin=$($SWIFT build --scratch-path "$SCRATCH" --show-bin-path)
PODPIPE_BIN_DIR=$bin \
PODPIPE_CRASH_KILLS=${KILLS:-60} \
PODPIPE_CRASH_FORCED=${FORCED:-6} \
PODPIPE_CRASH_REFERENCE_UPDATES=${REFERENCE_UPDATES:-10} \
PODPIPE_CRASH_EVENTS=${EVENTS:-300000} \
PODPIPE_CRASH_FILES=${FILES:-200} \
PODPIPE_CRASH_SEED=${SEED:-$(date +%s)} \
    $SWIFT test --skip-build --scratch-path "$SCRATCH" --filter 'CrashTests' 2>&1 | tee /dev/stderr | grep -E "crash test:|passed|failed" | tail -n 5
