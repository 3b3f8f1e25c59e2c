#!/bin/sh
# test_g2p.sh - `attend g2p` end to end on the real dictionary: a tiny model
# trained on a slice learns (its dev WER falls below what an untrained model
# of the same shape gets, and below a fixed bar no untrained model can
# reach), eval prints WER and PER on a test split, words are pronounced
# (folded to the model's alphabet, from arguments and from stdin), and bad
# input is refused with a clear message: an empty word, a 1 MB line,
# invalid UTF-8, digits, a model of another task.
#   tests/test_g2p.sh PATH/TO/attend [PATH/TO/dict.txt]
# (the dictionary: $ATTEND_CMUDICT, else scripts/data.sh fetches it)
# The test split here is a stand-in (every 40th dictionary word), so the
# test runs without the standard split; the words it names stay out of
# training all the same.
set -u
ATTEND=${1:?usage: test_g2p.sh PATH/TO/attend PATH/TO/dict.txt}
DICT=${2:-${ATTEND_CMUDICT:-$(cd "$(dirname "$0")/.." && scripts/data.sh cmudict)}}
# shellcheck source=tests/cli_checks.sh
. "$(dirname "$0")/cli_checks.sh"

[ -s "$DICT" ] || { echo "FAIL: no dictionary at $DICT (scripts/data.sh cmudict)" >&2; exit 1; }

# The stand-in test split: every 40th plain word, stress removed.
awk 'NR % 40 == 0 && $1 ~ /^[A-Z]+$/ { w = $1; $1 = ""; gsub(/[0-9]/, ""); sub(/^ +/, "");
     print w "\t" $0 }' "$DICT" > "$DIR/test.tsv"
[ "$(wc -l < "$DIR/test.tsv")" -gt 1000 ] || fail "stand-in test split too small"

"$ATTEND" g2p --help > /dev/null || fail "g2p --help"

# WER of a model on the dev slice, as a whole number of tenths of a percent.
dev_wer() {
    "$ATTEND" g2p eval "$1" --dict "$DICT" --test "$DIR/test.tsv" --dev --beam 1 \
        > "$DIR/eval.out" 2> "$DIR/eval.err" || { fail "eval $1: $(cat "$DIR/eval.err")"; echo 1000; return; }
    awk '/^WER/ { sub(/%/, "", $2); printf "%d\n", $2 * 10 }' "$DIR/eval.out"
}

tiny="--dict $DICT --test $DIR/test.tsv --train-size 8000 --valid-size 400 --embed 16
      --encoder 48 --decoder-size 96 --attn-size 48 --batch 32 --lr 0.005 --warmup 100
      --eval-every 500 --threads 1"
# shellcheck disable=SC2086
"$ATTEND" g2p train $tiny --steps 1 --out "$DIR/untrained" 2> "$DIR/untrained.log" \
    || fail "train 1 step: $(tail -3 "$DIR/untrained.log")"
# shellcheck disable=SC2086
"$ATTEND" g2p train $tiny --steps 2500 --out "$DIR/run" 2> "$DIR/train.log" \
    || fail "train: $(tail -3 "$DIR/train.log")"
grep -q "valid WER" "$DIR/train.log" || fail "train shows no dev WER"
grep -q '"valid_wer"' "$DIR/run/metrics.jsonl" || fail "metrics.jsonl has no valid_wer"

# Resume: a run stopped at step 20 and resumed to 40 ends where a 40-step
# run does (the trainer's promise, through attend g2p train).
# shellcheck disable=SC2086
"$ATTEND" g2p train $tiny --steps 20 --out "$DIR/resumed" 2> /dev/null || fail "train 20 steps"
# shellcheck disable=SC2086
"$ATTEND" g2p train $tiny --steps 40 --out "$DIR/resumed" --resume 2> "$DIR/resume.log" \
    || fail "resume: $(tail -3 "$DIR/resume.log")"
# shellcheck disable=SC2086
"$ATTEND" g2p train $tiny --steps 40 --out "$DIR/whole" 2> /dev/null || fail "train 40 steps"
cmp -s "$DIR/resumed/last.safetensors" "$DIR/whole/last.safetensors" \
    || fail "resumed at 20 to 40: last.safetensors differs from a 40-step run"

untrained=$(dev_wer "$DIR/untrained/model.safetensors")
trained=$(dev_wer "$DIR/run/model.safetensors")
echo "dev WER: untrained $untrained, trained $trained (tenths of a percent)"
# An untrained model gets next to every word wrong; 60% is far below it.
[ "$untrained" -ge 950 ] || fail "untrained dev WER $untrained/1000: the bar means nothing"
[ "$trained" -le 600 ] || fail "trained dev WER $trained/1000, expected at most 600"

# eval on a test split prints both rates; beam search is not worse than
# greedy by much on this model (both are printed for the log)
"$ATTEND" g2p eval "$DIR/run/model.safetensors" --test "$DIR/test.tsv" --beam 4 \
    --errors "$DIR/errors.tsv" > "$DIR/test.out" 2> "$DIR/test.err" \
    || fail "eval on the test split: $(cat "$DIR/test.err")"
grep -q "^WER [0-9.]*%" "$DIR/test.out" || fail "eval prints no WER: $(cat "$DIR/test.out")"
grep -q "^PER [0-9.]*%" "$DIR/test.out" || fail "eval prints no PER: $(cat "$DIR/test.out")"
[ -s "$DIR/errors.tsv" ] || fail "eval --errors wrote nothing"
cat "$DIR/test.out"

# Words: lower case folded; one WORD<TAB>PHONES line each, phones only.
M=$DIR/run/model.safetensors
"$ATTEND" g2p "$M" knight Phone > "$DIR/words.out" 2> "$DIR/words.err" \
    || fail "g2p MODEL words: $(cat "$DIR/words.err")"
[ "$(wc -l < "$DIR/words.out")" -eq 2 ] || fail "two words, lines: $(cat "$DIR/words.out")"
grep -q "^knight	[A-Z][A-Z ]*$" "$DIR/words.out" || fail "knight: $(cat "$DIR/words.out")"
printf 'thought\nqueue\n' | "$ATTEND" g2p "$M" > "$DIR/stdin.out" 2>&1 \
    || fail "g2p MODEL < stdin: $(cat "$DIR/stdin.out")"
grep -q "^queue	[A-Z]" "$DIR/stdin.out" || fail "stdin: $(cat "$DIR/stdin.out")"

# Bad input.
expect_error "empty word" "empty" "$ATTEND" g2p "$M" ""
expect_error "digits" "alphabet" "$ATTEND" g2p "$M" "R2D2"
expect_error "invalid UTF-8" "UTF-8" "$ATTEND" g2p "$M" "$(printf 'caf\351')"
head -c 1048576 /dev/zero | tr '\0' 'a' > "$DIR/long.txt"
expect_error "1 MB line" "longer than" sh -c "\"$ATTEND\" g2p \"$M\" < \"$DIR/long.txt\""
expect_error "1 MB argument" "too long" "$ATTEND" g2p "$M" "$(head -c 70000 "$DIR/long.txt")"
"$ATTEND" train --data dates --train-size 200 --valid-size 20 --steps 1 --embed 4 --encoder 4 \
    --decoder-size 8 --out "$DIR/dates" 2> /dev/null || fail "a dates model"
expect_error "a dates model (words)" "not a pronunciation model" \
    "$ATTEND" g2p "$DIR/dates/model.safetensors" knight
expect_error "a dates model (eval)" "not a pronunciation model" \
    "$ATTEND" g2p eval "$DIR/dates/model.safetensors" --test "$DIR/test.tsv"
expect_error "no test split" "test split" env ATTEND_G2P_TEST= "$ATTEND" g2p train --dict "$DICT"
expect_error "missing dictionary" "$DIR/none.txt" \
    "$ATTEND" g2p train --dict "$DIR/none.txt" --test "$DIR/test.tsv" --out "$DIR/x"
printf 'KNIGHT\tN AY T X9\n' > "$DIR/bad_test.tsv"
expect_error "a malformed test split" "bad_test.tsv:1" \
    "$ATTEND" g2p eval "$M" --dict "$DICT" --test "$DIR/bad_test.tsv" --dev
expect_error "unknown option" "unknown option" "$ATTEND" g2p eval "$M" --bogus 1

if [ "$failures" -ne 0 ]; then
    echo "test_g2p: $failures failed" >&2
    exit 1
fi
echo "test_g2p: all passed"
