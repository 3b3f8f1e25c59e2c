#!/usr/bin/python3
"""
test_attention_parity.py - attend's attention families 1-9 against an independent PyTorch
implementation written from the equations of include/attend.h.

The idea. For each named case the C helper `attention_parity_tool CASE FILE`
(tests/tools/attention_parity_tool.c) builds one family with a seeded generator, runs it
forward on seeded random inputs (asking for the attention weights), then backward from
seeded random output gradients, and writes one safetensors file: every parameter under its
header symbol ("W_a", "v_a", "g" ...), the inputs, the seeds ("seed.Y"), the outputs
("out.Y") and every gradient ("grad.NAME"), with sizes, masks and options as JSON strings
in the metadata.

This script does NOT call attend and does not mirror its code: each family below is the
header's equation typed out with plain torch ops, in float64, on the same numbers. Masks are
attend's one convention (1 = KEEP), causal drops key j for query i when j > i + (Tk - Tq).
The monotonic recursion is the loop over j that the header states; the window of local
attention is "every integer s with |s - p_t| <= D" clipped to [0, S); and so on. torch's
autograd then gives the gradient of L = sum_Y sum(Y * seed.Y), which is what the tool
backpropagated, so outputs, weights and every gradient are compared.

Beyond the comparisons:
  - every tensor in the file is finite (no NaN, no inf), fully masked rows included;
  - where a query sees no key (a fully masked row), the weights, the context and the
    gradient reaching that query are EXACTLY zero, and a batch row where nothing is kept
    sends exactly zero gradient to its keys and values;
  - the library's parameter names end in the header's symbols;
  - local-p: every p_t is at least 1e-3 away from a point where its window changes, so the
    float32 and float64 windows are the same set (otherwise the case is not meaningful);
    hard monotonic: every p_ij that the scan compares is at least 1e-4 away from 0.5.
  - nothing goes unchecked: an out./grad. tensor in the file that the oracle did not make,
    or an oracle tensor missing from the file, is a failure, and so is a case only one side
    knows.

The header does not say whether the returned weights (or local-p's positions) carry a
gradient. When attend hands them back without a gradient buffer the tool lists them in
metadata "unseeded"; they are then compared as values but left out of L (and reported).

Usage: test_attention_parity.py --tools BUILD/tests [--case NAME ...] [--seed N] [--keep DIR]
The last line is "N passed, M failed"; the exit status is non-zero if anything failed.
"""
import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402  (the project's reader, same folder)
from parity_check import check_file, dump_case, run_suite  # noqa: E402

import torch  # noqa: E402

torch.set_num_threads(1)
DT = torch.float64
TOOL = "attention_parity_tool"

# --------------------------------------------------------------------------- tolerances
# A value passes when |attend - oracle| <= atol + rtol * |oracle|. The oracle is float64 on
# the exact float32 inputs, so it is the true answer and the tolerance only covers attend's
# own float32 rounding (unit roundoff 6e-8). Inputs and weights are O(1), every sum has a
# handful of terms (<= 8 unless said), so float32 errors are ~1e-7..1e-6; the tolerances
# leave a margin of >= 10 while a real slip (a missing term, a wrong mask, a transposed
# weight) moves values by 1e-2 or more.
TOLERANCES = {
    # score = v_a . tanh(...) over A <= 7, softmax over Tk <= 6, context over Tk terms;
    # gradients go back through softmax and tanh once.
    "additive": (1e-5, 1e-4),
    "additive_step": (1e-5, 1e-4),
    # one GRU-style step on top of additive attention: ~4 dense products in a chain, the
    # gradient goes through the gates, the attention and (start) s_0 = tanh(W_s h_1).
    "decoder_step": (2e-5, 1e-4),
    "decoder_step_prev": (2e-5, 1e-4),
    "decoder_start": (2e-5, 1e-4),
    # dot/general/concat/location scores, softmax, weighted sum: as additive.
    "luong_dot": (1e-5, 1e-4),
    "luong_general": (1e-5, 1e-4),
    "luong_concat": (1e-5, 1e-4),
    "luong_location": (1e-5, 1e-4),
    "luong_attentional": (1e-5, 1e-4),
    # local-m: a windowed softmax. local-p: p_t = S sigmoid(.) is scaled by S <= 8 and the
    # Gaussian's gradient carries (s - p_t) / sigma^2 (sigma = 1): errors grow by ~10.
    "local_m": (1e-5, 1e-4),
    "local_p": (5e-5, 2e-4),
    # HAN: as additive. Per-feature: exp(u) / (sum + eps) over T = 5 steps.
    "han": (1e-5, 1e-4),
    "feature": (1e-5, 1e-4),
    # the monotonic recursion multiplies up to Tk = 6 factors (1 - p) and the energy divides
    # by ||v_a||; gradients run back through the whole recursion.
    "monotonic": (2e-5, 1e-4),
    "monotonic_start": (2e-5, 1e-4),
    # hard decoding returns one-hot weights, a copied value row and integer positions:
    # exact up to float32 rounding of the copied row (which is exact).
    "monotonic_hard": (1e-6, 1e-6),
    # forward attention: products of two distributions renormalised over Tk = 6; the sum
    # being divided by is small (~1/Tk), which amplifies rounding (observed up to 1.4e-6).
    "forward_attention": (2e-5, 1e-4),
    "forward_attention_plain": (2e-5, 1e-4),
    # the fused kernel: d <= 8 products, softmax over Tk <= 6 (long: 75, several tiles,
    # online softmax rescaling, context sums of 75 terms).
    "dot_attention": (1e-5, 1e-4),
    "dot_attention_noweights": (1e-5, 1e-4),
    "dot_attention_3d": (1e-5, 1e-4),
    "dot_attention_long": (3e-5, 2e-4),
    "bilinear": (1e-5, 1e-4),
    # three projections, then the scaled dot kernel.
    "self_attention": (2e-5, 1e-4),
    # A A^T - I squared and averaged: the penalty and its gradient are sums of r*r*T terms.
    "structured": (2e-5, 1e-4),
    # per step: L = 3 memory entries, tanh of two projections, then tanh(W_r r + W_x x).
    "key_value": (2e-5, 1e-4),
}


# ----------------------------------------------------------------------------- helpers
class Case:
    """The oracle's tensors for one case, plus extra pass/fail checks and notes."""

    def __init__(self, f, meta):
        self.f, self.meta = f, meta
        self.expected = {}
        self.extra = []
        self.notes = []
        self.leaves = {}  # name -> leaf tensor whose gradient the file must hold

    def expect(self, name, value):
        if isinstance(value, torch.Tensor):
            value = value.detach().to(torch.float64).numpy()
        self.expected[name] = np.asarray(value, dtype=np.float64)

    def check(self, label, ok, detail=""):
        self.extra.append((label, bool(ok), detail))

    # inputs and parameters ---------------------------------------------------------
    def input(self, name, grad=True):
        """A file tensor as a float64 leaf; its gradient is expected when grad."""
        if name not in self.f:
            raise KeyError("the tool did not write '%s'" % name)
        t = torch.from_numpy(np.array(self.f[name], dtype=np.float64)).to(DT)
        if grad:
            t.requires_grad_(True)
            self.leaves[name] = t
        return t

    def params(self, grad=True):
        """Every parameter the tool wrote, by header symbol; checks the library names."""
        mapping = json.loads(self.meta["params"])
        out = {}
        for symbol, lib_name in mapping.items():
            out[symbol] = self.input(symbol, grad)
            self.check("name of %s" % symbol, lib_name.split(".")[-1] == symbol,
                       "the library calls it '%s'" % lib_name)
        return out

    def sizes(self):
        return json.loads(self.meta["sizes"])

    # outputs and backward -------------------------------------------------------------
    def finish(self, outputs):
        """Expect every output; backpropagate L = sum_Y sum(Y * seed.Y) over the seeded
        outputs; expect the gradient of every leaf (zero if none reached it)."""
        unseeded = set(json.loads(self.meta.get("unseeded", "[]")))
        for name in sorted(unseeded):
            self.notes.append("out.%s carries no gradient in attend (not seeded)" % name)
        loss = None
        for name, y in outputs.items():
            self.expect("out." + name, y)
            if name in unseeded or ("seed." + name) not in self.f:
                continue
            seed = torch.from_numpy(np.array(self.f["seed." + name], dtype=np.float64))
            term = (y * seed.reshape(y.shape)).sum()
            loss = term if loss is None else loss + term
        for name in unseeded:
            if "seed." + name in self.f:
                self.check("seed of %s" % name, False, "listed unseeded but has a seed")
        if self.leaves:
            if loss is not None and loss.requires_grad:
                loss.backward()
            for name, t in self.leaves.items():
                g = t.grad if t.grad is not None else torch.zeros_like(t)
                self.expect("grad." + name, g)

    def zero_where(self, name, sel, why):
        """f[name][sel] must be exactly 0 (sel: a bool array over the leading dims)."""
        if name not in self.f or not np.any(sel):
            return
        v = self.f[name][sel]
        self.check("%s exactly zero %s" % (name, why), np.all(v == 0),
                   "%d nonzero values, e.g. %s" % (np.count_nonzero(v), v[v != 0][:4]))


def meta_list(meta, key):
    return json.loads(meta[key]) if key in meta else None


def keep_scores(meta, lead, tq, tk):
    """attend's mask as a bool tensor lead + (Tq, Tk): R = prod(lead) * Tq score rows,
    `mask_rows` mask rows of Tk bytes (1 = keep), each serving R / mask_rows consecutive
    score rows; causal also drops key j for query i when j > i + (Tk - Tq)."""
    R = int(np.prod(lead)) * tq
    rows = int(meta.get("mask_rows", "0"))
    if rows:
        m = torch.tensor(meta_list(meta, "mask"), dtype=torch.bool).reshape(rows, tk)
        keep = m.repeat_interleave(R // rows, dim=0)
    else:
        keep = torch.ones(R, tk, dtype=torch.bool)
    keep = keep.reshape(*lead, tq, tk)
    if int(meta.get("causal", "0")):
        i = torch.arange(tq)[:, None]
        j = torch.arange(tk)[None, :]
        keep = keep & (j <= i + (tk - tq))
    return keep


def masked_softmax(x, keep):
    """softmax over the kept positions of the last axis: keep_j exp(x_j - m) / sum. Masked
    positions and rows with nothing kept are 0 with no gradient (never NaN)."""
    zero = torch.zeros_like(x)
    xk = torch.where(keep, x, zero)
    lowest = torch.full_like(x, -1e300)
    m = torch.where(keep, x, lowest).amax(-1, keepdim=True).detach()
    m = torch.where(keep.any(-1, keepdim=True), m, torch.zeros_like(m))
    e = torch.exp(xk - m) * keep
    total = e.sum(-1, keepdim=True)
    return e / torch.where(total > 0, total, torch.ones_like(total))


def empty_rows(keep):
    """Score rows (leading dims) where no key is kept, as a numpy bool array."""
    return (~keep.any(-1)).numpy()


def check_empty(c, keep, per_query, per_batch):
    """Fully masked score rows: the named per-query tensors (leading dims = keep's leading
    dims) are exactly zero there; batch rows with nothing kept at all send exactly zero
    gradient to the per-batch tensors (keys, values)."""
    empty = empty_rows(keep)
    for name in per_query:
        c.zero_where(name, empty, "where a query sees no key")
    batch_empty = empty.reshape(empty.shape[0], -1).all(-1)
    for name in per_batch:
        c.zero_where(name, batch_empty, "for a batch row that keeps nothing")


# ------------------------------------------------------------------- 1. additive
def additive_energy(q, k, W_a, U_a, b_a, v_a):
    """e_tj = v_a^T tanh(W_a q_t + U_a k_j + b_a); q (B, Tq, Dq), k (B, Tk, Dk)."""
    inner = (q @ W_a.T)[:, :, None, :] + (k @ U_a.T + b_a)[:, None, :, :]
    return torch.tanh(inner) @ v_a


def case_additive(c):
    s, p = c.sizes(), c.params()
    q, k, v = c.input("queries"), c.input("keys"), c.input("values")
    single = bool(s["single_step"])
    q3 = q[:, None, :] if single else q
    keep = keep_scores(c.meta, (s["B"],), q3.shape[1], s["Tk"])
    alpha = masked_softmax(additive_energy(q3, k, p["W_a"], p["U_a"], p["b_a"], p["v_a"]), keep)
    context = alpha @ v
    if single:
        alpha, context = alpha[:, 0], context[:, 0]
        keep = keep[:, 0]
    c.finish({"context": context, "weights": alpha})
    check_empty(c, keep, ["out.context", "out.weights", "grad.queries"],
                ["grad.keys", "grad.values"])


# ---------------------------------------------------------- 2. attention decoder
def case_decoder(c):
    s, p = c.sizes(), c.params()
    h, y = c.input("annotations"), c.input("y_prev")
    outputs = {}
    if s["from_start"]:
        s_prev = torch.tanh(h[:, 0, :] @ p["W_s"].T)  # s_0 = tanh(W_s h_1), h_1 the first
        outputs["s0"] = s_prev
    else:
        s_prev = c.input("s_prev")
    keep = keep_scores(c.meta, (s["B"],), 1, s["Tx"])
    e = additive_energy(s_prev[:, None, :], h, p["W_a"], p["U_a"], p["b_a"], p["v_a"])
    alpha = masked_softmax(e, keep)[:, 0]  # (B, Tx)
    ctx = (alpha[:, :, None] * h).sum(1)  # c_t = sum_j alpha_tj h_j
    sig = torch.sigmoid
    r = sig(y @ p["W_r"].T + s_prev @ p["U_r"].T + ctx @ p["C_r"].T + p["b_r"])
    z = sig(y @ p["W_z"].T + s_prev @ p["U_z"].T + ctx @ p["C_z"].T + p["b_z"])
    s_tilde = torch.tanh(y @ p["W_p"].T + (r * s_prev) @ p["U_p"].T + ctx @ p["C_p"].T
                         + p["b_p"])
    s_t = (1 - z) * s_prev + z * s_tilde
    s_out = s_prev if int(c.meta["output_from_previous_state"]) else s_t
    logits = y @ p["W_o"].T + s_out @ p["U_o"].T + ctx @ p["C_o"].T + p["b_o"]
    outputs.update({"s": s_t, "logits": logits, "weights": alpha})
    c.finish(outputs)


# -------------------------------------------------------------- 3. Luong global
def luong_score(kind, q, k, p, tk):
    """Luong's scores (B, Tq, Tk) of queries h_t against source states h_s."""
    if kind == "dot":  # h_t^T h_s
        return q @ k.transpose(1, 2)
    if kind == "general":  # h_t^T W_a h_s
        return q @ p["W_a"] @ k.transpose(1, 2)
    if kind == "concat":  # v_a^T tanh(W_a [h_t; h_s])
        B, Tq, Tk = q.shape[0], q.shape[1], k.shape[1]
        pair = torch.cat([q[:, :, None, :].expand(B, Tq, Tk, q.shape[2]),
                          k[:, None, :, :].expand(B, Tq, Tk, k.shape[2])], dim=-1)
        return torch.tanh(pair @ p["W_a"].T) @ p["v_a"]
    if kind == "location":  # W_a h_t, the first Tk of max_source_len positions
        return (q @ p["W_a"].T)[..., :tk]
    raise ValueError("unknown score " + kind)


def case_luong(c):
    s, p = c.sizes(), c.params()
    q, k = c.input("queries"), c.input("keys")
    v = k if s["values_are_keys"] else c.input("values")
    keep = keep_scores(c.meta, (s["B"],), s["Tq"], s["Tk"])
    alpha = masked_softmax(luong_score(c.meta["score"], q, k, p, s["Tk"]), keep)
    context = alpha @ v
    outputs = {"context": context, "weights": alpha}
    if s["Dc"]:  # h~_t = tanh(W_c [c_t; h_t])
        outputs["h_tilde"] = torch.tanh(torch.cat([context, q], dim=-1) @ p["W_c"].T)
    c.finish(outputs)
    check_empty(c, keep, ["out.context", "out.weights", "grad.queries"],
                ["grad.keys", "grad.values"])


# --------------------------------------------------------------- 4. Luong local
def case_local(c):
    s, p = c.sizes(), c.params()
    q, k, v = c.input("queries"), c.input("keys"), c.input("values")
    B, Tq, Tk = s["B"], s["Tq"], s["Tk"]
    D = int(c.meta["window"])
    S = torch.tensor(meta_list(c.meta, "lengths"), dtype=DT)  # source lengths (B)
    if c.meta["kind"] == "m":  # p_t = t, query i is step first_step + i
        pos = (int(c.meta["first_step"]) + torch.arange(Tq, dtype=DT)).expand(B, Tq)
    else:  # p_t = S sigmoid(v_p^T tanh(W_p h_t))
        pos = S[:, None] * torch.sigmoid(torch.tanh(q @ p["W_p"].T) @ p["v_p"])
    src = torch.arange(Tk, dtype=DT)
    pd = pos.detach()[:, :, None]
    window = ((src - pd).abs() <= D) & (src >= 0) & (src < S[:, None, None])
    keep = window & keep_scores(c.meta, (B,), Tq, Tk)
    align = masked_softmax(luong_score(c.meta["score"], q, k, p, Tk), keep)
    if c.meta["kind"] == "m":
        a = align
    else:  # a_t(s) = align_t(s) exp(-(s - p_t)^2 / (2 sigma^2)), sigma = D / 2
        sigma = D / 2.0
        a = align * torch.exp(-((src - pos[:, :, None]) ** 2) / (2 * sigma * sigma))
        frac = (pd - torch.round(pd)).abs()
        c.check("every p_t is >= 1e-3 from a window change", bool((frac > 1e-3).all()),
                "p_t = %s: the float32 and float64 windows may differ; pick another seed"
                % pd.flatten().tolist())
    c.finish({"context": a @ v, "weights": a, "positions": pos})
    check_empty(c, keep, ["out.context", "out.weights", "grad.queries"], [])
    c.zero_where("out.weights", ~keep.numpy(), "outside the window")


# ------------------------------------------------------------------- 5. static
def case_han(c):
    s, p = c.sizes(), c.params()
    h = c.input("h")
    keep = keep_scores(c.meta, (s["B"],), 1, s["T"])[:, 0]  # (B, T)
    u = torch.tanh(h @ p["W"].T + p["b"])  # u_t = tanh(W h_t + b)
    alpha = masked_softmax(u @ p["u_w"], keep)  # softmax_t(u_t^T u_w)
    out = (alpha[:, :, None] * h).sum(1)
    c.finish({"out": out, "weights": alpha})
    check_empty(c, keep, ["out.out", "out.weights", "grad.h"], [])


def case_feature(c):
    s, p = c.sizes(), c.params()
    h = c.input("h")
    eps = float(c.meta["eps"])
    keep = keep_scores(c.meta, (s["B"],), 1, s["T"])[:, 0]  # (B, T)
    u = torch.tanh(h @ p["W"].T + p["b"])  # (B, T, D)
    a = torch.exp(u) * keep[:, :, None].to(DT)  # a_tf = exp(u_tf) mask_t
    alpha = a / (a.sum(1, keepdim=True) + eps)  # a_tf / (sum_t a_tf + eps)
    out = (alpha * h).sum(1)  # out_f = sum_t alpha_tf h_tf
    c.finish({"out": out, "weights": alpha})
    check_empty(c, keep, ["out.out", "out.weights", "grad.h"], [])


# ----------------------------------------------------------- 6. forced-forward
def monotonic_p(q, k, p, keep):
    """p_ij = sigmoid(g v_a^T / ||v_a|| tanh(W_a s + U_a h_j + b_a) + r), 0 where masked."""
    direction = p["v_a"] / torch.sqrt((p["v_a"] ** 2).sum())
    inner = q[:, None, :] @ p["W_a"].T + k @ p["U_a"].T + p["b_a"]  # (B, Tk, A)
    e = p["g"] * (torch.tanh(inner) @ direction) + p["r"]
    return torch.where(keep, torch.sigmoid(e), torch.zeros_like(e))


def case_monotonic(c):
    s, p = c.sizes(), c.params()
    q, k, v = c.input("query"), c.input("keys"), c.input("values")
    B, Tk = s["B"], s["Tk"]
    keep = keep_scores(c.meta, (B,), 1, Tk)[:, 0]
    prob = monotonic_p(q, k, p, keep)
    if "alpha_prev" in c.f:
        prev = c.input("alpha_prev")
    else:  # alpha_0 = delta(j = 0)
        prev = torch.zeros(B, Tk, dtype=DT)
        prev[:, 0] = 1
    # The exact recursion, one j at a time:
    #   q_ij = (1 - p_i,j-1) q_i,j-1 + alpha_i-1,j  (q_i0 = alpha_i-1,0),  alpha_ij = p_ij q_ij
    alpha_cols = []
    qj = None
    for j in range(Tk):
        qj = prev[:, j] if j == 0 else (1 - prob[:, j - 1]) * qj + prev[:, j]
        alpha_cols.append(prob[:, j] * qj)
    alpha = torch.stack(alpha_cols, dim=1)
    context = (alpha[:, :, None] * v).sum(1)
    c.finish({"context": context, "alpha": alpha})
    c.check("sum_j alpha_ij <= 1", bool((alpha.detach().sum(1) <= 1 + 1e-12).all()))
    empty = ~keep.any(-1).numpy()
    for name in ("out.context", "out.alpha", "grad.query", "grad.keys", "grad.values",
                 "grad.alpha_prev"):
        c.zero_where(name, empty, "for a batch row that keeps nothing")


def case_monotonic_hard(c):
    s, p = c.sizes(), c.params(grad=False)
    q, k, v = c.input("query", False), c.input("keys", False), c.input("values", False)
    B, Tk = s["B"], s["Tk"]
    keep = keep_scores(c.meta, (B,), 1, Tk)[:, 0]
    prob = monotonic_p(q, k, p, keep)
    start = meta_list(c.meta, "positions_in")
    weights = torch.zeros(B, Tk, dtype=DT)
    context = torch.zeros(B, v.shape[2], dtype=DT)
    positions = torch.tensor(start, dtype=DT)
    margin_ok, moved, stopped = True, 0, 0
    for b in range(B):
        # from the previous position, scan forward; stop at the first p_ij >= 0.5
        for j in range(start[b], Tk):
            if keep[b, j]:
                margin_ok &= abs(float(prob[b, j]) - 0.5) > 1e-4
            if keep[b, j] and prob[b, j] >= 0.5:
                weights[b, j] = 1
                context[b] = v[b, j]
                positions[b] = j
                stopped += 1
                moved += j != start[b]
                break
        # none found: attend to nothing (zero context) and keep the position
    c.finish({"context": context, "weights": weights, "positions": positions})
    c.check("every p_ij the scan compares is >= 1e-4 from 0.5", margin_ok,
            "p = %s; pick another seed" % prob.tolist())
    c.notes.append("%d of %d rows stopped (%d moved forward), %d found nothing"
                   % (stopped, B, moved, B - stopped))


def case_forward_attention(c):
    s = c.sizes()
    c.params()
    B, Tk = s["B"], s["Tk"]
    y, v = c.input("y"), c.input("values")
    keep = keep_scores(c.meta, (B,), 1, Tk)[:, 0].to(DT)
    if "alpha_prev" in c.f:
        prev = c.input("alpha_prev")
    else:
        prev = torch.zeros(B, Tk, dtype=DT)
        prev[:, 0] = 1
    before = torch.cat([torch.zeros(B, 1, dtype=DT), prev[:, :-1]], dim=1)  # alpha_t-1(n-1)
    if "transition" in c.f:  # ((1 - u) alpha(n) + u alpha(n - 1)) y(n)
        u = c.input("transition")
        a = ((1 - u) * prev + u * before) * y
    else:  # (alpha(n) + alpha(n - 1)) y(n)
        a = (prev + before) * y
    a = a * keep
    total = a.sum(1, keepdim=True)
    alpha = torch.where(total > 0, a / torch.where(total > 0, total, torch.ones_like(total)),
                        torch.zeros_like(a))
    context = (alpha[:, :, None] * v).sum(1)
    c.finish({"context": context, "alpha": alpha})
    empty = (keep.sum(1) == 0).numpy()
    for name in ("out.context", "out.alpha", "grad.y", "grad.values", "grad.alpha_prev",
                 "grad.transition"):
        c.zero_where(name, empty, "for a batch row that keeps nothing")


# ----------------------------------------------------------- 7. multiplicative
def case_dot(c):
    s = c.sizes()
    c.params()
    q, k, v = c.input("q"), c.input("k"), c.input("v")
    scale = float(c.meta["scale"]) or 1.0 / math.sqrt(s["d"])
    lead = (s["B"], s["H"]) if s["H"] else (s["B"],)
    keep = keep_scores(c.meta, lead, s["Tq"], s["Tk"])
    alpha = masked_softmax(scale * (q @ k.transpose(-1, -2)), keep)
    outputs = {"context": alpha @ v}
    if "out.weights" in c.f:
        outputs["weights"] = alpha
    c.finish(outputs)
    check_empty(c, keep, ["out.context", "out.weights", "grad.q"], ["grad.k", "grad.v"])


def case_bilinear(c):
    s, p = c.sizes(), c.params()
    q, k, v = c.input("queries"), c.input("keys"), c.input("values")
    keep = keep_scores(c.meta, (s["B"],), s["Tq"], s["Tk"])
    alpha = masked_softmax(q @ p["W"] @ k.transpose(1, 2), keep)  # q^T W k
    c.finish({"context": alpha @ v, "weights": alpha})
    check_empty(c, keep, ["out.context", "out.weights", "grad.queries"],
                ["grad.keys", "grad.values"])


# ----------------------------------------------------------- 8. self-attention
def case_self_attention(c):
    s, p = c.sizes(), c.params()
    x = c.input("x")
    Q, K, V = x @ p["W_Q"].T, x @ p["W_K"].T, x @ p["W_V"].T
    keep = keep_scores(c.meta, (s["B"],), s["T"], s["T"])
    alpha = masked_softmax(Q @ K.transpose(1, 2) / math.sqrt(s["d"]), keep)
    c.finish({"out": alpha @ V, "weights": alpha})
    check_empty(c, keep, ["out.out", "out.weights"], [])


def case_structured(c):
    s, p = c.sizes(), c.params()
    h = c.input("h")
    keep = keep_scores(c.meta, (s["B"],), s["r"], s["T"])  # (B, r, T)
    # A = softmax(W_s2 tanh(W_s1 H^T)), H^T (D, T): scores (B, r, T)
    scores = p["W_s2"] @ torch.tanh(p["W_s1"] @ h.transpose(1, 2))
    A = masked_softmax(scores, keep)
    M = A @ h
    eye = torch.eye(s["r"], dtype=DT)
    penalty = (((A @ A.transpose(1, 2)) - eye) ** 2).sum((1, 2)).mean().reshape(1)
    c.finish({"out": M, "weights": A, "penalty": penalty})
    check_empty(c, keep, ["out.out", "out.weights"], ["grad.h"])


# ------------------------------------------------------------------ 9. key-value
def case_key_value(c):
    s, p = c.sizes(), c.params()
    k, v, x = c.input("keys"), c.input("values"), c.input("x")
    B, T, L = s["B"], s["T"], s["L"]
    pad = keep_scores(c.meta, (B,), 1, T)[:, 0]  # (B, T) keys kept
    t = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    window = (j < t) & (j >= t - L)  # k_{t-L} .. k_{t-1}
    keep = window[None] & pad[:, None, :]  # (B, T, T)
    # M_t = tanh(W_Y [k_{t-L} .. k_{t-1}] + (W_h k_t) 1^T), alpha_t = softmax(w^T M_t)
    M = torch.tanh((k @ p["W_Y"].T)[:, None, :, :] + (k @ p["W_h"].T)[:, :, None, :])
    alpha = masked_softmax(M @ p["w"], keep)
    r = alpha @ v  # r_t = [v_{t-L} .. v_{t-1}] alpha_t^T  (0 at step 0)
    out = torch.tanh(r @ p["W_r"].T + x @ p["W_x"].T)
    c.finish({"out": out, "weights": alpha})
    c.zero_where("out.weights", ~keep.numpy(), "outside the window and where masked")


CASES = {
    "additive": case_additive,
    "additive_step": case_additive,
    "decoder_step": case_decoder,
    "decoder_step_prev": case_decoder,
    "decoder_start": case_decoder,
    "luong_dot": case_luong,
    "luong_general": case_luong,
    "luong_concat": case_luong,
    "luong_location": case_luong,
    "luong_attentional": case_luong,
    "local_m": case_local,
    "local_p": case_local,
    "han": case_han,
    "feature": case_feature,
    "monotonic": case_monotonic,
    "monotonic_start": case_monotonic,
    "monotonic_hard": case_monotonic_hard,
    "forward_attention": case_forward_attention,
    "forward_attention_plain": case_forward_attention,
    "dot_attention": case_dot,
    "dot_attention_noweights": case_dot,
    "dot_attention_3d": case_dot,
    "dot_attention_long": case_dot,
    "bilinear": case_bilinear,
    "self_attention": case_self_attention,
    "structured": case_structured,
    "key_value": case_key_value,
}


def run_case(name, tools, workdir, seed):
    """Run the tool and the oracle for one case; returns (passed, failed) check counts."""
    path = os.path.join(workdir, name + ".safetensors")
    proc = dump_case(tools, TOOL, name, path, seed)
    if proc.returncode != 0:
        print("FAIL %s: %s exited with %d\n%s%s"
              % (name, TOOL, proc.returncode, proc.stdout, proc.stderr.rstrip()))
        return 0, 1
    try:
        f, meta = safetensors_io.read(path)
        if meta.get("case") != name:
            raise ValueError("the file says case '%s'" % meta.get("case"))
        case = Case(f, meta)
        CASES[name](case)
    except Exception as e:  # a missing tensor or key: one failure, with the reason
        print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
        return 0, 1
    atol, rtol = TOLERANCES[name]
    bad = [key for key in sorted(f) if not np.all(np.isfinite(f[key]))]
    case.check("every tensor finite", not bad, "NaN or inf in %s" % bad)
    passed, failed, worst = check_file(name, f, case.expected, case.extra, atol, rtol)
    status = "ok  " if not failed else "FAIL"
    print("%s %-24s %3d checks, largest error %.2g (atol %g, rtol %g)"
          % (status, name, passed + failed, worst, atol, rtol))
    for note in case.notes:
        print("     note: %s" % note)
    return passed, failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--tools", required=True, help="the build's tests/ folder")
    ap.add_argument("--case", action="append", help="run only these cases")
    ap.add_argument("--seed", type=int, help="seed passed to the tool")
    ap.add_argument("--keep", help="write the safetensors files here and keep them")
    args = ap.parse_args()
    return run_suite(args, TOOL, CASES, run_case, "attend-attn-parity-")


if __name__ == "__main__":
    sys.exit(main())
