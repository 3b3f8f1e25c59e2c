#!/usr/bin/env bash
# g2p.sh - train the pronunciation (G2P) model that docs/g2p.md reports,
# score it on the 12,000 standard test words, and draw where it looks.
#
# Installs what is missing (scripts/setup.sh), fetches CMUdict into the data
# cache (scripts/data.sh cmudict), finds the standard test split
# (scripts/data.sh g2p-test), builds, then:
#   1. attend g2p train: CMUdict without the test words, 2 BiLSTM layers of
#      192 per direction (dropout 0.3 between them), an LSTM luong decoder of
#      256 with additive attention, batch 64, Adam 0.002 with 500 warm-up
#      steps and a cosine decay over 38 epochs, two threads (a 58-minute
#      cap: the issue's budget is 60 minutes on the 2 cores), the best model
#      by dev WER;
#   2. attend g2p eval on the test words (greedy: beam search was no better on dev);
#   3. the attention of KNIGHT, PHONE, THOUGHT, XYLOPHONE, QUEUE and BOX.
# Everything lands in out/g2p/. OUT, THREADS and MINUTES change it.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/g2p}
scripts/setup.sh
DICT=$(scripts/data.sh cmudict)
TEST=$(scripts/data.sh g2p-test)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target attend_cli >/dev/null

echo "== training (CMUdict without the 12,000 test words; the best model by dev WER)"
build/attend g2p train --dict "$DICT" --test "$TEST" --encoder-layers 2 --dropout 0.3 \
    --encoder 192 --decoder-size 256 --attn-size 128 --embed 64 --cell lstm \
    --attention additive --batch 64 --lr 0.002 --warmup 500 --epochs 38 --minutes "${MINUTES:-58}" \
    --eval-every 2000 --threads "${THREADS:-2}" --out "$OUT"

echo "== the 12,000 test words (greedy, the default chosen on dev; --beam K for beam search)"
build/attend g2p eval "$OUT/model.safetensors" --test "$TEST" --errors "$OUT/test-errors.tsv"

echo "== words, and where the model looks"
build/attend g2p "$OUT/model.safetensors" --plot "$OUT/attention.png" \
    KNIGHT PHONE THOUGHT XYLOPHONE QUEUE BOX
build/attend g2p "$OUT/model.safetensors" --plot "$OUT/attention.svg" \
    KNIGHT PHONE THOUGHT XYLOPHONE QUEUE BOX > /dev/null
echo "figures: $OUT/attention.png, $OUT/attention.svg; the model: $OUT/model.safetensors"
