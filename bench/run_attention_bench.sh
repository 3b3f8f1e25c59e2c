#!/bin/sh
# run_attention_bench.sh - attend's fused dot-product attention against
# PyTorch, side by side in one run, as /work/shared/BENCHMARKING.md asks:
#   - the FMA peak of this machine (1 core, all cores), measured first;
#   - (B, H, T, d) = (1, 8, 512, 64), (4, 8, 256, 64), (1, 4, 2048, 64) and
#     the Transformer language model's own (64, 4, 64, 32),
#     causal or not, fwd and fwd+bwd, 1 and 2 threads: attend, then PyTorch
#     tuned, then PyTorch as found, repeated 3 times (median of 20 calls
#     each, after a warm-up of at least 3 calls and 0.3 s);
#   - peak memory growth of fwd+bwd at H = 4, d = 64, T = 512 .. 4096, each
#     size in a fresh process.
# PyTorch tuned, in the environment bench/peer_env.sh finds by measuring
# (for its process only, never for attend): the OpenBLAS kernels that run
# an sgemm fastest in torch here, out of as found, OPENBLAS_CORETYPE unset,
# Haswell, SkylakeX, Cooperlake and SapphireRapids (their table is printed
# first), OPENBLAS_NUM_THREADS = torch threads = n, OMP_WAIT_POLICY=PASSIVE
# with 2 threads, jemalloc preloaded.
# PyTorch as found: the environment untouched, torch.set_num_threads(n).
# The peer is the faster of the two per case; the table prints both.
# attend: the environment as found; with 2 threads it runs twice, with the
# peer's OMP_WAIT_POLICY=PASSIVE (the main figure) and with the default
# policy (spinning threads cost a lot when the other core is busy).
# PyTorch's faster implementation per case (sdpa or matmul, see
# attention_bench.py) is picked in the first tuned repetition and kept in
# $OUT.choices; later repetitions and the as-found runs time that one.
#
#   bench/run_attention_bench.sh            build, run, print the table
#   BIN=path/to/attention_bench REPS=1 bench/run_attention_bench.sh
#   Variables: REPS (3), THREADS ("1 2"), CALLS (20), BIN, BUILD, PYTHON, OUT
# Raw results go to out/attention_bench-DATE.jsonl, the peer's kernel table
# to the same name + .peer. About 6-8 minutes on a quiet machine.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPS=${REPS:-3}
THREADS=${THREADS:-1 2}
CALLS=${CALLS:-20}
if [ -z "${BIN:-}" ]; then
    BUILD=${BUILD:-$ROOT/build-attention-bench}
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DATTEND_TESTS=OFF >/dev/null
    cmake --build "$BUILD" -j2 --target attention_bench >/dev/null
    BIN=$BUILD/bench/attention_bench
fi
PYTHON=${PYTHON:-/usr/bin/python3}
PYSIDE=$ROOT/bench/attention_bench.py
mkdir -p "$ROOT/out"
OUT=${OUT:-$ROOT/out/attention_bench-$(date +%Y%m%d-%H%M%S).jsonl}
: >"$OUT"
# shellcheck source=bench/peer_env.sh
. "$ROOT/bench/peer_env.sh"

torch_tuned() { # threads, then the script's arguments
    tuned_threads=$1
    shift
    peer_tuned "$tuned_threads" "$PYTHON" "$PYSIDE" "$@"
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC') $(uname -n) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) load: $(cut -d' ' -f1-3 /proc/loadavg)" |
    tee -a "$OUT"
PEER_LOG=$OUT.peer
: >"$PEER_LOG"
peer_probe
"$BIN" peak | tee -a "$OUT"

rep=1
while [ "$rep" -le "$REPS" ]; do
    for n in $THREADS; do
        if [ "$n" -ge 2 ]; then # the peer's OpenMP setting, and as found
            OMP_WAIT_POLICY=PASSIVE "$BIN" time "$n" "$CALLS" | tee -a "$OUT"
            "$BIN" time "$n" "$CALLS" | tee -a "$OUT"
        else
            "$BIN" time "$n" "$CALLS" | tee -a "$OUT"
        fi
        torch_tuned "$n" time "$n" tuned "$CALLS" "$OUT.choices" | tee -a "$OUT"
        peer_as_found "$n" "$PYTHON" "$PYSIDE" time "$n" as-found "$CALLS" "$OUT.choices" | tee -a "$OUT"
    done
    rep=$((rep + 1))
done

for T in 512 1024 2048 4096; do
    "$BIN" mem "$T" | tee -a "$OUT"
    torch_tuned 1 mem "$T" tuned | tee -a "$OUT"
    peer_as_found 1 "$PYTHON" "$PYSIDE" mem "$T" as-found | tee -a "$OUT"
done
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT"

echo
"$PYTHON" "$PYSIDE" report "$OUT"
echo
echo "raw results: $OUT"
