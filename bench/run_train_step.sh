#!/usr/bin/env bash
# run_train_step.sh - attend against PyTorch on one training step of a small
# BiLSTM-encoder / GRU-decoder model, side by side, on this machine.
#
# The idea: a speed claim counts only against the peer at its best, measured
# in the same run (see /work/shared/BENCHMARKING.md). So for every case -
# batch 32 and 128, 1 and 2 threads - this script runs attend
# (bench/train_step.c) and PyTorch (bench/train_step.py) in turn, three
# times, alternating them so that a slow minute of the machine hits both.
# PyTorch runs tuned, in the environment bench/peer_env.sh finds by
# measuring (for its process only):
#   - the OpenBLAS kernels that run an sgemm fastest in torch here, out of
#     as found, OPENBLAS_CORETYPE unset, Haswell, SkylakeX, Cooperlake and
#     SapphireRapids (the table of them is printed first);
#   - torch.set_num_threads(n) and OPENBLAS_NUM_THREADS=n, and
#     OMP_WAIT_POLICY=PASSIVE with 2 threads;
#   - Debian's jemalloc preloaded.
# and once more as found (the environment as it is, only set_num_threads(n)).
# The peer is the faster of the two per case; both are printed.
# attend runs in the environment as found (the pinned OpenBLAS kernels
# included), with OPENBLAS_NUM_THREADS=n so that OpenBLAS starts no idle
# helper threads; train_step also sets OpenBLAS's and its context's thread
# count to n itself.
#
# Each program prints one JSON line per run (median of STEPS timed steps
# after WARMUP untimed ones). The table shows, per case, the median over the
# repetitions of those medians, and the ratio peer / attend, the peer being
# the faster of torch tuned and torch as found (above 1: attend is faster). Every JSON line is kept in $OUT for the record.
#
#   bench/run_train_step.sh                   # builds ./build if needed
#   BUILD=build-bench bench/run_train_step.sh # another build directory
#   Variables: BUILD (build), STEPS (50), WARMUP (5), REPS (3), THREADS ("1 2"),
#              PYTHON (/usr/bin/python3), OUT ($BUILD/train_step_results.jsonl)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
STEPS=${STEPS:-50}
WARMUP=${WARMUP:-5}
REPS=${REPS:-3}
THREADS=${THREADS:-1 2}
PYTHON=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-$BUILD/train_step_results.jsonl}
# shellcheck source=bench/peer_env.sh
. "$ROOT/bench/peer_env.sh"

die() { echo "run_train_step: $*" >&2; exit 1; }

# ------------------------------------------------------------------- build
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" --target train_step -j "$(nproc)" >/dev/null ||
    die "building train_step in $BUILD failed (cmake --build $BUILD --target train_step)"
ATTEND=$BUILD/bench/train_step
[ -x "$ATTEND" ] || ATTEND=$(find "$BUILD" -type f -name train_step -perm -u+x | head -n 1)
if [ -z "$ATTEND" ] || [ ! -x "$ATTEND" ]; then die "no train_step executable under $BUILD"; fi

# --------------------------------------------------------------------- run
run_attend() { # batch threads
    OPENBLAS_NUM_THREADS="$2" "$ATTEND" --batch "$1" --threads "$2" --steps "$STEPS" --warmup "$WARMUP" \
        --label attend
}
run_torch_tuned() { # batch threads
    peer_tuned "$2" "$PYTHON" "$ROOT/bench/train_step.py" --batch "$1" --threads "$2" \
        --steps "$STEPS" --warmup "$WARMUP" --label torch_tuned
}
run_torch_as_found() { # batch threads
    peer_as_found "$2" "$PYTHON" "$ROOT/bench/train_step.py" --batch "$1" --threads "$2" \
        --steps "$STEPS" --warmup "$WARMUP" --label torch_as_found
}

: >"$OUT"
echo "attend: $ATTEND   steps $STEPS, warm-up $WARMUP, $REPS repetitions; raw lines: $OUT" >&2
# Other work on this 2-core machine skews every figure: say so up front.
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average before: $LOAD_BEFORE" >&2
PEER_LOG=$OUT.peer
: >"$PEER_LOG"
peer_probe
for batch in 32 128; do
    for threads in $THREADS; do
        echo "batch $batch, $threads thread(s) ..." >&2
        for ((rep = 1; rep <= REPS; rep++)); do
            run_attend "$batch" "$threads" >>"$OUT"
            run_torch_tuned "$batch" "$threads" >>"$OUT"
        done
        run_torch_as_found "$batch" "$threads" >>"$OUT"
    done
done

# ------------------------------------------------------------------ report
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
cat "$PEER_LOG"
echo
"$PYTHON" - "$OUT" "$LOAD_BEFORE" "$LOAD_AFTER" "$PEER_CORETYPE" <<'EOF'
import json, statistics, sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
cases = sorted({(r["batch"], r["threads"]) for r in rows})

def med(label, batch, threads, key="median_ms"):
    vals = [r[key] for r in rows
            if r["label"] == label and r["batch"] == batch and r["threads"] == threads]
    return statistics.median(vals) if vals else float("nan")

params = {r["label"]: r["params"] for r in rows}
print("parameters: " + ", ".join(f"{k} {v}" for k, v in sorted(params.items())))
if len(set(params.values())) != 1:
    print("WARNING: the two models differ in parameter count")
unstable = [r for r in rows if r["label"] == "attend" and not r.get("arena_stable", True)]
caps = sorted({r["arena_capacity"] for r in rows if r["label"] == "attend"})
print("attend arena capacity after warm-up (bytes): " + ", ".join(map(str, caps)) +
      ("; stable in every timed step" if not unstable else "; GREW in some runs"))
print()
print(f"the peer = the faster of torch tuned (OpenBLAS {sys.argv[4]}, measured fastest) "
      "and torch as found, per case")
print()
print("| batch | threads | attend ms | torch tuned ms | torch as-found ms | peer ms "
      "| ratio (peer / attend) |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for b, t in cases:
    a, tt, tf = med("attend", b, t), med("torch_tuned", b, t), med("torch_as_found", b, t)
    peer = min(tt, tf)
    which = "tuned" if peer == tt else "as found"
    print(f"| {b} | {t} | {a:.2f} | {tt:.2f} | {tf:.2f} | {peer:.2f} ({which}) | {peer / a:.2f}x |")
print()
print("ratio of each repetition (torch tuned / attend, the two runs next to each other in time)")
for b, t in cases:
    def series(label):
        return [r["median_ms"] for r in rows
                if r["label"] == label and r["batch"] == b and r["threads"] == t]
    pairs = [tt / a for a, tt in zip(series("attend"), series("torch_tuned"))]
    print(f"  batch {b:3d}, {t} thread(s): " + ", ".join(f"{x:.2f}x" for x in pairs))
print()
print("fastest single step (ms; less sensitive to other load on the machine)")
for b, t in cases:
    def fastest(label):
        vals = [r["min_ms"] for r in rows
                if r["label"] == label and r["batch"] == b and r["threads"] == t]
        return min(vals) if vals else float("nan")
    a, tt = fastest("attend"), fastest("torch_tuned")
    print(f"  batch {b:3d}, {t} thread(s): attend {a:.2f}, torch tuned {tt:.2f}, ratio {tt / a:.2f}x")
print()
print("phases (median ms: forward / backward / clip+Adam)")
for b, t in cases:
    parts = []
    for label in ("attend", "torch_tuned"):
        f, k, u = (med(label, b, t, key) for key in ("forward_ms", "backward_ms", "update_ms"))
        parts.append(f"{label} {f:.2f} / {k:.2f} / {u:.2f}")
    print(f"  batch {b:3d}, {t} thread(s): " + ";  ".join(parts))
print()
print(f"load average (1/5/15 min) before {sys.argv[2]}, after {sys.argv[3]}; this run itself "
      "adds about 1-2. Well above that, other work shared the cores: re-run on a quiet machine.")
for r in rows:
    if not r["loss_last"] < r["loss_first"]:
        print(f"WARNING: {r['label']} batch {r['batch']} threads {r['threads']}: "
              f"loss did not fall ({r['loss_first']} -> {r['loss_last']})")
EOF
