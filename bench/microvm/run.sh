#!/usr/bin/env bash
# bench/microvm: QEMU microVM launch -> ready -> first HTTP health check (median,
# p90 over 10), 0 -> N ready for N = 1, 2, 4, 8, RSS per idle VM, the accelerator
# (see microvm_bench.py). Not a test. Needs root; runs in a network namespace it
# creates and deletes.
#
#   bench/microvm/run.sh [--runs 10] [--n 1,2,4,8] [--memory 128] [--guest DIR]
#
# Builds the guest with tools/mkguest (cached) unless --guest is given; appends the
# results, with date and command, to bench/microvm/LATEST.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v qemu-system-x86_64 >/dev/null || {
  echo "bench/microvm: qemu-system-x86_64 not found (apt-get install qemu-system-x86)" >&2
  exit 1
}
exec python3 bench/microvm/microvm_bench.py --command "bench/microvm/run.sh $*" "$@"
