#!/usr/bin/env bash
# run.sh TEST_VIZ [DIR [MORE_TESTS...]] - write attend's sample HTML figures
# with `TEST_VIZ --write DIR` (and `MORE --write DIR` for each further test
# program, e.g. test_viz_lm), then check them in headless Chromium with
# playwright-core (installed here with `npm ci` if node_modules is missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
test_viz=$1
dir=${2:-$(pwd)/viz_browser_out}
[ -x /usr/bin/chromium ] || { echo "FAIL: /usr/bin/chromium is missing (scripts/setup.sh installs it)"; exit 1; }
if [ ! -d "$here/node_modules/playwright-core" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
mkdir -p "$dir"
"$test_viz" --write "$dir" >/dev/null
for more in "${@:3}"; do "$more" --write "$dir" >/dev/null; done
node "$here/viz_browser.mjs" "$dir"
