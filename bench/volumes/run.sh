#!/usr/bin/env bash
# bench/volumes: a replica's start with a persistent volume against without one,
# for the process driver and microVMs (see volumes_bench.py). Not a test. Needs
# root, qemu-system-x86 and the package cache (busybox-static); runs in a network
# namespace it creates; writes the "## bench/volumes" section of bench/RESULTS.md.
#
#   bench/volumes/run.sh [--build DIR] [--rounds N] [--microvm-rounds N]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 bench/volumes/volumes_bench.py --command "bench/volumes/run.sh $*" "$@"
