"""The source of attention-tour.ipynb: its cells, in order.

    /usr/bin/python3 docs/notebooks/build_tour.py          # writes the notebook
    jupyter nbconvert --to notebook --execute --inplace docs/notebooks/attention-tour.ipynb

The first command writes the cells without outputs; the second runs them
and saves every output in the file (what the repository keeps). Edit the
tour here, not in the .ipynb, so the two stay one text. nbformat comes with
Debian's jupyter-nbconvert.
"""
import pathlib

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    ("md", """# A tour of attention with attend

This notebook retells the story attend started from, the Keras article
*Attention in Keras*: a network that reads dates as people write them
("Saturday, 9 May 2018", "09/05/18", "9 mai 2018") and writes them as
ISO dates ("2018-05-09"), and whose attention shows where it looks.

1. train the date translator from Python;
2. translate and see the attention, inline;
3. compare three attention families on one input;
4. call additive and scaled-dot attention directly on small arrays, and
   check them against NumPy versions of their equations.

Everything runs on the C library `libattend` through the `attend` package
(ctypes; see `python/README.md`). The whole notebook takes under a
minute on two quiet cores."""),
    ("code", """import os, sys
import numpy as np
try:
    import attend
except ImportError:  # not installed: use the checkout's python/ folder
    sys.path.insert(0, os.path.abspath("../../python"))
    import attend
print("attend", attend.__version__)"""),
    ("md", """## 1. Train the date translator

`attend.train` runs the library's trainer (the same as `attend train` on
the command line, with the same options and defaults): it generates
human-written dates in 24 locales with ICU, builds a BiLSTM encoder and a
GRU decoder with additive (Bahdanau) attention, and trains with Adam. The
progress function is called as it goes; here it prints a line every 250
steps. A short run (1,000 steps of 64 examples) already gets most
validation dates exactly right. The best model is saved in
`runs/tour-additive/model.safetensors`."""),
    ("code", """SHORT = dict(steps=1000, batch=64, train_size=30000, valid_size=500, eval_every=500,
             threads=2, progress_every=250)
additive = attend.train("runs/tour-additive", attention="additive", **SHORT)"""),
    ("md", """## 2. Translate, and see where it looks

`translate` returns the output with its attention: a `(T_out, T_in)` array
whose row *t* is how much output character *t* drew on each input
character. In a notebook the result shows as the interactive map (hover a
cell for its weight); `.save("map.svg")` writes PNG, SVG, PDF or HTML."""),
    ("code", """result = additive.translate("Saturday, 9 May 2018")
print(result.text)
print(result.weights.shape, "rows sum to", result.weights.sum(axis=1).round(3))
result"""),
    ("code", """for text in ["9 mai 2018", "09/05/2018", "TUESDAY, JUNE 17, 2003", "17 juin 2003"]:
    print(f"{text!r:28} -> {additive.translate(text).text}")"""),
    ("md", """## 3. Three families on one input

The same data, the same steps, three ways to score the encoder's states
against the decoder's: **additive** (Bahdanau: a small network),
**general** (Luong: a bilinear form) and **local-p** (Luong's local
attention, which predicts a position and looks only at a window around it).
`attend.compare` draws the three maps side by side."""),
    ("code", """general = attend.train("runs/tour-general", attention="general", **SHORT, progress=None)
local = attend.train("runs/tour-local-p", attention="local-p", **SHORT, progress=None)
text = "Saturday, 9 May 2018"
for model in (additive, general, local):
    print(model.translate(text).map.mechanism, "->", model.translate(text).text)
attend.compare([m.translate(text).map for m in (additive, general, local)],
               title="one date, three attention families")"""),
    ("md", """## 4. Attention on your own arrays

The families are also plain functions on NumPy float32 arrays, with the
shapes of the C header `include/attend/attention.h`: batch first, and a
keep-mask where 1 keeps a key and 0 drops it. Below, the same small
inputs go through the library and through NumPy versions of the
equations, written out here:

* additive: $e_{tj} = v_a^\\top \\tanh(W_a q_t + U_a k_j + b_a)$,
  $\\alpha_t = \\mathrm{softmax}_j(e_t)$, $c_t = \\sum_j \\alpha_{tj} v_j$;
* scaled dot: $\\alpha = \\mathrm{softmax}(Q K^\\top / \\sqrt{d})$, $C = \\alpha V$.

A dropped key gets weight 0, and a query whose keys are all dropped gets
zeros, never NaN."""),
    ("code", """rng = np.random.default_rng(0)
B, Tq, Tk, d, A = 1, 3, 5, 4, 6
q = rng.standard_normal((B, Tq, d), dtype=np.float32)
k = rng.standard_normal((B, Tk, d), dtype=np.float32)
v = rng.standard_normal((B, Tk, d), dtype=np.float32)
keep = np.array([[1, 1, 1, 1, 0]], dtype=bool)  # the last key is padding
W_a, U_a = (rng.standard_normal((A, d), dtype=np.float32) for _ in range(2))
b_a, v_a = (rng.standard_normal(A, dtype=np.float32) for _ in range(2))

def softmax(scores, keep):
    scores = np.where(keep, scores, -np.inf)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)

# additive, from the equation
e = np.tanh((q @ W_a.T)[:, :, None, :] + (k @ U_a.T)[:, None, :, :] + b_a) @ v_a
alpha = softmax(e, keep[:, None, :])
context, weights = attend.additive_attention(q, k, v, W_a, U_a, b_a, v_a, mask=keep)
np.testing.assert_allclose(weights, alpha, atol=1e-5)
np.testing.assert_allclose(context, alpha @ v, atol=1e-5)

# scaled dot, from the equation
alpha = softmax(q @ k.transpose(0, 2, 1) / np.sqrt(d), keep[:, None, :])
context, weights = attend.dot_attention(q, k, v, mask=keep)
np.testing.assert_allclose(weights, alpha, atol=1e-5)
np.testing.assert_allclose(context, alpha @ v, atol=1e-5)
print("the library agrees with the equations; weights of the scaled dot:")
print(weights[0].round(3))"""),
    ("code", """attend.AttentionMap(weights[0], rows=["q1", "q2", "q3"], cols=["k1", "k2", "k3", "k4", "pad"],
                    title="scaled dot on random arrays", mechanism="scaled dot")"""),
    ("md", """## Where next

* `docs/mechanisms/` explains each family with its equations and pictures;
* `attend train --help` lists every option `attend.train` takes;
* `attend.load(path)` opens any model the CLI trained: translators, G2P,
  mail classifiers (`.predict`) and language models (`.generate`)."""),
]


def build():
    cells = [new_markdown_cell(text) if kind == "md" else new_code_cell(text)
             for kind, text in CELLS]
    notebook = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    path = pathlib.Path(__file__).with_name("attention-tour.ipynb")
    nbformat.write(notebook, str(path))
    print(f"wrote {path} (run it with jupyter nbconvert --execute to fill the outputs)")


if __name__ == "__main__":
    build()
