#!/usr/bin/env bash
# bench/autoscale: the horizontal autoscaler (issue 15): load step -> new
# replicas READY against a manual scale, at volantd's default --metrics-interval
# (15s) and at 2s, and the daemon CPU that metric collection costs at 500 VMs
# behind a load balancer (goal < 5 % of one core); see autoscale_bench.py.
# Not a test; ratios against baselines of the same run, no pass/fail on timing.
#
#   bench/autoscale/run.sh [--build DIR] [--repeats 3] [--intervals ,2s] [--vms 500]
#                          [--window 30] [--out FILE]
#
# Uses already built binaries (it builds nothing): the newest of
# build/, build-e2e/, build-me/ (src/daemon/volantd, src/cli/volar), or --build DIR,
# or $VOLANTD / $VOLAR, copied to a temp dir first. Needs busybox and haproxy
# (Debian packages). Loopback only: pools 127.93.200.0/24 and 127.93.0.0/20, the
# load balancer on 127.93.250.250. About 8 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=()
command -v busybox >/dev/null || missing+=(busybox)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
exec python3 bench/autoscale/autoscale_bench.py --command "bench/autoscale/run.sh $*" "$@"
