#!/usr/bin/env bash
# Runs one libFuzzer target for SECONDS on a copy of its seed corpus:
#
#   bash scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]
#
# TARGET is event, manifest, deployment_yaml, request or dns (tests/fuzz/TARGET.cpp).
# Installs clang-14 and libclang-rt-14-dev (libFuzzer's runtime, only a
# recommendation of clang-14) when missing, configures build-fuzz/ with clang,
# ASan + UBSan and libFuzzer (-Dfuzz=true -Db_sanitize=address,undefined) and
# builds only the target. The corpus copy, build-fuzz/corpus/TARGET/, starts from
# tests/fuzz/corpus/TARGET/ and keeps what libFuzzer adds between runs; the seed
# corpus in the tree is never written. A crash (or leak, time-out, OOM) is kept
# in build-fuzz/crashes/TARGET/ and the run stops there; FUZZ_KEEP_GOING=1 keeps
# fuzzing past crashes (-fork=1 -ignore_crashes=1). Reproduce one with
# `build-fuzz/tests/fuzz/fuzz_TARGET FILE`; once fixed, add it to the seed corpus
# (it is then replayed by `meson test --suite fuzz`).
#
# Ends with one line: "fuzz TARGET: N execs in S s (R execs/s), C crash files".
# One process (-jobs=1 in effect): the machines are shared.
set -euo pipefail
cd "$(dirname "$0")/.."

targets="event manifest deployment_yaml request dns"
if [ $# -lt 2 ] || ! [[ " $targets " == *" $1 "* ]] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]  (TARGET: $targets)" >&2
  exit 2
fi
target=$1
seconds=$2
shift 2

bash scripts/apt-install.sh --as fuzz clang-14 libclang-rt-14-dev

build=build-fuzz
if [ ! -f "$build/build.ninja" ]; then
  CC=clang-14 CXX=clang++-14 meson setup --wrap-mode=nodownload \
    -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false "$build"
fi
ninja -C "$build" "tests/fuzz/fuzz_$target"

corpus="$build/corpus/$target"
crashes="$build/crashes/$target"
mkdir -p "$corpus" "$crashes"
cp -n tests/fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null || true
before=$(find "$crashes" -type f | wc -l)

flags=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10
       -rss_limit_mb=2048 -artifact_prefix="$crashes/")
[ -f "tests/fuzz/$target.dict" ] && flags+=(-dict="tests/fuzz/$target.dict")
[ "${FUZZ_KEEP_GOING:-0}" = 1 ] && flags+=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)

log="$build/fuzz-$target.log"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
start=$(date +%s)
set +e
"$build/tests/fuzz/fuzz_$target" "${flags[@]}" "$@" "$corpus" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - start ))

# -print_final_stats: "stat::number_of_executed_units: N" (per job with -fork).
execs=$(awk '/stat::number_of_executed_units/ {n += $2} END {print n + 0}' "$log")
if [ "$execs" -eq 0 ]; then # -fork prints no final stats: the last status line
  execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  execs=${execs:-0}
fi
found=$(( $(find "$crashes" -type f | wc -l) - before ))
rate=$(( elapsed > 0 ? execs / elapsed : execs ))
echo "fuzz $target: $execs execs in $elapsed s ($rate execs/s), $found crash files (in $crashes)"
exit "$rc"
