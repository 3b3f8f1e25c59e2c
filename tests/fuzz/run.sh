#!/usr/bin/env bash
# run.sh SECONDS [NAME ...] - fuzz each harness of tests/fuzz for SECONDS.
#
# Builds the libFuzzer harnesses (clang, ASan + UBSan, -DATTEND_FUZZ=ON) in
# build-fuzz, then runs each one (all of tests/fuzz/corpus/* if no NAME is
# given), as many at once as there are cores, starting from its seed corpus
# tests/fuzz/corpus/NAME. What the fuzzer finds stays in build-fuzz/fuzz/NAME
# (its grown corpus, log and crash inputs); the repository is not touched.
#
# A crash, leak, undefined behaviour, broken property or input slower than
# 10 s fails the run: the log's tail and the saved input are printed. Fix the
# bug, then copy the input to tests/fuzz/regressions/NAME/, where ctest
# replays it in every build (fuzz_replay_NAME).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:?usage: tests/fuzz/run.sh SECONDS [NAME ...]}
shift
if [ $# -gt 0 ]; then names=("$@"); else names=($(ls tests/fuzz/corpus)); fi
build=build-fuzz

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DATTEND_FUZZ=ON -DATTEND_WERROR=ON -DATTEND_PARITY=OFF -DATTEND_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target fuzz_targets >/dev/null

# One harness: returns non-zero if libFuzzer found anything.
fuzz_one() {
  local name=$1 work=$build/fuzz/$1
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/found"
  local dict=()
  [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$build/tests/fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$work/found/" -print_final_stats=1 "${dict[@]}" \
    "$work/corpus" "tests/fuzz/corpus/$name" >"$work/log" 2>&1
}

failed=()
running=0
declare -A pids
for name in "${names[@]}"; do
  if [ ! -x "$build/tests/fuzz/fuzz_$name" ]; then
    echo "fuzz: no harness fuzz_$name" >&2
    exit 2
  fi
  fuzz_one "$name" &
  pids[$name]=$!
  running=$((running + 1))
  if [ "$running" -ge "$(nproc)" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
for name in "${names[@]}"; do
  if wait "${pids[$name]}"; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$build/fuzz/$name/log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz: $name: ${seconds} s, $runs inputs, nothing found"
  else
    failed+=("$name")
  fi
done

for name in "${failed[@]}"; do
  echo "fuzz: $name FOUND A PROBLEM; the end of $build/fuzz/$name/log:" >&2
  tail -n 40 "$build/fuzz/$name/log" >&2
  echo "fuzz: inputs saved in $build/fuzz/$name/found/:" >&2
  ls -l "$build/fuzz/$name/found/" >&2
  echo "fuzz: fix it, then copy the input to tests/fuzz/regressions/$name/" >&2
done
[ ${#failed[@]} -eq 0 ]
