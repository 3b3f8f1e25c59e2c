#!/bin/sh
# test_explain.sh - `attend explain` end to end on tiny models trained here
# (a luong multi-head model and the seed decoder, on a few generated dates): at every
# step the JSON's α rows equal `attend translate --weights json`'s row K,
# its choice is output unit K (END after the last), the probabilities sum
# to 1 with the choice on top, the context is Σ_j α_j v_j of the JSON's
# own numbers; the terminal form shows the equations; bad input (no or a
# bad --step, K out of range, empty text, invalid UTF-8, a missing model,
# an unknown option) exits non-zero with a message naming it.
#   tests/test_explain.sh PATH/TO/attend
set -u
ATTEND=${1:?usage: test_explain.sh PATH/TO/attend}
# shellcheck source=tests/cli_checks.sh
. "$(dirname "$0")/cli_checks.sh"

# a few generated English dates to learn from
"$ATTEND" dates generate --count 60 --valid 10 --test 10 --seed 3 --locales en \
    --out "$DIR/dates" > "$DIR/dates.log" 2>&1 || fail "dates generate: $(cat "$DIR/dates.log")"

"$ATTEND" explain --help | grep -q -- "--step K" || fail "explain --help"

# check_model NAME TRAIN-OPTIONS...: train, then explain every step of two texts
check_model() {
    name=$1
    shift
    "$ATTEND" train --data "$DIR/dates/train.tsv" --valid "$DIR/dates/valid.tsv" --steps 150 --batch 4 \
        --embed 8 --encoder 8 --decoder-size 16 --attn-size 8 --out "$DIR/$name" "$@" \
        2> "$DIR/$name.log" || { fail "$name: train: $(cat "$DIR/$name.log")"; return; }
    model="$DIR/$name/model.safetensors"
    for text in "9 May 2018" "30 Dec 1999"; do
        "$ATTEND" translate "$model" --weights json "$text" > "$DIR/translation.json" \
            || fail "$name: translate '$text'"
        steps=$(/usr/bin/python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print(len(t["target"]))' "$DIR/translation.json")
        rm -f "$DIR"/step*.json
        k=0
        while [ "$k" -le "$steps" ]; do # step Ty exists when the output ended
            "$ATTEND" explain "$model" "$text" --step "$k" --json > "$DIR/step$k.json" \
                2> "$DIR/err" || break
            k=$((k + 1))
        done
        [ "$k" -ge "$steps" ] || fail "$name: explain '$text' --step $k: $(cat "$DIR/err")"
        [ "$k" -gt "$steps" ] || grep -q "out of range" "$DIR/err" \
            || fail "$name: step $steps: $(cat "$DIR/err")"
        rm -f "$DIR/step$k.json"
        /usr/bin/python3 - "$DIR/translation.json" "$DIR" "$steps" "$name" <<'PY' || fail "$name: '$text': the JSON does not reproduce the step"
import json, math, sys
tr = json.load(open(sys.argv[1]))
folder, steps, name = sys.argv[2], int(sys.argv[3]), sys.argv[4]
bad = []
def close(a, b, tol=1e-4):
    return abs(a - b) <= tol + tol * abs(b)
import os
for k in range(steps + 1):
    if k == steps and not os.path.exists(f"{folder}/step{k}.json"):
        break  # the output filled max_target_len: no step wrote END
    x = json.load(open(f"{folder}/step{k}.json"))
    H, Tx = x["model"]["heads"], len(x["source"])
    if x["output"] != tr["output"] or x["source"] != tr["source"] or x["step"] != k:
        bad.append(f"step {k}: output {x['output']!r} source {x['source']} step {x['step']}")
    if k < steps:
        for h in range(H):
            for j in range(Tx):
                if not close(x["weights"][h][j], tr["weights"][h][k][j]):
                    bad.append(f"step {k} head {h} j {j}: α {x['weights'][h][j]} vs translate {tr['weights'][h][k][j]}")
        if x["chosen"]["unit"] != tr["target"][k]:
            bad.append(f"step {k}: chose {x['chosen']['unit']!r}, output has {tr['target'][k]!r}")
    elif x["chosen"]["unit"] not in ("<END>", "<PAD>"):  # either ends the text
        bad.append(f"step {k}: the last step chose {x['chosen']['unit']!r}, not <END>")
    if abs(sum(x["probabilities"]) - 1) > 1e-5 or x["top"][0]["id"] != x["chosen"]["id"]:
        bad.append(f"step {k}: probabilities sum {sum(x['probabilities'])}, top {x['top'][0]}")
    Dv = x["model"]["value_size"]
    for h in range(H):
        for d in range(Dv):
            c = sum(x["weights"][h][j] * x["values"][h][j][d] for j in range(Tx))
            if not close(x["head_context"][h][d], c, 1e-5):
                bad.append(f"step {k} head {h}: c[{d}] {x['head_context'][h][d]} vs Σ α v {c}")
                break
    need = ["reset", "update", "proposal"] if x["model"]["decoder"] == "seed" else ["attentional"]
    for key in need + ["scores", "context", "input", "state_prev", "state", "logits", "contributions"]:
        if key not in x:
            bad.append(f"step {k}: no {key!r}")
for b in bad[:10]:
    print(f"{name}: {b}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
    done
    "$ATTEND" explain "$model" "9 May 2018" --step 2 > "$DIR/terminal.txt" || fail "$name: explain (terminal)"
    for word in "α_j" "e_j" "= Σ_j α" "top-5" "top contributing inputs" "‖·‖"; do
        grep -q -- "$word" "$DIR/terminal.txt" || fail "$name: the terminal output has no '$word'"
    done
}

check_model luong-multi-head --attention multi-head --heads 2
check_model seed --decoder seed
grep -q "r_t = σ" "$DIR/terminal.txt" || fail "seed: no reset gate equation"

model="$DIR/seed/model.safetensors"
expect_error "no --step" "--step K is required" "$ATTEND" explain "$model" "9 May 2018"
expect_error "--step not a number" "--step" "$ATTEND" explain "$model" "9 May 2018" --step two
expect_error "--step negative" "--step" "$ATTEND" explain "$model" "9 May 2018" --step -1
expect_error "--step past the end" "out of range" "$ATTEND" explain "$model" "9 May 2018" --step 999
expect_error "empty text" "empty" "$ATTEND" explain "$model" "" --step 0
expect_error "invalid UTF-8" "UTF-8" "$ATTEND" explain "$model" "$(printf '9 May \377')" --step 0
expect_error "missing model" "$DIR/none" "$ATTEND" explain "$DIR/none" "9 May 2018" --step 0
expect_error "unknown option" "unknown option" "$ATTEND" explain "$model" "9 May 2018" --step 0 --bogus
expect_error "two texts" "one TEXT" "$ATTEND" explain "$model" "9 May" "2018" --step 0

[ "$failures" -eq 0 ] || { echo "$failures failure(s)" >&2; exit 1; }
echo "explain: all checks passed"
