#!/usr/bin/env bash
# bench/scale: time to 100 READY and back to 0, `volar deployments list` latency,
# volantd RSS at 100 and 1,000 replicas (see scale_bench.py). Not a test.
#
#   bench/scale/run.sh [--build DIR] [--no-1000]
#
# Builds volantd and volar in DIR (default: build), runs the benchmark and
# writes the "## bench/scale" section of bench/RESULTS.md.
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
command="bench/scale/run.sh --build $build${args[*]:+ ${args[*]}}"
exec python3 bench/scale/scale_bench.py --build "$build" --results bench/RESULTS.md \
  --command "$command" "${args[@]}"
