#!/usr/bin/env bash
# bench/client: how fast volar gives up when volantd dies while a request of it is
# in flight (kill -9 -> volar exited), against a normal round trip and a connect
# to a dead port in the same run (see client_bench.py). Not a test.
#
#   bench/client/run.sh [--build DIR] [--runs N] [--old-volar PATH] [--out FILE]
#
# Uses already built binaries (it builds nothing): the newest of build/, build-e2e/,
# build-me/ (src/daemon/volantd, src/cli/volar), or --build DIR, or $VOLANTD /
# $VOLAR, copied to a temp dir first. --old-volar PATH also measures that volar
# once (e.g. one built before the fix, which waited its 60 s request timeout).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 bench/client/client_bench.py --command "bench/client/run.sh $*" "$@"
