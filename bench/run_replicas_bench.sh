#!/usr/bin/env bash
# run_replicas_bench.sh - two cores, used two ways (issue 16's scaling goal:
# a training step on 2 threads at least 1.8x as fast as on 1). For each
# model attend trains, with its own training command and settings:
#
#   1 x 1    --threads 1                 one model, one thread
#   1 x 2    --threads 2                 one model, every operation split
#                                        over two threads (the default way)
#   2 x 1    --threads 2 --replicas 2    two copies of the model, one thread
#                                        each, meeting once a step to sum
#                                        their gradients (at_train_replicas)
#
# and prints the trainer's examples per second (from metrics.jsonl, between
# the 10th step logged and the last before the final evaluation), the
# median of REPS runs, and each 2-thread way's ratio to
# 1 x 1. The runs alternate (1x1, 1x2, 2x1, 1x1, ...), so a change in the
# machine's load falls on all three alike; run it on a quiet machine.
#
#   BUILD=build-bench REPS=3 MODELS="dates g2p lm han" bench/run_replicas_bench.sh
#
# With $BUILD/bench/attend_flops (the CLI with its matrix products counted,
# bench/flops/flop_counter.c) and attention_bench, it also prints each
# model's GFLOP a training example and the fraction of the 1-core FMA peak
# that 1 x 1 reaches (issue 16's "60% of the peak on one thread"): two
# 1-thread runs of attend_flops, one twice as long as the other, and the
# difference of their counts over the difference of their examples (the
# setup and the final evaluation cancel).
#
# The models (each the command's defaults unless named):
#   dates  the date translator (luong decoder, additive attention), batch
#          128, 300 steps on 20,000 generated pairs;
#   g2p    `attend g2p train` (CMUdict), 300 steps;
#   lm     `attend lm train` (the 4 x 4 x 128 Transformer on Moby Dick), 60 steps;
#   han    `attend classify train` (the HAN on SpamAssassin), one epoch (133 steps).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-bench}
REPS=${REPS:-3}
MODELS=${MODELS:-dates g2p lm han}
A=$BUILD/attend
[ -x "$A" ] || { echo "run_replicas_bench: no $A (cmake --build $BUILD)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

command_of() { # MODEL -> the training command without threads and output
    case $1 in
    dates) echo "train --data dates --train-size 20000 --valid-size 200 --batch 128 --steps 300 --eval-every 100000" ;;
    g2p) echo "g2p train --steps 300 --eval-every 100000 --valid-size 200 --dict $(scripts/data.sh cmudict) --test $(scripts/data.sh g2p-test)" ;;
    lm) echo "lm train --data $(scripts/data.sh moby-dick) --steps 60 --eval-every 100000 --eval-chars 2000" ;;
    han) echo "classify train --data $(scripts/data.sh spam-assassin) --epochs 1" ;;
    *) echo "run_replicas_bench: unknown model '$1' (dates g2p lm han)" >&2; exit 2 ;;
    esac
}

# Examples a second between the 10th step logged and the last one before the
# final evaluation: the first steps (warming caches, growing arenas) left out.
# A line's examples so far = its examples_per_second x its seconds.
rate() {
    grep -v '"valid_' "$1/metrics.jsonl" | sed -n '10p;$p' |
        sed 's/.*"seconds": \([0-9.]*\), "examples_per_second": \([0-9]*\).*/\1 \2/' |
        awk 'NR == 1 { s = $1; e = $1 * $2 } NR == 2 { printf "%.0f\n", ($1 * $2 - e) / ($1 - s) }'
}
# The two flop-count runs of MODEL: the arguments that replace its length,
# short then long, and the training examples the long one adds.
flop_lengths() {
    case $1 in
    dates) echo "--steps 20|--steps 40|$((20 * 128))" ;;
    g2p) echo "--steps 20|--steps 40|$((20 * 64))" ;;
    lm) echo "--steps 8|--steps 16|$((8 * 64))" ;;
    han) echo "--epochs 1|--epochs 2|train" ;; # one epoch: the log's training documents
    esac
}

# GFLOP a training example of MODEL on one thread (see the top), or "-".
gflop_per_example() {
    local F=$BUILD/bench/attend_flops cmd short long added count a b
    [ -x "$F" ] || { echo -; return; }
    cmd=$(command_of "$1")
    IFS='|' read -r short long added <<<"$(flop_lengths "$1")"
    : > "$WORK/flops"
    for length in "$short" "$long"; do
        rm -rf "$WORK/fout"
        # shellcheck disable=SC2086
        ATTEND_FLOPS_OUT="$WORK/flops" $F $(echo "$cmd" | sed "s/--steps [0-9]*//; s/--epochs [0-9]*//") \
            $length --threads 1 --out "$WORK/fout" > "$WORK/flog" 2>&1 ||
            { echo "$1: attend_flops failed:" >&2; tail -3 "$WORK/flog" >&2; exit 1; }
    done
    if [ "$added" = train ]; then
        added=$(sed -n 's/^data: \([0-9]*\) train.*/\1/p' "$WORK/flog" | head -n 1)
    fi
    a=$(sed -n '1s/.*"gflop": \([0-9.e+-]*\).*/\1/p' "$WORK/flops")
    b=$(sed -n '2s/.*"gflop": \([0-9.e+-]*\).*/\1/p' "$WORK/flops")
    echo "($b - $a) / $added" | bc -l
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "load before: $(cat /proc/loadavg)"
PEAK=-
if [ -x "$BUILD/bench/attention_bench" ]; then
    PEAK=$("$BUILD/bench/attention_bench" peak | sed -n 's/.*"threads": 1, "gflops": \([0-9.]*\).*/\1/p')
    echo "FMA peak, one core: $PEAK GFLOP/s (attention_bench peak)"
fi
printf '%-6s %10s %10s %10s %8s %8s %10s %10s\n' model "1x1 ex/s" "1x2 ex/s" "2x1 ex/s" "1x2/1x1" \
    "2x1/1x1" "GFLOP/ex" "1x1 %peak"
for model in $MODELS; do
    cmd=$(command_of "$model")
    per_example=$(gflop_per_example "$model")
    : > "$WORK/one" && : > "$WORK/split" && : > "$WORK/crew"
    for _ in $(seq "$REPS"); do
        for way in one split crew; do
            case $way in
            one) extra="--threads 1" ;;
            split) extra="--threads 2" ;;
            crew) extra="--threads 2 --replicas 2" ;;
            esac
            rm -rf "$WORK/out"
            # shellcheck disable=SC2086
            $A $cmd $extra --out "$WORK/out" \
                > /dev/null 2> "$WORK/log" || { echo "$model $way failed:" >&2; tail -3 "$WORK/log" >&2; exit 1; }
            rate "$WORK/out" >> "$WORK/$way"
        done
    done
    one=$(median < "$WORK/one") split=$(median < "$WORK/split") crew=$(median < "$WORK/crew")
    fraction=-
    if [ "$per_example" != - ] && [ "$PEAK" != - ]; then
        fraction=$(printf '%.1f%%' "$(echo "100 * $one * $per_example / $PEAK" | bc -l)")
        per_example=$(printf '%.5f' "$per_example")
    fi
    printf '%-6s %10s %10s %10s %7.2fx %7.2fx %10s %10s   (runs: %s | %s | %s)\n' "$model" "$one" \
        "$split" "$crew" "$(echo "$split / $one" | bc -l)" "$(echo "$crew / $one" | bc -l)" \
        "$per_example" "$fraction" \
        "$(paste -sd, "$WORK/one")" "$(paste -sd, "$WORK/split")" "$(paste -sd, "$WORK/crew")"
done
echo "load after: $(cat /proc/loadavg)"
echo "goals: 2 threads at least 1.8x one thread (batch >= 32); 1 x 1 at least 60% of the FMA peak"
