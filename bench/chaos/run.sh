#!/usr/bin/env bash
# bench/chaos: the chaos harness of tests/chaos for many iterations (default 500):
# seeded create/scale/update/pause/resume/delete from several volar processes at
# once while volantd is killed with kill -9 (during commands, right after a
# restart, during replay, twice in a row) or frozen with SIGSTOP; after every
# restart it checks the acknowledged commands, the settled VMs, the leaks and
# volant-replay against the live state. Prints iterations, violations and the
# kill -> settled median and max (goals: 0 violations, median < 1 s, max < 10 s)
# as a block to paste into bench/RESULTS.md. Not a test: `meson test --suite
# chaos` is the short seeded run.
#
#   bench/chaos/run.sh [--build DIR] [--iterations N] [--seconds S] [--seed S] [--out FILE]
#
# Builds nothing: needs DIR/tests/chaos/test_chaos, DIR/src/daemon/volantd,
# DIR/src/cli/volar and DIR/tools/replay/volant-replay (default DIR: build), e.g.
# `ninja -C build tests/chaos/test_chaos src/daemon/volantd src/cli/volar
# tools/replay/volant-replay`. Pool 127.78.112.0/24 (the meson test uses .111).
# The per-iteration log goes to --out (default: a temp file, named at the end).
set -euo pipefail
cd "$(dirname "$0")/../.."

command="bench/chaos/run.sh $*"
build=build iterations=500 seconds="" seed="" out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --iterations) iterations=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--build DIR] [--iterations N] [--seconds S] [--seed S] [--out FILE]" >&2
       exit 2 ;;
  esac
done
[ -n "$seed" ] || seed=$(( $(date +%s) % 1000000 ))
[ -n "$out" ] || out=$(mktemp /tmp/volant-bench-chaos-XXXXXX.log)
build=$(realpath "$build") # also when given relative to the repository
bin=$build/tests/chaos/test_chaos
for f in "$bin" "$build/src/daemon/volantd" "$build/src/cli/volar" "$build/tools/replay/volant-replay"; do
  [ -x "$f" ] || { echo "bench/chaos: $f is not built" >&2; exit 2; }
done

export VOLANTD=$build/src/daemon/volantd
export VOLAR=$build/src/cli/volar
export VOLANT_REPLAY=$build/tools/replay/volant-replay
export VOLANT_EXAMPLES=$PWD/examples
export VOLANT_CHAOS_SEED=$seed
export VOLANT_CHAOS_ITERATIONS=$iterations
[ -z "$seconds" ] || export VOLANT_CHAOS_SECONDS=$seconds
export VOLANT_CHAOS_POOL_OCTET=112
export VOLANT_CHAOS_MAX_VIOLATIONS=${VOLANT_CHAOS_MAX_VIOLATIONS:-1000000}

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load=$(cut -d' ' -f1-3 /proc/loadavg)
status=0
"$bin" >"$out" 2>&1 || status=$?

echo '```'
# The summary block the harness prints (up to the table's last row).
summary() { sed -n '/^bench\/chaos:/,/^| volar call, median/p' "$out"; }
summary | sed -n '1p'
echo "date:        $started"
echo "command:     $command"
echo "commit:      $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (plus uncommitted changes)')"
echo "machine:     nproc=$(nproc), Linux $(uname -r), load average $load at start"
summary | sed -n '2,$p'
echo '```'
# The violations as they happened (the test's final message repeats them).
sed '/^bench\/chaos:/q' "$out" >"$out.run"
violations=$(grep -c '^chaos VIOLATION' "$out.run" || true)
if [ "$violations" -gt 0 ]; then
  echo
  echo "violations (first 20 of $violations):"
  grep '^chaos VIOLATION' "$out.run" | head -20 | cut -c1-400
fi
echo
rm -f "$out.run"
echo "log: $out (harness exit status $status)"
