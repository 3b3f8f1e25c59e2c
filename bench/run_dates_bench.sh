#!/usr/bin/env bash
# run_dates_bench.sh - attend against PyTorch on the date translator
# (bench/dates_bench.c, bench/dates_bench.py), side by side, on this machine:
# the training-step time at batch 32 and 128 and the latency of translating
# one string, for the small model (E 64, BiLSTM 32 per direction, decoder 64)
# and the original's (E 64, BiLSTM 256, decoder 256).
#
# As /work/shared/BENCHMARKING.md asks, PyTorch runs tuned, in the
# environment bench/peer_env.sh finds by measuring, for its process only:
#   - the OpenBLAS kernels that run an sgemm fastest in torch on this
#     machine, out of as found, OPENBLAS_CORETYPE unset, Haswell, SkylakeX,
#     Cooperlake and SapphireRapids (their table is printed first);
#   - torch.set_num_threads(n) and OPENBLAS_NUM_THREADS=n (and
#     OMP_WAIT_POLICY=PASSIVE with 2 threads);
#   - Debian's jemalloc preloaded;
# and once more as found (the environment as it is, set_num_threads(n) only).
# The peer is the faster of the two per case; the table prints both.
# attend runs in the environment as found, with OPENBLAS_NUM_THREADS=n.
# For every size and thread count the two run REPS times, alternating, each
# run printing median-of-STEPS JSON lines; the table shows the median of the
# runs' medians and the ratio peer / attend (above 1: attend faster).
#
# Before the runs, `dates_bench --ceilings` measures the machine's ceilings
# once: the FP32 FMA peak (1 core, all cores) and the read bandwidth of the
# working sets a translation streams (1 and 2 cores). From them and the
# models' FLOP counts (dates_bench.c counts them) the table adds, per case,
# attend's GFLOP/s and % of the FMA peak, PyTorch's GFLOP/s, the floor (the
# least time this machine allows: FLOPs at the peak for a training step,
# the larger of that and the weights streamed at the measured bandwidth for
# a translation) and the best possible ratio, peer / floor: no
# implementation can beat PyTorch by more here.
#
#   bench/run_dates_bench.sh
#   Variables: BUILD (build-dbench), THREADS ("1 2"), STEPS (20), WARMUP (3),
#              TRANSLATIONS (200), REPS (3), PYTHON (/usr/bin/python3),
#              OUT ($BUILD/dates_bench_results.jsonl),
#              CEILINGS ($BUILD/dates_bench_ceilings.jsonl)
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
CEILINGS=${CEILINGS:-$BUILD/dates_bench_ceilings.jsonl}
# shellcheck source=bench/peer_env.sh
. "$ROOT/bench/peer_env.sh"

die() { echo "run_dates_bench: $*" >&2; exit 1; }

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" --target dates_bench -j "$(nproc)" >/dev/null ||
    die "building dates_bench in $BUILD failed"
ATTEND=$BUILD/bench/dates_bench
[ -x "$ATTEND" ] || die "no $ATTEND"

read -ra THREAD_LIST <<<"$THREADS"
[ "${#THREAD_LIST[@]}" -gt 0 ] || die "THREADS is empty"
BATCHES=32,128
COMMON=(--steps "$STEPS" --warmup "$WARMUP" --translations "$TRANSLATIONS" --batches "$BATCHES")
run_attend() { # size threads
    OPENBLAS_NUM_THREADS="$2" "$ATTEND" --size "$1" --threads "$2" "${COMMON[@]}" --label attend
}
run_torch_tuned() { # size threads
    peer_tuned "$2" "$PYTHON" "$ROOT/bench/dates_bench.py" --size "$1" --threads "$2" \
        "${COMMON[@]}" --label torch_tuned
}
run_torch_as_found() { # size threads
    peer_as_found "$2" "$PYTHON" "$ROOT/bench/dates_bench.py" --size "$1" --threads "$2" \
        "${COMMON[@]}" --label torch_as_found
}

: >"$OUT"
echo "attend: $ATTEND   steps $STEPS, warm-up $WARMUP, translations $TRANSLATIONS," \
     "$REPS repetitions; raw lines: $OUT" >&2
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average before: $LOAD_BEFORE" >&2
PEER_LOG=$OUT.peer
: >"$PEER_LOG"
peer_probe
echo "the machine's ceilings (FMA peak, read bandwidth): $CEILINGS" >&2
"$ATTEND" --ceilings "$(IFS=,; echo "${THREAD_LIST[*]}")" --batches "$BATCHES" >"$CEILINGS" ||
    die "dates_bench --ceilings failed"
for threads in "${THREAD_LIST[@]}"; do
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
cat "$PEER_LOG"
echo

"$PYTHON" - "$OUT" "$CEILINGS" "$LOAD_BEFORE" "$LOAD_AFTER" "$PEER_CORETYPE" <<'PYEOF'
import json, statistics, sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
ceil = [json.loads(line) for line in open(sys.argv[2]) if line.strip()]
load_before, load_after = sys.argv[3], sys.argv[4]
peaks = {r["threads"]: r["gflops"] for r in ceil if r["kind"] == "peak"}
floors = {(r["size"], r["threads"], r["work"], r["batch"]): r
          for r in ceil if r["kind"] == "floor"}

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

# ---- the machine's ceilings, measured once before the runs
print()
cores = next(r["cores"] for r in ceil if r["kind"] == "peak")
print("machine ceilings (dates_bench --ceilings, before the runs):")
print("  FP32 FMA peak, best of 5 runs: " +
      ", ".join(f"{t} core{'s' if t > 1 else ''} {g:.1f} GFLOP/s"
                for t, g in sorted(peaks.items())))
if 1 in peaks and cores > 1 and peaks[cores] < 0.75 * cores * peaks[1]:
    print(f"  WARNING: the {cores}-core peak is below 75% of {cores} x the 1-core peak: other "
          f"work was running; the floors above 1 thread are too high")
bw = [r for r in ceil if r["kind"] == "bandwidth"]
bw_threads = sorted({r["threads"] for r in bw})
print("  read bandwidth, GB/s, median (fastest) of 7 runs, the set split evenly over the cores;"
      " the floors take the fastest:")
print("  | model | working set | MB | " + " | ".join(f"{t} core{'s' if t > 1 else ''}"
                                                   for t in bw_threads) + " |")
print("  |---|---|---:|" + "---:|" * len(bw_threads))
for size in ("small", "large"):
    for name in dict.fromkeys(r["working_set"] for r in bw if r["size"] == size):
        got = {r["threads"]: r for r in bw if r["size"] == size and r["working_set"] == name}
        some = next(iter(got.values()))
        print(f"  | {size} | {name} | {some['bytes'] / 1e6:.3f} | " +
              " | ".join(f"{got[t]['gbps']:.1f} ({got[t]['best_gbps']:.1f})" if t in got else "-"
                         for t in bw_threads) + " |")
noisy = [r for r in bw if r["gbps"] < 0.8 * r["best_gbps"]]
if noisy:
    print("  WARNING: for " + ", ".join(f"{r['size']} {r['working_set']} {r['threads']}t"
                                       for r in noisy) +
          " the median is below 80% of the fastest run: other work was running")
for r in ceil:
    if r["kind"] == "costs":
        print(f"  {r['size']}: forward {2 * r['forward_macs'] / 1e6:.3f} MFLOP per sequence; "
              f"train step {r['train_gflop_per_row'] * 1e3:.3f} MFLOP per batch row; "
              f"translation {r['translate_gflop'] * 1e3:.3f} MFLOP, "
              f"{r['translate_weight_mb']:.1f} MB of weights streamed")
print()
print("translation floors: max(FLOPs at the FMA peak, weights streamed at the bandwidth of "
      "their working set)")
for key in sorted(floors, key=lambda k: (k[0] == "large", k[1])):
    (size, threads, work, _), r = key, floors[key]
    if work != "translate":
        continue
    parts = "; ".join(f"{p['what']}: {p['mb']:.2f} MB at {p['gbps']:.1f} GB/s = {p['ms']:.3f} ms"
                      for p in r["stream"])
    print(f"  {size} {threads}t: compute {r['compute_ms']:.4f} ms, stream {r['stream_ms']:.4f} ms "
          f"({parts})")

print()
print(f"the peer = the faster of torch tuned (OpenBLAS {sys.argv[5]}, measured fastest) and "
      "torch as found, per case")
print()
print("| model | threads | work | attend ms | torch tuned ms | torch as-found ms | peer ms "
      "| ratio (peer / attend) | goal | GFLOP | attend GFLOP/s | attend % FMA peak "
      "| peer GFLOP/s | floor ms | attend / floor | best possible ratio (peer / floor) |")
print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
cases = sorted({(r["size"] == "large", r["size"], r["threads"], r["kind"] == "translate",
                 r["kind"], r["batch"]) for r in rows})
for _, size, threads, _, kind, batch in cases:
    case = (size, threads, kind, batch)
    a, t, f = med("attend", *case), med("torch_tuned", *case), med("torch_as_found", *case)
    p = min(t, f)
    which = "tuned" if p == t else "as found"
    work = f"train step, batch {batch}" if kind == "train" else "translate one string"
    goal = "3x" if kind == "train" else "10x"
    fl = floors.get(case)
    if fl:
        gflop, floor_ms = fl["gflop"], fl["floor_ms"]
        rate = gflop / a * 1e3  # attend's GFLOP/s
        extra = (f"{gflop:.4g} | {rate:.1f} | {100 * rate / fl['peak_gflops']:.1f}% "
                 f"| {gflop / p * 1e3:.1f} | {floor_ms:.4g} | {a / floor_ms:.2f}x "
                 f"| {p / floor_ms:.2f}x")
    else:
        extra = "- | - | - | - | - | - | -"
    print(f"| {size} | {threads} | {work} | {a:.3f} | {t:.3f} | {f:.3f} | {p:.3f} ({which}) "
          f"| {p / a:.2f}x | {goal} | {extra} |")
print()
print("ratio of each repetition (torch tuned / attend, run next to each other)")
for _, size, threads, _, kind, batch in cases:
    case = (size, threads, kind, batch)
    pairs = [t["median_ms"] / a["median_ms"]
             for a, t in zip(pick("attend", *case), pick("torch_tuned", *case))]
    print(f"  {size:5s} {threads}t {kind:9s} b{batch:<3d}: " +
          ", ".join(f"{x:.2f}x" for x in pairs))
print()
print(f"load average (1/5/15 min) before {load_before}, after {load_after}")
for r in rows:
    if r["kind"] == "train" and not r["loss_last"] < r["loss_first"]:
        print(f"WARNING: {r['label']} {r['size']} b{r['batch']} t{r['threads']}: "
              f"loss did not fall ({r['loss_first']} -> {r['loss_last']})")
PYEOF
