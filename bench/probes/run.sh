#!/usr/bin/env bash
# bench/probes: one volantd with 500 VMs, each with a 1 s HTTP health check: the
# daemon's CPU % (utime+stime from /proc), thread count at 0, 50 and 500 VMs, and
# RSS (see probes_bench.py). Not a test.
#
#   bench/probes/run.sh [--build DIR] [--vms N] [--out FILE]
#
# Uses already built binaries (it builds nothing): the newest of
# build/, build-e2e/, build-me/ (src/daemon/volantd, src/cli/volar), or --build DIR,
# or $VOLANTD / $VOLAR, copied to a temp dir first. Needs busybox (Debian package).
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v busybox >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox >/dev/null
fi
exec python3 bench/probes/probes_bench.py --command "bench/probes/run.sh $*" "$@"
