#!/usr/bin/env bash
# bench/cluster: appends to the single-host journal vs the cluster log on a
# real etcd 3.4 (1 and 3 members on loopback), as ratios (see
# cluster_bench.cpp). Builds bench-cluster in build/ if needed; installs
# etcd-server if missing.
#
#   bench/cluster/run.sh [--seconds S]
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
