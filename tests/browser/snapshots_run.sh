#!/usr/bin/env bash
# snapshots_run.sh TEST_SNAPSHOTS DIR - write the snapshots page of a short
# training run with `TEST_SNAPSHOTS --write DIR`, then check it in headless
# Chromium with snapshots_browser.mjs (playwright-core, installed here with
# `npm ci` if node_modules is missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
test_snapshots=$1
dir=${2:-$(pwd)/snapshots_browser_out}
[ -x /usr/bin/chromium ] || { echo "FAIL: /usr/bin/chromium is missing (scripts/setup.sh installs it)"; exit 1; }
if [ ! -d "$here/node_modules/playwright-core" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
mkdir -p "$dir"
"$test_snapshots" --write "$dir" >/dev/null
node "$here/snapshots_browser.mjs" "$dir/snapshots.html" --screenshot "$dir/snapshots.screenshot.png"
