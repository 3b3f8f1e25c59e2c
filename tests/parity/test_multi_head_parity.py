#!/usr/bin/python3
"""
test_multi_head_parity.py - attend's multi-head attention against torch.nn.MultiheadAttention.

The idea: torch.nn.MultiheadAttention(E, H, kdim, vdim, batch_first=True) is an independent
oracle with the same parameter layout as attend's at_multi_head. For each case the C helper
`mha_tool CASE FILE` (tests/tools/mha_tool.c) runs attend forward (with per-head weights) and
backward from random gradients of the output and of the weights, and writes the parameters
under their state_dict names, the inputs, the seeds, the outputs and every gradient to one
safetensors file. This script loads the SAME weights into the torch module with
load_state_dict(strict=True) (so the names are checked too: in_proj_weight, or
q_proj_weight / k_proj_weight / v_proj_weight when kdim or vdim differ from E), feeds the
same inputs and masks, backpropagates L = sum(out * seed.out) + sum(weights * seed.weights)
and compares:
    out.out       the output (B, Tq, O)
    out.weights   the PER-HEAD weights (B, H, Tq, Tk): average_attn_weights=False
    grad.*        the gradients of query, key, value (or x) and of every parameter.
torch's output size is always E; for a case with O != E its out_proj is replaced by
nn.Linear(E, O), which its forward accepts unchanged (the names stay out_proj.*).

Masks. attend's one convention is 1 = KEEP; torch's key_padding_mask and boolean attn_mask
use True = IGNORE (do not attend). So the script converts: torch_mask = (keep == 0).
  - padding: key_keep (B, Tk) -> key_padding_mask = key_keep == 0
  - causal:  attend drops key j for query i when j > i + (Tk - Tq); as a torch attn_mask
             (Tq, Tk) that is True strictly above the diagonal shifted by Tk - Tq
  - full:    attend's (B*H*Tq, Tk) rows, batch-major then head, are torch's 3-D
             attn_mask (B*H, Tq, Tk), whose first index is b*H + h: the same order.
No case has a fully masked query row: torch returns NaN there, while attend returns zero
weights and context (tested in tests/test_attention_dot_families.c).

The oracle runs in float64 (--oracle float32 for curiosity): the float32 inputs are exact
in float64, so the tolerance covers only attend's float32 rounding.

Usage: test_multi_head_parity.py --tools BUILD/tests [--case NAME ...] [--seed N] [--keep DIR]
Exit status is non-zero if anything failed; the last line is "N passed, M failed".
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
from parity_check import compare, dump_case, summary  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

torch.set_num_threads(1)

# ----------------------------------------------------------------------------- tolerances
# |attend - oracle| <= ATOL + RTOL * |oracle|, oracle in float64. Every case has E <= 8,
# Tk <= 6: projections are dot products of E terms of size ~1, softmax over <= 6 scores,
# weight gradients summed over <= B*T = 15 rows. float32 rounding gives errors of ~1e-7 to
# 1e-6 (observed largest below 2e-6); 2e-5 / 2e-4 keeps a margin of about 10 while a wrong
# head split, a missing bias or a misplaced mask row is an error of order 1e-2 or more.
ATOL, RTOL = 2e-5, 2e-4
DT = torch.float64


def torch_masks(meta, B, H, Tq, Tk):
    """attend's masks (1 = KEEP) as torch's (True = IGNORE): key_padding_mask, attn_mask."""
    key_padding_mask = None
    if "key_keep" in meta:
        keep = np.array(json.loads(meta["key_keep"]), dtype=np.int64).reshape(B, Tk)
        key_padding_mask = torch.from_numpy(keep == 0)  # True = ignore this key
    attn_mask = None
    if meta.get("causal") == "1":
        # attend hides key j from query i when j > i + (Tk - Tq): True above that diagonal
        attn_mask = torch.ones(Tq, Tk, dtype=torch.bool).triu(diagonal=Tk - Tq + 1)
    if "full_keep" in meta:
        keep = np.array(json.loads(meta["full_keep"]), dtype=np.int64).reshape(B * H, Tq, Tk)
        full = torch.from_numpy(keep == 0)  # (B*H, Tq, Tk), index b*H + h, True = ignore
        attn_mask = full if attn_mask is None else (full | attn_mask)
    return key_padding_mask, attn_mask


def oracle(tensors, meta):
    """Redo the case in torch; return {file name: expected array}."""
    sizes = json.loads(meta["sizes"])
    B, Tq, Tk, E, H = (sizes[k] for k in ("B", "Tq", "Tk", "E", "H"))
    kdim, vdim, O = sizes.get("kdim", E), sizes.get("vdim", E), sizes.get("O", E)
    step, self_attention = meta["step"] == "1", meta["self"] == "1"
    mha = nn.MultiheadAttention(E, H, kdim=kdim, vdim=vdim, batch_first=True)
    if O != E:
        mha.out_proj = nn.Linear(E, O)
    mha = mha.to(DT)
    # every parameter attend wrote (not an input, seed, output or gradient) goes in as is
    inputs_names = {"x", "query", "key", "value"}
    state = {name: torch.tensor(t, dtype=DT) for name, t in tensors.items()
             if name not in inputs_names and not name.startswith(("seed.", "out.", "grad."))}
    mha.load_state_dict(state, strict=True)  # the names must be exactly torch's

    def leaf(name):
        return torch.tensor(tensors[name], dtype=DT, requires_grad=True)

    if self_attention:
        x = leaf("x")
        inputs, query, key, value = {"x": x}, x, x, x
    else:
        query, key, value = leaf("query"), leaf("key"), leaf("value")
        inputs = {"query": query, "key": key, "value": value}
    q3 = query.unsqueeze(1) if step else query  # a decoder step (B, E) is (B, 1, E)
    key_padding_mask, attn_mask = torch_masks(meta, B, H, Tq, Tk)
    out, weights = mha(q3, key, value, key_padding_mask=key_padding_mask, attn_mask=attn_mask,
                       need_weights=True, average_attn_weights=False)
    if step:
        out, weights = out.squeeze(1), weights.squeeze(2)  # (B, E), (B, H, Tk)
    seed = torch.tensor(tensors["seed.out"], dtype=DT)
    seed_w = torch.tensor(tensors["seed.weights"], dtype=DT)
    ((out * seed).sum() + (weights * seed_w).sum()).backward()

    expected = {"out.out": out, "out.weights": weights}
    for name, t in inputs.items():
        expected["grad." + name] = t.grad
    for name, p in mha.named_parameters():
        expected["grad." + name] = p.grad
    return {k: v.detach().to(torch.float64).numpy() for k, v in expected.items()}


def run_case(tools, case, seed, keep_dir):
    folder = keep_dir or tempfile.mkdtemp(prefix="mha_parity_")
    path = os.path.join(folder, f"{case}.safetensors")
    proc = dump_case(tools, "mha_tool", case, path, seed)
    if proc.returncode != 0:
        return [(f"{case}: mha_tool", False, proc.stderr.strip())], 0.0
    tensors, meta = safetensors_io.read(path)
    if not keep_dir:
        os.remove(path)
        os.rmdir(folder)
    expected = oracle(tensors, meta)
    results, worst = [], 0.0
    in_file = {k for k in tensors if k.startswith(("out.", "grad."))}
    for name in sorted(in_file | set(expected)):
        if name not in expected:
            results.append((f"{case}: {name}", False, "in the file but not produced by torch"))
        elif name not in tensors:
            results.append((f"{case}: {name}", False, "produced by torch but not in the file"))
        else:
            # a mismatch prints its first values and largest errors right here
            ok, largest = compare(case, name, tensors[name], expected[name], ATOL, RTOL,
                                  "torch")
            worst = max(worst, largest)
            results.append((f"{case}: {name}", ok, ""))
    # the per-head weights are distributions: every row sums to 1 (no row is fully masked)
    sums = tensors["out.weights"].astype(np.float64).sum(axis=-1)
    results.append((f"{case}: weights rows sum to 1", bool(np.all(np.abs(sums - 1) < 1e-5)),
                    f"row sums {sums.ravel()[:6]}"))
    return results, worst


def main():
    global DT
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--tools", required=True, help="folder holding mha_tool")
    parser.add_argument("--case", action="append", help="run only these cases")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", default=None, help="keep the safetensors files here")
    parser.add_argument("--oracle", choices=["float64", "float32"], default="float64")
    args = parser.parse_args()
    DT = torch.float64 if args.oracle == "float64" else torch.float32
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    try:
        listed = subprocess.run([os.path.join(args.tools, "mha_tool"), "--list"],
                                capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"FAIL cannot run mha_tool --list in {args.tools}: {e}")
        print("0 passed, 1 failed")
        return 1
    cases = args.case or listed
    passed = failed = 0
    for case in cases:
        if case not in listed:
            print(f"FAIL {case}: mha_tool does not know this case")
            failed += 1
            continue
        results, worst = run_case(args.tools, case, args.seed, args.keep)
        case_failed = 0
        for label, ok, detail in results:
            if ok:
                passed += 1
            else:
                failed += 1
                case_failed += 1
                print(f"FAIL {label}" + (f"\n{detail}" if detail else ""))
        print(f"{'ok  ' if not case_failed else 'FAIL'} {case}: {len(results)} checks, "
              f"largest error {worst:.3g}")
    return summary(passed, failed)


if __name__ == "__main__":
    sys.exit(main())
