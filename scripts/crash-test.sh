#!/usr/bin/env bash
# The long crash test: podpiped --once killed with SIGKILL at >= KILLS random moments over
# EVENTS generated events in FILES files, restarted each time, and compared with a run that
# was never killed (ledger, bronze outcomes, silver, fact count, the three answers, the
# per-file invariant). The short version (6 kills) runs in `make test`.
#   KILLS=60 EVENTS=300000 FILES=200 SEED=... scripts/crash-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
SCRATCH=${SCRATCH:-.build}
$SWIFT build --build-tests --scratch-path "$SCRATCH"
bin=$($SWIFT build --scratch-path "$SCRATCH" --show-bin-path)
PODPIPE_BIN_DIR=$bin \
PODPIPE_CRASH_KILLS=${KILLS:-60} \
PODPIPE_CRASH_EVENTS=${EVENTS:-300000} \
PODPIPE_CRASH_FILES=${FILES:-200} \
PODPIPE_CRASH_SEED=${SEED:-$(date +%s)} \
    $SWIFT test --skip-build --scratch-path "$SCRATCH" --filter 'CrashTests' 2>&1 | tee /dev/stderr | grep -E "crash test:|passed|failed" | tail -n 5
