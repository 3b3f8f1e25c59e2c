#!/usr/bin/env bash
# run_dates_bench.sh - attend against PyTorch on the date translator
# (bench/dates_bench.c, bench/dates_bench.py), side by side, on this machine:
# the training-step time at batch 32 and 128 and the latency of translating
# one string, for the small model (E 64, BiLSTM 32 per direction, decoder 64)
# and the original's (E 64, BiLSTM 256, decoder 256).
#
# As /work/shared/BENCHMARKING.md asks, PyTorch runs tuned:
#   - OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for its process only;
#   - torch.set_num_threads(n) and OPENBLAS_NUM_THREADS=n (and
#     OMP_WAIT_POLICY=PASSIVE with 2 threads);
#   - Debian's jemalloc preloaded;
# and once more as found (the environment as it is, set_num_threads(n) only).
# attend runs in the environment as found, with OPENBLAS_NUM_THREADS=n.
# For every size and thread count the two run REPS times, alternating, each
# run printing median-of-STEPS JSON lines; the table shows the median of the
# runs' medians and the ratio torch tuned / attend (above 1: attend faster).
#
#   bench/run_dates_bench.sh
#   Variables: BUILD (build-dbench), THREADS ("1 2"), STEPS (20), WARMUP (3),
#              TRANSLATIONS (200), REPS (3), PYTHON (/usr/bin/python3),
#              OUT ($BUILD/dates_bench_results.jsonl)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build-dbench}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
THREADS=${THREADS:-1 2}
STEPS=${STEPS:-20}
WARMUP=${WARMUP:-3}
TRANSLATIONS=${TRANSLATIONS:-200}
REPS=${REPS:-3}
PYTHON=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-$BUILD/dates_bench_results.jsonl}
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
JEMALLOC_CONF=oversize_threshold:0,dirty_decay_ms:-1,muzzy_decay_ms:-1

die() { echo "run_dates_bench: $*" >&2; exit 1; }

"$PYTHON" -c 'import torch' 2>/dev/null ||
    die "$PYTHON cannot import torch (apt-get install python3-torch)"
[ -r "$JEMALLOC" ] || die "$JEMALLOC missing (apt-get install libjemalloc2)"

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" --target dates_bench -j "$(nproc)" >/dev/null ||
    die "building dates_bench in $BUILD failed"
ATTEND=$BUILD/bench/dates_bench
[ -x "$ATTEND" ] || die "no $ATTEND"

COMMON=(--steps "$STEPS" --warmup "$WARMUP" --translations "$TRANSLATIONS" --batches 32,128)
run_attend() { # size threads
    OPENBLAS_NUM_THREADS="$2" "$ATTEND" --size "$1" --threads "$2" "${COMMON[@]}" --label attend
}
run_torch_tuned() { # size threads
    local wait=()
    [ "$2" -gt 1 ] && wait=(OMP_WAIT_POLICY=PASSIVE)
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$2" "${wait[@]}" \
        LD_PRELOAD="$JEMALLOC" MALLOC_CONF="$JEMALLOC_CONF" \
        "$PYTHON" "$ROOT/bench/dates_bench.py" --size "$1" --threads "$2" "${COMMON[@]}" \
        --label torch_tuned
}
run_torch_as_found() { # size threads
    "$PYTHON" "$ROOT/bench/dates_bench.py" --size "$1" --threads "$2" "${COMMON[@]}" \
        --label torch_as_found
}

: >"$OUT"
echo "attend: $ATTEND   steps $STEPS, warm-up $WARMUP, translations $TRANSLATIONS," \
     "$REPS repetitions; raw lines: $OUT" >&2
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for threads in $THREADS; do
    for size in small large; do
        echo "$size, $threads thread(s) ..." >&2
        for ((rep = 1; rep <= REPS; rep++)); do
            run_attend "$size" "$threads" >>"$OUT"
            run_torch_tuned "$size" "$threads" >>"$OUT"
        done
        run_torch_as_found "$size" "$threads" >>"$OUT"
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

"$PYTHON" - "$OUT" "$LOAD_BEFORE" "$LOAD_AFTER" <<'PYEOF'
import json, statistics, sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]

def pick(label, size, threads, kind, batch):
    return [r for r in rows if r["label"] == label and r["size"] == size and
            r["threads"] == threads and r["kind"] == kind and r["batch"] == batch]

def med(label, *case):
    vals = [r["median_ms"] for r in pick(label, *case)]
    return statistics.median(vals) if vals else float("nan")

for size in ("small", "large"):
    ps = {r["label"]: r["params"] for r in rows if r["size"] == size}
    print(f"parameters, {size}: " + ", ".join(f"{k} {v}" for k, v in sorted(ps.items())) +
          ("" if len(set(ps.values())) == 1 else "   WARNING: they differ"))
print()
print("| model | threads | work | attend ms | torch tuned ms | torch as-found ms "
      "| ratio (tuned / attend) | goal |")
print("|---|---:|---|---:|---:|---:|---:|---:|")
cases = sorted({(r["size"] == "large", r["size"], r["threads"], r["kind"] == "translate",
                 r["kind"], r["batch"]) for r in rows})
for _, size, threads, _, kind, batch in cases:
    case = (size, threads, kind, batch)
    a, t, f = med("attend", *case), med("torch_tuned", *case), med("torch_as_found", *case)
    work = f"train step, batch {batch}" if kind == "train" else "translate one string"
    goal = "3x" if kind == "train" else "10x"
    print(f"| {size} | {threads} | {work} | {a:.3f} | {t:.3f} | {f:.3f} | {t / a:.2f}x | {goal} |")
print()
print("ratio of each repetition (torch tuned / attend, run next to each other)")
for _, size, threads, _, kind, batch in cases:
    case = (size, threads, kind, batch)
    pairs = [t["median_ms"] / a["median_ms"]
             for a, t in zip(pick("attend", *case), pick("torch_tuned", *case))]
    print(f"  {size:5s} {threads}t {kind:9s} b{batch:<3d}: " +
          ", ".join(f"{x:.2f}x" for x in pairs))
print()
print(f"load average (1/5/15 min) before {sys.argv[2]}, after {sys.argv[3]}")
for r in rows:
    if r["kind"] == "train" and not r["loss_last"] < r["loss_first"]:
        print(f"WARNING: {r['label']} {r['size']} b{r['batch']} t{r['threads']}: "
              f"loss did not fall ({r['loss_first']} -> {r['loss_last']})")
PYEOF
