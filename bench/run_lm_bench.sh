#!/usr/bin/env bash
# run_lm_bench.sh - attend against PyTorch on a character language model
# (issue 12): the same Transformer, the same text, split and batches, the
# same optimiser, the same wall-clock training budget; how many characters
# a second each trains on, and which validation loss each reaches.
#
#   - the model: the GPT-style Transformer, 4 layers x 4 heads x 128 wide,
#     context 64, dropout 0 (bench/lm_gpt.py is attend's model in PyTorch,
#     parameter for parameter; the two parameter counts are compared before
#     any run and after every run, and the script stops if they differ);
#   - the data: Moby Dick (scripts/data.sh moby-dick) or $DATA, the first
#     90% of its characters train, the last 10% validate;
#   - training: batch 64 random windows of 65 characters (a seeded shuffle
#     of every start), Adam (lr 1e-3, betas (0.9, 0.99)), 100 warm-up steps
#     then a cosine to lr/10 over STEPS (by default so many that the rate
#     stays near 1e-3: neither side knows in advance how many steps its
#     budget holds), clip 1, seed 1; MINUTES of training each (evaluation
#     excluded), THREADS 1 and 2;
#   - scoring: the final model's mean nats (and bits) per validation
#     character, every character but the first predicted from the ones
#     before it in its window of 64 (`attend lm eval`; bench/lm_bench.py
#     evaluates the same way, checked against attend by
#     tests/lm_bench_test.py);
#   - tokens/s = steps x 64 x 64 / training seconds: attend's from the
#     last loss line of its metrics.jsonl before the final evaluation
#     (within 10 steps of the end), PyTorch's from its own clock;
#   - the peer at its best (/work/shared/BENCHMARKING.md): PyTorch tuned,
#     in the environment bench/peer_env.sh finds by measuring (the OpenBLAS
#     kernels fastest here, OPENBLAS_NUM_THREADS, jemalloc,
#     OMP_WAIT_POLICY=PASSIVE at 2 threads), and PyTorch as found (only
#     torch.set_num_threads); the peer is the faster of the two per thread
#     count, and both are printed. AS_FOUND=0 skips the as-found runs.
#     Its attention: before each thread count's runs, lm_bench.py
#     --time-attention times a training step of nn.MultiheadAttention and
#     of the same attention written out, alternately (ATTENTION_ROUNDS
#     each, tuned), and the PyTorch runs use the faster (ATTENTION=manual
#     or mha fixes it instead);
#   - attend runs in the environment as found, with OPENBLAS_NUM_THREADS
#     equal to its --threads. The runs go one after the other, never
#     together: per thread count attend, PyTorch tuned, PyTorch as found.
#
# Writes to OUT: results.jsonl (one line a run), results.md (the table),
# results.json (the table's figures and the run's conditions), peer.txt
# (the OpenBLAS probe), and each run's folder and log. Takes about
# (2 + AS_FOUND) x MINUTES x the thread counts, plus the evaluations:
# some 20 minutes by default. Run it on a quiet machine.
#
#   bench/run_lm_bench.sh
#   Variables: BUILD (build), MINUTES (3), THREADS ("1 2"), STEPS
#              (100000000), AS_FOUND (1), ATTENTION (measure), REPLICAS
#              (1; R: attend trains with --replicas R wherever the thread
#              count is a multiple of R, e.g. 2 replicas x 1 thread at 2),
#              ATTENTION_ROUNDS (20), OUT (runs/lm-bench), DATA
#              (scripts/data.sh moby-dick), PYTHON (/usr/bin/python3)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
MINUTES=${MINUTES:-3}
THREADS=${THREADS:-1 2}
STEPS=${STEPS:-100000000}
REPLICAS=${REPLICAS:-1}
AS_FOUND=${AS_FOUND:-1}
ATTENTION=${ATTENTION:-measure}
ATTENTION_ROUNDS=${ATTENTION_ROUNDS:-20}
OUT=${OUT:-$ROOT/runs/lm-bench}
PYTHON=${PYTHON:-/usr/bin/python3}
# shellcheck source=bench/peer_env.sh
. "$ROOT/bench/peer_env.sh"

die() { echo "run_lm_bench: $*" >&2; exit 1; }
say() { echo "run_lm_bench: $*" >&2; }
ATTEND=$BUILD/attend
[ -x "$ATTEND" ] || die "no $ATTEND (cmake --build $BUILD)"
DATA=${DATA:-$("$ROOT/scripts/data.sh" moby-dick)}
[ -r "$DATA" ] || die "cannot read the text $DATA"
mkdir -p "$OUT"

LAYERS=4 WIDTH=128 CONTEXT=64
MODEL=(--layers $LAYERS --heads 4 --width $WIDTH --context $CONTEXT --dropout 0)
TRAIN=(--batch 64 --lr 0.001 --seed 1)
BENCH=("$ROOT/bench/lm_bench.py" --data "$DATA" "${MODEL[@]}" "${TRAIN[@]}")
RESULTS=$OUT/results.jsonl
PEER_LOG=$OUT/peer.txt
: >"$RESULTS"
: >"$PEER_LOG"
: >"$OUT/attention.jsonl"

# attend's parameter count, from the "model: ..." line its training prints
attend_params() { # log
    sed -n 's/^model: .*, \([0-9][0-9]*\) parameters,.*/\1/p' "$1" | head -n 1
}

# attend's vocabulary (characters + specials), from the same line
attend_vocab() { # log
    sed -n 's/^model: .*parameters, \([0-9][0-9]*\) characters + \([0-9][0-9]*\) specials.*/\1 \2/p' "$1" |
        head -n 1 | awk '{ print $1 + $2 }'
}

# The machine's FP32 FMA peak at 1 and 2 threads (attention_bench peak,
# bench_ceilings.h): the ceiling the table's last columns measure against.
measure_peak() {
    cmake --build "$BUILD" --target attention_bench -j "$(nproc)" >/dev/null 2>&1 ||
        die "building attention_bench in $BUILD failed"
    "$BUILD/bench/attention_bench" peak >"$OUT/peak.jsonl" || die "attention_bench peak failed"
}

# Both models built, their sizes compared, before minutes are spent.
check_params() {
    local dir=$OUT/params-check
    rm -rf "$dir"
    "$ATTEND" lm train --data "$DATA" --model transformer "${MODEL[@]}" "${TRAIN[@]}" \
        --steps 1 --eval-every 1 --eval-chars 2 --out "$dir" 2>"$dir.log" ||
        die "attend lm train failed: $(tail -3 "$dir.log")"
    local a p
    a=$(attend_params "$dir.log")
    p=$("$PYTHON" "${BENCH[@]}" --steps 0 --eval-chars 2 2>"$OUT/params-check-torch.log" |
        "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["params"])') ||
        die "lm_bench.py failed: $(tail -3 "$OUT/params-check-torch.log")"
    say "parameters: attend ${a:-?}, PyTorch $p"
    VOCAB=$(attend_vocab "$dir.log")
    [ -n "$VOCAB" ] || die "cannot read attend's vocabulary size in $dir.log"
    if [ -z "$a" ] || [ "$a" != "$p" ]; then
        die "the two models differ in size (attend ${a:-?}, PyTorch $p)"
    fi
}

run_attend() { # threads
    local dir=$OUT/attend-t$1 replicas=1
    [ $(($1 % REPLICAS)) -eq 0 ] && replicas=$REPLICAS
    rm -rf "$dir"
    OPENBLAS_NUM_THREADS=$1 "$ATTEND" lm train --data "$DATA" --model transformer "${MODEL[@]}" \
        "${TRAIN[@]}" --minutes "$MINUTES" --steps "$STEPS" --eval-every "$STEPS" --threads "$1" \
        --replicas "$replicas" --out "$dir" 2>"$dir.log" ||
        die "attend training failed: $(tail -3 "$dir.log")"
    OPENBLAS_NUM_THREADS=$1 "$ATTEND" lm eval "$dir/model.safetensors" "$DATA" --threads "$1" \
        >"$dir.eval" 2>&1 || die "attend lm eval failed: $(tail -3 "$dir.eval")"
    "$PYTHON" - "$dir" "$1" "$MINUTES" "$(attend_params "$dir.log")" "$replicas" <<'PY' >>"$RESULTS" ||
import json, math, re, sys
folder, threads, minutes, params = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
replicas = int(sys.argv[5])
log = open(folder + ".log").read().replace("\r", "\n")
steps = re.findall(r"^trained to step (\d+)", log, re.M)
nats = re.search(r"^valid: ([0-9.]+) nats/char .*\((\d+) characters predicted",
                 open(folder + ".eval").read(), re.M)
lines = [json.loads(l) for l in open(folder + "/metrics.jsonl") if l.strip()]
timed = [l for l in lines if not any(k.startswith("valid_") for k in l)]
if not (steps and nats and timed and params):
    sys.exit("cannot read the run's steps, parameters, metrics or evaluation")
last = timed[-1]
batch, context = 64, 64
print(json.dumps({"impl": "attend", "threads": threads, "minutes": minutes, "replicas": replicas,
                  "steps": int(steps[-1]), "batch": batch, "context": context,
                  "tokens": int(steps[-1]) * batch * context,
                  "train_seconds": last["seconds"], "timed_steps": last["step"],
                  "tokens_per_s": round(last["step"] * batch * context / last["seconds"], 1),
                  "valid_nats": float(nats.group(1)),
                  "valid_bpc": float(nats.group(1)) / math.log(2),
                  "valid_predicted": int(nats.group(2)), "params": int(params)}))
PY
        die "cannot read attend's results in $dir"
}

# The peer's faster attention at THREADS, measured (tuned), or $ATTENTION.
pick_attention() { # threads
    case $ATTENTION in
    manual | mha) echo "$ATTENTION"; return ;;
    measure) ;;
    *) die "ATTENTION is manual, mha or measure, not '$ATTENTION'" ;;
    esac
    local log=$OUT/attention-t$1.log timed
    timed=$(peer_tuned "$1" "$PYTHON" "${BENCH[@]}" --threads "$1" \
        --time-attention "$ATTENTION_ROUNDS" 2>"$log" | tail -n 1) ||
        die "timing the peer's attention failed: $(tail -3 "$log")"
    echo "$timed" >>"$OUT/attention.jsonl"
    say "PyTorch's attention at $1 thread(s), ms a step: $timed"
    "$PYTHON" -c 'import json, sys; print(json.loads(sys.argv[1])["faster"])' "$timed"
}

run_torch() { # threads tuned|as-found attention
    local log=$OUT/torch-$2-t$1.log
    local peer=peer_tuned
    [ "$2" = tuned ] || peer=peer_as_found
    "$peer" "$1" "$PYTHON" "${BENCH[@]}" --minutes "$MINUTES" --steps "$STEPS" --threads "$1" \
        --attention "$3" --label "pytorch $2" 2>"$log" | tail -n 1 >>"$RESULTS" ||
        die "PyTorch ($2) failed: $(tail -3 "$log")"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "load average before: $LOAD_BEFORE"
check_params
measure_peak
peer_probe
for t in $THREADS; do
    attention=$(pick_attention "$t")
    say "$t thread(s): attend, $MINUTES min"
    run_attend "$t"
    say "$t thread(s): PyTorch tuned ($attention attention), $MINUTES min"
    run_torch "$t" tuned "$attention"
    if [ "$AS_FOUND" != 0 ]; then
        say "$t thread(s): PyTorch as found ($attention attention), $MINUTES min"
        run_torch "$t" as-found "$attention"
    fi
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

"$PYTHON" - "$OUT" "$LOAD_BEFORE" "$LOAD_AFTER" "$PEER_CORETYPE" "$PEER_CORE" "$PEER_GFLOPS" \
    "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
    "$LAYERS" "$WIDTH" "$CONTEXT" "$VOCAB" <<'PY'
import json, os, sys
out, load_before, load_after, coretype, core, gflops, commit, cpu = sys.argv[1:9]
L, D, T, V = (int(x) for x in sys.argv[9:13])
# FLOPs a character: forward multiply-adds L x 12 D^2 (Q, K, V, output, the
# 4D-wide MLP) + D V (the output layer) + L x 2 T D (scores and weighted
# sum over the window, counted whole), x 2 for FLOPs, x 3 for forward and
# backward; biases, LayerNorm, GELU, softmax and Adam are not counted.
flops_per_char = 2 * 3 * (L * 12 * D * D + D * V + L * 2 * T * D)
peaks = {p["threads"]: p["gflops"] for p in
         (json.loads(l) for l in open(os.path.join(out, "peak.jsonl")) if l.strip())
         if p.get("kind") == "peak"}
rows = [json.loads(l) for l in open(os.path.join(out, "results.jsonl")) if l.strip()]
lines = []
say = lines.append
say(f"attend {commit} against PyTorch {next((r['torch'] for r in rows if 'torch' in r), '?')}, "
    f"on {cpu}; the tuned peer's OpenBLAS kernels: {coretype} (Core: {core}, {gflops} GFLOP/s).")
say(f"4 layers x 4 heads x 128 wide, context 64, batch 64, {rows[0]['minutes']:g} minutes of "
    f"training each; load average (1/5/15 min) before {load_before}, after {load_after}.")
say("")
say("```")
say(open(os.path.join(out, "peer.txt")).read().rstrip("\n"))
say("```")
say("")
say("| threads | side | steps | train s | tokens/s | valid nats/char | valid bits/char "
    "| parameters |")
say("|---:|---|---:|---:|---:|---:|---:|---:|")
for r in rows:
    side = r["impl"] + (f" ({r['attention']} attention)" if "attention" in r else "")
    if r.get("replicas", 1) > 1:
        side += f" ({r['replicas']} replicas)"
    say(f"| {r['threads']} | {side} | {r['steps']} | {r['train_seconds']:.1f} | "
        f"{r['tokens_per_s']:.0f} | {r['valid_nats']:.4f} | {r['valid_bpc']:.4f} | {r['params']} |")
say("")
summary = []
for t in sorted({r["threads"] for r in rows}):
    a = next((r for r in rows if r["threads"] == t and r["impl"] == "attend"), None)
    peers = [r for r in rows if r["threads"] == t and r["impl"].startswith("pytorch")]
    if not a or not peers:
        continue
    p = max(peers, key=lambda r: r["tokens_per_s"])
    ratio = a["tokens_per_s"] / p["tokens_per_s"]
    lower = a["valid_nats"] < p["valid_nats"]
    summary.append({"threads": t, "peer": p["impl"], "tokens_per_s_ratio": ratio,
                    "attend_valid_nats": a["valid_nats"], "peer_valid_nats": p["valid_nats"],
                    "speed_goal_met": ratio >= 3.0, "lower_loss": lower})
    say(f"{t} thread(s): attend trains on **{ratio:.2f}x** the tokens per second of the peer "
        f"({p['impl']}; goal 3x: {'met' if ratio >= 3 else 'NOT met'}); validation "
        f"{a['valid_nats']:.4f} against {p['valid_nats']:.4f} nats/char "
        f"({'lower' if lower else 'NOT lower'}).")
    peak = peaks.get(t)
    if peak:
        ceiling = peak * 1e9 / flops_per_char  # characters a second at the FMA peak
        a_frac = a["tokens_per_s"] * flops_per_char / (peak * 1e9)
        p_frac = p["tokens_per_s"] * flops_per_char / (peak * 1e9)
        best = ceiling / p["tokens_per_s"]
        summary[-1].update({"fma_peak_gflops": peak, "flops_per_char": flops_per_char,
                            "attend_fraction_of_peak": a_frac, "peer_fraction_of_peak": p_frac,
                            "best_possible_ratio": best})
        say(f"{t} thread(s), the ceiling: {flops_per_char / 1e6:.2f} MFLOP a character; at the "
            f"FMA peak measured now ({peak:.1f} GFLOP/s) a program would train {ceiling:,.0f} "
            f"characters a second, **{best:.2f}x** the peer (the best possible ratio). attend "
            f"runs at {100 * a_frac:.0f}% of the peak, the peer at {100 * p_frac:.0f}%; 2x the "
            f"peer (issue 16's goal) needs {200 * p_frac:.0f}% of the peak.")
timed = [json.loads(l) for l in open(os.path.join(out, "attention.jsonl")) if l.strip()]
if timed:
    say("")
    say("The peer's attention, a training step timed alternately (tuned; median / fastest ms): " +
        "; ".join(f"{a['threads']} thread(s): written out {a['manual']['median_ms']:.1f} / "
                  f"{a['manual']['min_ms']:.1f}, nn.MultiheadAttention {a['mha']['median_ms']:.1f}"
                  f" / {a['mha']['min_ms']:.1f} -> {a['faster']}" for a in timed) + ".")
params = sorted({r["params"] for r in rows})
text = "\n".join(lines) + "\n"
open(os.path.join(out, "results.md"), "w").write(text)
json.dump({"commit": commit, "cpu": cpu, "load_before": load_before, "load_after": load_after,
           "peer_coretype": coretype, "peer_core": core, "peer_sgemm_gflops": gflops,
           "attention_timing": timed, "runs": rows, "summary": summary},
          open(os.path.join(out, "results.json"), "w"), indent=1)
print(text, end="")
if len(params) != 1:
    sys.exit(f"run_lm_bench: the runs' parameter counts differ: {params}")
PY
