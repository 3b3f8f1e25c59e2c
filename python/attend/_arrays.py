"""NumPy arrays in and out of libattend, checked at the door.

An array handed to the library must be what the C header promises it reads:
float32, C-contiguous (row-major), of the documented shape, every value
finite. Each is checked here, before any C call, and a bad one raises with
the argument's name:
  wrong dtype                  TypeError
  wrong number of dims/shape   ValueError  (expected vs got)
  not C-contiguous             ValueError  (refused, not silently copied:
                               a transposed view is usually a mistake in
                               the caller's axes; np.ascontiguousarray(x)
                               says on purpose that it is not)
  NaN or infinity              ValueError  (the first bad index)
The keep-mask is bool or uint8, 1 = keep (attend/core.h "Masks").
Outputs are copied out of the context's arena into new NumPy arrays, so
they stay valid after the context is freed.
"""
import ctypes

import numpy as np

from ._lib import AttnMask, Tensor, lib

_float_p = ctypes.POINTER(ctypes.c_float)


def checked(name, x, ndims):
    """x as a float32 C-contiguous finite array with len(x.shape) in ndims."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of float32, not {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"{name} must have dtype float32, not {x.dtype}")
    if x.ndim not in ndims:
        wanted = " or ".join(str(n) for n in ndims)
        raise ValueError(f"{name} must have {wanted} dimensions, not {x.ndim} (shape {x.shape})")
    if x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape}); every dimension must be >= 1")
    if not x.flags.c_contiguous:
        raise ValueError(f"{name} is not C-contiguous (a transposed or strided view); "
                         f"pass numpy.ascontiguousarray({name})")
    finite = np.isfinite(x)
    if not finite.all():
        index = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(f"{name} has a non-finite value {x[index]} at index {index}")
    return x


def expect_shape(name, x, expected):
    """ValueError naming x unless x.shape == expected."""
    expected = tuple(expected)
    if x.shape != expected:
        raise ValueError(f"{name} must have shape {expected}, not {x.shape}")


def tensor(session, x):
    """A new arena tensor holding a copy of the checked array x."""
    out = ctypes.POINTER(Tensor)()
    shape = (ctypes.c_int * x.ndim)(*x.shape)
    session.check(lib.at_tensor_from, session.ctx, ctypes.byref(out), x.ndim, shape,
                  x.ctypes.data_as(_float_p))
    return out


def to_numpy(t):
    """A new NumPy array with a copy of tensor t's data and shape."""
    shape = tuple(t.contents.shape[:t.contents.ndim])
    return np.ctypeslib.as_array(t.contents.data, shape=shape).copy()


def set_parameter(name, t, x):
    """Copy the checked array x into parameter tensor t (shapes must agree)."""
    expect_shape(name, x, t.contents.shape[:t.contents.ndim])
    ctypes.memmove(t.contents.data, x.ctypes.data, x.nbytes)


def keep_mask(mask, allowed_shapes, causal=False):
    """An AttnMask for a keep-mask of one of allowed_shapes (or None: no
    mask). Its rows are every dimension but the last. The uint8 copy the
    C struct points into is kept alive as the struct's `array`."""
    if mask is None:
        return AttnMask(None, 0, int(bool(causal)))
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"mask must be a numpy.ndarray of bool or uint8, not {type(mask).__name__}")
    if mask.dtype not in (np.bool_, np.uint8):
        raise TypeError(f"mask must have dtype bool or uint8 (1 = keep), not {mask.dtype}")
    allowed = [tuple(s) for s in allowed_shapes]
    if mask.shape not in allowed:
        wanted = " or ".join(str(s) for s in allowed)
        raise ValueError(f"mask must have shape {wanted}, not {mask.shape}")
    keep = np.ascontiguousarray(mask, dtype=np.uint8)
    rows = int(np.prod(keep.shape[:-1]))
    pointer = keep.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))
    result = AttnMask(pointer, rows, int(bool(causal)))
    result.array = keep
    return result


def int32s(name, x, shape):
    """x, an integer array of the given shape, as a new C-contiguous int32
    copy (lengths, positions). A non-integer dtype is a TypeError; a value
    that int32 cannot hold is a ValueError."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of integers, not {type(x).__name__}")
    if x.dtype.kind not in "iu":
        raise TypeError(f"{name} must have an integer dtype, not {x.dtype}")
    expect_shape(name, x, shape)
    limits = np.iinfo(np.int32)
    if x.size and (x.min() < limits.min or x.max() > limits.max):
        raise ValueError(f"{name} has a value outside int32")
    return np.array(x, dtype=np.int32, order="C")


def int32_pointer(x):
    """A ctypes int32 * into the int32 array x (which must outlive the call)."""
    return x.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))
