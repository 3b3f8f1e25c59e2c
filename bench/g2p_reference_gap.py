#!/usr/bin/env python3
"""g2p_reference_gap.py - how far the standard G2P test split's references are
from the dictionary attend trains on.

The 12k test split was cut from an older CMUdict than the npm package's 0.7b.
Scoring the dictionary itself against the split (its first pronunciation of
each test word as the "output", by the papers' WER and PER) shows the floor
that label disagreement alone puts under any model that learns 0.7b.

    /usr/bin/python3 bench/g2p_reference_gap.py "$(scripts/data.sh cmudict)" \
        "$(scripts/data.sh g2p-test)" [ERRORS.tsv]

It also says what the disagreements are: how many vanish when the reduced
vowel is one symbol (the split writes AH where 0.7b writes an unstressed
IH0: "ACTED" AE K T AH D against AE K T IH0 D). Given a model's errors
(`attend g2p eval MODEL --test TEST --errors ERRORS.tsv`: word, output,
references), it splits the model's WER between the words on which the two
dictionaries disagree and those on which they agree, and says what the
issue's 21% would need on the latter.
"""
import collections
import re
import sys


def edit_distance(a, b):
    a, b = a.split(), b.split()
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def read_dictionary(dict_path):
    """word -> its pronunciations without stress, and with it."""
    prons, stressed = collections.defaultdict(list), collections.defaultdict(list)
    with open(dict_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(";;;") or "  " not in line:
                continue
            word, phones = line.rstrip("\n").split("  ", 1)
            word = re.sub(r"\(\d+\)$", "", word)
            stressed[word].append(phones)
            phones = re.sub(r"\d", "", phones)
            if phones not in prons[word]:
                prons[word].append(phones)
    return prons, stressed


def one_reduced_vowel(phones):
    """AH and IH as one symbol: the two releases' main disagreement."""
    return " ".join("AH" if p == "IH" else p for p in phones.split())


def split_errors(errors_path, refs, disagree):
    """The model's WER on the words where the dictionaries disagree and agree."""
    with open(errors_path, encoding="utf-8") as f:
        wrong = {line.split("\t", 1)[0] for line in f if line.strip()}
    n, n_dis = len(refs), len(disagree)
    wrong_dis = len(wrong & disagree)
    wrong_agree = len(wrong) - wrong_dis
    print(f"the model: WER {100 * len(wrong) / n:.2f}% ({len(wrong)} words); "
          f"{wrong_dis} of the {n_dis} words where the dictionaries disagree "
          f"({100 * wrong_dis / n_dis:.1f}%), {wrong_agree} of the {n - n_dis} where they "
          f"agree ({100 * wrong_agree / (n - n_dis):.2f}%)")
    budget = int(0.21 * n) - wrong_dis
    print(f"WER 21% allows {int(0.21 * n)} wrong words: with the disagreeing words wrong as "
          f"often as now, at most {budget} of the {n - n_dis} agreeing ones "
          f"({100 * budget / (n - n_dis):.2f}%)")


def main(dict_path, test_path, errors_path=None):
    prons, stressed = read_dictionary(dict_path)
    refs = collections.OrderedDict()
    with open(test_path, encoding="utf-8") as f:
        for line in f:
            word, phones = line.rstrip("\n").split("\t")
            refs.setdefault(word, []).append(phones)
    wrong = edits = units = none_match = missing = 0
    for word, rs in refs.items():
        ours = prons.get(word, [])
        missing += not ours
        out = ours[0] if ours else ""
        wrong += out not in rs
        none_match += not any(p in rs for p in ours)
        best = min(rs, key=lambda r: edit_distance(out, r))
        edits += edit_distance(out, best)
        units += len(best.split())
    n = len(refs)
    print(f"{n} test words, {missing} not in the dictionary")
    print(f"the dictionary's first pronunciation as output: WER {100 * wrong / n:.2f}%, "
          f"PER {100 * edits / units:.2f}%")
    print(f"words none of whose dictionary pronunciations is a reference: {none_match} "
          f"({100 * none_match / n:.2f}%)")
    disagree = {w for w, rs in refs.items() if prons.get(w) and not set(prons[w]) & set(rs)}
    reduced = sum(1 for w in disagree
                  if {one_reduced_vowel(p) for p in prons[w]}
                  & {one_reduced_vowel(r) for r in refs[w]})
    ih0 = sum(1 for w in disagree
              if any(" ".join("AH" if x == "IH0" else re.sub(r"\d", "", x) for x in p.split())
                     in refs[w] for p in stressed[w]))
    print(f"of the {len(disagree)} in the dictionary: {reduced} agree when AH and IH are one "
          f"vowel, {ih0} when the dictionary's unstressed IH0 is read as AH")
    if errors_path:
        split_errors(errors_path, refs, disagree)


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: g2p_reference_gap.py DICT.txt TEST.tsv [ERRORS.tsv]")
    main(*sys.argv[1:])
