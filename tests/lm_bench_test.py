#!/usr/bin/python3
"""
lm_bench_test.py - bench/lm_bench.py, the PyTorch side of the language-model
comparison (issue 12), is attend's model, data, schedule and evaluation.

The idea: the comparison is fair only if the PyTorch script trains the same
model on the same data and scores it the same way, so the strongest check is
to hand it a model attend trained and see it give attend's own validation
loss. On a small made-up text (a few thousand characters of sentences, one
accented letter, and one letter that only the validation part has):

  1. A short run prints exactly one JSON line with the contract's fields,
     consistent with each other and with this file's own split of the text
     (90/10 by characters, the vocabulary 4 specials + the training part's
     characters); a run on a time budget stops on it.
  2. In process: the written-out causal attention the script uses by
     default gives nn.MultiheadAttention's logits, attention weights and
     gradients for the same parameters (same names); the evaluation equals
     a position-by-position scoring (each character predicted from the
     characters before it in its window of `context`) for text lengths
     around multiples of the context and any batch size; the training
     windows are slices of the training ids, each start once per pass.
  3. Bad input is refused with exit status 2 and a message: a file that
     is not UTF-8, a checkpoint of other sizes, heads not dividing the width.
  4. Against attend (needs `attend lm train --model transformer`): train a
     tiny model; the script counts attend's parameters, has attend's
     vocabulary (the checkpoint's "attend.vocab"), computes attend's learning
     rate at every step (metrics.jsonl), and evaluates attend's model to the
     nats `attend lm eval` prints (within 1e-4, both attention variants).

Usage: lm_bench_test.py --attend BUILD/attend --script bench/lm_bench.py
Prints each failure with what differed; exits non-zero if anything failed.
"""
import argparse
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
from types import SimpleNamespace

import bench_output  # tests/, beside this script

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "parity"))
import safetensors_io  # noqa: E402  (tests/parity: the safetensors reader and writer)

PYTHON = "/usr/bin/python3"
SIZES = ["--layers", "2", "--heads", "2", "--width", "16", "--context", "8", "--batch", "4"]
FIELDS = {"impl": str, "threads": int, "minutes": (int, float), "steps": int, "batch": int,
          "context": int, "tokens": int, "train_seconds": (int, float),
          "tokens_per_s": (int, float), "valid_nats": float, "valid_bpc": float,
          "valid_predicted": int, "params": int, "vocab": int, "train_chars": int,
          "valid_chars": int}
WORDS = ("the whale ship sea captain ahab white call me ishmael harpoon boat crew deck "
         "storm night wind sail oil mast queequeg café").split()

failures = []


def fail(what):
    failures.append(what)
    print(f"FAIL: {what}", file=sys.stderr)


def make_text(seed=7, chars=4000):
    """Sentences of WORDS (one with an accent); the last 10% also holds an
    'Ω', which the training part never has."""
    rng = random.Random(seed)
    out = []
    while sum(map(len, out)) < chars:
        words = [rng.choice(WORDS) for _ in range(rng.randint(3, 9))]
        out.append(words[0].capitalize() + " " + " ".join(words[1:]) + rng.choice(".,;!?")
                   + rng.choice(" \n"))
    text = "".join(out)
    return text[:-20] + "Ω" + text[-19:]


def split(text):
    valid = max(len(text) // 10, 1)
    return text[:len(text) - valid], text[len(text) - valid:]


def run(cmd, timeout=240):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def bench(args, *extra):
    return run([PYTHON, args.script, "--data", args.text, *SIZES, *extra])


def one_json_line(proc, what):
    return bench_output.one_json_line(proc, what, FIELDS, fail)


def param_formula(V, T, D, N):
    """attend's transformer: embeddings, N blocks (LN, in_proj, out_proj, LN,
    fc, proj), the final LN and the head."""
    block = (2 * D + (3 * D * D + 3 * D) + (D * D + D)                # ln1, attention
             + 2 * D + (4 * D * D + 4 * D) + (4 * D * D + D))          # ln2, mlp
    return V * D + T * D + N * block + 2 * D + V * D + V


# ----------------------------------------------------------- 1: contract

def check_contract(args):
    steps, batch, context = 5, 4, 8
    r = one_json_line(bench(args, "--steps", str(steps)), "short run")
    if not r:
        return
    train, valid = split(args.text_value)
    V = 4 + len(set(train))
    expect = [
        ("impl", r["impl"] == "pytorch"), ("threads", r["threads"] == 1),
        ("steps", r["steps"] == steps), ("batch/context", (r["batch"], r["context"]) == (4, 8)),
        ("tokens = steps x batch x context", r["tokens"] == steps * batch * context),
        ("tokens_per_s = tokens / train_seconds",
         r["train_seconds"] > 0
         and abs(r["tokens_per_s"] * r["train_seconds"] / r["tokens"] - 1) <= 2e-3),
        ("the split: 90/10 by characters",
         (r["train_chars"], r["valid_chars"]) == (len(train), len(valid))),
        ("every validation character but the first predicted",
         r["valid_predicted"] == len(valid) - 1),
        ("vocabulary = 4 specials + the training part's characters", r["vocab"] == V),
        ("parameters = attend's formula", r["params"] == param_formula(V, 8, 16, 2)),
        ("valid_bpc = valid_nats / ln 2",
         abs(r["valid_bpc"] - r["valid_nats"] / math.log(2)) < 1e-12),
        ("valid_nats positive and near ln V or below (5 steps)",
         0 < r["valid_nats"] < math.log(V) + 1),
        ("the default attention is the written-out one", r.get("attention") == "manual"),
    ]
    for what, ok in expect:
        if not ok:
            fail(f"short run: {what}: {json.dumps(r)[:700]}")

    minutes = 0.02
    r = one_json_line(bench(args, "--minutes", str(minutes), "--steps", "100000000"),
                      "budget run")
    if r and not (r["steps"] >= 1 and minutes * 60 <= r["train_seconds"] < minutes * 60 + 5):
        fail(f"budget run: {r['steps']} steps in {r['train_seconds']} s for a budget of "
             f"{minutes * 60} s (the last step must start inside it)")


# ------------------------------------------------------- 2: in process

def check_in_process(args):
    sys.path.insert(0, os.path.dirname(os.path.abspath(args.script)))
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import lm_bench
    from lm_gpt import GPT
    torch.set_num_threads(1)
    check_attention(torch, nn, F, lm_bench, GPT)
    check_evaluation(torch, nn, F, lm_bench, GPT)
    check_windows(torch, lm_bench)


def close(a, b, tol):
    return (a - b).abs().max().item() <= tol * (1 + b.abs().max().item())


def check_attention(torch, nn, F, lm_bench, GPT):
    """The written-out attention is nn.MultiheadAttention's function."""
    torch.manual_seed(3)
    mha = GPT(13, 10, 2, 4, 16)
    manual = GPT(13, 10, 2, 4, 16)
    lm_bench.use_manual_attention(torch, nn, F, manual)
    ref = mha.state_dict()
    if list(manual.state_dict()) != list(ref):
        fail(f"manual attention: state_dict names {list(manual.state_dict())} differ from "
             f"{list(ref)}")
        return
    # larger weights than the initialisation, so the attention is far from uniform
    with torch.no_grad():
        for p in mha.parameters():
            p.add_(0.3 * torch.randn_like(p))
    manual.load_state_dict(mha.state_dict(), strict=True)
    for T in (10, 7, 1):
        ids = torch.randint(0, 13, (3, T + 1))
        la, wa = mha.forward_with_attention(ids[:, :-1])
        lb, wb = manual.forward_with_attention(ids[:, :-1])
        if not (close(lb, la, 1e-5) and close(wb, wa, 1e-5)):
            fail(f"manual attention, T={T}: logits differ by {(lb - la).abs().max().item():.3g}, "
                 f"weights by {(wb - wa).abs().max().item():.3g}")
        for m in (mha, manual):
            m.zero_grad()
            m.loss(ids).backward()
        grads_a = dict(mha.named_parameters())
        for name, p in manual.named_parameters():
            if not close(p.grad, grads_a[name].grad, 1e-4):
                fail(f"manual attention, T={T}: the gradient of {name} differs by "
                     f"{(p.grad - grads_a[name].grad).abs().max().item():.3g}")


def check_evaluation(torch, nn, F, lm_bench, GPT):
    """evaluate() against scoring every position on its own."""
    T = 5
    torch.manual_seed(4)
    model = GPT(9, T, 1, 2, 8)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5 * torch.randn_like(p))
    for n in (2, T, T + 1, T + 2, 2 * T + 1, 3 * T + 3):
        ids = torch.randint(0, 9, (n,))
        with torch.no_grad():
            total = 0.0
            for i in range(1, n):
                w = (i - 1) // T * T  # the window holding prediction i reads ids[w .. i)
                logits = model(ids[w:i][None])[0, -1]
                total -= F.log_softmax(logits, -1)[ids[i]].item()
        want = total / (n - 1)
        for batch in (1, 2, 64):
            got, predicted = lm_bench.evaluate(torch, F, model, ids, T, batch)
            if abs(got - want) > 1e-5 or predicted != n - 1:
                fail(f"evaluate, n={n}, batch={batch}: {got:.7f} nats over {predicted}, "
                     f"position by position {want:.7f} over {n - 1}")
    ids = torch.randint(0, 9, (40,))
    first, _ = lm_bench.evaluate(torch, F, model, ids[:13], T, 4)
    capped, predicted = lm_bench.evaluate(torch, F, model, ids, T, 4, max_chars=13)
    if abs(first - capped) > 1e-9 or predicted != 12:
        fail(f"evaluate with max_chars 13: {capped} over {predicted}, the first 13: {first}")


def check_windows(torch, lm_bench):
    """Windows of context + 1 consecutive training ids; every start once a pass."""
    n, T, B = 50, 3, 4
    ids = torch.arange(n) * 10
    w = lm_bench.Windows(torch, ids, T, B, seed=1)
    count = n - T
    for p in range(2):
        starts = []
        for _ in range(count // B):
            batch = w.next()
            if batch.shape != (B, T + 1):
                fail(f"windows: a batch of shape {tuple(batch.shape)}, expected ({B}, {T + 1})")
                return
            s = batch[:, 0] // 10
            if not torch.equal(batch, (s[:, None] + torch.arange(T + 1)) * 10):
                fail(f"windows: not consecutive training ids: {batch.tolist()}")
                return
            starts += s.tolist()
        if len(set(starts)) != len(starts) or max(starts) > count - 1 or min(starts) < 0:
            fail(f"windows, pass {p}: starts {sorted(starts)} repeat or leave 0..{count - 1}")


# ------------------------------------------------------------ 3: errors

def check_errors(args, work):
    bad = os.path.join(work, "latin1.txt")
    with open(bad, "wb") as f:
        f.write("caf\u00e9 au lait, encore un caf\u00e9".encode("latin-1"))
    wrong = os.path.join(work, "wrong.safetensors")
    import numpy as np
    safetensors_io.write(wrong, {"tok_embed.weight": np.zeros((3, 16), np.float32)})
    cases = [
        ("a file that is not UTF-8", [PYTHON, args.script, "--data", bad, *SIZES], "not UTF-8"),
        ("a checkpoint of other sizes",
         [PYTHON, args.script, "--data", args.text, *SIZES, "--load-attend", wrong,
          "--steps", "0"], "does not fit"),
        ("heads not dividing the width",
         [PYTHON, args.script, "--data", args.text, "--layers", "1", "--heads", "3",
          "--width", "16", "--context", "8", "--steps", "0"], "must divide"),
    ]
    for what, cmd, message in cases:
        proc = run(cmd)
        if proc.returncode != 2 or message not in proc.stderr or proc.stdout:
            fail(f"{what}: exit {proc.returncode}, stderr {proc.stderr[-300:]!r}, expected exit 2 "
                 f"and {message!r}")


# ----------------------------------------------------------- 4: attend

def check_against_attend(args, work):
    out = os.path.join(work, "attend-run")
    steps, warmup, lr = 60, 10, 0.01
    proc = run([args.attend, "lm", "train", "--data", args.text, "--model", "transformer",
                *SIZES, "--steps", str(steps), "--warmup", str(warmup), "--lr", str(lr),
                "--eval-every", str(steps), "--out", out])
    found = re.search(r"(\d+) parameters", proc.stderr)
    if proc.returncode != 0 or not found:
        fail(f"attend lm train failed (exit {proc.returncode}), so the script cannot be "
             f"checked against attend: {proc.stderr.strip()[-600:]}")
        return
    model = os.path.join(out, "model.safetensors")
    proc = run([args.attend, "lm", "eval", model, args.text])
    m = re.search(r"valid: ([0-9.]+) nats/char .*\((\d+) characters predicted", proc.stdout)
    if proc.returncode != 0 or not m:
        fail(f"attend lm eval failed (exit {proc.returncode}): {proc.stdout[-300:]} "
             f"{proc.stderr[-300:]}")
        return
    attend_nats, attend_predicted = float(m.group(1)), int(m.group(2))

    _, meta = safetensors_io.read(model)
    vocab = meta.get("attend.vocab", "").split()
    train, _ = split(args.text_value)
    ours = sorted({ord(c) for c in train})
    if vocab[:2] != ["attend-vocab", "1"] or [int(x, 16) for x in vocab[3:]] != ours:
        fail(f"attend's vocabulary {' '.join(vocab)[:200]!r} is not this test's "
             f"{[hex(c) for c in ours][:20]}...")

    for attention in ("manual", "mha"):
        r = one_json_line(bench(args, "--load-attend", model, "--steps", "0",
                                "--attention", attention), f"attend's model ({attention})")
        if not r:
            continue
        if r["params"] != int(found.group(1)):
            fail(f"the script counts {r['params']} parameters, attend {found.group(1)}")
        if abs(r["valid_nats"] - attend_nats) > 1e-4 or r["valid_predicted"] != attend_predicted:
            fail(f"attend's model ({attention}): the script's evaluation {r['valid_nats']:.6f} "
                 f"nats over {r['valid_predicted']} characters, attend lm eval {attend_nats:.4f} "
                 f"over {attend_predicted}")
    if attend_nats > math.log(4 + len(ours)) - 0.3:
        fail(f"attend's model learned little ({attend_nats:.4f} nats against ln V = "
             f"{math.log(4 + len(ours)):.4f}), so the evaluation check above is weak")

    # the learning rate of every step, as attend's metrics.jsonl logs it
    sys.path.insert(0, os.path.dirname(os.path.abspath(args.script)))
    import lm_bench
    schedule_args = SimpleNamespace(lr=lr, warmup=warmup, steps=steps)
    with open(os.path.join(out, "metrics.jsonl")) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    seen = 0
    for line in lines:
        want = lm_bench.schedule(schedule_args, line["step"])
        seen += 1
        if abs(line["lr"] - want) > 1e-5 * want + 1e-12:
            fail(f"step {line['step']}: attend's learning rate {line['lr']}, the script's {want}")
    if seen < steps:
        fail(f"metrics.jsonl has {seen} lines for {steps} steps (one per step expected)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--attend", required=True)
    ap.add_argument("--script", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="lm_bench_test.") as work:
        args.text_value = make_text()
        args.text = os.path.join(work, "tiny.txt")
        with open(args.text, "w", encoding="utf-8", newline="") as f:
            f.write(args.text_value)
        check_contract(args)
        check_in_process(args)
        check_errors(args, work)
        check_against_attend(args, work)
    if failures:
        print(f"lm_bench_test: {len(failures)} failure(s)", file=sys.stderr)
        return 1
    print("lm_bench_test: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
