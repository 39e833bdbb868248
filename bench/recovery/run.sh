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
# package `supervisor` if missing, without starting its system service (a
# policy-rc.d that returns 101 during the install); the bench runs its own
# supervisord (nodaemon, own config, own unix socket) and stops it at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
for p in supervisor busybox; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "recovery: installing ${need[*]} (services not started)" >&2
  policy=/usr/sbin/policy-rc.d
  created_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod +x "$policy"
    created_policy=1
  fi
  trap '[ -z "$created_policy" ] || $sudo rm -f "$policy"' EXIT
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  [ -z "$created_policy" ] || $sudo rm -f "$policy"
  created_policy=""
  trap - EXIT
fi

exec python3 bench/recovery/recovery_bench.py --command "bench/recovery/run.sh $*" "$@"
