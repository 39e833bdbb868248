#!/usr/bin/env bash
# bench/rollout: a rolling update (surge 2 / unavailable 0) against the recreate
# strategy on the same deployment, at 10 and 100 replicas (see rollout_bench.py).
# Not a test.
#
#   bench/rollout/run.sh [--build DIR] [--sizes 10,100]
#
# Builds volantd and volar in DIR (default: build), runs the benchmark and
# writes the "## bench/rollout" section of bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[[ -d "$build" ]] || meson setup --wrap-mode=nodownload "$build"
ninja -C "$build" src/daemon/volantd src/cli/volar >/dev/null
command="bench/rollout/run.sh --build $build${args[*]:+ ${args[*]}}"
exec python3 bench/rollout/rollout_bench.py --build "$build" --results bench/RESULTS.md \
  --command "$command" "${args[@]}"
