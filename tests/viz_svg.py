#!/usr/bin/env python3
"""viz_svg.py TEST_VIZ [DIR] - the SVG figures parse as XML and keep every label.

Runs `TEST_VIZ --write DIR` to draw the sample figures, then for each SVG
heatmap checks with xml.etree that the file is well-formed SVG, that every
row and column label of the map it was drawn from (read back from the
weights file written beside it) is the text of a <text> element, that the
title and the model and mechanism names are there, and that there is one
filled cell per weight. The training curves SVG must parse and name its
series. Exits non-zero on any failure.
"""
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL", what)


def shown(label):
    """The label as attend writes it: a lone space is U+2423."""
    return "\u2423" if label == " " else label


def texts(root):
    return [t.text or "" for t in root.iter(SVG + "text")]


def check_heatmap(svg_path, weights_path):
    root = ET.parse(svg_path).getroot()  # raises on malformed XML
    check(root.tag == SVG + "svg", f"{svg_path}: root is {root.tag}")
    with open(weights_path, encoding="utf-8") as f:
        m = json.load(f)
    words = texts(root)
    for kind in ("row_labels", "col_labels"):
        for label in m[kind]:
            check(shown(label) in words, f"{svg_path}: label {label!r} ({kind}) is not a <text>")
    heading = " · ".join(x for x in (m["model"], m["mechanism"]) if x)
    check(heading in words, f"{svg_path}: heading {heading!r} missing")
    check(m["title"] in words, f"{svg_path}: title {m['title']!r} missing")
    rects = list(root.iter(SVG + "rect"))
    cells = m["heads"] * m["rows"] * m["cols"]
    check(len(rects) >= cells, f"{svg_path}: {len(rects)} rects for {cells} cells")
    print(f"ok: {os.path.basename(svg_path)}: {len(words)} texts, {len(rects)} rects")


def main():
    test_viz = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="attend-viz-")
    subprocess.run([test_viz, "--write", out], check=True, stdout=subprocess.DEVNULL)
    check_heatmap(os.path.join(out, "known.svg"), os.path.join(out, "known.json"))
    # heads.svg is drawn from the same 4-head map that known.json is not; its
    # labels are the same, so known.json's list serves.
    root = ET.parse(os.path.join(out, "heads.svg")).getroot()
    words = texts(root)
    for h in range(1, 5):
        check(f"head {h}" in words, f"heads.svg: 'head {h}' missing")
    for label in ("мая", "五月", "مايو", "2018"):
        check(words.count(label) == 4, f"heads.svg: {label!r} should appear once per head")
    root = ET.parse(os.path.join(out, "curves.svg")).getroot()
    words = texts(root)
    for name in ("loss", "valid_loss", "valid_exact", "valid_char", "step"):
        check(name in words, f"curves.svg: {name!r} missing")
    check("lr" not in words, "curves.svg: 'lr' is not a loss or accuracy")
    print(f"viz_svg: {'FAILED' if failures else 'passed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
