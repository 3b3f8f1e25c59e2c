#!/usr/bin/python3
"""
test_encoder_parity.py - the seq2seq model's stacked BiLSTM encoder against PyTorch.

`encoder_parity_tool CASE FILE` (tests/tools/encoder_parity_tool.c) runs a real at_seq2seq's
encoder with encoder_layers L = 2 or 3 on a padded batch (lengths 5, 2, 1, 5): embeddings,
L BiLSTMs with dropout between them, and the luong decoder's start state from the top layer,
s0 = tanh(W_init [h^L_fwd last; h^L_bwd first]); then backward from seeded gradients of the
annotations and s0. This script rebuilds the same thing in PyTorch, in float64:

    source_embed  nn.Embedding(V, E)
    encoder       nn.LSTM(E, N, num_layers=L, bidirectional=True, batch_first=True,
                          dropout=p), on a packed sequence
    decoder.init  nn.Linear(2N, S), then tanh, on h_n[-2:] (the top layer's final states)

loads attend's parameters into it with load_state_dict(strict=True) - so layer l's names
must be PyTorch's encoder.weight_ih_l{l-1}[_reverse] - and compares the annotations, s0 and
the gradient of every encoder parameter. Beyond that:
  - the model's encoder.* parameter names are exactly nn.LSTM(num_layers=L)'s, and every
    other parameter name is one of the one-layer model's (nothing else was renamed);
  - the annotations are those of packed sequences: exactly zero past each row's length;
  - encoder2_eval_dropout: dropout 0.4 configured but the context not in training mode,
    compared with module.eval() - dropout does nothing outside training;
  - encoder3_dropout(_threads2): training mode, the tool's masks (mask.l1, mask.l2) are
    applied between the layers of a per-layer PyTorch stack (each layer an
    nn.LSTM(bidirectional=True) loaded from encoder.*_l{k}); every mask drops something
    and keeps something, and the 2-thread file equals the 1-thread file exactly.

Usage: test_encoder_parity.py --tools BUILD/tests [--case NAME ...] [--keep DIR] [--seed N]
Exit status is non-zero if anything failed; the last line is "N passed, M failed".
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
from parity_check import check_file, dump_case, run_suite  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

torch.set_num_threads(1)
DT = torch.float64

# Three stacked recurrences of T = 5 steps (the bilstm case's 3e-5 / 2e-4 is for one), an
# embedding gather before and a dense + tanh after; gradients flow back through all three
# layers. Observed largest errors are about 1e-6; 5e-5 / 2e-4 keeps a margin of more than
# 10 while a wrong layer input, a mask in the wrong place or the bottom layer's h_n in s0
# is of order 1e-1.
TOLERANCE = (5e-5, 2e-4)

# The one-layer model's parameter names besides the encoder's (luong decoder, GRU cell,
# additive attention), as main wrote them before encoder_layers existed.
OTHER_NAMES = {
    "source_embed.weight", "target_embed.weight", "decoder.init.weight", "decoder.init.bias",
    "decoder.cell.weight_ih_l0", "decoder.cell.weight_hh_l0", "decoder.cell.bias_ih_l0",
    "decoder.cell.bias_hh_l0", "attention.W_a", "attention.U_a", "attention.b_a",
    "attention.v_a", "decoder.W_c.weight", "decoder.W_s.weight", "decoder.W_s.bias",
}


class Case:
    def __init__(self):
        self.expected = {}
        self.extra = []

    def expect(self, name, value):
        self.expected[name] = value.detach().to(torch.float64).numpy()

    def check(self, label, ok, detail=""):
        self.extra.append((label, bool(ok), detail))


def tensor(f, name, grad=False):
    if name not in f:
        raise KeyError("the tool did not write '%s'" % name)
    return torch.from_numpy(np.array(f[name], dtype=np.float64)).to(DT).requires_grad_(grad)


class Encoder(nn.Module):
    """The reference: PyTorch's own modules under the model's names."""

    def __init__(self, s):
        super().__init__()
        self.source_embed = nn.Embedding(s["V"], s["E"])
        self.encoder = nn.LSTM(s["E"], s["N"], num_layers=s["L"], bidirectional=True,
                               batch_first=True, dropout=s["dropout"])
        self.decoder = nn.Module()
        self.decoder.init = nn.Linear(2 * s["N"], s["S"])


def packed(module, x, lengths):
    T = x.shape[1]
    p = pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    out, (h_n, _) = module(p)
    y, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
    return y, h_n


def encoder_forward(model, f, s, x, lengths):
    """The annotations, the top layer's h_n (2, B, N) and {file name: parameter} of the
    encoder. Outside training: model.encoder itself. In training: the stack layer by layer,
    each layer an nn.LSTM(bidirectional=True) loaded from encoder.*_l{k}, with the tool's
    masks between layers (inverted dropout)."""
    if not (s["training"] and s["dropout"] > 0):
        model.eval()  # nn.LSTM's dropout off, as attend outside training mode
        h, h_n = packed(model.encoder, x, lengths)
        return h, h_n[-2:], {"encoder." + n: w for n, w in model.encoder.named_parameters()}
    params = {}
    h = x
    for k in range(s["L"]):
        layer = nn.LSTM(h.shape[2], s["N"], bidirectional=True, batch_first=True).to(DT)
        rename = {n: "encoder." + n.replace("_l0", "_l%d" % k)
                  for n, _ in layer.named_parameters()}
        layer.load_state_dict({n: tensor(f, rename[n]) for n in rename}, strict=True)
        params.update({rename[n]: w for n, w in layer.named_parameters()})
        if k > 0:
            h = h * tensor(f, "mask.l%d" % k) / (1.0 - s["dropout"])
        h, h_n = packed(layer, h, lengths)
    return h, h_n, params


def case_encoder(f, meta):
    c = Case()
    s = json.loads(meta["sizes"])
    lengths = json.loads(meta["lengths"])
    ids = torch.tensor(json.loads(meta["ids"]), dtype=torch.long).reshape(s["B"], s["T"])
    names = json.loads(meta["names"])
    model = Encoder(s).to(DT)
    state = {n: tensor(f, n) for n, _ in model.named_parameters()}
    model.load_state_dict(state, strict=True)

    want = {n for n, _ in model.named_parameters() if n.startswith("encoder.")}
    got = {n for n in names if n.startswith("encoder.")}
    c.check("encoder names are nn.LSTM(num_layers=%d)'s" % s["L"], got == want,
            "model has %s, PyTorch has %s" % (sorted(got), sorted(want)))
    others = set(names) - got
    c.check("other names are the one-layer model's", others == OTHER_NAMES,
            "unexpected %s, missing %s" % (sorted(others - OTHER_NAMES),
                                           sorted(OTHER_NAMES - others)))

    x = model.source_embed(ids)
    h, top, encoder_params = encoder_forward(model, f, s, x, lengths)
    s0 = torch.tanh(model.decoder.init(torch.cat([top[0], top[1]], dim=1)))
    loss = (h * tensor(f, "seed.annotations")).sum() + (s0 * tensor(f, "seed.s0")).sum()
    loss.backward()

    c.expect("out.annotations", h)
    c.expect("out.s0", s0)
    for n, w in model.named_parameters():
        c.expect("grad." + n, encoder_params[n].grad if n.startswith("encoder.") else w.grad)

    y = f.get("out.annotations")
    if y is not None:
        bad = [(b, t) for b, n in enumerate(lengths) for t in range(n, y.shape[1])
               if np.any(y[b, t] != 0)]
        c.check("annotations exactly zero past length", not bad, "first at %s" % (bad[:1],))
    for k in range(1, s["L"]):
        name = "mask.l%d" % k
        if s["training"] and s["dropout"] > 0:
            m = f.get(name)
            c.check(name + " drops some and keeps some",
                    m is not None and 0 < m.sum() < m.size, "mask %s" % (m,))
        else:
            c.check("no %s outside training" % name, name not in f)
    return c


CASES = {
    "encoder2": case_encoder,
    "encoder3": case_encoder,
    "encoder2_eval_dropout": case_encoder,
    "encoder3_dropout": case_encoder,
    "encoder3_dropout_threads2": case_encoder,
}


def same_as_one_thread(workdir, seed):
    """The 2-thread file holds exactly the 1-thread file's tensors."""
    one = os.path.join(workdir, "encoder3_dropout.safetensors")
    two = os.path.join(workdir, "encoder3_dropout_threads2.safetensors")
    if not (os.path.exists(one) and os.path.exists(two)):
        return True, ""
    a, _ = safetensors_io.read(one)
    b, _ = safetensors_io.read(two)
    diff = sorted(k for k in set(a) | set(b)
                  if k not in a or k not in b or not np.array_equal(a[k], b[k]))
    return not diff, "differ: %s" % diff[:5]


def run_case(name, tools, workdir, seed):
    path = os.path.join(workdir, name + ".safetensors")
    proc = dump_case(tools, "encoder_parity_tool", name, path, seed)
    if proc.returncode != 0:
        print("FAIL %s: encoder_parity_tool exited with %d\n%s%s"
              % (name, proc.returncode, proc.stdout, proc.stderr))
        return 0, 1
    try:
        f, meta = safetensors_io.read(path)
        if meta.get("case") != name:
            raise ValueError("the file says case '%s'" % meta.get("case"))
        case = CASES[name](f, meta)
        if name == "encoder3_dropout_threads2":
            ok, detail = same_as_one_thread(workdir, seed)
            case.check("2 threads give the 1-thread file's numbers exactly", ok, detail)
    except Exception as e:
        print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
        return 0, 1
    atol, rtol = TOLERANCE
    passed, failed, worst = check_file(name, f, case.expected, case.extra, atol, rtol,
                                       "PyTorch")
    status = "ok  " if not failed else "FAIL"
    print("%s %-26s %2d checks, largest error %.2g (atol %g, rtol %g)"
          % (status, name, passed + failed, worst, atol, rtol))
    return passed, failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--tools", required=True, help="the build's tests/ folder")
    ap.add_argument("--case", action="append", help="run only these cases")
    ap.add_argument("--seed", type=int, help="seed passed to the tool")
    ap.add_argument("--keep", help="write the safetensors files here and keep them")
    args = ap.parse_args()
    return run_suite(args, "encoder_parity_tool", CASES, run_case, "attend-encoder-", "float64")


if __name__ == "__main__":
    sys.exit(main())
