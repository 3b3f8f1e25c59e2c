#!/usr/bin/python3
"""
test_layers_parity.py - attend's layers and ops against PyTorch, forward and backward.

The idea: PyTorch (Debian's python3-torch) is an independent oracle. For each named case,
the C helper `parity_tool CASE FILE` (tests/tools/parity_tool.c) builds the attend layer or
op with a seeded generator, runs it forward and backward from seeded random output
gradients (or from a loss), and writes one safetensors file holding the parameters under
their PyTorch names, the inputs, the seeds ("seed.Y"), the outputs ("out.Y") and every
gradient ("grad.NAME"), with the case's sizes, lengths, ids, targets and masks as JSON
strings in the metadata. This script reads the file, loads the SAME weights into the
matching PyTorch module with load_state_dict(strict=True) (so the names are checked too),
feeds the same inputs, backpropagates L = sum_Y sum(Y * seed.Y) and compares every output
and every gradient. Nothing in the file goes unchecked: an "out." or "grad." tensor the
oracle did not produce is a failure, and so is a tool case this script does not know.

The oracle runs in float64 (the default; --oracle float32 is there for curiosity): the
float32 inputs are exact in float64, so the oracle is then "the true answer" and the
tolerance only has to cover attend's own float32 rounding. Tolerances are per case, in
TOLERANCES below, each with its reason.

Beyond the comparisons: outputs of a recurrent layer past a row's length must be EXACTLY
zero (and so must the gradient reaching x there), and h_n must equal PyTorch's h_n from a
packed sequence (pack_padded_sequence with enforce_sorted=False).

Usage: test_layers_parity.py --tools BUILD/tests [--case NAME ...] [--keep DIR]
Exit status is non-zero if anything failed; the last line is "N passed, M failed".
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402  (the project's small reader/writer, same folder)
from parity_check import check_file, dump_case, run_suite  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

torch.set_num_threads(1)

# --------------------------------------------------------------------------- tolerances
# A value passes when |attend - oracle| <= atol + rtol * |oracle|, the oracle in float64.
# float32 has a unit roundoff of 6e-8; a dot product of K terms of size ~1 is off by about
# sqrt(K) * 6e-8 and a chain of T recurrent steps multiplies that by a few per step.
# All cases use values of order 1, so atol dominates for values near 0 and rtol elsewhere.
TOLERANCES = {
    # Short dot products (K <= 6) and weight gradients summed over <= 12 rows: errors are
    # ~1e-7; 1e-5 / 1e-4 leaves two orders of magnitude of margin yet catches any real
    # slip (a missing term is of order 1e-1).
    "dense": (1e-5, 1e-4),
    "dense_nobias": (1e-5, 1e-4),
    "matmul": (1e-5, 1e-4),
    "matmul_trans": (1e-5, 1e-4),
    "matmul_shared": (1e-5, 1e-4),
    # K = 130 or 64 terms of size ~1: sums of size ~5 with errors ~1e-6.
    "matmul_large": (5e-5, 1e-4),
    "matmul_blas": (5e-5, 1e-4),
    # A gather and a scatter-add of at most 3 terms: float32 rounding only.
    "embedding": (1e-6, 1e-5),
    # Mean, variance and 1/sqrt(var + eps) over n = 6 or 7 values with std ~ 1; the
    # backward pass subtracts two means of the same size (some cancellation): 2e-5.
    "layernorm": (2e-5, 1e-4),
    "layer_norm_op": (2e-5, 1e-4),
    "layer_norm_op_plain": (2e-5, 1e-4),
    # Recurrences over T <= 6 steps with gates of 4H = 16 dot products each; gradients
    # through time sum T steps of products of sigmoid/tanh derivatives. Observed errors are
    # ~1e-7 to 1e-6; 3e-5 / 2e-4 keeps a margin of more than 10 while a wrong gate, a
    # wrong length or a state leaking past the length shows as 1e-2 or more.
    "lstm": (3e-5, 2e-4),
    "lstm_reverse": (3e-5, 2e-4),
    "lstm_plain": (3e-5, 2e-4),
    "gru": (3e-5, 2e-4),
    "gru_reverse": (3e-5, 2e-4),
    "bilstm": (3e-5, 2e-4),
    # I = 40, H = 48: gate dot products of 88 terms, weight gradients summed over 56 steps.
    "lstm_large": (5e-5, 2e-4),
    # A single step: same as dense plus one activation.
    "gru_cell": (1e-5, 1e-4),
    "lstm_cell": (1e-5, 1e-4),
    # log-sum-exp over C <= 7 logits in [-3, 3] and a mean over <= 15 rows.
    "ce_ignore": (1e-5, 1e-4),
    "ce_smooth": (1e-5, 1e-4),
    "ce_smooth_ignore": (1e-5, 1e-4),
    "ce_all_ignored": (0.0, 0.0),  # must be exactly 0 (not NaN), gradient exactly 0
    # exp of (x - max) over 5 values; probabilities <= 1 and their gradients O(1).
    "softmax": (1e-6, 1e-5),
    "softmax_mask_pad": (1e-6, 1e-5),
    "softmax_mask_full": (1e-6, 1e-5),
    "log_softmax": (2e-6, 1e-5),
    "log_softmax_mask_pad": (2e-6, 1e-5),
    "log_softmax_mask_full": (2e-6, 1e-5),
}

DT = torch.float64  # the oracle's dtype; --oracle float32 changes it


# ----------------------------------------------------------------------------- helpers
class Case:
    """What one case hands back: the oracle's tensors and any extra pass/fail checks."""

    def __init__(self):
        self.expected = {}  # file name -> np.ndarray the file must match
        self.extra = []  # (label, ok, detail)

    def expect(self, name, value):
        if isinstance(value, torch.Tensor):
            value = value.detach().to(torch.float64).numpy()
        self.expected[name] = np.asarray(value, dtype=np.float64)

    def check(self, label, ok, detail=""):
        self.extra.append((label, bool(ok), detail))


def tensor(f, name, grad=False):
    """A file tensor as a torch tensor in the oracle dtype (a leaf if grad)."""
    if name not in f:
        raise KeyError("the tool did not write '%s'" % name)
    t = torch.from_numpy(np.array(f[name], dtype=np.float64)).to(DT)
    return t.requires_grad_(grad)


def backward(f, outputs):
    """Backpropagate L = sum over outputs of sum(Y * seed.Y); outputs: name -> tensor."""
    loss = 0
    for name, y in outputs.items():
        loss = loss + (y * tensor(f, "seed." + name).reshape(y.shape)).sum()
    loss.backward()


def load_module(module, f, rename=None, extra=None):
    """Copy the file's parameters into module (strict: every name must be in the file).
    rename maps PyTorch's names to the file's; extra adds tensors the file lacks."""
    module = module.to(DT)
    rename = rename or {}
    state = {}
    for torch_name, _ in module.named_parameters():
        file_name = rename.get(torch_name, torch_name)
        if extra and torch_name in extra:
            state[torch_name] = extra[torch_name]
        else:
            state[torch_name] = tensor(f, file_name)
    module.load_state_dict(state, strict=True)
    return module


def expect_param_grads(case, module, f, rename=None, only=None):
    rename = rename or {}
    for torch_name, p in module.named_parameters():
        file_name = rename.get(torch_name, torch_name)
        if only is not None and file_name not in only:
            continue
        case.expect("grad." + file_name, p.grad)


def file_params(f, inputs):
    """The parameter names in the file: no '.' in them and not one of the inputs."""
    return {k for k in f if "." not in k and k not in inputs}


def meta_json(meta, key):
    if key not in meta:
        raise KeyError("metadata '%s' missing" % key)
    return json.loads(meta[key])


def check_strict_names(case, f, module, inputs, rename=None):
    """The file's parameter names are exactly the module's state_dict names."""
    rename = rename or {}
    want = {rename.get(n, n) for n, _ in module.named_parameters()}
    got = file_params(f, inputs)
    case.check("parameter names", got == want,
               "file has %s, PyTorch has %s" % (sorted(got), sorted(want)))


def check_padding_zero(case, f, lengths, names):
    """Past each row's length, the named (B, T, ...) tensors must be exactly zero."""
    for name in names:
        if name not in f:
            continue  # reported as missing by the comparison
        y = f[name]
        bad = [(b, t) for b, n in enumerate(lengths) for t in range(n, y.shape[1])
               if np.any(y[b, t] != 0)]
        detail = ""
        if bad:
            b, t = bad[0]
            detail = "%d padded steps are not zero; first at [%d, %d]: %s" % (
                len(bad), b, t, np.array2string(y[b, t], precision=6))
        case.check("%s exactly zero past length" % name, not bad, detail)


# ------------------------------------------------------------------------------- cases
def case_dense(f, meta):
    c = Case()
    s = meta_json(meta, "sizes")
    m = load_module(nn.Linear(s["in"], s["out"], bias=bool(s["bias"])), f)
    check_strict_names(c, f, m, {"x"})
    x = tensor(f, "x", grad=True)
    y = m(x)
    backward(f, {"y": y})
    c.expect("out.y", y)
    c.expect("grad.x", x.grad)
    expect_param_grads(c, m, f)
    return c


def case_embedding(f, meta):
    c = Case()
    s = meta_json(meta, "sizes")
    m = load_module(nn.Embedding(s["V"], s["D"]), f)
    check_strict_names(c, f, m, set())
    ids = torch.tensor(meta_json(meta, "ids"), dtype=torch.long).reshape(s["B"], s["T"])
    y = m(ids)
    backward(f, {"y": y})
    c.expect("out.y", y)
    expect_param_grads(c, m, f)
    return c


def case_layernorm(f, meta):
    c = Case()
    s = meta_json(meta, "sizes")
    m = load_module(nn.LayerNorm(s["n"], eps=float(meta["eps"])), f)
    check_strict_names(c, f, m, {"x"})
    x = tensor(f, "x", grad=True)
    y = m(x)
    backward(f, {"y": y})
    c.expect("out.y", y)
    c.expect("grad.x", x.grad)
    expect_param_grads(c, m, f)
    return c


def case_layer_norm_op(f, meta):
    c = Case()
    s = meta_json(meta, "sizes")
    x = tensor(f, "x", grad=True)
    gamma = beta = None
    if s["affine"]:
        gamma, beta = tensor(f, "gamma", grad=True), tensor(f, "beta", grad=True)
    y = F.layer_norm(x, (s["n"],), gamma, beta, float(meta["eps"]))
    backward(f, {"y": y})
    c.expect("out.y", y)
    c.expect("grad.x", x.grad)
    if s["affine"]:
        c.expect("grad.gamma", gamma.grad)
        c.expect("grad.beta", beta.grad)
    return c


def run_rnn(module, x, lengths, state):
    """Run a batch-first recurrent module; with lengths through a packed sequence (the
    real PyTorch semantics: padded steps never run, h_n is each row's last real step)."""
    T = x.shape[1]
    if lengths is None:
        return module(x, state) if state is not None else module(x)
    packed = pack_padded_sequence(x, torch.tensor(lengths, dtype=torch.long),
                                  batch_first=True, enforce_sorted=False)
    out, hidden = module(packed, state) if state is not None else module(packed)
    y, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
    return y, hidden


def rnn_case(f, meta, kind, reverse):
    """LSTM or GRU, one direction. A lone reverse layer has no PyTorch module of its own:
    it is the reverse half of a bidirectional module whose forward half gets no output
    gradient (so it adds nothing to any gradient) and whose forward weights are zeros."""
    c = Case()
    s = meta_json(meta, "sizes")
    B, I, H = s["B"], s["I"], s["H"]
    lengths = meta_json(meta, "lengths") if "lengths" in meta else None
    cls = nn.LSTM if kind == "lstm" else nn.GRU
    m = cls(I, H, batch_first=True, bidirectional=bool(reverse))
    extra = {}
    if reverse:
        for n, p in m.named_parameters():
            if not n.endswith("_reverse"):
                extra[n] = torch.zeros(p.shape, dtype=DT)
    m = load_module(m, f, extra=extra)
    inputs = {"x", "h0", "c0"}
    got = file_params(f, inputs)
    want = {n for n, _ in m.named_parameters() if n not in extra}
    c.check("parameter names", got == want,
            "file has %s, PyTorch has %s" % (sorted(got), sorted(want)))

    x = tensor(f, "x", grad=True)
    state = None
    h0 = c0 = None
    if "h0" in f:
        h0 = tensor(f, "h0", grad=True)
        h0_full = torch.stack([torch.zeros_like(h0), h0]) if reverse else h0[None]
        state = h0_full
        if kind == "lstm":
            c0 = tensor(f, "c0", grad=True)
            c0_full = torch.stack([torch.zeros_like(c0), c0]) if reverse else c0[None]
            state = (h0_full, c0_full)
    y, hidden = run_rnn(m, x, lengths, state)
    d = 1 if reverse else 0
    if reverse:
        y = y[..., H:]
    outputs = {"y": y}
    if kind == "lstm":
        outputs["h_n"], outputs["c_n"] = hidden[0][d], hidden[1][d]
    else:
        outputs["h_n"] = hidden[d]
    backward(f, outputs)
    for name, v in outputs.items():
        c.expect("out." + name, v)
    c.expect("grad.x", x.grad)
    if h0 is not None:
        c.expect("grad.h0", h0.grad)
    if c0 is not None:
        c.expect("grad.c0", c0.grad)
    expect_param_grads(c, m, f, only=want)
    if lengths is not None:
        check_padding_zero(c, f, lengths, ["out.y", "grad.x"])
    return c


def case_gru_cell(f, meta):
    c = Case()
    s = meta_json(meta, "sizes")
    m = nn.GRUCell(s["I"], s["H"])
    rename = {n: n + "_l0" for n, _ in m.named_parameters()}  # attend's cell is a layer
    m = load_module(m, f, rename=rename)
    check_strict_names(c, f, m, {"x", "h"}, rename)
    x, h = tensor(f, "x", grad=True), tensor(f, "h", grad=True)
    h_out = m(x, h)
    backward(f, {"h_out": h_out})
    c.expect("out.h_out", h_out)
    c.expect("grad.x", x.grad)
    c.expect("grad.h", h.grad)
    expect_param_grads(c, m, f, rename)
    return c


def case_lstm_cell(f, meta):
    c = Case()
    s = meta_json(meta, "sizes")
    m = nn.LSTMCell(s["I"], s["H"])
    rename = {n: n + "_l0" for n, _ in m.named_parameters()}
    m = load_module(m, f, rename=rename)
    check_strict_names(c, f, m, {"x", "h", "c"}, rename)
    x, h, cc = (tensor(f, n, grad=True) for n in ("x", "h", "c"))
    h_out, c_out = m(x, (h, cc))
    backward(f, {"h_out": h_out, "c_out": c_out})
    c.expect("out.h_out", h_out)
    c.expect("out.c_out", c_out)
    c.expect("grad.x", x.grad)
    c.expect("grad.h", h.grad)
    c.expect("grad.c", cc.grad)
    expect_param_grads(c, m, f, rename)
    return c


def case_bilstm(f, meta):
    c = Case()
    s = meta_json(meta, "sizes")
    lengths = meta_json(meta, "lengths")
    m = load_module(nn.LSTM(s["I"], s["H"], batch_first=True, bidirectional=True), f)
    check_strict_names(c, f, m, {"x"})
    x = tensor(f, "x", grad=True)
    y, (h_n, _) = run_rnn(m, x, lengths, None)
    backward(f, {"y": y, "h_n": h_n})
    c.expect("out.y", y)
    c.expect("out.h_n", h_n)
    c.expect("grad.x", x.grad)
    expect_param_grads(c, m, f)
    check_padding_zero(c, f, lengths, ["out.y", "grad.x"])
    return c


def case_cross_entropy(f, meta):
    c = Case()
    s = meta_json(meta, "sizes")
    targets = torch.tensor(meta_json(meta, "targets"), dtype=torch.long)
    ignore_index = int(meta["ignore_index"])
    ls = float(meta["label_smoothing"])
    logits = tensor(f, "logits", grad=True)
    loss = F.cross_entropy(logits.reshape(-1, s["C"]), targets, ignore_index=ignore_index,
                           label_smoothing=ls).reshape(1)
    kept = int((targets != ignore_index).sum())
    if kept == 0:
        # PyTorch's mean over no rows is 0/0 = NaN; attend's contract says 0 and no
        # gradient. Check that convention instead of PyTorch's value.
        c.check("PyTorch gives NaN when every row is ignored", torch.isnan(loss).all(),
                "PyTorch gave %s" % loss.item())
        c.expect("out.loss", np.zeros(1))
        c.expect("grad.logits", np.zeros(logits.shape))
        return c
    backward(f, {"loss": loss})
    c.expect("out.loss", loss)
    c.expect("grad.logits", logits.grad)
    return c


def keep_mask(meta, shape):
    """The 1 = keep mask broadcast to x's shape: M mask rows, each serving R/M rows."""
    rows = int(meta["mask_rows"])
    if rows == 0:
        return None
    n = shape[-1]
    R = int(np.prod(shape[:-1]))
    mask = torch.tensor(meta_json(meta, "mask"), dtype=torch.bool).reshape(rows, n)
    return mask.repeat_interleave(R // rows, dim=0).reshape(shape)


def masked_softmax(x, keep, log):
    """Softmax (or log-softmax) over the kept positions of the last dimension, written from
    the equation: y_i = keep_i exp(x_i - m) / sum_j keep_j exp(x_j - m). Masked positions
    and fully masked rows give 0, and no gradient flows to them."""
    zero = torch.zeros_like(x)
    xk = torch.where(keep, x, zero)
    lowest = torch.full_like(x, torch.finfo(x.dtype).min)
    m = torch.where(keep, x, lowest).amax(-1, keepdim=True).detach()
    any_kept = keep.any(-1, keepdim=True)
    m = torch.where(any_kept, m, torch.zeros_like(m))
    e = torch.exp(xk - m) * keep
    total = e.sum(-1, keepdim=True)
    total = torch.where(total > 0, total, torch.ones_like(total))
    if log:
        return torch.where(keep, xk - m - torch.log(total), zero)
    return e / total


def softmax_case(f, meta, log):
    c = Case()
    x = tensor(f, "x", grad=True)
    keep = keep_mask(meta, x.shape)
    if keep is None:
        y = F.log_softmax(x, -1) if log else F.softmax(x, -1)
    else:
        y = masked_softmax(x, keep, log)
    backward(f, {"y": y})
    c.expect("out.y", y)
    c.expect("grad.x", x.grad)
    if keep is not None:
        # Masked positions and fully masked rows: exactly zero, never NaN.
        k = keep.numpy()
        for name in ("out.y", "grad.x"):
            v = f[name]
            ok = np.all(v[~k] == 0) and not np.any(np.isnan(v))
            c.check("%s exactly zero where masked" % name, ok,
                    "values at masked positions: %s" % v[~k][:8])
    return c


def case_matmul(f, meta):
    c = Case()
    a, b = tensor(f, "a", grad=True), tensor(f, "b", grad=True)
    A = a.transpose(-1, -2) if int(meta["trans_a"]) else a
    Bm = b.transpose(-1, -2) if int(meta["trans_b"]) else b
    y = torch.matmul(A, Bm)
    backward(f, {"y": y})
    c.expect("out.y", y)
    c.expect("grad.a", a.grad)
    c.expect("grad.b", b.grad)
    return c


CASES = {
    "dense": case_dense,
    "dense_nobias": case_dense,
    "embedding": case_embedding,
    "layernorm": case_layernorm,
    "layer_norm_op": case_layer_norm_op,
    "layer_norm_op_plain": case_layer_norm_op,
    "lstm": lambda f, m: rnn_case(f, m, "lstm", 0),
    "lstm_reverse": lambda f, m: rnn_case(f, m, "lstm", 1),
    "lstm_plain": lambda f, m: rnn_case(f, m, "lstm", 0),
    "lstm_large": lambda f, m: rnn_case(f, m, "lstm", 0),
    "gru": lambda f, m: rnn_case(f, m, "gru", 0),
    "gru_reverse": lambda f, m: rnn_case(f, m, "gru", 1),
    "gru_cell": case_gru_cell,
    "lstm_cell": case_lstm_cell,
    "bilstm": case_bilstm,
    "ce_ignore": case_cross_entropy,
    "ce_smooth": case_cross_entropy,
    "ce_smooth_ignore": case_cross_entropy,
    "ce_all_ignored": case_cross_entropy,
    "softmax": lambda f, m: softmax_case(f, m, False),
    "softmax_mask_pad": lambda f, m: softmax_case(f, m, False),
    "softmax_mask_full": lambda f, m: softmax_case(f, m, False),
    "log_softmax": lambda f, m: softmax_case(f, m, True),
    "log_softmax_mask_pad": lambda f, m: softmax_case(f, m, True),
    "log_softmax_mask_full": lambda f, m: softmax_case(f, m, True),
    "matmul": case_matmul,
    "matmul_trans": case_matmul,
    "matmul_shared": case_matmul,
    "matmul_large": case_matmul,
    "matmul_blas": case_matmul,
}


def run_case(name, tools, workdir, seed):
    """Run the tool and the oracle for one case. Returns (passed, failed) check counts."""
    path = os.path.join(workdir, name + ".safetensors")
    proc = dump_case(tools, "parity_tool", name, path, seed)
    if proc.returncode != 0:
        print("FAIL %s: parity_tool exited with %d\n%s%s"
              % (name, proc.returncode, proc.stdout, proc.stderr))
        return 0, 1
    try:
        f, meta = safetensors_io.read(path)
        if meta.get("case") != name:
            raise ValueError("the file says case '%s'" % meta.get("case"))
        case = CASES[name](f, meta)
    except Exception as e:  # a missing tensor, a bad name: one failure, with the reason
        print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
        return 0, 1
    atol, rtol = TOLERANCES[name]
    passed, failed, worst = check_file(name, f, case.expected, case.extra, atol, rtol,
                                       "PyTorch")
    status = "ok  " if not failed else "FAIL"
    print("%s %-22s %2d checks, largest error %.2g (atol %g, rtol %g)"
          % (status, name, passed + failed, worst, atol, rtol))
    return passed, failed


def main():
    global DT
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--tools", required=True, help="the build's tests/ folder (parity_tool)")
    ap.add_argument("--case", action="append", help="run only these cases")
    ap.add_argument("--seed", type=int, help="seed passed to parity_tool")
    ap.add_argument("--keep", help="write the safetensors files here and keep them")
    ap.add_argument("--oracle", choices=["float64", "float32"], default="float64")
    args = ap.parse_args()
    DT = torch.float64 if args.oracle == "float64" else torch.float32
    return run_suite(args, "parity_tool", CASES, run_case, "attend-parity-", args.oracle)


if __name__ == "__main__":
    sys.exit(main())
