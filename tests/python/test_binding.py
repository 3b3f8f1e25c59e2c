"""The Python binding (python/attend) against NumPy versions of the equations.

Each family is called through ctypes on random float32 arrays and compared
with an independent NumPy implementation of its equation (tolerance 1e-5,
the largest error printed on failure). Also checked: the weights sum to 1
over kept keys and are 0 on dropped ones, a fully masked row gives zeros
(not NaN), bad arrays raise the right Python exception before reaching C,
the library's own refusals arrive as AttendError with its message, the
library loader names every place it tried, and two threads calling at once
get what one thread gets.

Run by ctest (python_binding) with ATTEND_LIBRARY and PYTHONPATH set, or by
hand: ATTEND_LIBRARY=build/libattend.so PYTHONPATH=python \
      /usr/bin/python3 tests/python/test_binding.py
"""
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

import numpy as np

import attend

TOLERANCE = 1e-5


def assert_close(name, got, want, tolerance=TOLERANCE):
    """Fail with the largest error and the first mismatches."""
    if got.shape != want.shape:
        raise AssertionError(f"{name}: shape {got.shape}, expected {want.shape}")
    if not np.isfinite(got).all():
        raise AssertionError(f"{name}: non-finite values at {np.argwhere(~np.isfinite(got))[:5]}")
    if not np.isfinite(want).all():
        raise AssertionError(f"{name}: the reference itself is not finite")
    error = np.abs(got.astype(np.float64) - want)
    if error.max() > tolerance:
        bad = np.argwhere(error > tolerance)[:5]
        lines = [f"  at {tuple(i)}: got {got[tuple(i)]:.7g}, expected {want[tuple(i)]:.7g}"
                 for i in bad]
        raise AssertionError(f"{name}: largest error {error.max():.3g} > {tolerance}\n"
                             + "\n".join(lines))


# ------------------------------------------------------ the NumPy references
# Computed in float64 from the float32 inputs, written from the equations.

def masked_softmax(scores, keep):
    """softmax over the last axis of scores where keep is true; a row that
    keeps nothing is all zeros."""
    scores = np.where(keep, scores, -np.inf)
    top = np.max(scores, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.where(keep, np.exp(scores - top), 0.0)
    total = e.sum(axis=-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def reference_additive(q, k, v, W_a, U_a, b_a, v_a, keep):
    # e_tj = v_aᵀ tanh(W_a q_t + U_a k_j + b_a)
    hidden = np.tanh((q @ W_a.T.astype(np.float64))[:, :, None, :]
                     + (k @ U_a.T.astype(np.float64))[:, None, :, :] + b_a)
    weights = masked_softmax(hidden @ v_a.astype(np.float64), keep)
    return weights @ v, weights


def reference_dot(q, k, v, scale, keep):
    weights = masked_softmax(scale * (q.astype(np.float64) @ np.swapaxes(k, -1, -2)), keep)
    return weights @ v, weights


def reference_han(h, W, b, u_w, keep):
    u = np.tanh(h.astype(np.float64) @ W.T + b)              # (B, T, A)
    weights = masked_softmax(u @ u_w, keep)                   # (B, T)
    return np.einsum("bt,btd->bd", weights, h), weights


def reference_feature(h, W, b, keep, eps):
    u = np.tanh(h.astype(np.float64) @ W.T + b)              # (B, T, D)
    a = np.exp(u) * keep[:, :, None]
    total = a.sum(axis=1, keepdims=True) + eps                # 0 only if all masked, eps 0
    weights = np.divide(a, total, out=np.zeros_like(a), where=total > 0)
    return (weights * h).sum(axis=1), weights


def reference_multi_head(x, key, value, heads, w_in, b_in, w_out, b_out, keep):
    embed = x.shape[-1]
    size = embed // heads
    w_in, b_in = w_in.astype(np.float64), b_in.astype(np.float64)
    project = [a @ w_in[i * embed:(i + 1) * embed].T + b_in[i * embed:(i + 1) * embed]
               for i, a in enumerate((x, key, value))]

    def split(a):  # (B, T, E) -> (B, H, T, E/H)
        return a.reshape(a.shape[0], a.shape[1], heads, size).transpose(0, 2, 1, 3)
    Q, K, V = (split(a) for a in project)
    weights = masked_softmax(Q @ np.swapaxes(K, -1, -2) / np.sqrt(size), keep)
    heads_out = (weights @ V).transpose(0, 2, 1, 3).reshape(x.shape[0], x.shape[1], embed)
    return heads_out @ w_out.T + b_out, weights



def reference_luong_scores(q, k, score, W_a, v_a):
    """Luong's scores (B, Tq, Tk) of queries q (B, Tq, Dq) against keys k."""
    q, k = q.astype(np.float64), k.astype(np.float64)
    if score == "dot":                                        # h_tᵀ h̄_s
        return q @ np.swapaxes(k, 1, 2)
    if score == "general":                                    # h_tᵀ W_a h̄_s
        return q @ W_a @ np.swapaxes(k, 1, 2)
    if score == "concat":                                     # v_aᵀ tanh(W_a [h_t; h̄_s])
        dq = q.shape[-1]
        hidden = np.tanh((q @ W_a[:, :dq].T)[:, :, None, :] + (k @ W_a[:, dq:].T)[:, None, :, :])
        return hidden @ v_a
    return q @ W_a[:k.shape[1]].T                             # location: W_a h_t


def reference_local(q, k, v, kind, window, score, W_a, v_a, W_p, v_p, keep, lengths, first):
    """Local-m / local-p: (context, weights, positions) from the equations."""
    scores = reference_luong_scores(q, k, score, W_a, v_a)   # (B, Tq, Tk)
    batch, query_count, key_count = scores.shape
    s = np.arange(key_count)
    if kind == "m":
        positions = np.broadcast_to(first + np.arange(query_count, dtype=np.float64),
                                    (batch, query_count))
    else:                                                     # p_t = S σ(v_pᵀ tanh(W_p h_t))
        u = np.tanh(q.astype(np.float64) @ W_p.T) @ v_p
        positions = lengths[:, None] / (1.0 + np.exp(-u))
    inside = ((np.abs(s[None, None, :] - positions[:, :, None]) <= window)
              & (s[None, None, :] < lengths[:, None, None]) & keep)
    weights = masked_softmax(scores, inside)
    if kind == "p":                                           # · exp(−(s − p_t)² / (2σ²))
        sigma = window / 2.0
        weights = weights * np.exp(-(s[None, None, :] - positions[:, :, None]) ** 2
                                   / (2 * sigma ** 2))
    return weights @ v, weights, positions


def reference_monotonic_p(query, k, W_a, U_a, b_a, v_a, g, r, keep):
    """p_ij = σ(g v_aᵀ/‖v_a‖ tanh(W_a s + U_a h_j + b_a) + r), 0 where masked."""
    hidden = np.tanh((query.astype(np.float64) @ W_a.T)[:, None, :] + k @ U_a.T.astype(np.float64)
                     + b_a)
    energies = g[0] * (hidden @ (v_a / np.linalg.norm(v_a.astype(np.float64)))) + r[0]
    return np.where(keep, 1.0 / (1.0 + np.exp(-energies)), 0.0)


def reference_monotonic(p, values, alpha_prev):
    """q_ij = (1 − p_{i,j−1}) q_{i,j−1} + α_{i−1,j},  α_ij = p_ij q_ij."""
    alpha = np.zeros_like(p)
    reach = np.zeros(p.shape[0])
    for j in range(p.shape[1]):
        reach = alpha_prev[:, j] + (reach * (1.0 - p[:, j - 1]) if j > 0 else 0.0)
        alpha[:, j] = p[:, j] * reach
    return np.einsum("bj,bjd->bd", alpha, values), alpha


def reference_forward(y, values, alpha_prev, u, keep):
    """α̂'(n) = ((1 − u) α̂_{t−1}(n) + u α̂_{t−1}(n−1)) y(n), renormalised."""
    shifted = np.zeros_like(alpha_prev)
    shifted[:, 1:] = alpha_prev[:, :-1]
    stay, move = (1.0, 1.0) if u is None else (1.0 - u, u)
    raw = (stay * alpha_prev + move * shifted) * y * keep
    total = raw.sum(axis=1, keepdims=True)
    alpha = np.divide(raw, total, out=np.zeros_like(raw), where=total > 0)
    return np.einsum("bn,bnd->bd", alpha, values), alpha


def reference_self(x, W_Q, W_K, W_V, keep):
    x = x.astype(np.float64)
    Q, K, V = x @ W_Q.T, x @ W_K.T, x @ W_V.T
    weights = masked_softmax(Q @ np.swapaxes(K, 1, 2) / np.sqrt(W_Q.shape[0]), keep)
    return weights @ V, weights


def reference_structured(h, W_s1, W_s2, keep):
    """A = softmax_T(W_s2 tanh(W_s1 hᵀ)), M = A h; penalties ‖A Aᵀ − I‖²_F."""
    scores = np.swapaxes(np.tanh(h.astype(np.float64) @ W_s1.T) @ W_s2.T, 1, 2)  # (B, r, T)
    weights = masked_softmax(scores, keep)
    gram = weights @ np.swapaxes(weights, 1, 2) - np.eye(W_s2.shape[0])
    return weights @ h, weights, (gram ** 2).sum(axis=(1, 2))


def reference_key_value(k, v, x, W_Y, W_h, w, W_r, W_x, memory, keep):
    """α_t = softmax_j(wᵀ tanh(W_Y k_j + W_h k_t)) over j = t−L .. t−1."""
    k = k.astype(np.float64)
    memory_scores = np.tanh((k @ W_Y.T)[:, None, :, :] + (k @ W_h.T)[:, :, None, :]) @ w
    length = k.shape[1]
    t, j = np.arange(length)[:, None], np.arange(length)[None, :]
    window = (j < t) & (j >= t - memory)                     # (T, T)
    weights = masked_softmax(memory_scores, window & keep)
    read = weights @ v
    return np.tanh(read @ W_r.T + x @ W_x.T), weights, read

# ------------------------------------------------------------------- inputs

def arrays(rng, *shapes):
    return [rng.standard_normal(shape).astype(np.float32) for shape in shapes]


def padding_mask(rng, batch, length, empty_row=None):
    """(B, T) bool: a random keep-mask with at least one kept key per row,
    except row empty_row, which keeps nothing."""
    keep = rng.random((batch, length)) < 0.7
    keep[:, 0] = True
    if empty_row is not None:
        keep[empty_row] = False
    return keep


class Families(unittest.TestCase):
    def setUp(self):
        self.rng = np.random.default_rng(14)

    def check_weights(self, name, weights, keep):
        """Weights sum to 1 over kept keys (rows that keep any) and are 0 on
        dropped keys; rows that keep nothing are all zero."""
        self.assertTrue(np.isfinite(weights).all(), f"{name}: NaN or inf in weights")
        dropped = np.abs(np.where(keep, 0.0, weights)).max()
        self.assertEqual(dropped, 0.0, f"{name}: weight {dropped} on a dropped key")
        sums = weights.sum(axis=-1)
        expected = np.where(keep.any(axis=-1), 1.0, 0.0)
        assert_close(name + " row sums", sums, expected)

    def test_additive_matches_numpy(self):
        q, k, v = arrays(self.rng, (3, 4, 5), (3, 6, 7), (3, 6, 2))
        W_a, U_a, b_a, v_a = arrays(self.rng, (8, 5), (8, 7), (8,), (8,))
        keep = padding_mask(self.rng, 3, 6, empty_row=2)
        context, weights = attend.additive_attention(q, k, v, W_a, U_a, b_a, v_a, mask=keep)
        want_c, want_w = reference_additive(q, k, v, W_a, U_a, b_a, v_a, keep[:, None, :])
        assert_close("additive context", context, want_c)
        assert_close("additive weights", weights, want_w)
        self.check_weights("additive", weights, np.broadcast_to(keep[:, None, :], weights.shape))
        self.assertEqual(np.abs(context[2]).max(), 0.0, "a fully masked row has a context")

    def test_additive_decoder_step(self):
        q, k, v = arrays(self.rng, (2, 5), (2, 4, 3), (2, 4, 6))
        W_a, U_a, b_a, v_a = arrays(self.rng, (7, 5), (7, 3), (7,), (7,))
        context, weights = attend.additive_attention(q, k, v, W_a, U_a, b_a, v_a)
        want_c, want_w = reference_additive(q[:, None], k, v, W_a, U_a, b_a, v_a,
                                            np.ones((2, 1, 4), bool))
        assert_close("additive step context", context, want_c[:, 0])
        assert_close("additive step weights", weights, want_w[:, 0])

    def test_dot_and_scaled_dot_match_numpy(self):
        q, k, v = arrays(self.rng, (2, 5, 8), (2, 7, 8), (2, 7, 3))
        keep = padding_mask(self.rng, 2, 7)
        for scale, want_scale in ((0.0, 1 / np.sqrt(8)), (1.0, 1.0)):
            context, weights = attend.dot_attention(q, k, v, scale=scale, mask=keep)
            want_c, want_w = reference_dot(q, k, v, want_scale, keep[:, None, :])
            assert_close(f"dot scale {scale} context", context, want_c)
            assert_close(f"dot scale {scale} weights", weights, want_w)
            self.check_weights("dot", weights, np.broadcast_to(keep[:, None, :], weights.shape))

    def test_dot_heads_full_mask_and_causal(self):
        q, k, v = arrays(self.rng, (2, 3, 5, 4), (2, 3, 5, 4), (2, 3, 5, 6))
        full = self.rng.random((2, 3, 5, 5)) < 0.6
        full[1, 2, 3] = False                                  # one query sees nothing
        context, weights = attend.dot_attention(q, k, v, mask=full, causal=True)
        causal = np.tril(np.ones((5, 5), bool))
        want_c, want_w = reference_dot(q, k, v, 0.5, full & causal)
        assert_close("dot heads context", context, want_c)
        assert_close("dot heads weights", weights, want_w)
        self.check_weights("dot heads", weights, full & causal)
        self.assertEqual(np.abs(context[1, 2, 3]).max(), 0.0)

    def test_bilinear_matches_numpy(self):
        q, k, v = arrays(self.rng, (2, 3, 4), (2, 5, 6), (2, 5, 2))
        (W,) = arrays(self.rng, (4, 6))
        keep = padding_mask(self.rng, 2, 5)
        context, weights = attend.bilinear_attention(q, k, v, W, mask=keep)
        scores = q.astype(np.float64) @ W @ np.swapaxes(k, 1, 2)
        want_w = masked_softmax(scores, keep[:, None, :])
        assert_close("bilinear weights", weights, want_w)
        assert_close("bilinear context", context, want_w @ v)

    def test_han_matches_numpy(self):
        h, W, b, u_w = arrays(self.rng, (3, 6, 5), (4, 5), (4,), (4,))
        keep = padding_mask(self.rng, 3, 6, empty_row=1)
        out, weights = attend.han_attention(h, W, b, u_w, mask=keep)
        want_out, want_w = reference_han(h, W, b, u_w, keep)
        assert_close("han out", out, want_out)
        assert_close("han weights", weights, want_w)
        self.check_weights("han", weights, keep)
        self.assertEqual(np.abs(out[1]).max(), 0.0, "a fully masked sequence has an output")
        out, weights = attend.han_attention(h, W, b, u_w)
        assert_close("han unmasked out", out, reference_han(h, W, b, u_w, np.ones((3, 6), bool))[0])

    def test_feature_attention_matches_numpy(self):
        h, W, b = arrays(self.rng, (2, 5, 4), (4, 4), (4,))
        keep = padding_mask(self.rng, 2, 5, empty_row=0)
        for eps in (1e-7, 0.0):
            out, weights = attend.feature_attention(h, W, b, mask=keep, eps=eps)
            want_out, want_w = reference_feature(h, W, b, keep, eps)
            assert_close(f"feature eps {eps} out", out, want_out)
            assert_close(f"feature eps {eps} weights", weights, want_w)
            self.assertEqual(np.abs(weights[0]).max(), 0.0)

    def test_multi_head_matches_numpy(self):
        x, key, value = arrays(self.rng, (2, 4, 6), (2, 5, 6), (2, 5, 6))
        w_in, b_in, w_out, b_out = arrays(self.rng, (18, 6), (18,), (6, 6), (6,))
        keep = padding_mask(self.rng, 2, 5, empty_row=1)
        out, weights = attend.multi_head(x, key, value, 2, w_in, b_in, w_out, b_out, mask=keep)
        want_out, want_w = reference_multi_head(x, key, value, 2, w_in, b_in, w_out, b_out,
                                                keep[:, None, None, :])
        assert_close("multi_head out", out, want_out)
        assert_close("multi_head weights", weights, want_w)
        self.assertEqual(weights.shape, (2, 2, 4, 5))
        self.check_weights("multi_head", weights,
                           np.broadcast_to(keep[:, None, None, :], weights.shape))

    def test_luong_global_scores_match_numpy(self):
        q, k, v = arrays(self.rng, (3, 4, 5), (3, 6, 5), (3, 6, 2))
        keep = padding_mask(self.rng, 3, 6, empty_row=1)
        parameters = {"dot": {}, "general": dict(zip(("W_a",), arrays(self.rng, (5, 5)))),
                      "concat": dict(zip(("W_a", "v_a"), arrays(self.rng, (7, 10), (7,)))),
                      "location": dict(zip(("W_a",), arrays(self.rng, (9, 5))))}
        for score, given in parameters.items():
            context, weights = attend.luong_attention(q, k, v, score, mask=keep, **given)
            want_w = masked_softmax(reference_luong_scores(q, k, score, given.get("W_a"),
                                                           given.get("v_a")), keep[:, None, :])
            assert_close(f"luong {score} weights", weights, want_w)
            assert_close(f"luong {score} context", context, want_w @ v)
            self.check_weights(f"luong {score}", weights,
                               np.broadcast_to(keep[:, None, :], weights.shape))
            self.assertEqual(np.abs(context[1]).max(), 0.0, "a fully masked row has a context")

    def test_luong_step_and_attentional_layer(self):
        q, k, v = arrays(self.rng, (2, 4), (2, 5, 3), (2, 5, 6))
        W_a, W_c = arrays(self.rng, (4, 3), (7, 10))
        context, weights = attend.luong_attention(q, k, v, "general", W_a=W_a)
        want_w = masked_softmax(reference_luong_scores(q[:, None], k, "general", W_a, None),
                                np.ones((2, 1, 5), bool))[:, 0]
        assert_close("luong step weights", weights, want_w)
        h_tilde = attend.luong_attentional(context, q, W_c)       # tanh(W_c [c_t; h_t])
        want_c = np.einsum("bs,bsd->bd", want_w, v)
        assert_close("luong step context", context, want_c)
        want_h = np.tanh(np.concatenate([want_c, q], axis=1) @ W_c.T)
        assert_close("luong attentional", h_tilde, want_h)

    def test_luong_local_m_and_p_match_numpy(self):
        q, k, v = arrays(self.rng, (3, 4, 5), (3, 9, 5), (3, 9, 2))
        W_a, W_p, v_p = arrays(self.rng, (5, 5), (6, 5), (6,))
        keep = np.arange(9)[None, :] < np.array([9, 6, 4])[:, None]   # padding at the end
        lengths = keep.sum(axis=1)
        for kind, extra, first in (("m", {}, 2), ("p", {"W_p": W_p, "v_p": v_p}, 0)):
            context, weights, positions = attend.luong_local_attention(
                q, k, v, kind, 2, "general", W_a=W_a, mask=keep, first_step=first,
                return_positions=True, **extra)
            want_c, want_w, want_p = reference_local(q, k, v, kind, 2, "general", W_a, None,
                                                     W_p, v_p, keep[:, None, :], lengths, first)
            assert_close(f"local-{kind} positions", positions, want_p)
            assert_close(f"local-{kind} weights", weights, want_w)
            assert_close(f"local-{kind} context", context, want_c)
            self.assertEqual(np.abs(np.where(keep[:, None, :], 0.0, weights)).max(), 0.0)
            # the same source lengths given as lengths instead of a mask
            again = attend.luong_local_attention(q, k, v, kind, 2, "general", W_a=W_a,
                                                 lengths=lengths, first_step=first, **extra)
            np.testing.assert_array_equal(again[1], weights)
        # local-m is the window's softmax: it sums to 1 where it holds a key
        _, weights = attend.luong_local_attention(q, k, v, "m", 1, mask=keep, first_step=5)
        self.assertEqual(np.abs(weights[2, 3]).max(), 0.0, "a window past the source has weights")
        assert_close("local-m sums", weights[0].sum(axis=-1), np.ones(4))

    def test_monotonic_soft_and_hard_match_numpy(self):
        query, k, v = arrays(self.rng, (3, 4), (3, 7, 5), (3, 7, 2))
        W_a, U_a, b_a, v_a = arrays(self.rng, (6, 4), (6, 5), (6,), (6,))
        g, r = np.array([2.5], np.float32), np.array([0.3], np.float32)
        keep = padding_mask(self.rng, 3, 7, empty_row=2)
        alpha_prev = self.rng.random((3, 7)).astype(np.float32)
        alpha_prev /= alpha_prev.sum(axis=1, keepdims=True)
        p = reference_monotonic_p(query, k, W_a, U_a, b_a, v_a, g, r, keep)
        for previous, want_previous in ((None, np.eye(7)[[0, 0, 0]]), (alpha_prev, alpha_prev)):
            context, alpha = attend.monotonic_attention(query, k, v, W_a, U_a, b_a, v_a, g, r,
                                                        alpha_prev=previous, mask=keep)
            want_c, want_a = reference_monotonic(p, v, want_previous.astype(np.float64))
            assert_close("monotonic alpha", alpha, want_a)
            assert_close("monotonic context", context, want_c)
            self.assertTrue((alpha.sum(axis=1) <= 1 + 1e-6).all(), "Σ_j α_ij > 1")
            self.assertEqual(np.abs(np.where(keep, 0.0, alpha)).max(), 0.0)
            self.assertEqual(np.abs(context[2]).max(), 0.0, "a fully masked row has a context")
        start = np.array([0, 3, 1], np.int64)
        context, weights, moved = attend.monotonic_attention_hard(query, k, v, W_a, U_a, b_a, v_a,
                                                                  g, r, start, mask=keep)
        np.testing.assert_array_equal(start, [0, 3, 1])           # the caller's array is kept
        for b in range(3):
            stops = [j for j in range(start[b], 7) if keep[b, j] and p[b, j] >= 0.5]
            want = np.zeros(7)
            if stops:
                want[stops[0]] = 1.0
            np.testing.assert_array_equal(weights[b], want, f"hard row {b}")
            self.assertEqual(moved[b], stops[0] if stops else start[b])
            assert_close(f"hard context {b}", context[b], want @ v[b])

    def test_forward_attention_matches_numpy(self):
        (values,) = arrays(self.rng, (3, 6, 4))
        y = self.rng.random((3, 6)).astype(np.float32)
        alpha_prev = self.rng.random((3, 6)).astype(np.float32)
        transition = self.rng.random((3, 1)).astype(np.float32)
        keep = padding_mask(self.rng, 3, 6, empty_row=1)
        delta = np.eye(6)[[0, 0, 0]]
        for previous, u in ((None, None), (alpha_prev, None), (alpha_prev, transition)):
            context, alpha = attend.forward_attention(y, values, alpha_prev=previous,
                                                      transition=u, mask=keep)
            want_c, want_a = reference_forward(y.astype(np.float64), values,
                                               delta if previous is None else previous, u, keep)
            assert_close("forward alpha", alpha, want_a)
            assert_close("forward context", context, want_c)
            self.assertEqual(np.abs(context[1]).max(), 0.0, "a fully masked row has a context")

    def test_self_attention_matches_numpy(self):
        x, W_Q, W_K, W_V = arrays(self.rng, (2, 6, 5), (4, 5), (4, 5), (3, 5))
        keep = padding_mask(self.rng, 2, 6)
        full = self.rng.random((2, 6, 6)) < 0.6
        full[1, 4] = False                                        # one query sees nothing
        causal = np.tril(np.ones((6, 6), bool))
        for mask, is_causal, want_keep in ((keep, False, keep[:, None, :]),
                                           (keep, True, keep[:, None, :] & causal),
                                           (full, False, full)):
            out, weights = attend.self_attention(x, W_Q, W_K, W_V, mask=mask, causal=is_causal)
            want_out, want_w = reference_self(x, W_Q, W_K, W_V, want_keep)
            assert_close("self weights", weights, want_w)
            assert_close("self out", out, want_out)
            self.check_weights("self", weights, np.broadcast_to(want_keep, weights.shape))
        self.assertEqual(np.abs(out[1, 4]).max(), 0.0)

    def test_structured_attention_and_penalty_match_numpy(self):
        h, W_s1, W_s2 = arrays(self.rng, (3, 7, 5), (4, 5), (2, 4))
        keep = padding_mask(self.rng, 3, 7, empty_row=2)
        out, weights = attend.structured_attention(h, W_s1, W_s2, mask=keep)
        want_out, want_w, want_rows = reference_structured(h, W_s1, W_s2, keep[:, None, :])
        assert_close("structured weights", weights, want_w)
        assert_close("structured M", out, want_out)
        self.check_weights("structured", weights, np.broadcast_to(keep[:, None, :], weights.shape))
        self.assertEqual(np.abs(out[2]).max(), 0.0)
        rows = attend.structured_penalty(weights, per_row=True)
        assert_close("penalty rows", rows, want_rows)
        self.assertAlmostEqual(attend.structured_penalty(weights), want_rows.mean(), places=5)
        hops = self.rng.random((3, 2, 7)) < 0.6                   # one mask row per hop
        hops[:, :, 0] = True
        out, weights = attend.structured_attention(h, W_s1, W_s2, mask=hops)
        assert_close("structured hop mask", weights, reference_structured(h, W_s1, W_s2, hops)[1])

    def test_key_value_matches_numpy(self):
        k, v, x = arrays(self.rng, (2, 7, 4), (2, 7, 3), (2, 7, 5))
        W_Y, W_h, w, W_r, W_x = arrays(self.rng, (6, 4), (6, 4), (6,), (8, 3), (8, 5))
        keep = padding_mask(self.rng, 2, 7)
        keep[1, :3] = False                                       # steps 1..3 of row 1 see nothing
        out, weights, read = attend.key_value_attention(k, v, x, W_Y, W_h, w, W_r, W_x, 3,
                                                        mask=keep, return_read=True)
        want_out, want_w, want_r = reference_key_value(k, v, x, W_Y, W_h, w, W_r, W_x, 3,
                                                       keep[:, None, :])
        assert_close("key-value weights", weights, want_w)
        assert_close("key-value read", read, want_r)
        assert_close("key-value out", out, want_out)
        self.assertEqual(np.abs(weights[:, 0]).max(), 0.0, "step 0 sees something")
        self.assertEqual(np.abs(read[1, 1:4]).max(), 0.0, "an empty window reads something")
        t, j = np.indices((7, 7))
        self.check_weights("key-value", weights[:, 1:], (keep[:, None, :] & (j < t)
                                                         & (j >= t - 3))[:, 1:])


class BadInput(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(1)
        self.q, self.k, self.v = arrays(rng, (2, 3, 4), (2, 5, 4), (2, 5, 4))
        self.h, self.W, self.b, self.u_w = arrays(rng, (2, 5, 4), (3, 4), (3,), (3,))

    def test_float64_is_a_type_error(self):
        with self.assertRaisesRegex(TypeError, r"q must have dtype float32, not float64"):
            attend.dot_attention(self.q.astype(np.float64), self.k, self.v)
        with self.assertRaisesRegex(TypeError, r"u_w must have dtype float32"):
            attend.han_attention(self.h, self.W, self.b, self.u_w.astype(np.float64))

    def test_wrong_shape_is_a_value_error(self):
        with self.assertRaisesRegex(ValueError, r"v must have shape \(2, 5, 4\), not \(2, 4, 4\)"):
            attend.dot_attention(self.q, self.k, self.v[:, :4].copy())
        with self.assertRaisesRegex(ValueError, r"W must have shape \(3, 4\), not \(3, 5\)"):
            attend.han_attention(self.h, np.zeros((3, 5), np.float32), self.b, self.u_w)
        with self.assertRaisesRegex(ValueError, r"h must have 3 dimensions, not 2"):
            attend.han_attention(self.h[0].copy(), self.W, self.b, self.u_w)

    def test_nan_is_a_value_error(self):
        h = self.h.copy()
        h[1, 2, 3] = np.nan
        with self.assertRaisesRegex(ValueError, r"h has a non-finite value nan at index \(1, 2, 3\)"):
            attend.han_attention(h, self.W, self.b, self.u_w)
        k = self.k.copy()
        k[0, 0, 0] = np.inf
        with self.assertRaisesRegex(ValueError, r"k has a non-finite value inf"):
            attend.dot_attention(self.q, k, self.v)

    def test_transposed_array_is_refused(self):
        k = np.ascontiguousarray(self.k.transpose(0, 2, 1)).transpose(0, 2, 1)
        np.testing.assert_array_equal(k, self.k)
        with self.assertRaisesRegex(ValueError, r"k is not C-contiguous"):
            attend.dot_attention(self.q, k, self.v)

    def test_wrong_mask_is_refused(self):
        with self.assertRaisesRegex(ValueError, r"mask must have shape \(2, 5\) or \(2, 3, 5\)"):
            attend.dot_attention(self.q, self.k, self.v, mask=np.ones((2, 4), bool))
        with self.assertRaisesRegex(ValueError, r"mask must have shape \(2, 5\), not \(5, 2\)"):
            attend.han_attention(self.h, self.W, self.b, self.u_w, mask=np.ones((5, 2), bool))
        with self.assertRaisesRegex(TypeError, r"mask must have dtype bool or uint8"):
            attend.dot_attention(self.q, self.k, self.v, mask=np.ones((2, 5), np.float32))

    def test_library_refusal_carries_its_message(self):
        x = np.zeros((1, 2, 6), np.float32)
        w_in, b_in, w_out, b_out = (np.zeros(s, np.float32) for s in ((18, 6), (18,), (6, 6), (6,)))
        with self.assertRaises(attend.AttendError) as caught:
            attend.multi_head(x, x, x, 4, w_in, b_in, w_out, b_out)        # 4 does not divide 6
        self.assertTrue(caught.exception.message, "AttendError without the library's message")
        self.assertIn("6", caught.exception.message)
        with self.assertRaises(attend.AttendError) as caught:
            attend.feature_attention(self.h, np.zeros((4, 4), np.float32),
                                     np.zeros(4, np.float32), eps=-1.0)
        self.assertEqual(caught.exception.status, "bad argument")
        self.assertIn("eps", caught.exception.message)


def new_family_calls(rng):
    """(name, function, float32 arrays by keyword, other keywords) for each
    family bound after the first six: good inputs that the bad-input tests
    spoil one array at a time."""
    q, k, v = arrays(rng, (2, 3, 4), (2, 5, 4), (2, 5, 3))
    step = q[:, 0].copy()
    W4, U_a, b6, v6, g, r = arrays(rng, (6, 4), (6, 4), (6,), (6,), (1,), (1,))
    y = rng.random((2, 5)).astype(np.float32)
    return [
        ("luong general", attend.luong_attention, dict(queries=q, keys=k, values=v, W_a=W4[:4].copy()),
         dict(score="general")),
        ("luong concat", attend.luong_attention,
         dict(queries=q, keys=k, values=v, W_a=arrays(rng, (6, 8))[0], v_a=v6), dict(score="concat")),
        ("luong attentional", attend.luong_attentional,
         dict(context=arrays(rng, (2, 3, 3))[0], queries=q, W_c=arrays(rng, (5, 7))[0]), {}),
        ("local-p", attend.luong_local_attention,
         dict(queries=q, keys=k, values=v, W_p=W4, v_p=v6), dict(kind="p", window=2)),
        ("monotonic", attend.monotonic_attention,
         dict(query=step, keys=k, values=v, W_a=W4, U_a=U_a, b_a=b6, v_a=v6, g=g, r=r,
              alpha_prev=y), {}),
        ("monotonic hard", attend.monotonic_attention_hard,
         dict(query=step, keys=k, values=v, W_a=W4, U_a=U_a, b_a=b6, v_a=v6, g=g, r=r),
         dict(positions=np.zeros(2, np.int32))),
        ("forward", attend.forward_attention,
         dict(y=y, values=v, alpha_prev=y, transition=np.full((2, 1), 0.5, np.float32)), {}),
        ("self", attend.self_attention, dict(x=k, W_Q=W4, W_K=U_a, W_V=W4[:3].copy()), {}),
        ("structured", attend.structured_attention,
         dict(h=k, W_s1=W4, W_s2=arrays(rng, (2, 6))[0]), {}),
        ("structured penalty", attend.structured_penalty, dict(weights=y[:, None, :].copy()), {}),
        ("key-value", attend.key_value_attention,
         dict(keys=k, values=v, x=k, W_Y=W4, W_h=U_a, w=v6, W_r=arrays(rng, (7, 3))[0],
              W_x=arrays(rng, (7, 4))[0]), dict(memory=2)),
    ]


class BadInputNewFamilies(unittest.TestCase):
    """Every array argument of every new family, spoilt one at a time:
    float64, one dimension too many, a NaN, a non-contiguous view."""

    def setUp(self):
        self.calls = new_family_calls(np.random.default_rng(3))

    def spoil_each(self, spoil, exception, message):
        for family, function, good, other in self.calls:
            function(**good, **other)                              # the good call works
            for name in good:
                spoilt = spoil(good[name])
                if spoilt is None:                                 # cannot be spoilt that way
                    continue
                bad = dict(good, **{name: spoilt})
                with self.subTest(family=family, argument=name):
                    with self.assertRaisesRegex(exception, message.format(name=name)):
                        function(**bad, **other)

    def test_float64(self):
        self.spoil_each(lambda x: x.astype(np.float64), TypeError,
                        r"^{name} must have dtype float32, not float64")

    def test_extra_dimension(self):
        self.spoil_each(lambda x: x[None], ValueError, r"^{name} must have ")

    def test_nan(self):
        def with_nan(x):
            x = x.copy()
            x.flat[x.size - 1] = np.nan
            return x
        self.spoil_each(with_nan, ValueError, r"^{name} has a non-finite value nan")

    def test_non_contiguous(self):
        def strided(x):
            if x.shape[-1] == 1:                                   # one float is contiguous
                return None
            view = np.repeat(x, 2, axis=-1)[..., ::2]
            np.testing.assert_array_equal(view, x)
            return view
        self.spoil_each(strided, ValueError, r"^{name} is not C-contiguous")

    def test_shapes_that_disagree(self):
        q, k, v = arrays(np.random.default_rng(4), (2, 3, 4), (2, 5, 4), (2, 5, 3))
        with self.assertRaisesRegex(ValueError, r"W_a must have shape \(4, 4\), not \(4, 3\)"):
            attend.luong_attention(q, k, v, "general", W_a=np.zeros((4, 3), np.float32))
        with self.assertRaisesRegex(ValueError, r"the general score needs W_a"):
            attend.luong_attention(q, k, v, "general")
        with self.assertRaisesRegex(ValueError, r"the dot score has no W_a"):
            attend.luong_attention(q, k, v, W_a=np.zeros((4, 4), np.float32))
        with self.assertRaisesRegex(ValueError, r"score must be one of dot, general"):
            attend.luong_attention(q, k, v, "cosine")
        with self.assertRaisesRegex(ValueError, r"local-p needs W_p"):
            attend.luong_local_attention(q, k, v, "p", 2)
        with self.assertRaisesRegex(ValueError, r"kind must be 'm'"):
            attend.luong_local_attention(q, k, v, "x", 2)
        with self.assertRaisesRegex(ValueError, r"lengths must have shape \(2,\), not \(3,\)"):
            attend.luong_local_attention(q, k, v, "m", 2, lengths=np.ones(3, np.int32))
        with self.assertRaisesRegex(TypeError, r"lengths must have an integer dtype"):
            attend.luong_local_attention(q, k, v, "m", 2, lengths=np.ones(2, np.float32))
        with self.assertRaisesRegex(ValueError, r"mask must have shape \(2, 5\) or \(2, 5, 5\)"):
            attend.self_attention(k, *(np.zeros((4, 4), np.float32),) * 3,
                                  mask=np.ones((2, 4), bool))
        with self.assertRaisesRegex(ValueError, r"alpha_prev must have shape \(2, 5\)"):
            attend.forward_attention(np.ones((2, 5), np.float32), v,
                                     alpha_prev=np.ones((2, 4), np.float32))

    def test_library_refusals_carry_its_message(self):
        q, k, v = arrays(np.random.default_rng(5), (2, 3, 4), (2, 5, 4), (2, 5, 3))
        cases = [
            (lambda: attend.forward_attention(-np.ones((2, 5), np.float32), v), ">= 0"),
            (lambda: attend.forward_attention(np.ones((2, 5), np.float32), v,
                                              transition=np.full((2, 1), 1.5, np.float32)),
             "transition"),
            (lambda: attend.luong_attention(q, k, v, "location",
                                            W_a=np.zeros((4, 4), np.float32)), "location w_a covers only 4"),
            (lambda: attend.luong_attention(q, k[..., :3].copy(), v), "dot"),
            (lambda: attend.luong_local_attention(q, k, v, "m", 1, mask=np.ones((2, 5), bool),
                                                  lengths=np.array([5, 4])), "length"),
            (lambda: attend.luong_local_attention(q, k, v, "p", 0, W_p=np.ones((2, 4), np.float32),
                                                  v_p=np.ones(2, np.float32)), "window"),
            (lambda: attend.key_value_attention(k, v, k, *(np.ones(s, np.float32) for s in
                                                           ((3, 4), (3, 4), (3,), (2, 3), (2, 4))),
                                                0), "memory"),
        ]
        for call, word in cases:
            with self.subTest(word=word):
                with self.assertRaises(attend.AttendError) as caught:
                    call()
                self.assertIn(word, caught.exception.message.lower())


class Loading(unittest.TestCase):
    def test_missing_library_names_every_place_tried(self):
        """A copy of the package with no build/ beside it, ATTEND_LIBRARY
        pointing nowhere and pkg-config knowing nothing: ImportError."""
        package = pathlib.Path(attend.__file__).parent
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(package, pathlib.Path(tmp) / "python" / "attend")
            env = dict(os.environ, ATTEND_LIBRARY="/nonexistent/libattend.so",
                       PKG_CONFIG_LIBDIR="/nonexistent", PKG_CONFIG_PATH="",
                       PYTHONPATH=str(pathlib.Path(tmp) / "python"))
            done = subprocess.run([sys.executable, "-c", "import attend"], env=env,
                                  capture_output=True, text=True, cwd=tmp)
        self.assertNotEqual(done.returncode, 0)
        for expected in ("ImportError", "ATTEND_LIBRARY: /nonexistent/libattend.so",
                         "pkg-config", "build directory"):
            self.assertIn(expected, done.stderr)

    def test_attend_library_is_the_one_loaded(self):
        wanted = os.environ.get("ATTEND_LIBRARY")
        if not wanted:
            self.fail("ATTEND_LIBRARY is not set: run this test through ctest")
        self.assertEqual(attend._lib.lib._name, wanted)


class Threads(unittest.TestCase):
    def test_two_threads_get_what_one_gets(self):
        rng = np.random.default_rng(7)
        q, k, v = arrays(rng, (4, 32, 16), (4, 48, 16), (4, 48, 16))
        h, W, b, u_w = arrays(rng, (4, 40, 16), (8, 16), (8,), (8,))
        keep = padding_mask(rng, 4, 48)
        alone_dot = attend.dot_attention(q, k, v, mask=keep)
        alone_han = attend.han_attention(h, W, b, u_w)
        results, errors = {0: [], 1: []}, []

        def work(index):
            try:
                for _ in range(50):
                    if index == 0:
                        results[0].append(attend.dot_attention(q, k, v, mask=keep))
                    else:
                        results[1].append(attend.han_attention(h, W, b, u_w))
            except Exception as error:  # reported below, not lost in the thread
                errors.append(error)
        threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        for alone, runs in ((alone_dot, results[0]), (alone_han, results[1])):
            self.assertEqual(len(runs), 50)
            for context, weights in runs:
                np.testing.assert_array_equal(context, alone[0])
                np.testing.assert_array_equal(weights, alone[1])


if __name__ == "__main__":
    unittest.main(verbosity=2)
