#!/usr/bin/env bash
# run.sh - the main job, from a clean clone: install what is missing, build,
# train the date translator ("Saturday 9 May 2018" -> "2018-05-09") on
# dates generated in 24 locales, measure it on 10,000 held-out dates, then
# translate a few examples and draw their attention (PNG, SVG, HTML and the
# terminal). Everything lands in out/. About two minutes on 2 cores.
# Extra arguments go to `attend train` (see `build/attend train --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
# The CLI, and the shared libraries the Python package loads (python/README.md).
cmake --build build -j "$(nproc)" --target attend_cli attend attend_data attend_viz >/dev/null
attend=build/attend
out=out
model=$out/dates/model.safetensors
mkdir -p "$out"

echo "== training the date translator (BiLSTM encoder, GRU decoder with additive attention)"
$attend train --data dates --out "$out/dates" "$@"

echo "== exact match on 10,000 held-out dates, all locales, then English alone"
$attend eval "$model" --dates 10000 | grep -E '^(exact match:|per-character|English alone)'
echo -n "10,000 English dates: "
$attend eval "$model" --dates 10000 --only en | grep -E '^exact match:'

examples=("Saturday 9 May 2018" "samedi 9 mai 2018" "2018年5月9日星期六"
          "суббота, 9 мая 2018 г." "السبت، ٩ مايو ٢٠١٨")
echo "== translating, with the attention of the first example in the terminal"
$attend translate "$model" "${examples[@]}"
$attend translate "$model" --show "${examples[0]}"
for ext in png svg html; do
  $attend translate "$model" --plot "$out/attention.$ext" "${examples[@]}" >/dev/null
done
echo
echo "figures: $out/attention.png, $out/attention.svg, $out/attention.html (open in a browser),"
echo "         $out/dates/curves.png (training curves); the model: $model"
