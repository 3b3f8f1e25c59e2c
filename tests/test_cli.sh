#!/bin/sh
# test_cli.sh - the date translator's commands end to end on a small TSV:
# train a few steps (with its training curves), resume (bit for bit the run
# that never stopped; Adam's state missing, corrupt or stale), eval,
# a deeper encoder with dropout (resume bit for bit too, bad values refused),
# translate (with --weights, --plot and --show), plot a file of several
# maps, a model that writes whitespace-separated tokens (--target-tokens
# words) and one that reads them too, and the error exits: empty text,
# invalid UTF-8, a missing model, a corrupt model; then bad input and failed output: a full standard output,
# unknown options, NUL bytes, empty or endless inputs, escapes on the
# terminal, outputs that are links or FIFOs, concurrent writers, a figure
# too big to draw, and --threads beyond the machine or a memory limit.
#   tests/test_cli.sh PATH/TO/attend
set -u
ATTEND=${1:?usage: test_cli.sh PATH/TO/attend}
# shellcheck source=tests/cli_checks.sh
. "$(dirname "$0")/cli_checks.sh"

cat > "$DIR/pairs.tsv" <<'TSV'
9 May 2018	2018-05-09
10 May 2018	2018-05-10
1 June 1999	1999-06-01
3 March 2001	2001-03-03
12 July 1987	1987-07-12
21 Oct 1950	1950-10-21
5 Jan 2020	2020-01-05
30 Dec 1999	1999-12-30
TSV

"$ATTEND" train --help > /dev/null || fail "train --help"
"$ATTEND" eval --help > /dev/null || fail "eval --help"
"$ATTEND" translate --help > /dev/null || fail "translate --help"

"$ATTEND" train --data "$DIR/pairs.tsv" --valid "$DIR/pairs.tsv" --steps 30 --batch 4 \
    --eval-every 10 --embed 8 --encoder 16 --decoder-size 32 --out "$DIR/run" 2> "$DIR/train.log" \
    || fail "train: $(cat "$DIR/train.log")"
for f in model.safetensors last.safetensors last.optim.safetensors metrics.jsonl; do
    [ -s "$DIR/run/$f" ] || fail "train wrote no $f"
done
# the loss at every one of the first 100 steps, validation at 10, 20, 30
[ "$(wc -l < "$DIR/run/metrics.jsonl")" -eq 30 ] || fail "metrics: $(cat "$DIR/run/metrics.jsonl")"
[ "$(grep -c '"valid_exact"' "$DIR/run/metrics.jsonl")" -eq 3 ] || fail "metrics: 3 validations"
# training curves at the end of the run, and where they are
[ "$(head -c 4 "$DIR/run/curves.png" | od -An -c | tr -d ' ')" = '211PNG' ] \
    || fail "train: curves.png is not a PNG"
grep -q '<svg' "$DIR/run/curves.svg" 2> /dev/null || fail "train: curves.svg has no <svg"
grep -q "curves.png" "$DIR/train.log" || fail "train does not say where the curves are"

"$ATTEND" train --data "$DIR/pairs.tsv" --valid "$DIR/pairs.tsv" --steps 40 --batch 4 \
    --eval-every 10 --out "$DIR/run" --resume 2> "$DIR/resume.log" || fail "resume"
grep -q "resuming from .*last.safetensors" "$DIR/resume.log" || fail "resume: $(cat "$DIR/resume.log")"
[ "$(tail -1 "$DIR/run/metrics.jsonl" | sed 's/^{"step": \([0-9]*\).*/\1/')" = 40 ] \
    || fail "resume: metrics do not reach step 40: $(tail -1 "$DIR/run/metrics.jsonl")"
grep -q "warning" "$DIR/resume.log" && fail "resume warned: $(grep warning "$DIR/resume.log")"

# Resuming continues the same trajectory: 14 steps in one run, or 7 then
# --resume to 14, end with the same weights bit for bit and the same Adam
# state byte for byte. The schedule is flat (--warmup 0, --final-lr = --lr):
# a run of --steps 7 would otherwise decay its learning rate over 7 steps.
# Batch 3 over 8 pairs: a pass is 2 steps, so step 7 stops inside a pass.
# The checkpoints hold no wall-clock time: the whole files must be equal.
# metrics FILE: metrics.jsonl without the timings
metrics() { sed 's/, "seconds".*//' "$1"; }
# train_flat OPTION...: attend train on pairs.tsv, small, with a flat schedule
train_flat() {
    "$ATTEND" train --data "$DIR/pairs.tsv" --valid "$DIR/pairs.tsv" --batch 3 --eval-every 7 \
        --embed 8 --encoder 16 --decoder-size 32 --warmup 0 --lr 0.01 --final-lr 0.01 \
        --threads 1 --seed 5 "$@"
}
train_flat --steps 14 --out "$DIR/whole" 2> "$DIR/whole.log" \
    || fail "train 14 steps: $(cat "$DIR/whole.log")"
train_flat --steps 7 --out "$DIR/half" 2> "$DIR/half.log" \
    || fail "train 7 steps: $(cat "$DIR/half.log")"
cp -r "$DIR/half" "$DIR/no_optim"
cp -r "$DIR/half" "$DIR/bad_optim"
train_flat --steps 14 --out "$DIR/half" --resume 2> "$DIR/half2.log" \
    || fail "resume 7 -> 14: $(cat "$DIR/half2.log")"
for f in last.safetensors model.safetensors; do
    cmp -s "$DIR/whole/$f" "$DIR/half/$f" \
        || fail "7 steps + --resume to 14: $f differs from 14 steps in one run"
done
cmp -s "$DIR/whole/last.optim.safetensors" "$DIR/half/last.optim.safetensors" \
    || fail "7 steps + --resume to 14: Adam's state differs from 14 steps in one run"
[ "$(metrics "$DIR/whole/metrics.jsonl")" = "$(metrics "$DIR/half/metrics.jsonl")" ] \
    || fail "7 steps + --resume to 14: other metrics: $(cat "$DIR/half/metrics.jsonl")"
# The same with a deeper encoder and dropout between its layers: the masks
# after the resume are those the unbroken run drew (the context's generator
# is saved in last.safetensors), so the bytes are the same again.
train_flat --steps 14 --encoder-layers 2 --dropout 0.3 --out "$DIR/whole_dropout" \
    2> "$DIR/wd.log" || fail "train --encoder-layers 2 --dropout 0.3: $(cat "$DIR/wd.log")"
grep -q "2 encoder layer(s) (dropout 0.3)" "$DIR/wd.log" \
    || fail "train does not describe the encoder: $(cat "$DIR/wd.log")"
python3 -c 'import json, struct, sys
b = open(sys.argv[1], "rb").read()
c = json.loads(json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])["__metadata__"]["attend.model"])
assert c["encoder_layers"] == 2 and c["dropout"] == 0.3, c' "$DIR/whole_dropout/model.safetensors" \
    || fail "--encoder-layers 2 --dropout 0.3 are not in the model's configuration"
train_flat --steps 7 --encoder-layers 2 --dropout 0.3 --out "$DIR/half_dropout" 2> /dev/null \
    || fail "train 7 steps with dropout"
train_flat --steps 14 --out "$DIR/half_dropout" --resume 2> "$DIR/hd.log" \
    || fail "resume 7 -> 14 with dropout: $(cat "$DIR/hd.log")"
for f in last.safetensors last.optim.safetensors model.safetensors; do
    cmp -s "$DIR/whole_dropout/$f" "$DIR/half_dropout/$f" \
        || fail "dropout 0.3, 7 steps + --resume to 14: $f differs from 14 steps in one run"
done
[ "$(metrics "$DIR/whole_dropout/metrics.jsonl")" = "$(metrics "$DIR/half_dropout/metrics.jsonl")" ] \
    || fail "dropout 0.3, 7 steps + --resume to 14: other metrics"
cmp -s "$DIR/whole/last.safetensors" "$DIR/whole_dropout/last.safetensors" 2> /dev/null \
    && fail "--encoder-layers 2 --dropout 0.3 trained the one-layer model"
# The decoder's output dropout: in the configuration, and a resume is bit for
# bit too (its masks come from the same saved generator).
train_flat --steps 14 --output-dropout 0.3 --out "$DIR/whole_od" 2> "$DIR/wo.log" \
    || fail "train --output-dropout 0.3: $(cat "$DIR/wo.log")"
python3 -c 'import json, struct, sys
b = open(sys.argv[1], "rb").read()
c = json.loads(json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])["__metadata__"]["attend.model"])
assert c["output_dropout"] == 0.3, c' "$DIR/whole_od/model.safetensors" \
    || fail "--output-dropout 0.3 is not in the model's configuration"
train_flat --steps 7 --output-dropout 0.3 --out "$DIR/half_od" 2> /dev/null \
    || fail "train 7 steps with output dropout"
train_flat --steps 14 --out "$DIR/half_od" --resume 2> /dev/null \
    || fail "resume 7 -> 14 with output dropout"
for f in last.safetensors last.optim.safetensors model.safetensors; do
    cmp -s "$DIR/whole_od/$f" "$DIR/half_od/$f" \
        || fail "output dropout 0.3, 7 steps + --resume to 14: $f differs from one run"
done
cmp -s "$DIR/whole/last.safetensors" "$DIR/whole_od/last.safetensors" 2> /dev/null \
    && fail "--output-dropout 0.3 trained the model without it"
# --replicas 2: two copies of the model, one thread each, train as one
# (at_train_replicas); a repeat, and a stopped run resumed, give the same bytes
crew() { train_flat --batch 4 --threads 2 --replicas 2 "$@"; }
crew --steps 14 --out "$DIR/crew" 2> "$DIR/crew.log" || fail "--replicas 2: $(cat "$DIR/crew.log")"
crew --steps 14 --out "$DIR/crew_again" 2> /dev/null || fail "--replicas 2, again"
crew --steps 7 --out "$DIR/crew_half" 2> /dev/null || fail "--replicas 2, 7 steps"
crew --steps 14 --out "$DIR/crew_half" --resume 2> /dev/null || fail "--replicas 2, resumed"
for f in last.safetensors last.optim.safetensors model.safetensors; do
    cmp -s "$DIR/crew/$f" "$DIR/crew_again/$f" || fail "--replicas 2 twice: $f differs"
    cmp -s "$DIR/crew/$f" "$DIR/crew_half/$f" || fail "--replicas 2, 7 + resume to 14: $f differs"
done
expect_error "resume a 2-replica run with 1" "trained by 2 processes, now 1" \
    train_flat --steps 20 --batch 4 --out "$DIR/crew" --resume
expect_error "--replicas 2 on 1 thread" "--threads 1 is not a multiple of --replicas 2" \
    train_flat --steps 2 --batch 4 --replicas 2 --out "$DIR/bad_crew"
expect_error "--replicas 2, batch 3" "--batch 3 is not a multiple of --replicas 2" \
    train_flat --steps 2 --threads 2 --replicas 2 --out "$DIR/bad_crew"
expect_error "--replicas 0" "--replicas must be an integer in \[1, 64\]" \
    train_flat --steps 2 --replicas 0 --out "$DIR/bad_crew"
expect_error "--replicas with --serve" "train it without --replicas" \
    train_flat --steps 2 --batch 4 --threads 2 --replicas 2 --serve 0 --out "$DIR/bad_crew"
[ -e "$DIR/bad_crew" ] && fail "a refused --replicas run made its output folder"
expect_error "--output-dropout 1" "--output-dropout must be a number in \[0, 0.99\]" \
    train_flat --steps 2 --output-dropout 1 --out "$DIR/bad_dropout"
expect_error "--output-dropout with the seed decoder" "output_dropout = 0.2 needs the luong decoder" \
    train_flat --steps 2 --decoder seed --output-dropout 0.2 --out "$DIR/bad_dropout"
expect_error "--encoder-layers 0" "--encoder-layers must be an integer in \[1, 8\]" \
    train_flat --steps 2 --encoder-layers 0 --out "$DIR/bad_layers"
expect_error "--dropout 1" "--dropout must be a number in \[0, 0.99\]" \
    train_flat --steps 2 --encoder-layers 2 --dropout 1 --out "$DIR/bad_dropout"
expect_error "--dropout nan" "--dropout must be a number" \
    train_flat --steps 2 --encoder-layers 2 --dropout nan --out "$DIR/bad_dropout"
expect_error "--dropout with one encoder layer" "dropout = 0.2 needs encoder_layers >= 2" \
    train_flat --steps 2 --dropout 0.2 --out "$DIR/bad_dropout"
# no Adam state: an error naming the file (the run could not continue on
# the same trajectory). last.optim.prev.safetensors is the state before the
# last save (a kill between the two saves of last.* resumes from it).
rm "$DIR/no_optim/last.optim.safetensors" "$DIR/no_optim/last.optim.prev.safetensors"
expect_error "resume without Adam's state" "last.optim.safetensors" \
    train_flat --steps 14 --out "$DIR/no_optim" --resume
# a corrupt or a stale Adam state: an error naming the file
cp "$DIR/bad_optim/last.optim.safetensors" "$DIR/stale.safetensors"
rm "$DIR/bad_optim/last.optim.prev.safetensors"
head -c 1000 "$DIR/stale.safetensors" > "$DIR/bad_optim/last.optim.safetensors"
expect_error "resume, corrupt Adam state" "last.optim.safetensors" \
    train_flat --steps 14 --out "$DIR/bad_optim" --resume
cp "$DIR/stale.safetensors" "$DIR/bad_optim/last.optim.safetensors"
train_flat --steps 9 --out "$DIR/bad_optim" --resume 2> /dev/null || fail "resume 7 -> 9"
cp "$DIR/stale.safetensors" "$DIR/bad_optim/last.optim.safetensors"
cp "$DIR/stale.safetensors" "$DIR/bad_optim/last.optim.prev.safetensors"
expect_error "resume, Adam state of another step" "from step 7" \
    train_flat --steps 14 --out "$DIR/bad_optim" --resume

# Ctrl-C: SIGINT until the trainer stops (it may still be loading the data at
# first); it must save last.safetensors and exit with 130.
"$ATTEND" train --data "$DIR/pairs.tsv" --valid "$DIR/pairs.tsv" --steps 100000000 --batch 4 \
    --embed 8 --encoder 16 --decoder-size 32 --out "$DIR/int" 2> "$DIR/int.log" &
pid=$!
tries=0
while kill -0 "$pid" 2> /dev/null && [ "$tries" -lt 40 ]; do
    sleep 0.25
    kill -INT "$pid" 2> /dev/null
    tries=$((tries + 1))
done
if kill -0 "$pid" 2> /dev/null; then kill -TERM "$pid"; fail "SIGINT did not stop training"; fi
wait "$pid"
code=$?
[ "$code" -eq 130 ] || fail "SIGINT: exit $code, not 130: $(tail -2 "$DIR/int.log")"
[ -s "$DIR/int/last.safetensors" ] || fail "SIGINT: no last.safetensors"
[ -s "$DIR/int/last.optim.safetensors" ] || fail "SIGINT: no last.optim.safetensors"
grep -q "stopped at step" "$DIR/int.log" || fail "SIGINT: no message"
# curves after Ctrl-C: drawn, or (no evaluation yet) only a warning
[ -s "$DIR/int/curves.png" ] || grep -q "warning: no training curves" "$DIR/int.log" \
    || fail "SIGINT: neither curves nor a warning: $(tail -3 "$DIR/int.log")"

# SIGTERM (what timeout and job schedulers send) stops like Ctrl-C
"$ATTEND" train --data "$DIR/pairs.tsv" --valid "$DIR/pairs.tsv" --steps 100000000 --batch 4 \
    --embed 8 --encoder 16 --decoder-size 32 --out "$DIR/term" 2> "$DIR/term.log" &
pid=$!
tries=0
while [ ! -s "$DIR/term/metrics.jsonl" ] && [ "$tries" -lt 80 ]; do
    sleep 0.25
    tries=$((tries + 1))
done
kill -TERM "$pid"
wait "$pid"
code=$?
[ "$code" -eq 130 ] || fail "SIGTERM: exit $code, not 130: $(tail -2 "$DIR/term.log")"
[ -s "$DIR/term/last.safetensors" ] || fail "SIGTERM: no last.safetensors"

# SIGKILL: --save-every leaves last.* to resume from; a killed write's
# temporary file is removed on the next start
"$ATTEND" train --data "$DIR/pairs.tsv" --valid "$DIR/pairs.tsv" --steps 100000000 --batch 4 \
    --embed 8 --encoder 16 --decoder-size 32 --save-every 5 --eval-every 1000000 \
    --out "$DIR/killed" 2> /dev/null &
pid=$!
tries=0
while [ ! -s "$DIR/killed/last.optim.safetensors" ] && [ "$tries" -lt 80 ]; do
    sleep 0.25
    tries=$((tries + 1))
done
sleep 0.3
kill -KILL "$pid"
wait "$pid" 2> /dev/null
: > "$DIR/killed/last.safetensors.tmp-Ab12Cd"
step=$(python3 -c 'import json,struct,sys
b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]
print(json.loads(b[8:8+n])["__metadata__"]["train.step"])' "$DIR/killed/last.safetensors")
"$ATTEND" train --data "$DIR/pairs.tsv" --valid "$DIR/pairs.tsv" --batch 4 \
    --embed 8 --encoder 16 --decoder-size 32 --save-every 5 --eval-every 1000000 \
    --out "$DIR/killed" --resume --steps $((step + 3)) 2> "$DIR/killed.log" \
    || fail "resume after SIGKILL at step $step: $(cat "$DIR/killed.log")"
[ -e "$DIR/killed/last.safetensors.tmp-Ab12Cd" ] && fail "a stale temporary file was kept"

# the output directory and the data, checked before any work
train_small() {
    "$ATTEND" train --data "$DIR/pairs.tsv" --steps 2 --batch 4 --embed 8 --encoder 16 \
        --decoder-size 32 "$@"
}
(cd "$DIR" && train_small --valid pairs.tsv --out new/nested/run > /dev/null 2>&1) \
    || fail "train into a directory whose parents are missing"
[ -s "$DIR/new/nested/run/model.safetensors" ] || fail "nested --out: no model"
: > "$DIR/empty.tsv"
expect_error "--valid of an empty file" "no validation pairs" \
    train_small --valid "$DIR/empty.tsv" --out "$DIR/ev"
mkdir -p "$DIR/linked"
ln -s /dev/full "$DIR/linked/metrics.jsonl"
expect_error "metrics.jsonl -> /dev/full" "not a regular file" \
    timeout 20 "$ATTEND" train --data "$DIR/pairs.tsv" --valid "$DIR/pairs.tsv" --steps 2 \
    --batch 4 --embed 8 --encoder 16 --decoder-size 32 --out "$DIR/linked"
head -4 "$DIR/pairs.tsv" > "$DIR/other.tsv"
expect_error "--resume on other data" "other data" \
    train_small --data "$DIR/other.tsv" --valid "$DIR/pairs.tsv" --steps 50 --out "$DIR/run" --resume
expect_error "--resume with nothing to resume" "cannot resume" \
    train_small --valid "$DIR/pairs.tsv" --out "$DIR/nothing" --resume
# a tampered training state: refused, naming the key
cp -r "$DIR/run" "$DIR/tampered"
python3 - "$DIR/tampered/last.safetensors" <<'PY'
import json, struct, sys
path = sys.argv[1]
b = open(path, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
h["__metadata__"]["train.position"] = "-99999999999"
t = json.dumps(h).encode()
open(path, "wb").write(struct.pack("<Q", len(t)) + t + b[8 + n:])
PY
expect_error "--resume, tampered train.position" "train.position" \
    train_small --valid "$DIR/pairs.tsv" --steps 50 --out "$DIR/tampered" --resume

"$ATTEND" eval "$DIR/run/model.safetensors" "$DIR/pairs.tsv" > "$DIR/eval.out" 2>&1 \
    || fail "eval: $(cat "$DIR/eval.out")"
grep -q "exact match:" "$DIR/eval.out" || fail "eval prints no exact match"
grep -q "per-character accuracy:" "$DIR/eval.out" || fail "eval prints no per-character accuracy"

out=$("$ATTEND" translate "$DIR/run/model.safetensors" "9 May 2018" "unseen ✓ chars") \
    || fail "translate"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 2 ] || fail "translate: two lines expected: $out"
printf '9 May 2018\n1 June 1999\n' | "$ATTEND" translate "$DIR/run/model.safetensors" > "$DIR/stdin.out" \
    || fail "translate from stdin"
[ "$(wc -l < "$DIR/stdin.out")" -eq 2 ] || fail "translate from stdin: $(cat "$DIR/stdin.out")"
"$ATTEND" translate "$DIR/run/model.safetensors" --weights tsv "9 May 2018" > "$DIR/w.tsv" \
    || fail "--weights tsv"
grep -q "^# 9 May 2018" "$DIR/w.tsv" || fail "--weights tsv header: $(head -2 "$DIR/w.tsv")"
"$ATTEND" translate "$DIR/run/model.safetensors" --weights json "9 May 2018" > "$DIR/w.json" \
    || fail "--weights json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["weights"][0][0]) == 10' \
    "$DIR/w.json" 2> /dev/null || grep -q '"weights": \[\[\[' "$DIR/w.json" || fail "--weights json"

M="$DIR/run/model.safetensors"

# is_png FILE / is_svg FILE
is_png() { [ -s "$1" ] && [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '211PNG' ]; }
is_svg() { [ -s "$1" ] && grep -q '<svg' "$1"; }

# --plot: one input (PNG, SVG, HTML), several inputs in one figure, options
# after the texts
for ext in png svg html; do
    "$ATTEND" translate "$M" "9 May 2018" --plot "$DIR/one.$ext" > "$DIR/plot.out" 2> "$DIR/plot.err" \
        || fail "translate --plot one.$ext: $(cat "$DIR/plot.err")"
    [ -s "$DIR/one.$ext" ] || fail "translate --plot wrote no one.$ext"
    [ "$(wc -l < "$DIR/plot.out")" -eq 1 ] || fail "translate --plot one.$ext: $(cat "$DIR/plot.out")"
    "$ATTEND" translate "$M" --plot "$DIR/two.$ext" "9 May 2018" "1 June 1999" > "$DIR/plot.out" \
        2> "$DIR/plot.err" || fail "translate --plot two.$ext: $(cat "$DIR/plot.err")"
    [ -s "$DIR/two.$ext" ] || fail "translate --plot wrote no two.$ext"
    [ "$(wc -l < "$DIR/plot.out")" -eq 2 ] || fail "translate --plot two.$ext: $(cat "$DIR/plot.out")"
done
is_png "$DIR/one.png" || fail "translate --plot one.png is not a PNG"
is_png "$DIR/two.png" || fail "translate --plot two.png is not a PNG"
is_svg "$DIR/one.svg" || fail "translate --plot one.svg has no <svg"
is_svg "$DIR/two.svg" || fail "translate --plot two.svg has no <svg"
grep -qi '<html' "$DIR/one.html" || fail "translate --plot one.html is not HTML"
grep -qi '<html' "$DIR/two.html" || fail "translate --plot two.html is not HTML"
printf '9 May 2018\n1 June 1999\n' | "$ATTEND" translate "$M" --plot "$DIR/stdin.png" > /dev/null \
    2> "$DIR/plot.err" || fail "translate --plot from stdin: $(cat "$DIR/plot.err")"
is_png "$DIR/stdin.png" || fail "translate --plot from stdin: no PNG"
expect_error "--plot bad extension" "extension\|format\|\.bmp" \
    "$ATTEND" translate "$M" "9 May 2018" --plot "$DIR/bad.bmp"
expect_error "--plot without a file" "plot" "$ATTEND" translate "$M" "9 May 2018" --plot
expect_error "--plot, bad input" "empty" "$ATTEND" translate "$M" "" --plot "$DIR/empty.png"

# --show: the map in the terminal, plain ASCII with NO_COLOR and no escapes
NO_COLOR=1 "$ATTEND" translate "$M" "9 May 2018" --show > "$DIR/show.out" 2> "$DIR/show.err" \
    || fail "translate --show: $(cat "$DIR/show.err")"
[ "$(wc -l < "$DIR/show.out")" -gt 2 ] || fail "translate --show drew nothing: $(cat "$DIR/show.out")"
grep -q "$(printf '\033')" "$DIR/show.out" && fail "translate --show: colour escapes with NO_COLOR"
[ "$(head -1 "$DIR/show.out")" = "$(printf '%s\n' "$out" | head -1)" ] \
    || fail "translate --show: the output line first: $(head -1 "$DIR/show.out")"

# plot: a file of several maps, one per line (translate --weights json)
"$ATTEND" translate "$M" --weights json "9 May 2018" "1 June 1999" > "$DIR/w2.json" \
    || fail "--weights json, two inputs"
[ "$(wc -l < "$DIR/w2.json")" -eq 2 ] || fail "--weights json, two inputs: two lines expected"
for ext in png svg html; do
    "$ATTEND" plot "$DIR/w2.json" -o "$DIR/w2.$ext" > "$DIR/plot.out" 2> "$DIR/plot.err" \
        || fail "plot two maps to .$ext: $(cat "$DIR/plot.err")"
done
is_png "$DIR/w2.png" || fail "plot two maps: not a PNG"
is_svg "$DIR/w2.svg" || fail "plot two maps: no <svg"
[ -s "$DIR/w2.html" ] || fail "plot two maps: no HTML"
NO_COLOR=1 "$ATTEND" plot "$DIR/w2.json" > "$DIR/plot.out" 2> "$DIR/plot.err" \
    || fail "plot two maps --show: $(cat "$DIR/plot.err")"
[ "$(grep -c '1 June 1999' "$DIR/plot.out")" -ge 1 ] && [ "$(grep -c '9 May 2018' "$DIR/plot.out")" -ge 1 ] \
    || fail "plot two maps --show: both maps expected: $(head -5 "$DIR/plot.out")"
"$ATTEND" plot "$DIR/w.json" -o "$DIR/w1.svg" > /dev/null 2>&1 || fail "plot one line"
is_svg "$DIR/w1.svg" || fail "plot one line: no <svg"
{ head -1 "$DIR/w2.json"; echo '{"input": "x"}'; } > "$DIR/bad2.json"
expect_error "plot, bad second line" "line 2" "$ATTEND" plot "$DIR/bad2.json" -o "$DIR/bad2.png"
"$ATTEND" plot "$DIR/run/metrics.jsonl" -o "$DIR/curves2.png" > /dev/null 2>&1 \
    || fail "plot metrics.jsonl"
is_png "$DIR/curves2.png" || fail "plot metrics.jsonl: not a PNG"

expect_error "empty text" "empty" "$ATTEND" translate "$M" ""
expect_error "invalid UTF-8" "UTF-8" "$ATTEND" translate "$M" "$(printf 'ab\377')"
expect_error "too long" "too long" "$ATTEND" translate "$M" \
    "$(printf '%0300d' 0)"
expect_error "missing model" "no/such" "$ATTEND" translate "$DIR/no/such.safetensors" "9 May 2018"
head -c 3000 "$M" > "$DIR/truncated.safetensors"
expect_error "truncated model" "truncated.safetensors" "$ATTEND" translate "$DIR/truncated.safetensors" "x"
printf 'garbage' > "$DIR/garbage.safetensors"
expect_error "corrupt model" "garbage.safetensors" "$ATTEND" eval "$DIR/garbage.safetensors" "$DIR/pairs.tsv"
expect_error "missing data" "nothing.tsv" "$ATTEND" train --data "$DIR/nothing.tsv" --out "$DIR/x"
expect_error "unknown attention" "unknown attention" "$ATTEND" train --data "$DIR/pairs.tsv" \
    --attention nonsense --steps 1 --out "$DIR/y"
expect_error "eval without data" "either" "$ATTEND" eval "$M"

# Tokens: a G2P-like TSV (letters in, phones out) trained with
# --target-tokens words; translate writes the phones separated by single
# spaces, --weights labels rows by phone, eval scores per token, and resuming
# with another kind is refused.
printf 'KNIGHT\tN AY T\nNIGHT\tN AY T\nKNIT\tN IH T\nKIT\tK IH T\nTIN\tT IH N\nHIT\tHH IH T\nTHIN\tTH IH N\nTHAT\tDH AE T\n' \
    > "$DIR/g2p.tsv"
"$ATTEND" train --data "$DIR/g2p.tsv" --valid "$DIR/g2p.tsv" --target-tokens words --steps 30 \
    --batch 8 --eval-every 10 --embed 8 --encoder 16 --decoder-size 32 --lr 0.02 --warmup 0 \
    --out "$DIR/g2p" 2> "$DIR/g2p.log" || fail "train --target-tokens words: $(cat "$DIR/g2p.log")"
grep -q "reads chars .*writes words" "$DIR/g2p.log" || fail "train: kinds not said: $(cat "$DIR/g2p.log")"
G="$DIR/g2p/model.safetensors"
out=$("$ATTEND" translate "$G" KNIGHT THIN HIT KNIT) || fail "translate, token model"
printf '%s\n' "$out" | grep -qvE '^(AY|AE|DH|HH|IH|K|N|T|TH)( (AY|AE|DH|HH|IH|K|N|T|TH))*$' \
    && fail "translate, token model: not phones separated by single spaces: $out"
[ "$(printf '%s\n' "$out" | head -1)" = "N AY T" ] || fail "translate KNIGHT: $out"
"$ATTEND" translate "$G" --weights json KNIGHT > "$DIR/g2p.json" || fail "--weights json, token model"
grep -q '"source": \["K", "N", "I", "G", "H", "T"\], "target": \["N", "AY", "T"\]' "$DIR/g2p.json" \
    || fail "--weights json, token model: $(cat "$DIR/g2p.json")"
"$ATTEND" translate "$G" --weights tsv KNIGHT > "$DIR/g2p.w.tsv" || fail "--weights tsv, token model"
[ "$(cut -f1 "$DIR/g2p.w.tsv" | tail -3 | tr '\n' ' ')" = "N AY T " ] \
    || fail "--weights tsv, token model: rows $(cat "$DIR/g2p.w.tsv")"
"$ATTEND" eval "$G" "$DIR/g2p.tsv" > "$DIR/g2p.eval" 2>&1 || fail "eval, token model"
grep -q "per-token accuracy:" "$DIR/g2p.eval" || fail "eval, token model: $(cat "$DIR/g2p.eval")"
expect_error "resume with another kind" "target-tokens chars" \
    "$ATTEND" train --data "$DIR/g2p.tsv" --valid "$DIR/g2p.tsv" --target-tokens chars \
    --steps 40 --out "$DIR/g2p" --resume
expect_error "unknown token kind" "chars' or 'words" \
    "$ATTEND" train --data "$DIR/g2p.tsv" --source-tokens bytes --out "$DIR/z"
# words on both sides: whitespace runs read as one separator
printf 'red cat\tchat rouge\nred dog\tchien rouge\nblack cat\tchat noir\n' > "$DIR/words.tsv"
"$ATTEND" train --data "$DIR/words.tsv" --valid "$DIR/words.tsv" --source-tokens words \
    --target-tokens words --steps 5 --batch 3 --embed 8 --encoder 16 --decoder-size 32 \
    --out "$DIR/words" 2> "$DIR/words.log" || fail "train words -> words: $(cat "$DIR/words.log")"
"$ATTEND" translate "$DIR/words/model.safetensors" --weights json "  red   dog " > "$DIR/words.json" \
    || fail "translate words -> words"
grep -q '"source": \["red", "dog"\]' "$DIR/words.json" || fail "words: $(cat "$DIR/words.json")"
expect_error "only whitespace, words model" "empty" \
    "$ATTEND" translate "$DIR/words/model.safetensors" "   "

# ---- bad input and failed output (issue 9, section 4)

# expect_fail_quickly DESCRIPTION WORD COMMAND...: as expect_error, within
# 30 s (a hang is a failure, not a stuck test)
expect_fail_quickly() {
    what=$1 word=$2
    shift 2
    timeout 30 "$@" > "$DIR/out" 2> "$DIR/err"
    code=$?
    [ "$code" -eq 124 ] && { fail "$what: hung"; return; }
    [ "$code" -eq 0 ] && { fail "$what: exit 0"; return; }
    grep -qi -- "$word" "$DIR/err" || fail "$what: no '$word' in: $(head -3 "$DIR/err")"
    grep -qi "segmentation\|core dumped\|sanitizer" "$DIR/err" && fail "$what: crashed"
}

# Standard output that cannot be written is a failure, for every command.
expect_error "translate > /dev/full" "standard output" \
    sh -c '"$0" translate "$1" "5 May 2018" > /dev/full' "$ATTEND" "$M"
expect_error "eval > /dev/full" "standard output" \
    sh -c '"$0" eval "$1" "$2" > /dev/full' "$ATTEND" "$M" "$DIR/pairs.tsv"
expect_error "plot --show > /dev/full" "write" \
    sh -c '"$0" plot "$1" --show > /dev/full' "$ATTEND" "$DIR/w.json"
expect_error "dates locales > /dev/full" "standard output" \
    sh -c '"$0" dates locales > /dev/full' "$ATTEND"
expect_error "demo > /dev/full" "standard output" \
    sh -c '"$0" demo --steps 1 --batch 2 > /dev/full' "$ATTEND"
expect_error "--help > /dev/full" "standard output" sh -c '"$0" --help > /dev/full' "$ATTEND"
expect_error "translate --help > /dev/full" "standard output" \
    sh -c '"$0" translate --help > /dev/full' "$ATTEND"

# translate: an unknown option is not a text; after -- it is
expect_error "translate -x" "unknown option '-x'" "$ATTEND" translate "$M" -x "5 May 2018"
"$ATTEND" translate "$M" -- -x > "$DIR/dash.out" 2> "$DIR/dash.err" \
    || fail "translate -- -x: $(cat "$DIR/dash.err")"
[ "$(wc -l < "$DIR/dash.out")" -eq 1 ] || fail "translate -- -x: one line expected"
# a NUL in a stdin line is refused with its line number
printf '9 May 2018\n1 June\0999\n' | "$ATTEND" translate "$M" > "$DIR/nul.out" 2> "$DIR/nul.err" \
    && fail "NUL in stdin: exit 0"
grep -q "line 2.*NUL" "$DIR/nul.err" || fail "NUL in stdin: $(cat "$DIR/nul.err")"
expect_fail_quickly "translate < /dev/zero" "NUL" sh -c '"$0" translate "$1" < /dev/zero' \
    "$ATTEND" "$M"
# an empty evaluation set is an error, not 0/0
expect_error "eval of an empty file" "empty" "$ATTEND" eval "$M" /dev/null

# --show: escapes in the input or a title never reach the terminal
ESC=$(printf '\033')
NO_COLOR=1 "$ATTEND" translate "$M" "9 May${ESC}[2J${ESC}]0;owned$(printf '\007') 2018" --show \
    > "$DIR/esc.out" 2> "$DIR/esc.err" || fail "translate --show with escapes: $(cat "$DIR/esc.err")"
grep -q "$ESC" "$DIR/esc.out" && fail "translate --show: an escape of the input reached the terminal"
grep -q "$(printf '\007')" "$DIR/esc.out" && fail "translate --show: a BEL reached the terminal"
sed 's/"9 May 2018"/"9 May\\u001b[2J 2018"/' "$DIR/w.json" > "$DIR/esc.json"
NO_COLOR=1 "$ATTEND" plot "$DIR/esc.json" --show > "$DIR/esc.out" 2> "$DIR/esc.err" \
    || fail "plot --show with escapes: $(cat "$DIR/esc.err")"
grep -q "$ESC" "$DIR/esc.out" && fail "plot --show: an escape of the title reached the terminal"

# translate on a terminal (script(1) gives it one): the input's ESC is shown
# as U+FFFD; through a pipe the bytes stay exact
script -qec "\"$ATTEND\" translate \"$M\" --weights tsv '9 May${ESC}[2J 2018'" /dev/null \
    > "$DIR/tty.out" 2>&1 || fail "translate on a terminal: $(head -3 "$DIR/tty.out")"
grep -q "$ESC" "$DIR/tty.out" && fail "translate on a terminal: an escape of the input was printed"
grep -q "9 May$(printf '\357\277\275')\[2J" "$DIR/tty.out" \
    || fail "translate on a terminal: no U+FFFD: $(head -2 "$DIR/tty.out")"
"$ATTEND" translate "$M" --weights tsv "9 May${ESC}[2J 2018" > "$DIR/pipe.out" 2> /dev/null
grep -q "^# 9 May${ESC}\[2J 2018" "$DIR/pipe.out" || fail "translate into a pipe changed the text"

# each of two failed outputs is reported, not only one
expect_error "plot, two bad outputs" "no/a.png" "$ATTEND" plot "$DIR/w.json" \
    -o "$DIR/no/a.png" -o "$DIR/no/b.svg"
grep -q "no/b.svg" "$DIR/err" || fail "plot, two bad outputs: only one reported: $(cat "$DIR/err")"

# outputs: only a regular file is replaced; no planted temporary name
printf 'precious\n' > "$DIR/victim.txt"
ln -s victim.txt "$DIR/link.json"
expect_error "--bertviz to a symbolic link" "symbolic link" \
    "$ATTEND" plot "$DIR/w.json" --bertviz "$DIR/link.json"
mkfifo "$DIR/fifo.json"
expect_fail_quickly "--bertviz to a FIFO" "FIFO" \
    "$ATTEND" plot "$DIR/w.json" --bertviz "$DIR/fifo.json"
ln -s victim.txt "$DIR/fig.png.tmp.png"
"$ATTEND" plot "$DIR/w.json" -o "$DIR/fig.png" > /dev/null 2>&1 || fail "plot -o fig.png"
is_png "$DIR/fig.png" || fail "plot -o fig.png: not a PNG"
[ "$(cat "$DIR/victim.txt")" = precious ] || fail "a link at fig.png.tmp.png was followed"
[ -L "$DIR/link.json" ] && [ -p "$DIR/fifo.json" ] || fail "a link or FIFO was replaced"
# four runs drawing one figure at once: one whole PNG, no temporary file left
for k in 1 2 3 4; do "$ATTEND" plot "$DIR/w2.json" -o "$DIR/same.png" > /dev/null 2>&1 & done
wait
is_png "$DIR/same.png" || fail "concurrent plots: not a whole PNG"
ls "$DIR" | grep -q "tmp-" && fail "temporary files left: $(ls "$DIR" | grep tmp-)"

# inputs: capped, and no endless read
expect_fail_quickly "plot /dev/zero" "larger than" "$ATTEND" plot /dev/zero -o "$DIR/z.png"
# drawing has a budget: 16 heads of 256 x 256 as PDF is refused, with the estimate
python3 - "$DIR/big.json" <<'PY' || fail "cannot write big.json"
import json, sys
n, h = 256, 16
json.dump({"format": "attend-attention", "version": 1, "kind": "map", "heads": h, "rows": n,
           "cols": n, "row_labels": ["a"] * n, "col_labels": ["b"] * n,
           "weights": [[[0] * n] * n] * h}, open(sys.argv[1], "w"), separators=(",", ":"))
PY
expect_fail_quickly "plot a huge map as PDF" "MB" "$ATTEND" plot "$DIR/big.json" -o "$DIR/big.pdf"
[ -e "$DIR/big.pdf" ] && fail "a refused figure left big.pdf"

# --threads: at most 4 per CPU; under ulimit -v a clear error or a run, never a hang
expect_fail_quickly "--threads 256" "--threads 256" "$ATTEND" translate "$M" --threads 256 "9 May 2018"
expect_fail_quickly "--threads 8 under ulimit -v 600 MB" "--threads" \
    sh -c 'ulimit -v 600000 && exec "$0" translate "$1" --threads 8 "9 May 2018"' "$ATTEND" "$M"
timeout 30 sh -c 'ulimit -v 1000000 && exec "$0" translate "$1" --threads 2 "9 May 2018"' \
    "$ATTEND" "$M" > "$DIR/limit.out" 2> "$DIR/limit.err" \
    || fail "--threads 2 under ulimit -v 1 GB: exit $?: $(cat "$DIR/limit.err")"

if [ "$failures" -ne 0 ]; then echo "test_cli: $failures failed" >&2; exit 1; fi
echo "test_cli: all passed"
