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
