#!/usr/bin/env bash
# bench/lb: requests/s and p99 through volantd's load balancer (HAProxy) against
# straight to one VM, VM ready -> its first request through the LB, and the time
# for `lb switch` to take effect, and how fast volantd's DNS (volant.local, on
# 127.89.0.53:5353 here) follows scaling and how many queries/s it answers (see
# lb_bench.py). Not a test.
#
#   bench/lb/run.sh [--bin DIR] [--reps 5] [--duration 10]
#
# Builds nothing: DIR (default /tmp/lbbench-bin) holds volantd and volar (a copy,
# so that a build can go on meanwhile). Runs the benchmark and writes the
# "## bench/lb" section of bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=/tmp/lbbench-bin
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
for b in volantd volar; do
  [[ -x "$bin/$b" ]] || { echo "bench/lb: no executable $bin/$b (copy the build's binaries there)" >&2; exit 2; }
done
command="bench/lb/run.sh --bin $bin${args[*]:+ ${args[*]}}"
exec python3 bench/lb/lb_bench.py --bin "$bin" --results bench/RESULTS.md \
  --command "$command" "${args[@]}"
