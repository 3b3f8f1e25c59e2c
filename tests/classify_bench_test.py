#!/usr/bin/python3
"""classify_bench_test.py - bench/classify_bench.py scores fastText with its
own arithmetic (accuracy, spam precision/recall/F1, accuracy per group).
This test trains a tiny attend classifier on a synthetic TSV task whose
errors are not all of one kind, and checks that the bench's arithmetic,
applied to attend's predictions (`attend classify eval --predictions`),
gives exactly what attend's own evaluation (at_classifier_evaluate)
prints; a mismatch fails with both numbers. It also checks the prefix
files of --prefixes (each document keeps its label and first N words),
and that the bench's best_threshold, which gives fastText its decision
threshold, chooses the threshold `attend classify train` chose on the same
development probabilities.

  classify_bench_test.py --attend build/attend --script bench/classify_bench.py
"""
import argparse
import importlib.util
import os
import random
import re
import subprocess
import sys
import tempfile


def write_docs(path, n, seed):
    """pos documents say "claim your refund" somewhere; a few neg ones too
    (label noise), so the predictions are not all right."""
    rng = random.Random(seed)
    filler = ["the meeting is at noon", "please read the notes", "our team met today",
              "the build passed again", "see you on friday"]
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            pos = i % 2 == 1
            sentences = [rng.choice(filler) for _ in range(3)]
            if pos or rng.random() < 0.1:
                sentences[rng.randrange(3)] = "claim your refund now"
            label = "spam" if pos else "ham"
            group = "hard" if i % 5 == 0 else "easy"
            f.write(f"{label}\t{'. '.join(sentences)}.\t{group}\n")


def check_threshold(attend, bench, work, train):
    """attend's chosen threshold (its decision line) against best_threshold
    on the probabilities attend classify eval --predictions gives."""
    dev = os.path.join(work, "dev.tsv")
    write_docs(dev, 120, 3)
    out = subprocess.run([attend, "classify", "train", "--train", train, "--dev", dev, "--out",
                          os.path.join(work, "t"), "--embed", "8", "--hidden", "4", "--attn", "8",
                          "--min-count", "1", "--epochs", "1", "--threads", "1"],
                         check=True, capture_output=True, text=True).stderr
    said = re.search(r"^decision: (\w+) when p\(\w+\) > ([0-9.]+)", out, re.M)
    plain = re.search(r"^decision: the larger probability", out, re.M)
    if not said and not plain:
        sys.exit(f"classify_bench_test: no decision line in: {out[-400:]}")
    predictions = os.path.join(work, "dev-predictions.tsv")
    subprocess.run([attend, "classify", "eval", os.path.join(work, "t", "model.safetensors"), dev,
                    "--predictions", predictions],
                   check=True, capture_output=True)
    p_spam, truth = [], []
    with open(predictions, encoding="utf-8") as f:
        for line in f:
            doc, true, predicted, p = line.rstrip("\n").split("\t")
            p_spam.append(float(p) if predicted == "spam" else 1 - float(p))
            truth.append(true == "spam")
    ours = bench.best_threshold(p_spam, truth)
    theirs = 0.0
    if said:
        theirs = float(said.group(2)) if said.group(1) == "spam" else 1 - float(said.group(2))
    print(f"threshold: attend {theirs:.4f}, the bench's rule {ours:.4f}")
    if abs(ours - theirs) > 2e-4:
        sys.exit(f"classify_bench_test: attend chose threshold {theirs:.4f} for spam, the "
                 f"bench's best_threshold {ours:.4f} on the same probabilities")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--attend", required=True)
    ap.add_argument("--script", required=True)
    a = ap.parse_args()
    spec = importlib.util.spec_from_file_location("classify_bench", a.script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    with tempfile.TemporaryDirectory() as work:
        train, test = os.path.join(work, "train.tsv"), os.path.join(work, "test.tsv")
        write_docs(train, 200, 1)
        write_docs(test, 100, 2)
        subprocess.run([a.attend, "classify", "train", "--train", train, "--out",
                        os.path.join(work, "m"), "--embed", "8", "--hidden", "4", "--attn", "8",
                        "--min-count", "1", "--epochs", "2", "--threads", "1"],
                       check=True, capture_output=True)
        model = os.path.join(work, "m", "model.safetensors")
        # attend_scores raises SystemExit naming the metric if the two disagree.
        s = bench.attend_scores(a.attend, model, test, work)
        wrong = round((1 - s["accuracy"]) * s["documents"])
        print(f"bench arithmetic = attend's: accuracy {s['accuracy']:.4f} ({wrong} wrong), "
              f"F1 {s['f1']:.4f}, groups {sorted(k for k in s if k.startswith('accuracy_'))}")
        if not 0 < wrong < s["documents"]:
            sys.exit(f"classify_bench_test: {wrong} wrong of {s['documents']}: the check needs "
                     "some right and some wrong predictions to mean anything")
        if "accuracy_hard" not in s or "accuracy_easy" not in s:
            sys.exit("classify_bench_test: no per-group accuracy")
        check_threshold(a.attend, bench, work, train)
        ft, cut = os.path.join(work, "a.ft"), os.path.join(work, "a.first2.ft")
        with open(ft, "w", encoding="utf-8") as f:
            f.write("__label__spam one two three four\n__label__ham alone\n")
        bench.first_words(ft, cut, 2)
        with open(cut, encoding="utf-8") as f:
            got = f.read()
        if got != "__label__spam one two\n__label__ham alone\n":
            sys.exit(f"classify_bench_test: first_words(2) wrote {got!r}")


if __name__ == "__main__":
    main()
