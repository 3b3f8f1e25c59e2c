#!/usr/bin/python3
"""
test_safetensors_read.py - attend's public safetensors reader on files PyTorch wrote.

The idea: a reader is right when it sees exactly what the writer meant. Tensors are made in
PyTorch in every dtype the reader knows (F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL),
with the awkward cases of each (scalars with no dimension, empty tensors, a transposed
tensor made contiguous, extremes: int64 limits, float16 subnormals and infinities, NaN,
float64 values beyond float32's range), written by safetensors_io.py (json + struct + numpy,
no code shared with the C library) with non-ASCII names and metadata. The C side,
tests/tools/safetensors_dump.c, opens the file with at_safetensors_open and prints each
tensor's name, dtype, shape, raw bytes (at_safetensors_read) and float32 values
(at_safetensors_read_f32). Every name, dtype, shape and byte must equal what torch holds,
and every float32 value must equal torch's own conversion (tensor.float()) bit for bit (NaN
compares as NaN).

A file with the same tensor name twice, which Python's json module would read silently
(last one wins), must be refused naming the name.

Usage: test_safetensors_read.py --tools BUILD/tests [--keep DIR]
The last line is "N passed, M failed"; exits non-zero if anything failed.
"""
import argparse
import os
import struct
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
from parity_check import Results, run_tool  # noqa: E402

import torch  # noqa: E402

DTYPE_NAMES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16",
               torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
               torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}


def torch_tensors():
    """name -> torch tensor: every dtype, with its edge cases."""
    g = torch.Generator().manual_seed(7)
    i64 = torch.iinfo(torch.int64)
    t = {
        "f32.matrix": torch.randn(3, 4, generator=g),
        "f32.scalar": torch.tensor(-2.5),
        "f32.empty": torch.zeros(0, 3),
        "f32.transposed": torch.randn(4, 2, generator=g).t().contiguous(),
        "f32.specials": torch.tensor([float("inf"), float("-inf"), float("nan"), -0.0, 1e-45]),
        "f64.values": torch.tensor([1.5, -1e300, 1e300, 3.4028235677973366e38, 1e-320,
                                    0.1, float("nan")], dtype=torch.float64),
        "f16.values": torch.tensor([1.0, -2.0, 65504.0, 6e-8, float("inf"), 0.333],
                                   dtype=torch.float16),
        "bf16.values": torch.randn(2, 3, generator=g).to(torch.bfloat16),
        "i64.limits": torch.tensor([i64.min, i64.max, -1, 0, 16777217, 2 ** 40 + 1],
                                   dtype=torch.int64),
        "i32.cube": torch.arange(-12, 12, dtype=torch.int32).reshape(2, 3, 4),
        "i16.values": torch.tensor([-32768, 32767, -1], dtype=torch.int16),
        "i8.values": torch.tensor([-128, 127, -1, 0], dtype=torch.int8),
        "u8.values": torch.tensor([0, 1, 200, 255], dtype=torch.uint8),
        "bool.mask": torch.tensor([[True, False, True], [False, False, True]]),
        "i64.scalar": torch.tensor(-42, dtype=torch.int64),
        "caf\u00e9.\u6f22\u5b57": torch.ones(1, 1, 1, 1, 1, 1, 1, 1),
    }
    assert {v.dtype for v in t.values()} == set(DTYPE_NAMES)
    return t


def to_writer(value):
    """The safetensors_io.write form of a torch tensor (BF16 as its raw bits)."""
    if value.dtype == torch.bfloat16:
        return ("BF16", value.view(torch.int16).numpy().view(np.uint16))
    return value.numpy()


def raw_bytes(value):
    if value.dtype == torch.bfloat16:
        return value.view(torch.int16).numpy().astype("<i2").tobytes()
    return value.numpy().tobytes()


def parse_dump(text):
    tensors, meta, current = {}, {}, None
    for line in text.splitlines():
        kind, *rest = line.split(" ")
        if kind == "tensor":
            name = bytes.fromhex(rest[0]).decode("utf-8")
            ndim = int(rest[2])
            current = tensors[name] = {
                "dtype": rest[1], "shape": [int(d) for d in rest[3:3 + ndim]],
                "numel": int(rest[3 + ndim]), "nbytes": int(rest[4 + ndim])}
        elif kind == "bytes":
            current["bytes"] = b"" if rest[0] == "-" else bytes.fromhex(rest[0])
        elif kind == "f32":
            bits = np.array([int(b, 16) for b in rest], dtype=np.uint32)
            current["f32"] = bits.view(np.float32)
        elif kind == "meta":
            decode = (lambda h: "" if h == "-" else bytes.fromhex(h).decode("utf-8"))
            meta[decode(rest[0])] = decode(rest[1])
    return tensors, meta


def same_floats(got, want):
    got, want = np.asarray(got, np.float32).ravel(), np.asarray(want, np.float32).ravel()
    return got.shape == want.shape and bool(np.all(
        (got.view(np.uint32) == want.view(np.uint32)) | (np.isnan(got) & np.isnan(want))))


def test_every_dtype(r, tools, work):
    tensors = torch_tensors()
    metadata = {"format": "pt", "note": "caf\u00e9 \u2713", "empty": ""}
    path = os.path.join(work, "every_dtype.safetensors")
    safetensors_io.write(path, {k: to_writer(v) for k, v in tensors.items()}, metadata)
    proc = run_tool(tools, "safetensors_dump", path)
    r.check("safetensors_dump reads the PyTorch file", proc.returncode == 0, proc.stderr)
    got, meta = parse_dump(proc.stdout)
    r.check("the same tensor names", sorted(got) == sorted(tensors),
            f"got {sorted(got)}, want {sorted(tensors)}")
    r.check("tensors in byte order of their names",
            list(got) == sorted(got, key=lambda n: n.encode("utf-8")), f"{list(got)}")
    r.check("the same metadata", meta == metadata, f"got {meta}")
    for name, value in tensors.items():
        if name not in got:
            continue
        g = got[name]
        r.check(f"{name}: dtype {DTYPE_NAMES[value.dtype]}",
                g["dtype"] == DTYPE_NAMES[value.dtype], f"got {g['dtype']}")
        r.check(f"{name}: shape {list(value.shape)}", g["shape"] == list(value.shape),
                f"got {g['shape']}")
        r.check(f"{name}: numel and bytes",
                g["numel"] == value.numel() and g["nbytes"] == value.numel() * value.element_size(),
                f"got {g['numel']}, {g['nbytes']}")
        r.check(f"{name}: raw bytes", g.get("bytes") == raw_bytes(value))
        want = value.float().numpy() if value.dtype != torch.bool else value.numpy().astype(np.float32)
        r.check(f"{name}: float32 values equal torch's .float()", same_floats(g.get("f32"), want),
                f"got {g.get('f32')}, want {want.ravel()}")


def write_raw(path, header_text, data=b""):
    text = header_text.encode("utf-8")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def test_duplicate_name(r, tools, work):
    entry = '"w":{"dtype":"F32","shape":[1],"data_offsets":[%d,%d]}'
    path = os.path.join(work, "duplicate.safetensors")
    write_raw(path, "{" + entry % (0, 4) + "," + entry % (4, 8) + "}",
              struct.pack("<ff", 1.0, 2.0))
    proc = run_tool(tools, "safetensors_dump", path)
    r.check("a tensor named twice is refused", proc.returncode == 1
            and "malformed file" in proc.stderr and "'w' appears twice" in proc.stderr,
            f"exit {proc.returncode}: {proc.stderr.strip()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--tools", required=True, help="directory holding safetensors_dump")
    ap.add_argument("--keep", help="write the files here and keep them")
    args = ap.parse_args()
    r = Results()
    with tempfile.TemporaryDirectory(prefix="attend_st_read_") as tmp:
        work = args.keep or tmp
        os.makedirs(work, exist_ok=True)
        for test in (test_every_dtype, test_duplicate_name):
            try:
                test(r, args.tools, work)
            except Exception as e:  # a crash of one part is a failure, not the end
                r.check(f"{test.__name__} ran to the end", False, f"{type(e).__name__}: {e}")
    return r.summary()


if __name__ == "__main__":
    sys.exit(main())
