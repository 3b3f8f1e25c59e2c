#!/usr/bin/env bash
# run_notebook.sh NOTEBOOK - execute a notebook headless, as a reader would,
# and fail if any cell fails (jupyter nbconvert --execute stops at the first
# error and exits non-zero) or if a saved output is an error.
#
# The notebook runs on a copy in a temporary folder (its training runs go
# there too), with Debian's jupyter-nbconvert and the python3 kernel of
# python3-ipykernel; ATTEND_LIBRARY and PYTHONPATH come from ctest.
set -euo pipefail
notebook=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$notebook" "$work/tour.ipynb"
cd "$work"
if ! jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=600 \
     --output executed.ipynb tour.ipynb; then
  echo "FAIL: $notebook: a cell failed (the error is above)" >&2
  exit 1
fi
/usr/bin/python3 - executed.ipynb "$notebook" <<'PY'
import json, sys
cells = json.load(open(sys.argv[1]))["cells"]
code = [c for c in cells if c["cell_type"] == "code"]
errors = [(i, o) for i, c in enumerate(code) for o in c["outputs"] if o["output_type"] == "error"]
if errors:
    i, o = errors[0]
    sys.exit(f"FAIL: {sys.argv[2]}: code cell {i + 1} raised {o['ename']}: {o['evalue']}")
empty = [i + 1 for i, c in enumerate(code) if not c["outputs"]]
if empty:
    sys.exit(f"FAIL: {sys.argv[2]}: code cells {empty} printed and showed nothing")
print(f"ok: {len(code)} code cells ran, each with output")
PY
