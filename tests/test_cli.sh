#!/bin/sh
# test_cli.sh - the date translator's commands end to end on a small TSV:
# train a few steps (with its training curves), resume (bit for bit the run
# that never stopped; Adam's state missing, corrupt or stale), eval,
# translate (with --weights, --plot and --show), plot a file of several
# maps, and the error exits: empty text, invalid UTF-8, a missing model, a
# corrupt model; then bad input and failed output: a full standard output,
# unknown options, NUL bytes, empty or endless inputs, escapes on the
# terminal, outputs that are links or FIFOs, concurrent writers, a figure
# too big to draw, and --threads beyond the machine or a memory limit.
#   tests/test_cli.sh PATH/TO/attend
set -u
ATTEND=${1:?usage: test_cli.sh PATH/TO/attend}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# expect_error DESCRIPTION WORD COMMAND...: non-zero exit and WORD in stderr
expect_error() {
    what=$1 word=$2
    shift 2
    if "$@" > "$DIR/out" 2> "$DIR/err"; then fail "$what: exit 0"; return; fi
    grep -qi -- "$word" "$DIR/err" || fail "$what: no '$word' in: $(cat "$DIR/err")"
    grep -qi "segmentation\|core dumped\|sanitizer" "$DIR/err" && fail "$what: crashed"
}

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
[ "$(wc -l < "$DIR/run/metrics.jsonl")" -eq 3 ] || fail "metrics: $(cat "$DIR/run/metrics.jsonl")"
grep -q '"valid_exact"' "$DIR/run/metrics.jsonl" || fail "metrics without valid_exact"
# training curves at the end of the run, and where they are
[ "$(head -c 4 "$DIR/run/curves.png" | od -An -c | tr -d ' ')" = '211PNG' ] \
    || fail "train: curves.png is not a PNG"
grep -q '<svg' "$DIR/run/curves.svg" 2> /dev/null || fail "train: curves.svg has no <svg"
grep -q "curves.png" "$DIR/train.log" || fail "train does not say where the curves are"

"$ATTEND" train --data "$DIR/pairs.tsv" --valid "$DIR/pairs.tsv" --steps 40 --batch 4 \
    --eval-every 10 --out "$DIR/run" --resume 2> "$DIR/resume.log" || fail "resume"
grep -q "resuming from .* at step 30" "$DIR/resume.log" || fail "resume: $(cat "$DIR/resume.log")"
grep -q "warning" "$DIR/resume.log" && fail "resume warned: $(grep warning "$DIR/resume.log")"

# Resuming continues the same trajectory: 14 steps in one run, or 7 then
# --resume to 14, end with the same weights bit for bit and the same Adam
# state byte for byte. The schedule is flat (--warmup 0, --final-lr = --lr):
# a run of --steps 7 would otherwise decay its learning rate over 7 steps.
# Batch 3 over 8 pairs: a pass is 2 steps, so step 7 stops inside a pass.
# weights FILE: the tensor bytes of a safetensors file, after the header
# (whose metadata holds the wall-clock seconds, which differ).
weights() {
    set -- "$1" $(od -An -t u1 -N 8 "$1")
    tail -c +$(($2 + 256 * $3 + 65536 * $4 + 16777216 * $5 + 9)) "$1"
}
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
    weights "$DIR/whole/$f" > "$DIR/whole.bytes"
    weights "$DIR/half/$f" > "$DIR/half.bytes"
    [ -s "$DIR/whole.bytes" ] && cmp -s "$DIR/whole.bytes" "$DIR/half.bytes" \
        || fail "7 steps + --resume to 14: $f has other weights than 14 steps in one run"
done
cmp -s "$DIR/whole/last.optim.safetensors" "$DIR/half/last.optim.safetensors" \
    || fail "7 steps + --resume to 14: Adam's state differs from 14 steps in one run"
[ "$(metrics "$DIR/whole/metrics.jsonl")" = "$(metrics "$DIR/half/metrics.jsonl")" ] \
    || fail "7 steps + --resume to 14: other metrics: $(cat "$DIR/half/metrics.jsonl")"
# no Adam state (a run saved by an older attend): a warning, then training
rm "$DIR/no_optim/last.optim.safetensors"
train_flat --steps 14 --out "$DIR/no_optim" --resume 2> "$DIR/no_optim.log" \
    || fail "resume without Adam's state: $(cat "$DIR/no_optim.log")"
grep -q "warning: .*last.optim.safetensors.*from zero" "$DIR/no_optim.log" \
    || fail "resume without Adam's state: no warning: $(cat "$DIR/no_optim.log")"
weights "$DIR/whole/last.safetensors" > "$DIR/whole.bytes"
weights "$DIR/no_optim/last.safetensors" > "$DIR/no_optim.bytes"
cmp -s "$DIR/whole.bytes" "$DIR/no_optim.bytes" \
    && fail "resume without Adam's state ends where the run with it does"
# a corrupt or a stale Adam state: an error naming the file
cp "$DIR/bad_optim/last.optim.safetensors" "$DIR/stale.safetensors"
head -c 1000 "$DIR/stale.safetensors" > "$DIR/bad_optim/last.optim.safetensors"
expect_error "resume, corrupt Adam state" "last.optim.safetensors" \
    train_flat --steps 14 --out "$DIR/bad_optim" --resume
cp "$DIR/stale.safetensors" "$DIR/bad_optim/last.optim.safetensors"
train_flat --steps 9 --out "$DIR/bad_optim" --resume 2> /dev/null || fail "resume 7 -> 9"
cp "$DIR/stale.safetensors" "$DIR/bad_optim/last.optim.safetensors"
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
grep -q "interrupted at step" "$DIR/int.log" || fail "SIGINT: no message"
# curves after Ctrl-C: drawn, or (no evaluation yet) only a warning
[ -s "$DIR/int/curves.png" ] || grep -q "warning: no training curves" "$DIR/int.log" \
    || fail "SIGINT: neither curves nor a warning: $(tail -3 "$DIR/int.log")"

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
