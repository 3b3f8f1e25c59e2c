"""
parity_check.py - what the PyTorch parity tests (tests/parity/test_*.py) share: running a
C helper from the build's tests/ folder, comparing its numbers with the oracle's under a
tolerance, printing the first mismatches, and counting checks for the last line
"N passed, M failed".

A comparison passes when |attend - oracle| <= atol + rtol * |oracle| for every element
(NaN never passes). A failing one prints where and by how much, so a report says what broke
without rerunning anything.
"""
import argparse
import os
import subprocess
import tempfile
import time

import numpy as np


# ------------------------------------------------------------------------------ tools
def run_tool(tools, tool, *args):
    """Run tools/tool with the arguments (str() of each); the CompletedProcess, text mode."""
    return subprocess.run([os.path.join(tools, tool), *map(str, args)],
                          capture_output=True, text=True)


def dump_case(tools, tool, name, path, seed):
    """`tool CASE PATH [SEED]`: write one case's safetensors file."""
    return run_tool(tools, tool, name, path, *([seed] if seed is not None else []))


# ------------------------------------------------------------------------- comparison
def compare(case, name, got, want, atol, rtol, oracle="oracle"):
    """Print the first mismatches and the largest errors; return (ok, largest abs error)."""
    got = np.asarray(got, dtype=np.float64)
    if got.shape != want.shape:
        print("FAIL %s %s: shape %s, %s %s" % (case, name, got.shape, oracle, want.shape))
        return False, 0.0
    err = np.abs(got - want)
    bad = ~(err <= atol + rtol * np.abs(want))  # NaN is bad
    finite_err = np.where(np.isnan(err), np.inf, err)
    max_abs = float(finite_err.max()) if err.size else 0.0
    if not bad.any():
        return True, max_abs
    rel = finite_err / np.maximum(np.abs(want), 1e-30)
    idx = np.argwhere(bad)
    print("FAIL %s %s: %d of %d values differ (atol %g, rtol %g)"
          % (case, name, len(idx), got.size, atol, rtol))
    for i in idx[:5]:
        i = tuple(int(x) for x in i)
        print("    at %s: attend %.9g, %s %.9g (error %.3g)"
              % (list(i), got[i], oracle, want[i], err[i]))
    ia = np.unravel_index(int(np.argmax(finite_err)), err.shape)
    ir = np.unravel_index(int(np.argmax(rel)), err.shape)
    print("    largest absolute error %.3g at %s; largest relative error %.3g at %s"
          % (max_abs, [int(x) for x in ia], float(rel[ir]), [int(x) for x in ir]))
    return False, max_abs


def check_file(name, f, expected, extra, atol, rtol, oracle="oracle"):
    """Every expected tensor against the file, then the extra (label, ok, detail) checks.

    A tensor the oracle expects but the file lacks fails, and so does an out./grad. tensor
    in the file that nothing checked. Returns (passed, failed, largest error).
    """
    passed = failed = 0
    worst = 0.0
    for key in sorted(expected):
        if key not in f:
            print("FAIL %s: the tool did not write '%s'" % (name, key))
            failed += 1
            continue
        ok, err = compare(name, key, f[key], expected[key], atol, rtol, oracle)
        worst = max(worst, err)
        passed += ok
        failed += not ok
    for key in sorted(f):
        if (key.startswith("out.") or key.startswith("grad.")) and key not in expected:
            print("FAIL %s: '%s' is in the file but nothing checked it" % (name, key))
            failed += 1
    for label, ok, detail in extra:
        if ok:
            passed += 1
        else:
            print("FAIL %s: %s: %s" % (name, label, detail))
            failed += 1
    return passed, failed, worst


# --------------------------------------------------------------------------- a suite
def suite_arguments(description, tool):
    """The command line every suite takes: --tools, --case, --seed, --keep, --oracle."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--tools", required=True, help=f"the build's tests/ folder ({tool})")
    parser.add_argument("--case", action="append", help="run only these cases")
    parser.add_argument("--seed", type=int, default=None, help=f"seed passed to {tool}")
    parser.add_argument("--keep", default=None, help="write the safetensors files here, keep them")
    parser.add_argument("--oracle", choices=["float64", "float32"], default="float64")
    return parser.parse_args()


def run_suite(args, tool, cases, run_case, tmp_prefix, oracle_name="float64"):
    """The main loop of a parity test over a tool's named cases.

    args: parsed --tools, --case, --seed, --keep. cases: the cases this script knows.
    run_case(name, tools, workdir, seed) -> (passed, failed). A case only one side knows,
    or an unknown --case, is one failure. Prints the summary; returns the exit status.
    """
    start = time.time()
    path = os.path.join(args.tools, tool)
    try:
        listed = subprocess.run([path, "--list"], capture_output=True, text=True)
    except OSError as e:
        listed = None
        why = str(e)
    if listed is None or listed.returncode != 0:
        print("cannot run %s --list: %s" % (path, why if listed is None else listed.stderr))
        return summary(0, 1)
    tool_cases = listed.stdout.split()
    passed = failed = 0
    for name in sorted(set(tool_cases) ^ set(cases)):
        where = tool if name in tool_cases else "this script"
        print("FAIL %s: only %s knows this case" % (name, where))
        failed += 1
    names = args.case or [n for n in tool_cases if n in cases]
    for name in [n for n in names if n not in cases]:
        print("FAIL %s: unknown case" % name)
        failed += 1
    names = [n for n in names if n in cases]

    def go(workdir):
        nonlocal passed, failed
        for name in names:
            p, q = run_case(name, args.tools, workdir, args.seed)
            passed += p
            failed += q

    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        go(args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix=tmp_prefix) as d:
            go(d)
    print("oracle %s, %d cases in %.1f s" % (oracle_name, len(names), time.time() - start))
    return summary(passed, failed)


def summary(passed, failed):
    """Print the last line, "N passed, M failed"; return the exit status."""
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


class Results:
    """Counts checks; prints every failure with its first mismatches and largest error."""

    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}" + (f": {detail}" if detail else ""))

    def close(self, name, got, want, rtol=0.0, atol=0.0):
        """Elementwise |got - want| <= atol + rtol * |want| (equal values always pass)."""
        got = np.asarray(got, dtype=np.float64).ravel()
        want = np.asarray(want, dtype=np.float64).ravel()
        if got.shape != want.shape:
            return self.check(name, False, f"{got.size} values, want {want.size}")
        err = np.abs(got - want)
        bad = np.flatnonzero(~(err <= atol + rtol * np.abs(want)) & ~(got == want))
        worst = float(np.max(err[np.isfinite(err)], initial=0.0))
        lines = [f"[{i}] got {got[i]:.9g} want {want[i]:.9g}" for i in bad[:5]]
        self.check(name, bad.size == 0,
                   f"{bad.size} of {got.size} differ; " + "; ".join(lines)
                   + f"; max error {worst:.3g}")
        if bad.size == 0:
            print(f"     max error {worst:.3g} (atol {atol:g}, rtol {rtol:g})")

    def summary(self):
        return summary(self.passed, self.failed)
