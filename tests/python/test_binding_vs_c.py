"""Every attention family called through the Python binding gives the same
bits as the C library called directly (issue 14).

The test writes fixed inputs (seeded) for every case to a safetensors
file, runs tests/python/families_dump.c on it (each family through the C
API, linked to the same libattend.so the binding loads), and calls the
binding on the same arrays. Each output must be bit-identical: both sides
run the same code on the same float32 numbers in one thread, so any
difference is a marshalling bug (an argument in the wrong place, a struct
field out of line, a mask read with the wrong rows), which a comparison
within a tolerance against NumPy might let through.

Run by ctest (python_binding_vs_c), or by hand:
  ATTEND_LIBRARY=build/libattend.so PYTHONPATH=python \\
      /usr/bin/python3 tests/python/test_binding_vs_c.py build/tests/families_dump
"""
import pathlib
import subprocess
import sys
import tempfile
import unittest

import numpy as np

import attend

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "parity"))
import safetensors_io  # noqa: E402  (tests/parity: the project's reader and writer)

DUMP = None  # the families_dump program, from the command line


def assert_same_bits(name, got, want):
    """Fail with the first differing elements and the largest difference."""
    if got.shape != want.shape:
        raise AssertionError(f"{name}: binding shape {got.shape}, C shape {want.shape}")
    got, want = np.ascontiguousarray(got, np.float32), np.ascontiguousarray(want, np.float32)
    differ = got.view(np.uint32) != want.view(np.uint32)
    if differ.any():
        where = np.argwhere(differ)
        lines = [f"  at {tuple(i)}: binding {got[tuple(i)]!r}, C {want[tuple(i)]!r}"
                 for i in where[:5]]
        largest = np.abs(got.astype(np.float64) - want).max()
        raise AssertionError(f"{name}: {len(where)} of {got.size} values differ, the largest "
                             f"by {largest:.3g}\n" + "\n".join(lines))


class Case:
    """One family call: its arrays (float32 inputs and parameters, a bool
    mask, int32 lengths or positions), its integer settings for the C side
    and, for the binding, call(arrays) -> the outputs in the order of
    `outputs`."""

    def __init__(self, name, call, outputs, settings=None, **arrays):
        self.name, self.call, self.outputs = name, call, outputs
        self.settings, self.arrays = settings or {}, arrays

    def file_tensors(self):
        """CASE.NAME -> array, as families_dump reads them (mask as U8)."""
        def stored(x):
            return x.astype(np.uint8) if x.dtype == np.bool_ else x
        return {f"{self.name}.{key}": stored(x) for key, x in self.arrays.items()}


def make_cases(rng):
    def f32(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    def keep(*shape, empty=None):
        mask = rng.random(shape) < 0.7
        mask[..., 0] = True
        if empty is not None:
            mask[empty] = False
        return mask

    prefix = np.arange(9)[None, :] < np.array([9, 6, 4])[:, None]   # padding at the end
    hard_g = np.array([3.0], np.float32)
    positive = rng.random((3, 6)).astype(np.float32)
    alpha_prev = positive / positive.sum(axis=1, keepdims=True)
    A = attend
    return [
        Case("additive", lambda a: A.additive_attention(**a), ("context", "weights"),
             queries=f32(3, 4, 5), keys=f32(3, 6, 7), values=f32(3, 6, 2), W_a=f32(8, 5),
             U_a=f32(8, 7), b_a=f32(8), v_a=f32(8), mask=keep(3, 6, empty=2)),
        Case("dot", lambda a: A.dot_attention(a["q"], a["k"], a["v"], 0.0, a["mask"]),
             ("context", "weights"), {"causal": 0},
             q=f32(2, 5, 8), k=f32(2, 7, 8), v=f32(2, 7, 3), scale=np.zeros(1, np.float32),
             mask=keep(2, 7)),
        Case("dot_heads", lambda a: A.dot_attention(a["q"], a["k"], a["v"], 1.0, a["mask"], True),
             ("context", "weights"), {"causal": 1},
             q=f32(2, 3, 5, 4), k=f32(2, 3, 5, 4), v=f32(2, 3, 5, 6),
             scale=np.ones(1, np.float32), mask=keep(2, 3, 5, 5, empty=(1, 2, 3))),
        Case("bilinear", lambda a: A.bilinear_attention(**a), ("context", "weights"),
             queries=f32(2, 3, 4), keys=f32(2, 5, 6), values=f32(2, 5, 2), W=f32(4, 6),
             mask=keep(2, 3, 5)),
        Case("han", lambda a: A.han_attention(**a), ("out", "weights"),
             h=f32(3, 6, 5), W=f32(4, 5), b=f32(4), u_w=f32(4), mask=keep(3, 6, empty=1)),
        Case("feature", lambda a: A.feature_attention(a["h"], a["W"], a["b"], a["mask"], 1e-7),
             ("out", "weights"), h=f32(2, 5, 4), W=f32(4, 4), b=f32(4),
             eps=np.array([1e-7], np.float32), mask=keep(2, 5, empty=0)),
        Case("multi_head", lambda a: A.multi_head(a["query"], a["key"], a["value"], 2,
                                                  a["in_proj_weight"], a["in_proj_bias"],
                                                  a["out_proj_weight"], a["out_proj_bias"],
                                                  a["mask"]),
             ("out", "weights"), {"heads": 2, "causal": 0},
             query=f32(2, 4, 6), key=f32(2, 5, 6), value=f32(2, 5, 6), in_proj_weight=f32(18, 6),
             in_proj_bias=f32(18), out_proj_weight=f32(6, 6), out_proj_bias=f32(6),
             mask=keep(2, 5, empty=1)),
        Case("luong_dot", lambda a: A.luong_attention(**a), ("context", "weights"),
             {"score": 0}, queries=f32(3, 4, 5), keys=f32(3, 6, 5), values=f32(3, 6, 2),
             mask=keep(3, 6, empty=1)),
        Case("luong_general", lambda a: A.luong_attention(score="general", **a),
             ("context", "weights"), {"score": 1}, queries=f32(2, 5), keys=f32(2, 6, 3),
             values=f32(2, 6, 4), W_a=f32(5, 3), mask=keep(2, 6)),
        Case("luong_concat", lambda a: A.luong_attention(score="concat", **a),
             ("context", "weights"), {"score": 2}, queries=f32(2, 3, 4), keys=f32(2, 6, 5),
             values=f32(2, 6, 3), W_a=f32(7, 9), v_a=f32(7), mask=keep(2, 3, 6)),
        Case("luong_location", lambda a: A.luong_attention(score="location", **a),
             ("context", "weights"), {"score": 3}, queries=f32(2, 3, 4), keys=f32(2, 5, 4),
             values=f32(2, 5, 3), W_a=f32(8, 4), mask=keep(2, 5)),
        Case("luong_attentional", lambda a: (A.luong_attentional(**a),), ("h_tilde",),
             context=f32(2, 3, 4), queries=f32(2, 3, 5), W_c=f32(6, 9)),
        Case("local_m", lambda a: A.luong_local_attention(
                 a["queries"], a["keys"], a["values"], "m", 2, "general", W_a=a["W_a"],
                 mask=a["mask"], first_step=1, return_positions=True),
             ("context", "weights", "positions"), {"kind": 0, "window": 2, "first_step": 1},
             queries=f32(3, 4, 5), keys=f32(3, 9, 6), values=f32(3, 9, 2), W_a=f32(5, 6),
             mask=prefix),
        Case("local_p", lambda a: A.luong_local_attention(
                 a["queries"], a["keys"], a["values"], "p", 2, "general", W_a=a["W_a"],
                 W_p=a["W_p"], v_p=a["v_p"], lengths=a["lengths"], return_positions=True),
             ("context", "weights", "positions"), {"kind": 1, "window": 2, "first_step": 0},
             queries=f32(3, 4, 5), keys=f32(3, 9, 6), values=f32(3, 9, 2), W_a=f32(5, 6),
             W_p=f32(7, 5), v_p=f32(7), lengths=np.array([9, 6, 4], np.int32)),
        Case("monotonic", lambda a: A.monotonic_attention(**a), ("context", "alpha"),
             query=f32(3, 4), keys=f32(3, 6, 5), values=f32(3, 6, 2), W_a=f32(6, 4),
             U_a=f32(6, 5), b_a=f32(6), v_a=f32(6), g=np.array([2.0], np.float32),
             r=np.array([0.5], np.float32), alpha_prev=alpha_prev, mask=keep(3, 6, empty=2)),
        Case("monotonic_hard", lambda a: A.monotonic_attention_hard(**a),
             ("context", "weights", "positions"),
             query=f32(3, 4), keys=f32(3, 6, 5), values=f32(3, 6, 2), W_a=f32(6, 4),
             U_a=f32(6, 5), b_a=f32(6), v_a=f32(6), g=hard_g, r=np.zeros(1, np.float32),
             positions=np.array([0, 2, 5], np.int32), mask=keep(3, 6)),
        Case("forward", lambda a: A.forward_attention(**a), ("context", "alpha"),
             y=positive, values=f32(3, 6, 4), alpha_prev=alpha_prev,
             transition=rng.random((3, 1)).astype(np.float32), mask=keep(3, 6, empty=1)),
        Case("self", lambda a: A.self_attention(causal=True, **a), ("out", "weights"),
             {"causal": 1}, x=f32(2, 6, 5), W_Q=f32(4, 5), W_K=f32(4, 5), W_V=f32(3, 5),
             mask=keep(2, 6, 6, empty=(1, 4))),
        Case("structured", lambda a: _structured(**a), ("out", "weights", "penalty",
                                                         "penalty_rows"),
             h=f32(3, 7, 5), W_s1=f32(4, 5), W_s2=f32(2, 4), mask=keep(3, 2, 7, empty=(2, 1))),
        Case("key_value", lambda a: A.key_value_attention(memory=3, return_read=True, **a),
             ("out", "weights", "read"), {"memory": 3},
             keys=f32(2, 7, 4), values=f32(2, 7, 3), x=f32(2, 7, 5), W_Y=f32(6, 4),
             W_h=f32(6, 4), w=f32(6), W_r=f32(8, 3), W_x=f32(8, 5), mask=keep(2, 7)),
    ]


def _structured(h, W_s1, W_s2, mask):
    out, weights = attend.structured_attention(h, W_s1, W_s2, mask)
    penalty = np.array([attend.structured_penalty(weights)], np.float32)
    return out, weights, penalty, attend.structured_penalty(weights, per_row=True)


class BindingIsTheLibrary(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cases = make_cases(np.random.default_rng(2024))
        tensors, metadata = {}, {}
        for case in cls.cases:
            tensors.update(case.file_tensors())
            metadata.update({f"{case.name}.{k}": str(v) for k, v in case.settings.items()})
        with tempfile.TemporaryDirectory() as tmp:
            inputs, outputs = pathlib.Path(tmp) / "in.safetensors", pathlib.Path(tmp) / "out"
            safetensors_io.write(inputs, tensors, metadata)
            done = subprocess.run([DUMP, str(inputs), str(outputs)], capture_output=True,
                                  text=True, timeout=60)
            if done.returncode != 0:
                raise AssertionError(f"families_dump failed ({done.returncode}):\n{done.stderr}")
            cls.c_outputs, _ = safetensors_io.read(outputs)

    def test_every_family_is_bit_identical(self):
        names = {case.name for case in self.cases}
        self.assertEqual(len(names), 20, "a case was added to one side only?")
        for case in self.cases:
            with self.subTest(case=case.name):
                got = case.call(dict(case.arrays))
                self.assertEqual(len(got), len(case.outputs))
                for output, value in zip(case.outputs, got):
                    assert_same_bits(f"{case.name}.{output}", np.asarray(value, np.float32),
                                     self.c_outputs[f"{case.name}.{output}"])

    def test_the_c_side_wrote_every_output_once(self):
        wanted = {f"{case.name}.{output}" for case in self.cases for output in case.outputs}
        self.assertEqual(set(self.c_outputs), wanted)

    def test_the_comparison_sees_one_bit(self):
        """assert_same_bits fails on a one-ulp change (the test can fail)."""
        values = self.c_outputs["additive.context"]
        nudged = values.copy()
        nudged.flat[3] = np.nextafter(nudged.flat[3], np.float32(np.inf))
        with self.assertRaisesRegex(AssertionError, r"1 of \d+ values differ"):
            assert_same_bits("nudged", nudged, values)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_binding_vs_c.py PATH/TO/families_dump")
    DUMP = sys.argv.pop(1)
    unittest.main(verbosity=2)
