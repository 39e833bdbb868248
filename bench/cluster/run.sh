#!/usr/bin/env bash
# bench/cluster: appends to the single-host journal vs the cluster log on a
# real etcd 3.4 (1 and 3 members on loopback), as ratios (see
# cluster_bench.cpp). Builds bench-cluster in build/ if needed; installs
# etcd-server if missing.
#
#   bench/cluster/run.sh [--seconds S]
#
# Real hosts (not run by this script): bench/cluster/hosts_bench.py starts
# etcd (1 member) and 3 volantd hosts on loopback, and measures 0 -> 300
# replicas with --multi-host against one volantd, and the time from a host's
# kill -9 to host_lost and to all replicas ready again (a non-leader, the
# leader, and in a second cluster a host holding 133 VMs); see its docstring
# and bench/RESULTS.md. About 3 minutes. Uses built binaries (volantd, volar,
# volant-replay of build/ or --build DIR, copied to a temp dir); builds nothing:
#
#   python3 bench/cluster/hosts_bench.py [--build build] [--replicas 300]
#                                        [--repeats 3] [--no-leader] [--big 400] [--out FILE]
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v etcd >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server >/dev/null
fi
ninja -C build bench/cluster/bench-cluster >/dev/null
echo "commit: $(git rev-parse --short HEAD); command: bench/cluster/run.sh $*"
exec build/bench/cluster/bench-cluster "$@"
