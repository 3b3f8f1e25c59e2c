"""Find libattend.so and declare, once, the C functions the binding calls.

Why ctypes: it is in the standard library, so the package needs nothing
compiled and nothing installed beyond Debian's python3-numpy. cffi in ABI
mode would read the same shared library at run time and add a dependency
for no gain here (the API is plain structs of pointers and ints).

Where the library comes from, in this order (the first that exists wins):
  1. the ATTEND_LIBRARY environment variable: a path to libattend.so;
  2. `pkg-config --variable=libdir attend`, then LIBDIR/libattend.so;
  3. the build directory beside python/ (build/libattend.so in a checkout);
  4. after `pip install ./python`, the build directory of the checkout pip
     installed it from (pip records that folder in direct_url.json, PEP 610).
If none loads, ImportError lists each place tried and why it failed.

Every struct below mirrors one of include/attend/*.h field for field; every
function used has its argtypes and restype declared, so ctypes converts and
checks each argument instead of guessing.
"""
import ctypes
import importlib.metadata
import json
import os
import pathlib
import subprocess
import urllib.parse

from ._errors import AttendError

LIBRARY_FILE = "libattend.so"


def _pkg_config_candidate():
    """LIBDIR/libattend.so from pkg-config, or (None, why not)."""
    try:
        done = subprocess.run(["pkg-config", "--variable=libdir", "attend"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as error:
        return None, f"pkg-config could not run ({error})"
    libdir = done.stdout.strip()
    if done.returncode != 0 or not libdir:
        return None, "pkg-config does not know attend"
    return os.path.join(libdir, LIBRARY_FILE), None


def _installed_from_candidate():
    """CHECKOUT/build/libattend.so for a package pip installed from a
    checkout's python/ folder, which pip records in the distribution's
    direct_url.json (PEP 610); or (None, why not)."""
    try:
        record = importlib.metadata.distribution("attend").read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        return None, "attend is not installed with pip"
    try:
        url = json.loads(record or "")["url"]
    except (ValueError, KeyError, TypeError):
        return None, "pip recorded no source folder"
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "file":
        return None, f"installed from {url}, not from a checkout"
    folder = pathlib.Path(urllib.parse.unquote(parsed.path))
    return str(folder.parent / "build" / LIBRARY_FILE), None


def _candidates():
    """(description, path or None, why there is no path) in search order."""
    env = os.environ.get("ATTEND_LIBRARY")
    yield ("ATTEND_LIBRARY", env, None if env else "not set")
    path, why = _pkg_config_candidate()
    yield ("pkg-config", path, why)
    checkout = pathlib.Path(__file__).resolve().parents[2] / "build" / LIBRARY_FILE
    yield ("build directory", str(checkout), None)
    path, why = _installed_from_candidate()
    yield ("the checkout pip installed from", path, why)


def _load():
    tried = []
    for where, path, why in _candidates():
        if path is None:
            tried.append(f"  {where}: {why}")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as error:
            tried.append(f"  {where}: {error}")
    raise ImportError("attend: cannot load libattend.so; tried:\n" + "\n".join(tried)
                      + "\nSet ATTEND_LIBRARY to the path of libattend.so, or install "
                        "attend so that pkg-config finds it.")


lib = _load()


def sibling(name):
    """Another of attend's libraries (libattend-viz.so: the pictures;
    libattend-data.so: the date data) from the folder libattend.so came
    from; ImportError if it is not there."""
    path = os.path.join(os.path.dirname(lib._name), name)
    try:
        return ctypes.CDLL(path)
    except OSError as error:
        raise ImportError(f"attend: cannot load {name} beside {lib._name}: {error}") from None

# ------------------------------------------------------------------ structs
AT_MAX_DIMS = 4
_float_p = ctypes.POINTER(ctypes.c_float)


class Tensor(ctypes.Structure):  # at_tensor, attend/core.h
    _fields_ = [("data", _float_p), ("grad", _float_p), ("ndim", ctypes.c_int),
                ("shape", ctypes.c_int * AT_MAX_DIMS), ("size", ctypes.c_size_t),
                ("requires_grad", ctypes.c_int), ("name", ctypes.c_char_p)]


_tensor_p = ctypes.POINTER(Tensor)
_tensor_pp = ctypes.POINTER(_tensor_p)


class AttnMask(ctypes.Structure):  # at_attn_mask, attend/attention.h
    _fields_ = [("keep", ctypes.POINTER(ctypes.c_uint8)), ("rows", ctypes.c_int),
                ("causal", ctypes.c_int)]


class Additive(ctypes.Structure):  # at_additive
    _fields_ = [("W_a", _tensor_p), ("U_a", _tensor_p), ("b_a", _tensor_p), ("v_a", _tensor_p),
                ("query_size", ctypes.c_int), ("key_size", ctypes.c_int),
                ("attn_size", ctypes.c_int)]


class Bilinear(ctypes.Structure):  # at_bilinear
    _fields_ = [("W", _tensor_p), ("query_size", ctypes.c_int), ("key_size", ctypes.c_int)]


class HanAttention(ctypes.Structure):  # at_han_attention
    _fields_ = [("W", _tensor_p), ("b", _tensor_p), ("u_w", _tensor_p),
                ("input_size", ctypes.c_int), ("attn_size", ctypes.c_int)]


class FeatureAttention(ctypes.Structure):  # at_feature_attention
    _fields_ = [("W", _tensor_p), ("b", _tensor_p), ("input_size", ctypes.c_int),
                ("eps", ctypes.c_float)]


class FeatureAttentionOptions(ctypes.Structure):  # at_feature_attention_options
    _fields_ = [("eps", ctypes.c_float)]


class MultiHead(ctypes.Structure):  # at_multi_head
    _fields_ = [("in_proj_weight", _tensor_p), ("in_proj_bias", _tensor_p),
                ("out_proj_weight", _tensor_p), ("out_proj_bias", _tensor_p),
                ("embed_dim", ctypes.c_int), ("heads", ctypes.c_int),
                ("q_proj_weight", _tensor_p), ("k_proj_weight", _tensor_p),
                ("v_proj_weight", _tensor_p),
                ("kdim", ctypes.c_int), ("vdim", ctypes.c_int), ("out_dim", ctypes.c_int)]


class Luong(ctypes.Structure):  # at_luong
    _fields_ = [("score", ctypes.c_int), ("W_a", _tensor_p), ("v_a", _tensor_p),
                ("W_c", _tensor_p), ("query_size", ctypes.c_int), ("key_size", ctypes.c_int),
                ("attn_size", ctypes.c_int), ("max_source_len", ctypes.c_int),
                ("attentional_size", ctypes.c_int), ("value_size", ctypes.c_int)]


class LuongLocal(ctypes.Structure):  # at_luong_local
    _fields_ = [("align", Luong), ("kind", ctypes.c_int), ("window", ctypes.c_int),
                ("W_p", _tensor_p), ("v_p", _tensor_p), ("predict_size", ctypes.c_int)]


class Monotonic(ctypes.Structure):  # at_monotonic
    _fields_ = [("energy", Additive), ("g", _tensor_p), ("r", _tensor_p),
                ("noise_std", ctypes.c_float)]


class SelfAttention(ctypes.Structure):  # at_self_attention
    _fields_ = [("W_Q", _tensor_p), ("W_K", _tensor_p), ("W_V", _tensor_p),
                ("input_size", ctypes.c_int), ("head_size", ctypes.c_int),
                ("value_size", ctypes.c_int)]


class StructuredAttention(ctypes.Structure):  # at_structured_attention
    _fields_ = [("W_s1", _tensor_p), ("W_s2", _tensor_p), ("input_size", ctypes.c_int),
                ("attn_size", ctypes.c_int), ("hops", ctypes.c_int)]


class KeyValue(ctypes.Structure):  # at_key_value
    _fields_ = [("W_Y", _tensor_p), ("W_h", _tensor_p), ("w", _tensor_p), ("W_r", _tensor_p),
                ("W_x", _tensor_p), ("key_size", ctypes.c_int), ("value_size", ctypes.c_int),
                ("input_size", ctypes.c_int), ("out_size", ctypes.c_int),
                ("attn_size", ctypes.c_int), ("memory", ctypes.c_int)]


# ---------------------------------------------------------------- functions
_ctx_p = ctypes.c_void_p      # at_ctx *, opaque
_params_p = ctypes.c_void_p   # at_params *, opaque
_status = ctypes.c_int        # at_status
_c_int, _c_float, _c_char_p = ctypes.c_int, ctypes.c_float, ctypes.c_char_p
_mask_p = ctypes.POINTER(AttnMask)
_int_p = ctypes.POINTER(ctypes.c_int)
_int32_p = ctypes.POINTER(ctypes.c_int32)

_SIGNATURES = {
    "at_status_name": (_c_char_p, [_status]),
    "at_ctx_create": (_status, [ctypes.POINTER(_ctx_p), ctypes.c_void_p]),
    "at_ctx_free": (None, [_ctx_p]),
    "at_ctx_error": (_c_char_p, [_ctx_p]),
    "at_ctx_set_grad": (_c_int, [_ctx_p, _c_int]),
    "at_params_create": (_status, [_ctx_p, ctypes.POINTER(_params_p)]),
    "at_params_free": (None, [_params_p]),
    "at_tensor_from": (_status, [_ctx_p, _tensor_pp, _c_int, _int_p, _float_p]),
    "at_additive_init": (_status, [_ctx_p, ctypes.POINTER(Additive), _params_p, _c_char_p,
                                   _c_int, _c_int, _c_int, ctypes.c_void_p]),
    "at_additive_project_keys": (_status, [_ctx_p, ctypes.POINTER(Additive), _tensor_p,
                                           _tensor_pp]),
    "at_additive_attend": (_status, [_ctx_p, ctypes.POINTER(Additive), _tensor_p, _tensor_p,
                                     _tensor_p, _mask_p, _tensor_pp, _tensor_pp]),
    "at_dot_attention": (_status, [_ctx_p, _tensor_p, _tensor_p, _tensor_p, _c_float, _mask_p,
                                   _tensor_pp, _tensor_pp]),
    "at_bilinear_init": (_status, [_ctx_p, ctypes.POINTER(Bilinear), _params_p, _c_char_p,
                                   _c_int, _c_int, ctypes.c_void_p]),
    "at_bilinear_project_keys": (_status, [_ctx_p, ctypes.POINTER(Bilinear), _tensor_p,
                                           _tensor_pp]),
    "at_bilinear_attend": (_status, [_ctx_p, ctypes.POINTER(Bilinear), _tensor_p, _tensor_p,
                                     _tensor_p, _mask_p, _tensor_pp, _tensor_pp]),
    "at_han_attention_init": (_status, [_ctx_p, ctypes.POINTER(HanAttention), _params_p,
                                        _c_char_p, _c_int, _c_int, ctypes.c_void_p]),
    "at_han_attention_forward": (_status, [_ctx_p, ctypes.POINTER(HanAttention), _tensor_p,
                                           _mask_p, _tensor_pp, _tensor_pp]),
    "at_feature_attention_init_ext": (_status, [_ctx_p, ctypes.POINTER(FeatureAttention),
                                                _params_p, _c_char_p, _c_int,
                                                ctypes.POINTER(FeatureAttentionOptions),
                                                ctypes.c_void_p]),
    "at_feature_attention_forward": (_status, [_ctx_p, ctypes.POINTER(FeatureAttention),
                                               _tensor_p, _mask_p, _tensor_pp, _tensor_pp]),
    "at_multi_head_init": (_status, [_ctx_p, ctypes.POINTER(MultiHead), _params_p, _c_char_p,
                                     _c_int, _c_int, ctypes.c_void_p]),
    "at_multi_head_forward": (_status, [_ctx_p, ctypes.POINTER(MultiHead), _tensor_p,
                                        _tensor_p, _tensor_p, _mask_p, _tensor_pp,
                                        _tensor_pp]),
    "at_luong_init": (_status, [_ctx_p, ctypes.POINTER(Luong), _params_p, _c_char_p, _c_int,
                                _c_int, _c_int, _c_int, _c_int, _c_int, ctypes.c_void_p]),
    "at_luong_init_attentional": (_status, [_ctx_p, ctypes.POINTER(Luong), _params_p,
                                            _c_char_p, _c_int, _c_int, ctypes.c_void_p]),
    "at_luong_project_keys": (_status, [_ctx_p, ctypes.POINTER(Luong), _tensor_p, _tensor_pp]),
    "at_luong_attend": (_status, [_ctx_p, ctypes.POINTER(Luong), _tensor_p, _tensor_p,
                                  _tensor_p, _mask_p, _tensor_pp, _tensor_pp]),
    "at_luong_attentional": (_status, [_ctx_p, ctypes.POINTER(Luong), _tensor_p, _tensor_p,
                                       _tensor_pp]),
    "at_luong_local_init": (_status, [_ctx_p, ctypes.POINTER(LuongLocal), _params_p, _c_char_p,
                                      _c_int, _c_int, _c_int, _c_int, _c_int, _c_int, _c_int,
                                      _c_int, ctypes.c_void_p]),
    "at_luong_local_attend": (_status, [_ctx_p, ctypes.POINTER(LuongLocal), _tensor_p,
                                        _tensor_p, _tensor_p, _mask_p, _int32_p, _c_int,
                                        _tensor_pp, _tensor_pp, _tensor_pp]),
    "at_monotonic_init": (_status, [_ctx_p, ctypes.POINTER(Monotonic), _params_p, _c_char_p,
                                    _c_int, _c_int, _c_int, ctypes.c_void_p]),
    "at_monotonic_attend": (_status, [_ctx_p, ctypes.POINTER(Monotonic), _tensor_p, _tensor_p,
                                      _tensor_p, _tensor_p, _mask_p, _tensor_pp, _tensor_pp]),
    "at_monotonic_attend_hard": (_status, [_ctx_p, ctypes.POINTER(Monotonic), _tensor_p,
                                           _tensor_p, _tensor_p, _mask_p, _int32_p,
                                           _tensor_pp, _tensor_pp]),
    "at_forward_attention": (_status, [_ctx_p, _tensor_p, _tensor_p, _tensor_p, _tensor_p,
                                       _mask_p, _tensor_pp, _tensor_pp]),
    "at_self_attention_init_sizes": (_status, [_ctx_p, ctypes.POINTER(SelfAttention),
                                               _params_p, _c_char_p, _c_int, _c_int, _c_int,
                                               ctypes.c_void_p]),
    "at_self_attention_forward": (_status, [_ctx_p, ctypes.POINTER(SelfAttention), _tensor_p,
                                            _mask_p, _tensor_pp, _tensor_pp]),
    "at_structured_attention_init": (_status, [_ctx_p, ctypes.POINTER(StructuredAttention),
                                               _params_p, _c_char_p, _c_int, _c_int, _c_int,
                                               ctypes.c_void_p]),
    "at_structured_attention_forward": (_status, [_ctx_p, ctypes.POINTER(StructuredAttention),
                                                  _tensor_p, _mask_p, _tensor_pp, _tensor_pp]),
    "at_structured_penalty": (_status, [_ctx_p, _tensor_p, _tensor_pp]),
    "at_structured_penalty_rows": (_status, [_ctx_p, _tensor_p, _tensor_pp]),
    "at_key_value_init": (_status, [_ctx_p, ctypes.POINTER(KeyValue), _params_p, _c_char_p,
                                    _c_int, _c_int, _c_int, _c_int, _c_int, _c_int,
                                    ctypes.c_void_p]),
    "at_key_value_forward_ext": (_status, [_ctx_p, ctypes.POINTER(KeyValue), _tensor_p,
                                           _tensor_p, _tensor_p, _mask_p, _tensor_pp,
                                           _tensor_pp, _tensor_pp]),
}


# ------------------------------------------- trained models (models.py)
class DocTokens(ctypes.Structure):  # at_doc_tokens, attend/classify.h
    _fields_ = [("sentences", ctypes.c_int), ("lengths", _int_p), ("words", ctypes.c_int),
                ("word", ctypes.POINTER(ctypes.c_char_p))]


class Classification(ctypes.Structure):  # at_classification, attend/classify.h
    _fields_ = [("label", ctypes.c_int), ("classes", ctypes.c_int), ("probs", _float_p),
                ("tokens", DocTokens), ("word_weights", _float_p),
                ("sentence_weights", _float_p), ("doc_weights", _float_p),
                ("unknown", ctypes.c_int)]


class Translation(ctypes.Structure):  # at_translation, attend/models.h
    _fields_ = [("text", ctypes.c_void_p), ("source_len", ctypes.c_int),
                ("target_len", ctypes.c_int), ("heads", ctypes.c_int), ("weights", _float_p),
                ("score", ctypes.c_float)]


class Metadata(ctypes.Structure):  # at_metadata, attend/core.h
    _fields_ = [("count", ctypes.c_int), ("keys", ctypes.POINTER(ctypes.c_char_p)),
                ("values", ctypes.POINTER(ctypes.c_char_p))]


_model_p = ctypes.c_void_p  # at_classifier *, at_seq2seq *, at_vocab *: opaque
_strings_p = ctypes.POINTER(ctypes.POINTER(ctypes.c_char_p))
_SIGNATURES.update({
    "at_checkpoint_read_metadata": (_status, [_ctx_p, _c_char_p, ctypes.POINTER(Metadata)]),
    "at_metadata_get": (_c_char_p, [ctypes.POINTER(Metadata), _c_char_p]),
    "at_metadata_clear": (None, [ctypes.POINTER(Metadata)]),
    "at_classifier_load": (_status, [_ctx_p, ctypes.POINTER(_model_p), _c_char_p,
                                     ctypes.c_void_p]),
    "at_classifier_free": (None, [_model_p]),
    "at_classifier_classes": (_c_int, [_model_p]),
    "at_classifier_get_config": (ctypes.c_void_p, [_model_p]),
    "at_classifier_class_name": (_c_char_p, [_model_p, _c_int]),
    "at_classifier_predict": (_status, [_ctx_p, _model_p, _c_char_p,
                                        ctypes.POINTER(Classification)]),
    "at_classification_clear": (None, [ctypes.POINTER(Classification)]),
    "at_seq2seq_load": (_status, [_ctx_p, ctypes.POINTER(_model_p), _c_char_p,
                                  ctypes.c_void_p]),
    "at_seq2seq_free": (None, [_model_p]),
    "at_seq2seq_source_vocab": (_model_p, [_model_p]),
    "at_seq2seq_target_vocab": (_model_p, [_model_p]),
    "at_seq2seq_translate": (_status, [_ctx_p, _model_p, _c_char_p,
                                       ctypes.POINTER(Translation)]),
    "at_translation_clear": (None, [ctypes.POINTER(Translation)]),
    "at_vocab_split": (_status, [_ctx_p, _model_p, _c_char_p, _strings_p, _int_p]),
})
# at_vocab_split's block is released with the C library's free().
libc_free = ctypes.CDLL(None).free
libc_free.restype = None
libc_free.argtypes = [ctypes.c_void_p]


def declare(signatures, library=None):
    """Give each C function of library (default libattend) its restype and
    argtypes: {name: (restype, [argtypes])}. The modules that bind more of
    the API (training.py, maps.py) declare theirs with it."""
    for name, (restype, argtypes) in signatures.items():
        function = getattr(library or lib, name)
        function.restype = restype
        function.argtypes = argtypes


declare(_SIGNATURES)


class Session:
    """One at_ctx and one at_params for one call, freed on exit.

    Each binding call makes its own, so no C state is shared between calls
    or threads. Gradients are off: these are inference calls.
        with Session() as s:
            s.check(lib.at_..., s.ctx, ...)
    """

    def __init__(self):
        self.ctx = _ctx_p()
        self.params = _params_p()

    def __enter__(self):
        self.ctx = new_context()
        lib.at_ctx_set_grad(self.ctx, 0)
        self.check(lib.at_params_create, self.ctx, ctypes.byref(self.params))
        return self

    def __exit__(self, *exc):
        if self.params:
            lib.at_params_free(self.params)
        lib.at_ctx_free(self.ctx)
        return False

    def check(self, function, *args):
        """Call function(*args); a non-OK status raises AttendError with
        the context's message."""
        raise_for(self.ctx, function(*args))


def status_name(status):
    return lib.at_status_name(status).decode("utf-8", "replace")


def new_context(options=None):
    """A new at_ctx (options: a pointer to at_ctx_options, or None for the
    defaults); AttendError if the library cannot make one."""
    ctx = _ctx_p()
    status = lib.at_ctx_create(ctypes.byref(ctx), options)
    if status != 0:
        raise AttendError(status_name(status), "could not create a context")
    return ctx


def raise_for(ctx, status):
    """Nothing if status is AT_OK; else AttendError with the status and the
    message the library left in ctx. Every binding call ends here."""
    if status != 0:
        raise AttendError(status_name(status), lib.at_ctx_error(ctx).decode("utf-8", "replace"))
