#!/usr/bin/env bash
# lab_run.sh ATTEND WORKDIR [--screenshots DIR] - the attention lab in a real
# browser: train five tiny date models with ATTEND (luong additive,
# multi-head with 2 heads, general, dot, and the seed decoder: more than
# compare takes), a classifier and a language model into WORKDIR/models -
# or use the models under
# $ATTEND_LAB_MODELS instead - start `ATTEND serve --port 0` over them, and
# run lab_browser.mjs against it (playwright-core, installed here with
# `npm ci` if node_modules is missing). --screenshots DIR (used by hand, for
# docs/lab.md) writes DIR/lab-*.png. The page trains one run, into
# MODELS/lab-runs/ (also under $ATTEND_LAB_MODELS). The server is stopped at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
attend=$1
work=$2
shift 2
[ -x /usr/bin/chromium ] || { echo "FAIL: /usr/bin/chromium is missing (scripts/setup.sh installs it)"; exit 1; }
if [ ! -d "$here/node_modules/playwright-core" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
mkdir -p "$work"
models=${ATTEND_LAB_MODELS:-$work/models}
if [ -z "${ATTEND_LAB_MODELS:-}" ]; then
  rm -rf "$models"
  small=(--data dates --train-size 1500 --valid-size 40 --batch 32 --steps 40 --eval-every 40
         --embed 8 --encoder 16 --decoder-size 32 --attn-size 16)
  : > "$work/train.log"
  for family in additive multi-head general dot seed; do
    case $family in
      multi-head) options=(--attention multi-head --heads 2) ;;
      seed) options=(--decoder seed) ;;
      *) options=(--attention "$family") ;;
    esac
    "$attend" train "${small[@]}" "${options[@]}" --out "$models/dates-$family" >> "$work/train.log" 2>&1
  done
  # a classifier and a language model, tiny: the page draws what they say
  for i in 1 2 3 4 5; do
    printf 'ham\tthe meeting is at noon. see you there.\nspam\tbuy cheap pills now! free money!\n'
    printf 'ham\tlunch tomorrow? the report is ready.\nspam\twin a free prize now! click here.\n'
  done > "$work/spam.tsv"
  "$attend" classify train --train "$work/spam.tsv" --dev "$work/spam.tsv" --embed 8 --hidden 8 \
    --attn 8 --min-count 1 --epochs 2 --batch 4 --threads 1 --out "$models/spam" >> "$work/train.log" 2>&1
  for i in $(seq 60); do echo "the whale swam east at dawn; call me ishmael $i."; done > "$work/book.txt"
  "$attend" lm train --data "$work/book.txt" --layers 2 --heads 4 --width 32 --steps 20 --threads 1 \
    --out "$models/book-lm" >> "$work/train.log" 2>&1
fi
"$attend" serve --port 0 --models "$models" > "$work/serve.out" 2> "$work/serve.err" &
server=$!
trap 'kill -INT $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q '^attend serve: http' "$work/serve.out" && break
  kill -0 $server 2>/dev/null || { echo "FAIL: attend serve did not start: $(cat "$work/serve.err")"; exit 1; }
  sleep 0.1
done
url=$(sed -n 's/^attend serve: \(http[^ ]*\)$/\1/p' "$work/serve.out")
[ -n "$url" ] || { echo "FAIL: attend serve printed no address"; exit 1; }
node "$here/lab_browser.mjs" "$url" "$@"
