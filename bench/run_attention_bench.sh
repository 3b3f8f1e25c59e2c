#!/bin/sh
# run_attention_bench.sh - attend's fused dot-product attention against
# PyTorch, side by side in one run, as /work/shared/BENCHMARKING.md asks:
#   - the FMA peak of this machine (1 core, all cores), measured first;
#   - (B, H, T, d) = (1, 8, 512, 64), (4, 8, 256, 64), (1, 4, 2048, 64),
#     causal or not, fwd and fwd+bwd, 1 and 2 threads: attend, then PyTorch
#     tuned, then PyTorch as found, repeated 3 times (median of 20 calls
#     each, after a warm-up of at least 3 calls and 0.3 s);
#   - peak memory growth of fwd+bwd at H = 4, d = 64, T = 512 .. 4096, each
#     size in a fresh process.
# PyTorch tuned: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (for its
# process only, never for attend), OPENBLAS_NUM_THREADS = torch threads = n,
# OMP_WAIT_POLICY=PASSIVE with 2 threads, jemalloc preloaded.
# PyTorch as found: the environment untouched, torch.set_num_threads(n).
# attend: the environment as found; with 2 threads it runs twice, with the
# peer's OMP_WAIT_POLICY=PASSIVE (the main figure) and with the default
# policy (spinning threads cost a lot when the other core is busy).
# PyTorch's faster implementation per case (sdpa or matmul, see
# attention_bench.py) is picked in the first tuned repetition and kept in
# $OUT.choices; later repetitions and the as-found runs time that one.
#
#   bench/run_attention_bench.sh            build, run, print the table
#   BIN=path/to/attention_bench REPS=1 bench/run_attention_bench.sh
# Raw results go to out/attention_bench-DATE.jsonl. About 6-8 minutes on a
# quiet machine.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPS=${REPS:-3}
CALLS=${CALLS:-20}
if [ -z "${BIN:-}" ]; then
    BUILD=${BUILD:-$ROOT/build-attention-bench}
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DATTEND_TESTS=OFF >/dev/null
    cmake --build "$BUILD" -j2 --target attention_bench >/dev/null
    BIN=$BUILD/bench/attention_bench
fi
PY="/usr/bin/python3 $ROOT/bench/attention_bench.py"
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
mkdir -p "$ROOT/out"
OUT=${OUT:-$ROOT/out/attention_bench-$(date +%Y%m%d-%H%M%S).jsonl}
: >"$OUT"

torch_tuned() { # threads, then the script's arguments
    n=$1
    shift
    wait_policy=
    [ "$n" -ge 2 ] && wait_policy=PASSIVE
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$n" \
        ${wait_policy:+OMP_WAIT_POLICY=$wait_policy} \
        LD_PRELOAD="$JEMALLOC" MALLOC_CONF=oversize_threshold:0,dirty_decay_ms:-1,muzzy_decay_ms:-1 \
        $PY "$@"
}

{
    echo "# $(date -u '+%Y-%m-%d %H:%M UTC') $(uname -n) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) load: $(cut -d' ' -f1-3 /proc/loadavg)"
    "$BIN" peak
} | tee -a "$OUT"

rep=1
while [ "$rep" -le "$REPS" ]; do
    for n in 1 2; do
        if [ "$n" -ge 2 ]; then # the peer's OpenMP setting, and as found
            OMP_WAIT_POLICY=PASSIVE "$BIN" time "$n" "$CALLS" | tee -a "$OUT"
            "$BIN" time "$n" "$CALLS" | tee -a "$OUT"
        else
            "$BIN" time "$n" "$CALLS" | tee -a "$OUT"
        fi
        torch_tuned "$n" time "$n" tuned "$CALLS" "$OUT.choices" | tee -a "$OUT"
        $PY time "$n" as-found "$CALLS" "$OUT.choices" | tee -a "$OUT"
    done
    rep=$((rep + 1))
done

for T in 512 1024 2048 4096; do
    "$BIN" mem "$T" | tee -a "$OUT"
    torch_tuned 1 mem "$T" tuned | tee -a "$OUT"
    $PY mem "$T" as-found | tee -a "$OUT"
done
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT"

echo
$PY report "$OUT"
echo
echo "raw results: $OUT"
