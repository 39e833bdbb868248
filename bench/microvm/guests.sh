#!/usr/bin/env bash
# bench/microvm/guests.sh: guest build time (cold, cached) and create -> first HTTP 200 of the
# busybox initramfs guest, the nginx rootfs guest and nginx as a host process, all
# through volantd (see guests_bench.py). Not a test. Needs root, qemu-system-x86 and
# the package cache (volar guest fetch nginx python3); runs in a network namespace it
# creates and deletes; writes bench/microvm/GUESTS-LATEST.md.
#
#   bench/microvm/guests.sh [--build DIR] [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 bench/microvm/guests_bench.py --command "bench/microvm/guests.sh $*" "$@"
