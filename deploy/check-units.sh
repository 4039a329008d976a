#!/usr/bin/env bash
# Checks the systemd units (run by `make test` through `make check-units`):
# - `systemd-analyze verify` prints nothing (it warns on stderr with exit status 0);
# - the services' sandbox rates 2.0 or better with `systemd-analyze security --offline=true`
#   (`--threshold` counts in tenths: 20 = 2.0).
# Usage: deploy/check-units.sh BINDIR SYSCONFDIR
# The units are rendered with BINDIR (verify wants ExecStart= to exist: pass the folder of
# the built binaries).
set -euo pipefail
bindir=${1:?usage: check-units.sh BINDIR SYSCONFDIR}
sysconfdir=${2:-/etc}
here=$(cd "$(dirname "$0")" && pwd)
units=(podpiped.service podpiped-once.service podpiped.timer)

if ! command -v systemd-analyze >/dev/null; then
  echo "check-units: systemd-analyze not found (apt-get install systemd)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for unit in "${units[@]}"; do
  sed -e "s|@BINDIR@|$bindir|g" -e "s|@SYSCONFDIR@|$sysconfdir|g" "$here/$unit" > "$tmp/$unit"
done

status=0
out=$(cd "$tmp" && systemd-analyze verify "${units[@]}" 2>&1) || status=$?
if [ -n "$out" ] || [ "$status" -ne 0 ]; then
  echo "systemd-analyze verify (exit $status):" >&2
  echo "$out" >&2
  exit 1
fi
# The services with the PostgreSQL drop-in (network to one address) applied.
for unit in podpiped.service podpiped-once.service; do
  cat "$tmp/$unit" "$here/podpiped-postgresql.conf" > "$tmp/postgresql-$unit"
done
out=$(cd "$tmp" && systemd-analyze verify postgresql-podpiped.service postgresql-podpiped-once.service 2>&1) || status=$?
if [ -n "$out" ] || [ "$status" -ne 0 ]; then
  echo "systemd-analyze verify, with the PostgreSQL drop-in (exit $status):" >&2
  echo "$out" >&2
  exit 1
fi
for unit in podpiped.service podpiped-once.service postgresql-podpiped.service postgresql-podpiped-once.service; do
  if ! systemd-analyze security --offline=true --threshold=20 "$tmp/$unit" > "$tmp/security.txt" 2>&1; then
    cat "$tmp/security.txt" >&2
    echo "$unit: exposure above 2.0" >&2
    exit 1
  fi
  echo "$unit: $(grep 'Overall exposure' "$tmp/security.txt" | sed 's/.*: //')"
done
echo "units verified: ${units[*]}"
