#!/usr/bin/env bash
# bench/recovery: time from `kill -9` of a replica's workload to its replacement
# serving / READY, Volant (volantd + volar) against supervisord restarting the same
# workload, side by side in one run (see recovery_bench.py). Not a test.
#
#   bench/recovery/run.sh [--build DIR] [--kills N] [--out FILE]
#
# Uses already built binaries (it builds nothing): the newest of
# build/, build-e2e/, build-me/ (src/daemon/volantd, src/cli/volar), or --build DIR,
# or $VOLANTD / $VOLAR. They are copied to a temp dir first. Installs the Debian
# packages `supervisor` and `busybox` if missing, without starting supervisor's
# system service (scripts/apt-install.sh: a policy-rc.d that returns 101 during the
# install); the bench runs its own supervisord (nodaemon, own config, own unix
# socket) and stops it at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash scripts/apt-install.sh --as recovery supervisor busybox

exec python3 bench/recovery/recovery_bench.py --command "bench/recovery/run.sh $*" "$@"
