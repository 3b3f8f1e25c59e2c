#!/usr/bin/env bash
# install_test.sh SOURCE_DIR LIBATTEND - python/README.md's install commands
# work as written, offline, and give an `attend` that runs.
#
# The commands are read from the README's "## Install" section (its lines
# indented by four spaces), so the test and the README cannot drift apart.
# They run verbatim in a scratch directory holding a copy of python/, with
# HOME pointing into the scratch directory (so ~/attend-env is made there)
# and pip cut off from every package index (PIP_NO_INDEX, no config files,
# no find-links): whatever they need must already be on this machine.
#
# Then, from a directory outside both the checkout and the copy (whose
# python/ is deleted first), the venv's python imports attend, checks it came
# from the venv's site-packages, and runs one scaled-dot attention call
# against NumPy: once with ATTEND_LIBRARY, and once without it (and with
# pkg-config blinded), when the package must find the library in the
# build/ folder of the checkout pip installed it from (the copy's build/ is
# a link to the real one). Any failure prints what went wrong and exits
# non-zero.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: install_test.sh SOURCE_DIR PATH/TO/libattend.so" >&2
  exit 2
fi
fail() { echo "python_install: FAILED: $*" >&2; exit 1; }
[ -f "$1/python/README.md" ] || fail "no python/README.md in $1"
[ -f "$2" ] || fail "no library at $2"
source_dir=$(cd "$1" && pwd)
library=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
readme=$source_dir/python/README.md
commands=$(awk '/^## Install$/ { on = 1; next } /^## / { on = 0 } on && /^    / { sub(/^    /, ""); print }' "$readme")
[ -n "$commands" ] || fail "no indented command lines in the '## Install' section of $readme"
echo "python_install: the README's commands:"
echo "$commands" | sed 's/^/  $ /'

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/home" "$scratch/repo" "$scratch/elsewhere"
cp -r "$source_dir/python" "$scratch/repo/python"
ln -s "$(dirname "$library")" "$scratch/repo/build"
rm -rf "$scratch/repo/python/build" "$scratch/repo/python"/*.egg-info

# Offline: no index, no find-links, no pip.conf (this machine's or the user's).
if ! (cd "$scratch/repo" &&
      env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PYTHONPATH \
          HOME="$scratch/home" PIP_NO_INDEX=1 PIP_CONFIG_FILE=/dev/null \
          bash -euo pipefail -c "$commands") > "$scratch/install.log" 2>&1; then
  cat "$scratch/install.log" >&2
  fail "the README's install commands failed (output above)"
fi

python=$scratch/home/attend-env/bin/python
[ -x "$python" ] || fail "the commands made no venv at ~/attend-env (expected $python)"
rm -rf "$scratch/repo/python"   # only the installed copy is left to import

cd "$scratch/elsewhere"
check_installed() { # ENV...: the check below, in the venv, with this environment
env -u PYTHONPATH "$@" "$python" -I - "$scratch/home/attend-env" "$scratch/repo/build/libattend.so" <<'EOF'
import os
import pathlib
import sys

import numpy as np

import attend

venv = pathlib.Path(sys.argv[1]).resolve()
where = pathlib.Path(attend.__file__).resolve()
if venv not in where.parents or "site-packages" not in where.parts:
    sys.exit(f"attend imported from {where}, not from the venv's site-packages under {venv}")

rng = np.random.default_rng(14)
q = rng.standard_normal((2, 3, 8), dtype=np.float32)   # (B, Tq, d)
k = rng.standard_normal((2, 5, 8), dtype=np.float32)   # (B, Tk, d)
v = rng.standard_normal((2, 5, 4), dtype=np.float32)   # (B, Tk, dv)
keep = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=bool)
context, weights = attend.dot_attention(q, k, v, mask=keep)

scores = q @ k.transpose(0, 2, 1) / np.sqrt(8.0)
scores = np.where(keep[:, None, :], scores, -np.inf)
want_w = np.exp(scores - scores.max(axis=-1, keepdims=True))
want_w /= want_w.sum(axis=-1, keepdims=True)
want_c = want_w @ v
for name, got, want in (("weights", weights, want_w), ("context", context, want_c)):
    if got.shape != want.shape:
        sys.exit(f"{name}: shape {got.shape}, NumPy's {want.shape}")
    error = float(np.abs(got - want).max())
    if not error <= 1e-5:
        sys.exit(f"{name}: largest error {error:.3g} against NumPy (tolerance 1e-5)")
loaded = attend._lib.lib._name
if "ATTEND_LIBRARY" not in os.environ and loaded != sys.argv[2]:
    sys.exit(f"without ATTEND_LIBRARY, attend loaded {loaded}, not the checkout's {sys.argv[2]}")
print(f"python_install: attend {where.parent} ran dot_attention with {loaded}; "
      f"largest error {float(np.abs(weights - want_w).max()):.2g}")
EOF
}
check_installed ATTEND_LIBRARY="$library" ||
  fail "the installed attend did not import or run with ATTEND_LIBRARY (message above)"
check_installed -u ATTEND_LIBRARY PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH= ||
  fail "the installed attend did not find the checkout's library by itself (message above)"
echo "python_install: ok"
