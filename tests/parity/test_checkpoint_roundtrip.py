#!/usr/bin/python3
"""
test_checkpoint_roundtrip.py - attend's checkpoints and optimisers against PyTorch.

The idea: a checkpoint is only useful if the other side can read it, so both directions
are exercised with an independent reader/writer (safetensors_io.py: json + struct + numpy,
no code shared with the C library), and the optimisers are run side by side with
torch.optim on the same parameters and gradients. The C side is tests/tools/ckpt_tool.c.

  1. attend -> PyTorch. `ckpt_tool write` saves an LSTM(3, 2) + Linear(2, 4) with known
     values and metadata. We check the file obeys the strict reference layout (header
     padded to 8 bytes, tensors tiling the data part in order), every value and every
     metadata string, then load the tensors into torch.nn.LSTM / nn.Linear with
     load_state_dict(strict=True) and run a forward pass.
  2. PyTorch -> attend. We write files from torch tensors in F32, F16, F64 and BF16, with
     padded and unpadded headers, an extra tensor attend must ignore, and non-ASCII
     metadata; `ckpt_tool read` loads them and prints what it got, which must equal the
     torch values converted to float32 exactly. A file lacking a parameter, or with a
     wrong shape, must make the tool fail with a message naming it.
  3. Optimisers. Three steps of SGD (momentum, Nesterov, weight decay), Adam (with and
     without L2 weight decay) and AdamW, in C (`ckpt_tool optim`) and in torch.optim
     (single-tensor path, foreach=False), from the same start and gradients; the
     parameters must agree to 1e-6 relative. Hyper-parameters are passed to torch as the
     float32 values the C config holds (0.9 -> 0.89999998), except in one case that gives
     torch the plain Python doubles to show the difference is far below the tolerance.

Usage: test_checkpoint_roundtrip.py --tools BUILD/tests [--keep DIR]
Prints the first mismatches and the largest error of each failing check; exits non-zero
if anything failed; the last line is "N passed, M failed".
"""
import argparse
import os
import struct
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
from parity_check import Results, run_tool as run_any_tool  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

torch.set_num_threads(1)

VOCAB = "<pad> <unk> the cat sat caf\u00e9 \"quoted\" back\\slash tab\there\nnewline"
MODEL = [("lstm.weight_ih_l0", (8, 3)), ("lstm.weight_hh_l0", (8, 2)),
         ("lstm.bias_ih_l0", (8,)), ("lstm.bias_hh_l0", (8,)),
         ("out.weight", (4, 2)), ("out.bias", (4,))]


def known_value(param, k):
    """The value ckpt_tool write puts at element k of the param-th parameter."""
    return np.float32(((k * 7 + param * 13) % 101 - 50) / 64.0)


def run_tool(tools, *args, expect_ok=True):
    proc = run_any_tool(tools, "ckpt_tool", *args)
    if expect_ok and proc.returncode != 0:
        raise RuntimeError(f"ckpt_tool {' '.join(map(str, args))} failed: {proc.stderr}")
    return proc


def parse_read_output(text):
    params, meta = {}, {}
    for line in text.splitlines():
        kind, name, *rest = line.split(" ")
        if kind == "param":
            params[name] = np.array([float(x) for x in rest], dtype=np.float32)
        elif kind == "meta":
            decode = (lambda h: "" if h == "-" else bytes.fromhex(h).decode("utf-8"))
            meta[decode(name)] = decode(rest[0])
    return params, meta


def spec(name, shape):
    return f"{name}={'x'.join(str(d) for d in shape)}"


# ------------------------------------------------------------------ 1. attend -> torch

def check_reference_layout(r, path):
    """The strict rules of the reference implementation, beyond what read() checks."""
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    r.check("C file: header padded to 8 bytes", n % 8 == 0, f"header length {n}")
    import json
    header = json.loads(blob[8:8 + n])
    entries = sorted((v["data_offsets"], k) for k, v in header.items() if k != "__metadata__")
    end = 0
    for (begin, stop), name in entries:
        r.check(f"C file: {name} starts where the previous tensor ends", begin == end,
                f"begin {begin}, previous end {end}")
        end = stop
    r.check("C file: tensors fill the data part exactly", end == len(blob) - 8 - n,
            f"last end {end}, data bytes {len(blob) - 8 - n}")


def test_attend_to_torch(r, tools, work):
    path = os.path.join(work, "from_attend.safetensors")
    run_tool(tools, "write", path)
    tensors, meta = safetensors_io.read(path)
    check_reference_layout(r, path)
    r.check("C file: tensor names", sorted(tensors) == sorted(n for n, _ in MODEL),
            f"got {sorted(tensors)}")
    for i, (name, shape) in enumerate(MODEL):
        got = tensors.get(name, np.zeros(0))
        r.check(f"C file: {name} shape {shape}", got.shape == shape, f"got {got.shape}")
        want = np.array([known_value(i, k) for k in range(int(np.prod(shape)))])
        r.close(f"C file: {name} values", got, want)
    r.check("C file: metadata", meta == {"model": "lstm", "hidden_size": "2", "vocab": VOCAB},
            f"got {meta!r}")

    # a real use: the state_dict of a torch module, strict names and shapes
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 2, batch_first=True)
            self.out = nn.Linear(2, 4)

    model = Model()
    try:
        model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
        r.check("torch: load_state_dict(strict=True)", True)
    except RuntimeError as e:
        return r.check("torch: load_state_dict(strict=True)", False, str(e))
    for name, value in model.state_dict().items():
        r.close(f"torch: module {name} equals the file", value.numpy(), tensors[name])
    with torch.no_grad():
        y, _ = model.lstm(torch.ones(1, 2, 3))
        out = model.out(y)
    r.check("torch: forward with the loaded weights is finite",
            out.shape == (1, 2, 4) and bool(torch.isfinite(out).all()))


# ------------------------------------------------------------------ 2. torch -> attend

def test_torch_to_attend(r, tools, work):
    g = torch.Generator().manual_seed(7)
    enc_w = torch.randn(3, 4, generator=g)
    enc_b = torch.randn(4, generator=g).half()
    dec_w = torch.randn(2, 3, generator=g, dtype=torch.float64)
    dec_b = torch.randn(3, generator=g).bfloat16()
    extra = torch.randn(2, 2, 2, 2, 2, generator=g)  # 5-D, not a parameter: ignored
    want = {"enc.weight": enc_w.numpy(), "enc.bias": enc_b.float().numpy(),
            "dec.weight": dec_w.float().numpy(), "dec.bias": dec_b.float().numpy()}
    tensors = {"enc.weight": enc_w.numpy(), "enc.bias": enc_b.numpy(),
               "dec.weight": dec_w.numpy(),
               "dec.bias": ("BF16", dec_b.view(torch.int16).numpy().view(np.uint16)),
               "extra": extra.numpy()}
    meta = {"note": "written by torch \u2713", "empty": ""}
    specs = [spec("enc.weight", (3, 4)), spec("enc.bias", (4,)),
             spec("dec.weight", (2, 3)), spec("dec.bias", (3,))]

    for align in (8, 1, 64):
        path = os.path.join(work, f"from_torch_align{align}.safetensors")
        safetensors_io.write(path, tensors, meta, align=align)
        proc = run_tool(tools, "read", path, *specs, expect_ok=False)
        r.check(f"torch file (header align {align}): ckpt_tool read succeeds",
                proc.returncode == 0, proc.stderr.strip())
        if proc.returncode:
            continue
        got, got_meta = parse_read_output(proc.stdout)
        for name, value in want.items():
            dtype = {"enc.weight": "F32", "enc.bias": "F16", "dec.weight": "F64",
                     "dec.bias": "BF16"}[name]
            r.close(f"torch file (align {align}): {name} ({dtype}) exact",
                    got.get(name, np.zeros(0)), value)
        r.check(f"torch file (align {align}): metadata", got_meta == meta, f"got {got_meta!r}")

    # our own reader agrees with what we wrote (the F16/F64/BF16 paths of safetensors_io)
    back, back_meta = safetensors_io.read(os.path.join(work, "from_torch_align8.safetensors"))
    for name, value in want.items():
        r.close(f"safetensors_io round trip: {name}", back[name], value)

    # a missing parameter and a wrong shape: the tool fails and names the parameter
    path = os.path.join(work, "missing.safetensors")
    safetensors_io.write(path, {"enc.weight": enc_w.numpy()})
    proc = run_tool(tools, "read", path, *specs, expect_ok=False)
    r.check("missing parameter is refused, named", proc.returncode != 0
            and "enc.bias" in proc.stderr and "missing" in proc.stderr, proc.stderr.strip())
    path = os.path.join(work, "wrong_shape.safetensors")
    safetensors_io.write(path, {"enc.weight": enc_w.t().contiguous().numpy(),
                                "enc.bias": enc_b.numpy(), "dec.weight": dec_w.numpy(),
                                "dec.bias": tensors["dec.bias"]})
    proc = run_tool(tools, "read", path, *specs, expect_ok=False)
    r.check("wrong shape is refused, both shapes named", proc.returncode != 0
            and "(3, 4)" in proc.stderr and "(4, 3)" in proc.stderr, proc.stderr.strip())


# ------------------------------------------------------------------ 3. optimisers

OPTIM_CASES = [
    # name, kind, lr, beta1, beta2, eps, weight decay, momentum, nesterov, float32 hypers
    ("sgd", "sgd", 0.1, 0, 0, 0, 0.0, 0.0, 0, True),
    ("sgd momentum + wd", "sgd", 0.05, 0, 0, 0, 0.01, 0.9, 0, True),
    ("sgd nesterov", "sgd", 0.05, 0, 0, 0, 0.0, 0.9, 1, True),
    ("adam", "adam", 1e-3, 0.9, 0.999, 1e-8, 0.0, 0, 0, True),
    ("adam large lr, L2 decay", "adam", 0.1, 0.8, 0.99, 1e-6, 0.01, 0, 0, True),
    ("adamw", "adamw", 1e-2, 0.9, 0.999, 1e-8, 0.1, 0, 0, True),
    ("adam, torch given Python doubles", "adam", 1e-3, 0.9, 0.999, 1e-8, 0.0, 0, 0, False),
    ("adamw, torch given Python doubles", "adamw", 1e-2, 0.9, 0.999, 1e-8, 0.1, 0, 0, False),
]
OPTIM_SHAPES = [("p0", (3, 4)), ("p1", (5,))]
OPTIM_STEPS = 3


def torch_optimiser(kind, params, lr, b1, b2, eps, wd, momentum, nesterov):
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=bool(nesterov),
                               weight_decay=wd, foreach=False)
    cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
    return cls(params, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd, foreach=False)


def test_optimisers(r, tools, work):
    rng = np.random.default_rng(1234)
    start = {n: rng.uniform(-1, 1, s).astype(np.float32) for n, s in OPTIM_SHAPES}
    # gradients of mixed scale, some tiny, so that eps and the bias correction matter
    grads = [{n: (rng.normal(0, 1, s) * 10.0 ** rng.integers(-4, 2, s)).astype(np.float32)
              for n, s in OPTIM_SHAPES} for _ in range(OPTIM_STEPS)]
    container = dict(start)
    for t, step in enumerate(grads, 1):
        container.update({f"grad{t}/{n}": v for n, v in step.items()})
    path_in = os.path.join(work, "optim_in.safetensors")
    safetensors_io.write(path_in, container)

    for name, kind, lr, b1, b2, eps, wd, mom, nest, as_float32 in OPTIM_CASES:
        path_out = os.path.join(work, f"optim_out_{kind}.safetensors")
        run_tool(tools, "optim", kind, path_in, path_out, OPTIM_STEPS,
                 *(f"{np.float32(v):.9g}" for v in (lr, b1, b2, eps, wd, mom)), nest,
                 *(spec(n, s) for n, s in OPTIM_SHAPES))
        got, _ = safetensors_io.read(path_out)

        hyper = [float(np.float32(v)) if as_float32 else float(v)
                 for v in (lr, b1 or 0.9, b2 or 0.999, eps or 1e-8, wd, mom)]
        params = [torch.nn.Parameter(torch.from_numpy(start[n].copy())) for n, _ in OPTIM_SHAPES]
        opt = torch_optimiser(kind, params, *hyper, nest)
        for step in grads:
            for p, (n, _) in zip(params, OPTIM_SHAPES):
                p.grad = torch.from_numpy(step[n].copy())
            opt.step()
        for p, (n, _) in zip(params, OPTIM_SHAPES):
            r.close(f"{name}: {n} after {OPTIM_STEPS} steps vs torch.optim", got[n],
                    p.detach().numpy(), rtol=1e-6, atol=1e-9)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--tools", required=True, help="directory holding ckpt_tool")
    ap.add_argument("--keep", help="write the files here and keep them")
    args = ap.parse_args()
    r = Results()
    with tempfile.TemporaryDirectory(prefix="attend_ckpt_") as tmp:
        work = args.keep or tmp
        os.makedirs(work, exist_ok=True)
        for test in (test_attend_to_torch, test_torch_to_attend, test_optimisers):
            try:
                test(r, args.tools, work)
            except Exception as e:  # a crash of one part is a failure, not the end
                r.check(f"{test.__name__} ran to the end", False, f"{type(e).__name__}: {e}")
    return r.summary()


if __name__ == "__main__":
    sys.exit(main())
