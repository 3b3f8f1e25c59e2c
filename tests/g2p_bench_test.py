#!/usr/bin/python3
"""
g2p_bench_test.py - bench/g2p_bench.py, the PyTorch side of the G2P comparison,
is attend's model and reports what it claims.

The idea: the comparison is only fair if the PyTorch model is the same function as
attend's, so the strongest check is to hand it attend's own trained weights and see it
give attend's own outputs. On a small made-up G2P data set (letters to phones by a few
rules: digraphs, a silent K, X giving two phones, some words with two pronunciations):

  1. A short run (a few seconds, tiny sizes) prints exactly one JSON line on stdout with
     every field of the contract, of the right type and consistent with each other
     (examples = steps x batch, examples_per_s = examples / train_seconds, the clock
     within the budget, WER and PER in range).
  2. For additive attention with a GRU cell and Luong general with an LSTM cell:
     `attend train` a few hundred steps; the script must report the parameter count
     attend prints for the same sizes, load attend's checkpoint with every name and
     shape matching (--load-attend), and decode every dev word to exactly what
     `attend translate` prints. Once more after a single step of training: that model
     never says END, so its outputs show that both stop at the same length limit.
  3. The metrics, against this file's own WER and PER on those outputs, and (additive)
     with a dev file where every other word also lists the model's output as another
     pronunciation (a word is right if ANY reference matches; PER takes the closest).
  4. Bad input: a malformed TSV line and a checkpoint of other sizes are refused with
     a message naming the problem and exit status 2.

Usage: g2p_bench_test.py --attend BUILD/attend --script bench/g2p_bench.py
Prints each failure with what differed; exits non-zero if anything failed.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile

import bench_output  # tests/, beside this script

PYTHON = "/usr/bin/python3"
SIZES = ["--embed", "8", "--encoder", "8", "--decoder-size", "16", "--attn-size", "8"]
FIELDS = {"impl": str, "threads": int, "minutes": (int, float), "steps": int,
          "examples": int, "examples_per_s": (int, float), "train_seconds": (int, float),
          "dev_wer": (int, float), "dev_per": (int, float), "params": int}
CHUNKS = [("PH", "F"), ("TH", "TH"), ("SH", "SH"), ("CH", "CH"), ("EE", "IY"), ("OO", "UW"),
          ("X", "K S"), ("KN", "N"), ("B", "B"), ("D", "D"), ("G", "G"), ("L", "L"),
          ("M", "M"), ("N", "N"), ("P", "P"), ("R", "R"), ("S", "S"), ("T", "T"),
          ("A", "AE"), ("E", "EH"), ("I", "IH"), ("O", "AA"), ("U", "AH")]

failures = []


def fail(what):
    failures.append(what)
    print(f"FAIL: {what}", file=sys.stderr)


def make_words(rng, count):
    """{word: [pronunciations]}: words of 3-6 chunks, every 7th with a second one."""
    words = {}
    while len(words) < count:
        parts = [rng.choice(CHUNKS) for _ in range(rng.randint(3, 6))]
        word = "".join(p[0] for p in parts)
        if word in words:
            continue
        phones = " ".join(p[1] for p in parts)
        words[word] = [phones]
        if len(words) % 7 == 0:
            words[word].append(re.sub(r"\b(AE|EH|IH|AA)\b", "AH", phones, count=1))
    return words


def write_tsv(path, words):
    with open(path, "w") as f:
        for word, prons in words.items():
            for p in dict.fromkeys(prons):
                f.write(f"{word}\t{p}\n")


def edit_distance(a, b):
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            substitute = d[i - 1][j - 1] + (a[i - 1] != b[j - 1])
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, substitute)
    return d[len(a)][len(b)]


def metrics(outputs, words):
    """This file's WER and PER: outputs {word: phones string}."""
    wrong = errors = length = 0
    for word, prons in words.items():
        out = outputs[word].split()
        refs = [p.split() for p in dict.fromkeys(prons)]
        wrong += out not in refs
        dists = [edit_distance(out, r) for r in refs]
        k = dists.index(min(dists))
        errors += dists[k]
        length += len(refs[k])
    return wrong / len(words), errors / length


def run(cmd, timeout=120):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def bench(args, *extra):
    return run([PYTHON, args.script, "--train", args.train, "--dev", args.dev, *SIZES, *extra])


def one_json_line(proc, what):
    return bench_output.one_json_line(proc, what, FIELDS, fail)


def check_short_run(args):
    """1: the JSON contract on a short run."""
    minutes, batch = 0.04, 16
    r = one_json_line(bench(args, "--minutes", str(minutes), "--batch", str(batch),
                            "--threads", "1", "--eval-every", "1", "--warmup", "20"),
                      "short run")
    if not r:
        return
    expect = [
        ("impl", r["impl"] == "pytorch"), ("threads", r["threads"] == 1),
        ("minutes", r["minutes"] == minutes), ("steps", r["steps"] >= 1),
        ("examples = steps x batch", r["examples"] == r["steps"] * batch),
        ("train_seconds within the budget and one step",
         minutes * 60 <= r["train_seconds"] < minutes * 60 + 10),
        ("examples_per_s = examples / train_seconds",
         abs(r["examples_per_s"] * r["train_seconds"] / r["examples"] - 1) <= 1e-3),
        ("0 <= dev_wer <= 1", 0 <= r["dev_wer"] <= 1), ("dev_per >= 0", r["dev_per"] >= 0),
        ("curve ends with the final evaluation",
         r.get("curve") and r["curve"][-1]["dev_wer"] == r["dev_wer"]
         and r["curve"][-1]["steps"] == r["steps"]),
        ("an evaluation along the way (--eval-every 1)", len(r.get("curve", [])) >= 2),
    ]
    for what, ok in expect:
        if not ok:
            fail(f"short run: {what}: {json.dumps(r)[:600]}")


def check_against_attend(args, attention, cell, steps, extend, work):
    """2 and 3: parameter count, attend's weights, attend's outputs, the metrics."""
    what = f"{attention} + {cell}, {steps} steps"
    out = os.path.join(work, f"run_{attention}_{steps}")
    proc = run([args.attend, "train", "--data", args.train, "--valid", args.dev,
                "--source-tokens", "chars", "--target-tokens", "words", *SIZES,
                "--attention", attention, "--cell", cell, "--batch", "16", "--steps", str(steps),
                "--eval-every", str(steps), "--out", out])
    found = re.search(r"(\d+) parameters", proc.stderr)
    if proc.returncode != 0 or not found:
        fail(f"{what}: attend train failed (exit {proc.returncode}): {proc.stderr[-800:]}")
        return
    model = os.path.join(out, "model.safetensors")
    words = list(args.dev_words)
    proc = subprocess.run([args.attend, "translate", model], input="\n".join(words) + "\n",
                          capture_output=True, text=True, timeout=60)
    attend_out = proc.stdout.splitlines()
    if proc.returncode != 0 or len(attend_out) != len(words):
        fail(f"{what}: attend translate gave {len(attend_out)} lines for {len(words)} words "
             f"(exit {proc.returncode}): {proc.stderr[-400:]}")
        return
    attend_out = dict(zip(words, attend_out))

    outputs = os.path.join(work, f"torch_{attention}_{steps}.tsv")
    r = one_json_line(bench(args, "--minutes", "0", "--attention", attention, "--cell", cell,
                            "--load-attend", model, "--outputs", outputs), what)
    if not r:
        return
    if r["params"] != int(found.group(1)):
        fail(f"{what}: the script counts {r['params']} parameters, attend {found.group(1)}")
    with open(outputs) as f:
        torch_out = dict(line.rstrip("\n").split("\t") for line in f)
    differ = [w for w in words if torch_out.get(w) != attend_out[w]]
    if differ:
        fail(f"{what}: {len(differ)} of {len(words)} dev words decode differently, e.g. "
             + "; ".join(f"{w}: attend {attend_out[w]!r}, torch {torch_out.get(w)!r}"
                         for w in differ[:5]))
    if steps == 1 and max(len(o.split()) for o in attend_out.values()) != args.limit:
        fail(f"{what}: no output runs to the limit of {args.limit} phones, so the limit is "
             "not checked")
    wer, per = metrics(attend_out, args.dev_words)
    if abs(r["dev_wer"] - wer) > 1e-12 or abs(r["dev_per"] - per) > 1e-12:
        fail(f"{what}: the script's WER/PER {r['dev_wer']}/{r['dev_per']}, this test's "
             f"{wer}/{per}")

    if not extend:
        return model
    # every other word also accepts the model's own output: WER must drop accordingly
    extended = {w: prons + ([attend_out[w]] if k % 2 == 0 and attend_out[w] else [])
                for k, (w, prons) in enumerate(args.dev_words.items())}
    dev2 = os.path.join(work, f"dev2_{attention}.tsv")
    write_tsv(dev2, extended)
    proc = run([PYTHON, args.script, "--train", args.train, "--dev", dev2, *SIZES,
                "--minutes", "0", "--attention", attention, "--cell", cell,
                "--load-attend", model])
    r2 = one_json_line(proc, f"{what}, extended dev")
    wer2, per2 = metrics(attend_out, extended)
    if r2 and (abs(r2["dev_wer"] - wer2) > 1e-12 or abs(r2["dev_per"] - per2) > 1e-12):
        fail(f"{what}, extended dev: the script's WER/PER {r2['dev_wer']}/{r2['dev_per']}, "
             f"this test's {wer2}/{per2}")
    if wer2 > 0.55:
        fail(f"{what}, extended dev: WER {wer2} although half the words list the output")
    return model


def check_bad_input(args, work, model):
    """4: refused with a clear message and exit 2."""
    bad = os.path.join(work, "bad.tsv")
    with open(bad, "w") as f:
        f.write("KNOT\tN AA T\nPHONE F AA N\n")
    proc = run([PYTHON, args.script, "--train", bad, "--dev", args.dev, "--minutes", "1"])
    if proc.returncode != 2 or "bad.tsv:2" not in proc.stderr:
        fail(f"malformed TSV: exit {proc.returncode}, stderr {proc.stderr.strip()!r}")
    if model:
        proc = bench(args, "--minutes", "0", "--embed", "9", "--load-attend", model)
        if proc.returncode != 2 or "does not fit" not in proc.stderr:
            fail(f"checkpoint of other sizes: exit {proc.returncode}, "
                 f"stderr {proc.stderr.strip()[-300:]!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--attend", required=True, help="the attend CLI")
    ap.add_argument("--script", required=True, help="bench/g2p_bench.py")
    args = ap.parse_args()
    rng = random.Random(11)
    words = make_words(rng, 240)
    names = list(words)
    train = {w: words[w] for w in names[:200]}
    args.dev_words = {w: words[w] for w in names[200:]}
    with tempfile.TemporaryDirectory() as work:
        args.train, args.dev = os.path.join(work, "train.tsv"), os.path.join(work, "dev.tsv")
        write_tsv(args.train, train)
        write_tsv(args.dev, args.dev_words)
        check_short_run(args)
        model = None
        args.limit = max(len(p.split()) for prons in words.values() for p in prons) + 2
        for attention, cell, steps, extend in (("additive", "gru", 300, True),
                                               ("general", "lstm", 300, False),
                                               ("additive", "gru", 1, False)):
            model = check_against_attend(args, attention, cell, steps, extend, work) or model
        check_bad_input(args, work, model)
    print(f"g2p_bench_test: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
