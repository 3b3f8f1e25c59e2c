#!/usr/bin/env bash
# classify.sh - train the mail classifiers that docs/classification.md
# reports, on the SpamAssassin corpus, score them on its test split, draw
# what they attend to, and run fastText on the same split.
#
# Installs what is missing (scripts/setup.sh), fetches the corpus into the
# data cache (scripts/data.sh spam-assassin), builds, then:
#   0. word vectors of the training split's words (fasttext skipgram, 64
#      wide; bench/classify_bench.py's train_vectors), the start the HAN
#      paper gives its embedding, passed to every model with --vectors;
#   1. four models, each on THREADS threads (default 2), with the settings
#      of the reported runs (HAN_ARGS): the HAN with HAN's context vector at
#      both levels (the main model), the HAN with the seed's per-feature
#      layer at both levels, and the flat model with each form;
#   2. attend classify eval of each on the test split (accuracy, spam
#      precision/recall/F1, accuracy per group);
#   3. for the main model: the HTML report (every misclassified test
#      message and 10 correct ones of each group) and the top words of
#      each class (figure and text);
#   4. bench/classify_bench.py: fastText at its best (a grid on the dev
#      split) against the main model's settings, side by side.
# Everything lands in out/classify/. OUT, THREADS, HAN_ARGS change it.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/classify}
THREADS=${THREADS:-2}
HAN_ARGS=${HAN_ARGS:---embed 64 --hidden 32 --dropout 0.3 --epochs 8}
scripts/setup.sh
scripts/data.sh spam-assassin > /dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target attend_cli >/dev/null
A=build/attend
mkdir -p "$OUT"

echo "== word vectors of the training split (fasttext skipgram)"
$A classify split --out "$OUT/split" > /dev/null
VECTORS=$(/usr/bin/python3 -c 'import sys; sys.path.insert(0, "bench")
import classify_bench
print(classify_bench.train_vectors(sys.argv[1], sys.argv[2])[0])' "$OUT/split" "$OUT")
HAN_ARGS="$HAN_ARGS --vectors $VECTORS"

train() { # NAME ARGS...
  name=$1
  shift
  echo "== $name"
  # shellcheck disable=SC2086
  $A classify train --threads "$THREADS" --out "$OUT/$name" $HAN_ARGS "$@" 2>&1 | tail -3
}
train han
train han-feature --word-attention feature --sentence-attention feature
train flat --model flat
train flat-feature --model flat --word-attention feature

echo "== the test split"
for name in han han-feature flat flat-feature; do
  echo "-- $name"
  $A classify eval "$OUT/$name/model.safetensors" --threads "$THREADS" 2>/dev/null | head -6
done

echo "== what the HAN attends to"
$A classify eval "$OUT/han/model.safetensors" --threads "$THREADS" \
    --report "$OUT/report.html" --top-words "$OUT/top-words.png" --top 15 2>/dev/null |
    sed -n '/^top words/,$p'

echo "== fastText on the same split"
# the bench makes its own vectors (--vectors), timed as part of attend's training
# shellcheck disable=SC2086
/usr/bin/python3 bench/classify_bench.py --attend "$A" --work "$OUT/bench" --vectors \
    --attend-args "--threads $THREADS ${HAN_ARGS% --vectors *}"
