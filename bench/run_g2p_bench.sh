#!/usr/bin/env bash
# run_g2p_bench.sh - attend against PyTorch on grapheme-to-phoneme (issue
# 11): the same model, the same data, the same optimiser, the same
# wall-clock training budget; which one reaches the lower dev WER, and how
# many examples a second each trains on.
#
#   - the data: `attend g2p export` writes the split attend trains on
#     (CMUdict without the standard test words, dev = 1 word in 20) as TSV;
#     both sides read those files;
#   - the model: luong decoder with an LSTM cell and additive attention,
#     embed 64, BiLSTM 128 per direction, decoder 256, attention 128
#     (bench/g2p_bench.py mirrors attend's model; tests/g2p_bench_test.py
#     checks it decodes attend's own checkpoints exactly as attend does);
#   - training: batch 64, Adam at lr 0.002 after 200 warm-up steps, flat
#     (a time budget has no known end for a decay), clip 1, seed 1;
#     MINUTES of training each (evaluations excluded), THREADS 1 and 2;
#   - scoring: greedy decoding of the dev words, WER and PER against all
#     the pronunciations of each word (attend g2p eval --dev --beam 1; the
#     script's own scoring, checked against the same definition);
#   - the peer at its best: PyTorch in the environment bench/peer_env.sh
#     finds by measuring (the OpenBLAS kernels fastest here, jemalloc,
#     OMP_WAIT_POLICY=PASSIVE at 2 threads). The runs never overlap.
#
#   bench/run_g2p_bench.sh
#   Variables: BUILD (build), MINUTES (6), THREADS ("1 2"), OUT
#              (runs/g2p-bench), ATTEND_G2P_TEST (the test split),
#              ATTEND_CMUDICT (the dictionary), PYTHON (/usr/bin/python3)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
MINUTES=${MINUTES:-6}
THREADS=${THREADS:-1 2}
OUT=${OUT:-$ROOT/runs/g2p-bench}
PYTHON=${PYTHON:-/usr/bin/python3}
# shellcheck source=bench/peer_env.sh
. "$ROOT/bench/peer_env.sh"

die() { echo "run_g2p_bench: $*" >&2; exit 1; }
[ -n "${ATTEND_G2P_TEST:-}" ] || die "set ATTEND_G2P_TEST to the standard test split"
ATTEND=$BUILD/attend
[ -x "$ATTEND" ] || die "no $ATTEND (cmake --build $BUILD)"
DICT=${ATTEND_CMUDICT:-$("$ROOT/scripts/data.sh" cmudict)}
mkdir -p "$OUT"

"$ATTEND" g2p export --dict "$DICT" --test "$ATTEND_G2P_TEST" --out "$OUT"

MODEL=(--embed 64 --encoder 128 --encoder-layers 1 --dropout 0 --decoder-size 256 --attn-size 128)
TRAIN=(--batch 64 --lr 0.002 --warmup 200 --clip 1 --seed 1)
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

run_attend() { # threads
    local dir=$OUT/attend-t$1
    rm -rf "$dir"
    OPENBLAS_NUM_THREADS=$1 "$ATTEND" g2p train --dict "$DICT" --test "$ATTEND_G2P_TEST" \
        --cell lstm --attention additive "${MODEL[@]}" "${TRAIN[@]}" --final-lr 0.002 \
        --epochs 1000 --minutes "$MINUTES" --eval-every 100000000 --threads "$1" \
        --out "$dir" 2>"$dir.log" || die "attend training failed: $(tail -3 "$dir.log")"
    local steps
    steps=$(tr '\r' '\n' <"$dir.log" | sed -n 's/^trained to step \([0-9]*\).*/\1/p' | tail -1)
    "$ATTEND" g2p eval "$dir/model.safetensors" --dict "$DICT" --test "$ATTEND_G2P_TEST" \
        --dev --beam 1 --threads "$1" >"$dir.eval" 2>/dev/null || die "attend eval failed"
    local wer per
    wer=$(awk '/^WER/ {sub(/%/, "", $2); print $2 / 100}' "$dir.eval")
    per=$(awk '/^PER/ {sub(/%/, "", $2); print $2 / 100}' "$dir.eval")
    printf '{"impl": "attend", "threads": %s, "minutes": %s, "steps": %s, "examples": %s, "examples_per_s": %s, "dev_wer": %s, "dev_per": %s}\n' \
        "$1" "$MINUTES" "$steps" "$((steps * 64))" \
        "$(awk -v s="$steps" -v m="$MINUTES" 'BEGIN {printf "%.0f", s * 64 / (m * 60)}')" \
        "$wer" "$per" >>"$RESULTS"
}

run_torch() { # threads
    peer_tuned "$1" "$PYTHON" "$ROOT/bench/g2p_bench.py" --train "$OUT/train.tsv" \
        --dev "$OUT/dev.tsv" --minutes "$MINUTES" --threads "$1" --cell lstm \
        --attention additive "${MODEL[@]}" "${TRAIN[@]}" --decay none --pool 50 \
        2>"$OUT/torch-t$1.log" | tail -1 >>"$RESULTS" || die "torch failed: $(tail -3 "$OUT/torch-t$1.log")"
}

peer_probe
for t in $THREADS; do
    echo "run_g2p_bench: $t thread(s): attend, $MINUTES min" >&2
    run_attend "$t"
    echo "run_g2p_bench: $t thread(s): PyTorch, $MINUTES min" >&2
    run_torch "$t"
done

"$PYTHON" - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| threads | implementation | steps in the budget | examples/s | dev WER | dev PER |")
print("|---|---|---|---|---|---|")
by = {}
for r in rows:
    by[(r["threads"], r["impl"])] = r
    print(f"| {r['threads']} | {r['impl']} | {r['steps']} | {r['examples_per_s']:.0f} | "
          f"{100 * r['dev_wer']:.2f}% | {100 * r['dev_per']:.2f}% |")
for t in sorted({r["threads"] for r in rows}):
    a, p = by.get((t, "attend")), by.get((t, "pytorch"))
    if a and p:
        print(f"{t} thread(s): attend trains on {a['examples_per_s'] / p['examples_per_s']:.2f}x "
              f"PyTorch's examples per second; dev WER {100 * a['dev_wer']:.2f}% vs "
              f"{100 * p['dev_wer']:.2f}%")
PY
