#!/usr/bin/python3
"""classify_bench.py - attend's HAN against fastText on the same mail split.

Both classifiers read exactly the same documents: `attend classify split`
writes the SpamAssassin split (70/10/20 within each group) as TSV, and as
fastText's "__label__spam word word ..." lines made of the same words the
HAN reads (its tokenizer, every sentence kept).

fastText runs at its best: a grid of word n-grams {1, 2}, epochs
{5, 10, 25, 50} and learning rates {0.1, 0.25, 0.5, 1.0} is trained on the
training split and scored on the development split; the best (accuracy,
then spam F1) is retrained and timed, and only it sees the test split.
fastText runs with -thread 1 -seed 0, so a run repeats exactly.

attend trains with the command given (--attend-args) and is scored on the
test split from the predictions `attend classify eval --predictions` writes,
by the same arithmetic as fastText (and checked against the scores attend
prints itself: tests/classify_bench_test.py).

For each, the bench prints accuracy, spam precision, recall and F1,
accuracy on hard ham and training time, as a table and as one JSON line.

  bench/classify_bench.py --attend build/cli/attend --work /tmp/cb

--vectors gives the HAN the start the HAN paper gives it: word vectors
trained on the training split's words (`fasttext skipgram`, 64 wide, words
only, one thread, seed 0), passed as `attend classify train --vectors`;
their training time counts as attend's. fastText's grid then also tries
the same vectors as its -pretrainedVectors (n-grams 1 and 2, epochs 25
and 50, rates 0.1 and 0.25, 64 wide), chosen only if the development split
prefers them.

The decision threshold: `attend classify train` cuts p(spam) where the
development split's accuracy is best (at_classifier_choose_threshold).
fastText gets the same: its final model's p(spam) on the development split
(`fasttext predict-prob`), the threshold chosen by the same rule
(best_threshold below), then applied to the test split. Its scores at the
plain decision (the larger probability) are kept in the JSON line too.
--no-threshold gives both the plain decision.

--prefixes 150,300,600 also trains and tests fastText (its chosen settings)
on only the first N words of every document, which shows how much of its
lead on hard ham (long newsletters) comes from the ends of long messages.
--fasttext-settings NGRAMS,EPOCH,LR skips the grid; --no-attend skips attend.
"""
import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import time


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def read_truth(tsv):
    """Labels and groups of a split's TSV (label TAB text TAB group)."""
    labels, groups = [], []
    with open(tsv, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            labels.append(fields[0])
            groups.append(fields[2] if len(fields) > 2 else "")
    return labels, groups


def scores(truth, groups, predicted, positive="spam"):
    n = len(truth)
    right = sum(t == p for t, p in zip(truth, predicted))
    tp = sum(t == positive and p == positive for t, p in zip(truth, predicted))
    fp = sum(t != positive and p == positive for t, p in zip(truth, predicted))
    fn = sum(t == positive and p != positive for t, p in zip(truth, predicted))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    out = {"documents": n, "accuracy": right / n, "precision": precision, "recall": recall,
           "f1": f1}
    for g in sorted(set(groups)):
        idx = [i for i in range(n) if groups[i] == g]
        out["accuracy_" + g] = sum(truth[i] == predicted[i] for i in idx) / len(idx)
    return out


# ------------------------------------------------------------------ fastText

def fasttext_train(split, work, ngrams, epoch, lr, train_ft="train.ft", vectors=None):
    model = os.path.join(work, "ft")
    extra = ["-pretrainedVectors", vectors, "-dim", str(VECTOR_DIM)] if vectors else []
    t0 = time.perf_counter()
    run(["fasttext", "supervised", "-input", os.path.join(split, train_ft), "-output", model,
         "-wordNgrams", str(ngrams), "-epoch", str(epoch), "-lr", str(lr), "-thread", "1",
         "-seed", "0", "-verbose", "0"] + extra)
    return model + ".bin", time.perf_counter() - t0


VECTOR_DIM = 64  # the HAN's --embed in the reported settings


def train_vectors(split, work):
    """Word vectors of the training split's words (the .ft lines without
    their labels: the HAN's tokens), word2vec-style and deterministic."""
    words = os.path.join(work, "train-words.txt")
    with open(os.path.join(split, "train.ft"), encoding="utf-8") as f, \
            open(words, "w", encoding="utf-8") as out:
        for line in f:
            out.write(line.split(" ", 1)[1] if " " in line else "\n")
    t0 = time.perf_counter()
    run(["fasttext", "skipgram", "-input", words, "-output", os.path.join(work, "vectors"),
         "-dim", str(VECTOR_DIM), "-minCount", "2", "-epoch", "10", "-minn", "0", "-maxn", "0",
         "-thread", "1", "-seed", "0", "-verbose", "0"])
    return os.path.join(work, "vectors.vec"), time.perf_counter() - t0


def fasttext_predict(model, ft_file):
    out = run(["fasttext", "predict", model, ft_file]).stdout.split("\n")
    return [line.replace("__label__", "") for line in out if line]


def fasttext_p_spam(model, ft_file):
    """p(spam) of every line, from `fasttext predict-prob MODEL FILE 2`."""
    p = []
    for line in run(["fasttext", "predict-prob", model, ft_file, "2"]).stdout.split("\n"):
        if not line:
            continue
        f = line.split()
        probs = {f[i].replace("__label__", ""): float(f[i + 1]) for i in range(0, len(f) - 1, 2)}
        p.append(probs.get("spam", 1.0 - probs.get("ham", 1.0)))
    return p


def best_threshold(p_pos, positive):
    """The threshold on p(positive) by at_classifier_choose_threshold's rule
    (src/classify/threshold.c): every cut between two documents' p is a
    candidate; among those of the best accuracy, the interval nearest 0.5
    wins, at its middle; 0.0 (the larger probability) if it holds 0.5."""
    pairs = sorted(zip(p_pos, positive))

    def away(lo, hi):
        return 0.5 - hi if hi <= 0.5 else lo - 0.5 if lo >= 0.5 else 0.0

    right = sum(1 for _, y in pairs if y)  # the cut below everything: all positive
    best, best_lo, best_hi = right, -1.0, pairs[0][0]
    for k in range(1, len(pairs) + 1):
        right += -1 if pairs[k - 1][1] else 1
        if k < len(pairs) and pairs[k][0] == pairs[k - 1][0]:
            continue
        lo, hi = pairs[k - 1][0], pairs[k][0] if k < len(pairs) else 2.0
        if right > best or (right == best and away(lo, hi) < away(best_lo, best_hi)):
            best, best_lo, best_hi = right, lo, hi
    if away(best_lo, best_hi) == 0.0:
        return 0.0
    return (max(best_lo, 0.0) + min(best_hi, 1.0)) / 2


def decide(p_spam, threshold):
    return ["spam" if (p > threshold if threshold > 0 else p > 1.0 - p) else "ham"
            for p in p_spam]


def fasttext_best(split, work, vectors=None):
    truth, groups = read_truth(os.path.join(split, "dev.tsv"))
    best = None
    grid = [(n, e, lr, None) for n, e, lr in
            itertools.product((1, 2), (5, 10, 25, 50), (0.1, 0.25, 0.5, 1.0))]
    if vectors:
        grid += [(n, e, lr, vectors) for n, e, lr in
                 itertools.product((1, 2), (25, 50), (0.1, 0.25))]
    for ngrams, epoch, lr, pretrained in grid:
        model, _ = fasttext_train(split, work, ngrams, epoch, lr, vectors=pretrained)
        s = scores(truth, groups, fasttext_predict(model, os.path.join(split, "dev.ft")))
        key = (s["accuracy"], s["f1"])
        print(f"  fastText dev: wordNgrams {ngrams} epoch {epoch:2d} lr {lr:<4}"
              f"{' pretrained' if pretrained else ''}: accuracy {100 * s['accuracy']:.2f}%  "
              f"F1 {s['f1']:.4f}", file=sys.stderr)
        if best is None or key > best[0]:
            best = (key, {"wordNgrams": ngrams, "epoch": epoch, "lr": lr,
                          "pretrained": bool(pretrained)})
    return best[1]


def fasttext_side(split, work, params=None, vectors=None, threshold=True):
    params = params or fasttext_best(split, work, vectors)
    model, seconds = fasttext_train(split, work, params["wordNgrams"], params["epoch"],
                                    params["lr"],
                                    vectors=vectors if params.get("pretrained") else None)
    truth, groups = read_truth(os.path.join(split, "test.tsv"))
    p_test = fasttext_p_spam(model, os.path.join(split, "test.ft"))
    at_half = scores(truth, groups, decide(p_test, 0.0))
    t = 0.0
    if threshold:
        dev_truth, _ = read_truth(os.path.join(split, "dev.tsv"))
        t = best_threshold(fasttext_p_spam(model, os.path.join(split, "dev.ft")),
                           [y == "spam" for y in dev_truth])
    s = scores(truth, groups, decide(p_test, t))
    s.update({"train_seconds": seconds, "settings": dict(params, threshold=t), "threads": 1,
              "plain_decision": at_half})
    return s


def first_words(src, dst, n):
    """A .ft file whose documents keep their label and first n words."""
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as out:
        for line in f:
            words = line.split()
            out.write(" ".join(words[:n + 1]) + "\n")


def fasttext_prefixes(split, work, params, prefixes):
    """fastText with params on the first n words of every document."""
    truth, groups = read_truth(os.path.join(split, "test.tsv"))
    rows = []
    for n in prefixes:
        for name in ("train", "test"):
            first_words(os.path.join(split, name + ".ft"),
                        os.path.join(split, f"{name}.first{n}.ft"), n)
        model, _ = fasttext_train(split, work, params["wordNgrams"], params["epoch"],
                                  params["lr"], f"train.first{n}.ft")
        s = scores(truth, groups,
                   fasttext_predict(model, os.path.join(split, f"test.first{n}.ft")))
        rows.append({"first_words": n, **s})
        print(f"fastText on the first {n:6d} words: accuracy {100 * s['accuracy']:.2f}%  "
              f"F1 {s['f1']:.4f}  hard ham {100 * s.get('accuracy_hard_ham', 0):.0f}%")
    return rows


# -------------------------------------------------------------------- attend

def read_predictions(path):
    """attend classify eval --predictions: id, true, predicted, probability."""
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t")[2] for line in f if line.strip()]


def printed_scores(text):
    """The scores `attend classify eval` printed, for the cross-check."""
    out = {}
    m = re.search(r"(\d+) documents, accuracy ([\d.]+)%", text)
    out["documents"], out["accuracy"] = int(m.group(1)), float(m.group(2)) / 100
    m = re.search(r"precision ([\d.]+)\s+recall ([\d.]+)\s+F1 ([\d.]+)", text)
    out["precision"], out["recall"], out["f1"] = (float(x) for x in m.groups())
    for g, acc in re.findall(r"group (\S+)\s+\d+ documents, accuracy ([\d.]+)%", text):
        out["accuracy_" + g] = float(acc) / 100
    return out


def attend_scores(attend, model, tsv, work, positive="spam"):
    """attend's predictions on tsv, scored by scores() as fastText's are, and
    checked against what attend itself printed (to its printed digits)."""
    predictions = os.path.join(work, "predictions.tsv")
    text = run([attend, "classify", "eval", model, tsv, "--positive", positive,
                "--predictions", predictions]).stdout
    truth, groups = read_truth(tsv)
    s = scores(truth, groups, read_predictions(predictions), positive)
    printed = printed_scores(text)
    for k, v in printed.items():
        tolerance = 0 if k == "documents" else 5e-5 if k.startswith("accuracy") else 5e-5
        if abs(s[k] - v) > tolerance + 1e-12:
            raise SystemExit(f"classify_bench: {k} is {s[k]} by the bench's arithmetic but "
                             f"attend printed {v}")
    return s


def attend_side(attend, split, work, extra):
    out = os.path.join(work, "han")
    t0 = time.perf_counter()
    cmd = [attend, "classify", "train", "--train", os.path.join(split, "train.tsv"), "--dev",
           os.path.join(split, "dev.tsv"), "--out", out] + extra
    print("  " + " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    s = attend_scores(attend, os.path.join(out, "model.safetensors"),
                      os.path.join(split, "test.tsv"), work)
    s.update({"train_seconds": seconds, "settings": " ".join(extra)})
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--attend", required=True, help="the attend binary")
    ap.add_argument("--work", required=True, help="a folder for the split and the models")
    ap.add_argument("--data", default="spam-assassin", help="the corpus (attend's --data)")
    ap.add_argument("--attend-args", default="", help="extra options for attend classify train")
    ap.add_argument("--prefixes", default="",
                    help="N1,N2,...: fastText also on the first N words of each document")
    ap.add_argument("--fasttext-settings", default="",
                    help="NGRAMS,EPOCH,LR instead of the grid on the development split")
    ap.add_argument("--no-attend", action="store_true", help="fastText only")
    ap.add_argument("--vectors", action="store_true",
                    help="word vectors for both (fasttext skipgram on the training split)")
    ap.add_argument("--no-threshold", action="store_true",
                    help="both decide by the larger probability (no threshold from dev)")
    a = ap.parse_args()
    split = os.path.join(a.work, "split")
    os.makedirs(a.work, exist_ok=True)
    run([a.attend, "classify", "split", "--data", a.data, "--out", split])
    params = None
    if a.fasttext_settings:
        ngrams, epoch, lr = a.fasttext_settings.split(",")
        params = {"wordNgrams": int(ngrams), "epoch": int(epoch), "lr": float(lr)}
    vectors, vector_seconds = train_vectors(split, a.work) if a.vectors else (None, 0.0)
    ft = fasttext_side(split, a.work, params, vectors, not a.no_threshold)
    if a.prefixes:
        ft["prefixes"] = fasttext_prefixes(split, a.work, ft["settings"],
                                           [int(n) for n in a.prefixes.split(",")])
    extra = a.attend_args.split() + (["--vectors", vectors] if vectors else []) + \
        (["--threshold", "none"] if a.no_threshold else [])
    at = {} if a.no_attend else attend_side(a.attend, split, a.work, extra)
    if vectors and at:
        at["train_seconds"] += vector_seconds
        at["vector_seconds"] = vector_seconds
    keys = ["accuracy", "precision", "recall", "f1", "accuracy_hard_ham", "accuracy_easy_ham",
            "accuracy_spam", "train_seconds"]
    sides = [("fastText", ft)] + ([] if a.no_attend else [("attend", at)])
    print(f"{'':22s}" + "".join(f"{name:>12s}" for name, _ in sides))
    for k in keys:
        fmt = (lambda v: f"{v:12.1f}") if k == "train_seconds" else (lambda v: f"{100 * v:11.2f}%")
        print(f"{k:22s}" + "".join(fmt(side.get(k, 0)) for _, side in sides))
    print(f"fastText settings (best on dev): {ft['settings']}; "
          f"attend: {at.get('settings') or ('not run' if a.no_attend else 'defaults')}")
    print(json.dumps({"bench": "classify", "fasttext": ft, "attend": at}))


if __name__ == "__main__":
    main()
