#!/usr/bin/env python3
"""g2p_reference_gap.py - how far the standard G2P test split's references are
from the dictionary attend trains on.

The 12k test split was cut from an older CMUdict than the npm package's 0.7b.
Scoring the dictionary itself against the split (its first pronunciation of
each test word as the "output", by the papers' WER and PER) shows the floor
that label disagreement alone puts under any model that learns 0.7b.

    /usr/bin/python3 bench/g2p_reference_gap.py "$(scripts/data.sh cmudict)" \
        "$(scripts/data.sh g2p-test)"
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


def main(dict_path, test_path):
    prons = collections.defaultdict(list)
    with open(dict_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(";;;") or "  " not in line:
                continue
            word, phones = line.rstrip("\n").split("  ", 1)
            word, phones = re.sub(r"\(\d+\)$", "", word), re.sub(r"\d", "", phones)
            if phones not in prons[word]:
                prons[word].append(phones)
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


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: g2p_reference_gap.py DICT.txt TEST.tsv")
    main(sys.argv[1], sys.argv[2])
