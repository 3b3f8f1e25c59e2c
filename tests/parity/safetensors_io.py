"""
safetensors_io.py - a small, strict safetensors reader and writer (json + struct + numpy).

The format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
 "__metadata__": {"key": "value"}}, then the tensor bytes, little-endian, row-major,
offsets relative to the first byte after the header.

    tensors, metadata = read(path)        # name -> np.ndarray (float32), str -> str
    write(path, tensors, metadata=None)   # name -> np.ndarray (float16/32/64, ints, bool)

read() converts every dtype to float32 (read(path, keep_dtype=True) keeps each as it is
but BF16, which still becomes float32) and raises ValueError, naming the file and the
problem, on anything malformed. write() stores each array in its own dtype (float16 ->
F16, float32 -> F32, float64 -> F64, int64/32/16/8 -> I64/I32/I16/I8, uint8 -> U8, bool ->
BOOL); a ("BF16", uint16 array of raw bits) pair writes BF16. The header is padded with
spaces to a multiple of `align` (8) bytes.
"""
import json
import struct

import numpy as np

HEADER_MAX_BYTES = 100_000_000
METADATA_KEY = "__metadata__"
_DTYPES = {"F16": np.dtype("<f2"), "F32": np.dtype("<f4"), "F64": np.dtype("<f8"),
           "BF16": np.dtype("<u2"), "I64": np.dtype("<i8"), "I32": np.dtype("<i4"),
           "I16": np.dtype("<i2"), "I8": np.dtype("i1"), "U8": np.dtype("u1"),
           "BOOL": np.dtype("?")}
_NAMES = {np.dtype("float16"): "F16", np.dtype("float32"): "F32", np.dtype("float64"): "F64",
          np.dtype("int64"): "I64", np.dtype("int32"): "I32", np.dtype("int16"): "I16",
          np.dtype("int8"): "I8", np.dtype("uint8"): "U8", np.dtype("bool"): "BOOL"}


def _bf16_to_float32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def read(path, keep_dtype=False):
    """Return (tensors, metadata) from a safetensors file; ValueError if malformed."""
    with open(path, "rb") as f:
        blob = f.read()

    def bad(problem):
        raise ValueError(f"{path}: {problem}")

    if len(blob) < 8:
        bad(f"{len(blob)} bytes, too short for the header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > HEADER_MAX_BYTES or 8 + n > len(blob):
        bad(f"header length {n} does not fit a file of {len(blob)} bytes")
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        bad(f"header is not UTF-8 JSON ({e})")
    if not isinstance(header, dict):
        bad("header is not a JSON object")
    data = memoryview(blob)[8 + n:]
    metadata = header.pop(METADATA_KEY, {}) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        bad("metadata must map strings to strings")

    tensors, ranges = {}, []
    for name, entry in header.items():
        if not isinstance(entry, dict) or entry.get("dtype") not in _DTYPES:
            bad(f"tensor {name!r}: missing or unsupported dtype")
        dtype = _DTYPES[entry["dtype"]]
        shape, offsets = entry.get("shape"), entry.get("data_offsets")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            bad(f"tensor {name!r}: bad shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= len(data)):
            bad(f"tensor {name!r}: bad data_offsets {offsets!r}")
        begin, end = offsets
        if end - begin != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
            bad(f"tensor {name!r}: shape {shape} and dtype do not fill [{begin}, {end})")
        values = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape)
        if entry["dtype"] == "BF16":
            values = _bf16_to_float32(values)
        elif not keep_dtype:
            values = values.astype(np.float32)
        tensors[name] = values.copy()
        if end > begin:
            ranges.append((begin, end, name))
    ranges.sort()
    for (b0, e0, n0), (b1, e1, n1) in zip(ranges, ranges[1:]):
        if b1 < e0:
            bad(f"tensors {n0!r} and {n1!r} overlap")
    return tensors, dict(metadata)


def write(path, tensors, metadata=None, align=8):
    """Write name -> array (or ("BF16", raw uint16 bits)) and string metadata to path."""
    header, chunks, offset = {}, [], 0
    for name, value in tensors.items():
        # np.array, not np.ascontiguousarray: that one turns a scalar into shape (1,)
        if isinstance(value, tuple):
            dtype_name, array = value[0], np.array(value[1], dtype="<u2", order="C")
        else:
            array = np.array(value, order="C")
            dtype_name = _NAMES.get(array.dtype)
            if dtype_name is None:
                raise ValueError(f"{name}: dtype {array.dtype} has no safetensors name here")
            array = array.astype(_DTYPES[dtype_name])
        raw = array.tobytes()
        header[name] = {"dtype": dtype_name, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header[METADATA_KEY] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % align)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)
