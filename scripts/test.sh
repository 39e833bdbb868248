#!/usr/bin/env bash
# Builds everything and runs every test; ends with the plain line "N passed, N failed"
# counted from the doctest cases in meson's test log. Fails when no test ran.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
meson test -C build --print-errorlogs --num-processes 2 "$@"
rc=$?
python3 scripts/count-tests.py build/meson-logs/testlog.json
count_rc=$?
[ "$rc" -eq 0 ] && [ "$count_rc" -eq 0 ]
