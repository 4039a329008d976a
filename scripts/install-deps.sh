#!/bin/sh
# Installs the Debian packages podpipe needs that are missing: `build` (to compile: make
# demo) or `test` (also the tools and servers the tests run: make test, .ci/run).
# As root it runs apt-get; otherwise it prints the command to run and fails.
set -eu
build="libsqlite3-dev libsystemd-dev zlib1g-dev pkg-config libpq-dev"
test="$build sqlite3 systemd gzip postgresql prometheus chromium"
case "${1:-build}" in
  build) want=$build ;;
  test) want=$test ;;
  *) echo "usage: $0 build|test" >&2; exit 64 ;;
esac
command -v dpkg >/dev/null 2>&1 || exit 0   # not Debian: the packages are the user's business
missing=""
for pkg in $want; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "podpipe needs these Debian packages:$missing" >&2
  echo "install them (as root): apt-get install -y$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The postgresql package would start a cluster of its own: the tests start their own server.
apt-get install -y -qq --no-install-recommends $missing
