#!/bin/sh
# test_cli.sh - the date translator's commands end to end on a small TSV:
# train a few steps, resume, eval, translate (with --weights), and the error
# exits: empty text, invalid UTF-8, a missing model, a corrupt model.
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
for f in model.safetensors last.safetensors metrics.jsonl; do
    [ -s "$DIR/run/$f" ] || fail "train wrote no $f"
done
[ "$(wc -l < "$DIR/run/metrics.jsonl")" -eq 3 ] || fail "metrics: $(cat "$DIR/run/metrics.jsonl")"
grep -q '"valid_exact"' "$DIR/run/metrics.jsonl" || fail "metrics without valid_exact"

"$ATTEND" train --data "$DIR/pairs.tsv" --valid "$DIR/pairs.tsv" --steps 40 --batch 4 \
    --eval-every 10 --out "$DIR/run" --resume 2> "$DIR/resume.log" || fail "resume"
grep -q "resuming from .* at step 30" "$DIR/resume.log" || fail "resume: $(cat "$DIR/resume.log")"

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
grep -q "interrupted at step" "$DIR/int.log" || fail "SIGINT: no message"

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

if [ "$failures" -ne 0 ]; then echo "test_cli: $failures failed" >&2; exit 1; fi
echo "test_cli: all passed"
