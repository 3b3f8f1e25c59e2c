#!/usr/bin/env bash
# test.sh - the whole test suite, from a clean clone: install what is
# missing and fetch the real data sets (scripts/data.sh), then
#   1. build with gcc (Release, warnings are errors) and run every test:
#      unit tests, gradient checks, PyTorch parity, the install/example test;
#   2. build with clang under AddressSanitizer + UndefinedBehaviorSanitizer
#      (warnings are errors) and run the unit tests again;
#   3. fuzz every parser's libFuzzer harness for ATTEND_FUZZ_SECONDS (60)
#      each, two at a time on two cores (tests/fuzz/run.sh).
# Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/setup.sh

# The real data the tests read: CMUdict, fetched once into a cache outside
# the repository (scripts/data.sh); the standard G2P test split, from the
# shared data folder beside the main checkout (../shared/data/g2p) unless
# ATTEND_G2P_TEST names it.
ATTEND_CMUDICT=$(scripts/data.sh cmudict)
# Without the shared folder (a clone elsewhere), a stand-in split - every
# 40th dictionary word - takes its place, said loudly: the split's rules
# are still checked, its published counts are not.
ATTEND_G2P_TEST_STANDIN=
if ! ATTEND_G2P_TEST=$(scripts/data.sh g2p-test 2>/dev/null); then
  mkdir -p build
  ATTEND_G2P_TEST=$PWD/build/g2p-test-standin.tsv
  awk 'NR % 40 == 0 && $1 ~ /^[A-Z]+$/ { w = $1; $1 = ""; gsub(/[0-9]/, ""); sub(/^ +/, "");
       print w "\t" $0 }' "$ATTEND_CMUDICT" > "$ATTEND_G2P_TEST"
  ATTEND_G2P_TEST_STANDIN=1
  echo "NOTE: the standard G2P test split (../shared/data/g2p/cmudict-test-12k.tsv) is not here;"
  echo "      the G2P tests use a stand-in split ($ATTEND_G2P_TEST) and skip its published counts."
fi
export ATTEND_CMUDICT ATTEND_G2P_TEST ATTEND_G2P_TEST_STANDIN

echo "== gcc, Release: build and all tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc -DATTEND_WERROR=ON >/dev/null
cmake --build build -j "$jobs"
ctest --test-dir build -j "$jobs" --output-on-failure

echo "== clang, AddressSanitizer + UndefinedBehaviorSanitizer: unit tests"
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
  -DATTEND_SANITIZE=ON -DATTEND_WERROR=ON -DATTEND_PARITY=OFF -DATTEND_BENCH=OFF >/dev/null
cmake --build build-sanitize -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-sanitize -j "$jobs" -L unit --output-on-failure

echo "== libFuzzer: every harness for ${ATTEND_FUZZ_SECONDS:-60} s"
tests/fuzz/run.sh "${ATTEND_FUZZ_SECONDS:-60}"
