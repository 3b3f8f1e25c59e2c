#!/usr/bin/env bash
# run.sh - the main job, from a clean clone: install what is missing, build,
# then train a small attention model and show where it attends.
# Extra arguments go to `attend demo` (see `build/attend demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target attend_cli >/dev/null
mkdir -p out
exec build/attend demo --threads "$(nproc)" --save out/demo.safetensors "$@"
