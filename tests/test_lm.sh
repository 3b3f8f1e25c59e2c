#!/bin/sh
# test_lm.sh - `attend lm` end to end on a small text: a tiny Transformer
# and a tiny kv model train and learn (their validation nats fall below the
# uniform guess's ln(V) and below what the same model gets at step 1),
# eval prints what training reported, generation repeats for a seed and
# changes with it, and bad input is refused clearly: an empty file, invalid
# UTF-8, a context beyond the limit, a prompt with unseen characters, an
# unknown model kind, a file that is not a language model.
#   tests/test_lm.sh PATH/TO/attend
set -u
ATTEND=${1:?usage: test_lm.sh PATH/TO/attend}
# shellcheck source=tests/cli_checks.sh
. "$(dirname "$0")/cli_checks.sh"

"$ATTEND" lm --help > /dev/null || fail "lm --help"
"$ATTEND" lm train --help | grep -q -- "--context" || fail "lm train --help names --context"

# 6,000 characters of plain text with structure to learn.
i=0
while [ $i -lt 60 ]; do
  echo "the whale swam east at dawn; the ship sailed west at dusk. call me ishmael $i."
  i=$((i + 1))
done > "$DIR/book.txt"

nats_of() { sed -n 's/^valid: \([0-9.]*\) nats.*/\1/p' "$1"; }
# below A B: 1 if A < B (decimals)
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }

train() { # NAME ARGS...
  name=$1
  shift
  "$ATTEND" lm train --data "$DIR/book.txt" --threads 1 --out "$DIR/$name" "$@" \
    > "$DIR/$name.out" 2> "$DIR/$name.err" || { fail "lm train $name: $(tail -3 "$DIR/$name.err")"; return 1; }
  [ -s "$DIR/$name/model.safetensors" ] && [ -s "$DIR/$name/metrics.jsonl" ] ||
    fail "lm train $name: no model or metrics"
}

check_learns() { # NAME: eval after 1 step vs after the run
  name=$1
  "$ATTEND" lm eval "$DIR/$name/model.safetensors" "$DIR/book.txt" > "$DIR/$name.eval" ||
    { fail "lm eval $name"; return; }
  "$ATTEND" lm eval "$DIR/$name-1/model.safetensors" "$DIR/book.txt" > "$DIR/$name-1.eval" ||
    { fail "lm eval $name-1"; return; }
  trained=$(nats_of "$DIR/$name.eval") untrained=$(nats_of "$DIR/$name-1.eval")
  [ -n "$trained" ] || { fail "lm eval $name printed no nats: $(cat "$DIR/$name.eval")"; return; }
  # ln(V): V = 4 specials + the text's characters (about 30): ln 34 = 3.5
  below "$trained" 2.2 || fail "$name: validation $trained nats/char, not below 2.2"
  below "$trained" "$untrained" || fail "$name: $trained nats/char is not below step 1's $untrained"
  grep -q "bits/char" "$DIR/$name.eval" || fail "$name: eval prints no bits/char"
}

TF="--model transformer --layers 2 --heads 2 --width 32 --context 32 --batch 16 --lr 0.003"
KV="--model kv --width 32 --embed 16 --context 32 --memory 5 --batch 16 --lr 0.01"
# shellcheck disable=SC2086
train tf $TF --steps 300 --eval-every 300 && train tf-1 $TF --steps 1 && check_learns tf
# shellcheck disable=SC2086
train kv $KV --steps 300 --eval-every 300 && train kv-1 $KV --steps 1 && check_learns kv
# two replicas of one thread each (--replicas 2) learn as well
# shellcheck disable=SC2086
train tf2 $TF --steps 300 --eval-every 300 --threads 2 --replicas 2 && train tf2-1 $TF --steps 1 &&
  check_learns tf2

# resume: 20 steps, stop, 20 more = 40 steps at once, to the byte (all 40 in the warm-up)
R="--layers 1 --heads 2 --width 16 --context 16 --eval-every 20 --threads 1"
# shellcheck disable=SC2086
"$ATTEND" lm train --data "$DIR/book.txt" $R --steps 40 --out "$DIR/r40" > /dev/null 2>&1 &&
  "$ATTEND" lm train --data "$DIR/book.txt" $R --steps 20 --out "$DIR/r20" > /dev/null 2>&1 &&
  "$ATTEND" lm train --data "$DIR/book.txt" --steps 40 --eval-every 20 --threads 1 --resume \
    --out "$DIR/r20" > /dev/null 2>&1 || fail "lm train with --resume"
cmp -s "$DIR/r40/last.safetensors" "$DIR/r20/last.safetensors" ||
  fail "20 + 20 resumed steps differ from 40 steps"

# generation: a seed repeats its text, another seed changes it
gen() { "$ATTEND" lm generate "$DIR/tf/model.safetensors" --prompt "the wh" --length 60 "$@"; }
a=$(gen --seed 5) || fail "generate"
b=$(gen --seed 5)
c=$(gen --seed 6)
[ "$a" = "$b" ] || fail "the same seed gave two texts: '$a' / '$b'"
[ "$a" != "$c" ] || fail "seeds 5 and 6 gave the same text '$a'"
case $a in "the wh"*) ;; *) fail "generated text does not start with the prompt: '$a'" ;; esac

# bad input
: > "$DIR/empty.txt"
printf 'abc\377def\n' > "$DIR/bad.txt"
expect_error "empty file" "empty" "$ATTEND" lm train --data "$DIR/empty.txt" --out "$DIR/e1" --steps 1
expect_error "invalid UTF-8" "UTF-8" "$ATTEND" lm train --data "$DIR/bad.txt" --out "$DIR/e2" --steps 1
expect_error "eval invalid UTF-8" "UTF-8" "$ATTEND" lm eval "$DIR/tf/model.safetensors" "$DIR/bad.txt"
expect_error "context too long" "context" "$ATTEND" lm train --data "$DIR/book.txt" --context 5000 --out "$DIR/e3"
head -c 300 "$DIR/book.txt" > "$DIR/short.txt"
expect_error "context longer than the text" "context" "$ATTEND" lm train --data "$DIR/short.txt" --context 1000 --out "$DIR/e4" --steps 1
expect_error "a passage longer than the model's context" "context" "$ATTEND" lm attention \
  "$DIR/tf/model.safetensors" --passage "the whale swam east at dawn; the ship sailed west" --out "$DIR/a.png"
"$ATTEND" lm attention "$DIR/tf/model.safetensors" --passage "the whale swam" \
  --out "$DIR/heads.html" --out "$DIR/heads.png" 2> /dev/null || fail "lm attention"
[ -s "$DIR/heads.html" ] && [ -s "$DIR/heads.png" ] || fail "lm attention wrote no figures"
"$ATTEND" lm span "$DIR/kv/model.safetensors" --data "$DIR/book.txt" --out "$DIR/span.png" \
  > "$DIR/span.out" 2> /dev/null || fail "lm span"
awk '{ s = 0; for (i = 2; i <= 6; i++) s += $i } END { exit !(s > 0.995 && s < 1.005) }' \
  "$DIR/span.out" || fail "the span's five masses do not sum to 1: $(cat "$DIR/span.out")"
expect_error "span of a model without attention" "attention" "$ATTEND" lm span \
  "$DIR/tf/model.safetensors" --data "$DIR/book.txt" --out "$DIR/s.png"
"$ATTEND" lm curves "$DIR/tf" "$DIR/kv" --out "$DIR/curves.png" 2> /dev/null || fail "lm curves"
expect_error "unseen prompt character" "never occurs" gen --prompt "Zebra"
expect_error "unknown kind" "transformer" "$ATTEND" lm train --model gpt --out "$DIR/e5"
expect_error "not a model" "safetensors\|attend\|header" "$ATTEND" lm eval "$DIR/book.txt"
"$ATTEND" train --steps 1 --train-size 64 --valid-size 16 --batch 16 --out "$DIR/s2s" \
  > /dev/null 2>&1 || fail "a tiny date model for the next check"
expect_error "a date model is not a language model" "not an attend language model" \
  "$ATTEND" lm eval "$DIR/s2s/model.safetensors" "$DIR/book.txt"
expect_error "unknown subcommand" "unknown" "$ATTEND" lm fly

cat "$DIR"/tf.eval "$DIR"/tf-1.eval "$DIR"/kv.eval "$DIR"/kv-1.eval 2>/dev/null | cut -c1-60
[ "$failures" -eq 0 ] || { echo "test_lm.sh: $failures failure(s)" >&2; exit 1; }
echo "test_lm.sh: all passed"
