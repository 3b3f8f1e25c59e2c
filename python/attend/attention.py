"""The attention families of libattend as functions on NumPy arrays.

Each function takes float32 arrays with the shapes of include/attend/
attention.h, an optional keep-mask (1 = keep) and the family's parameters,
runs the C library's forward pass and returns (context, weights) as new
NumPy arrays. The parameters are the caller's: each call makes its layer
with rng = NULL (every parameter zero) and copies the given arrays into the
layer's parameter tensors, so weights dumped from any model (PyTorch,
Keras) can be looked at through attend.

Shapes (B batch, Tq queries, Tk keys, H heads):
  queries (B, Tq, Dq) or a decoder step (B, Dq); keys (B, Tk, Dk);
  values (B, Tk, Dv) -> context (B, Tq, Dv) or (B, Dv),
                        weights (B, Tq, Tk) or (B, Tk).
Masks: a padding mask (B, Tk), or a full mask with one row per score row
((B, Tq, Tk); (B, H, Tq, Tk) for heads). A query that sees no key gets zero
weights and a zero context, never NaN.
"""
import ctypes

from . import _arrays
from ._lib import (Additive, Bilinear, FeatureAttention, FeatureAttentionOptions,
                   HanAttention, MultiHead, Session, Tensor, lib)

_PREFIX = b"attention"


def _outputs():
    return ctypes.POINTER(Tensor)(), ctypes.POINTER(Tensor)()


def _query_key_value(queries, keys, values):
    """Check queries (B, [Tq,] Dq), keys (B, Tk, Dk), values (B, Tk, Dv)
    against each other; return (B, Tq or None for a step, Tk)."""
    _arrays.checked("queries", queries, (2, 3))
    _arrays.checked("keys", keys, (3,))
    _arrays.checked("values", values, (3,))
    batch, key_count = keys.shape[0], keys.shape[1]
    if queries.shape[0] != batch:
        raise ValueError(f"queries has batch {queries.shape[0]} but keys has batch {batch}")
    _arrays.expect_shape("values", values, (batch, key_count, values.shape[2]))
    query_count = queries.shape[1] if queries.ndim == 3 else None
    return batch, query_count, key_count


def _score_masks(batch, query_count, key_count):
    """The mask shapes a family with scores (B, [Tq,] Tk) accepts."""
    if query_count is None:
        return [(batch, key_count)]
    return [(batch, key_count), (batch, query_count, key_count)]


def _project_and_attend(s, layer, project_keys, attend, queries, keys, values, keep):
    """The two calls of a family with a key projection: keys_proj =
    project_keys(keys) once, then attend(queries, keys_proj, values)."""
    keys_proj = ctypes.POINTER(Tensor)()
    s.check(project_keys, s.ctx, ctypes.byref(layer), _arrays.tensor(s, keys),
            ctypes.byref(keys_proj))
    context, weights = _outputs()
    s.check(attend, s.ctx, ctypes.byref(layer), _arrays.tensor(s, queries), keys_proj,
            _arrays.tensor(s, values), ctypes.byref(keep), ctypes.byref(context),
            ctypes.byref(weights))
    return _arrays.to_numpy(context), _arrays.to_numpy(weights)


def additive_attention(queries, keys, values, W_a, U_a, b_a, v_a, mask=None):
    """Additive attention (Bahdanau et al. 2015):
        e_tj = v_aᵀ tanh(W_a q_t + U_a k_j + b_a),  α_t = softmax_j(e_t),
        c_t = Σ_j α_tj v_j.
    W_a (A, Dq), U_a (A, Dk), b_a (A), v_a (A). Returns (context, weights)."""
    batch, query_count, key_count = _query_key_value(queries, keys, values)
    attn_size = _arrays.checked("W_a", W_a, (2,)).shape[0]
    for name, x in (("U_a", U_a), ("b_a", b_a), ("v_a", v_a)):
        _arrays.checked(name, x, (1, 2))
    keep = _arrays.keep_mask(mask, _score_masks(batch, query_count, key_count))
    layer = Additive()
    with Session() as s:
        s.check(lib.at_additive_init, s.ctx, ctypes.byref(layer), s.params, _PREFIX,
                queries.shape[-1], keys.shape[2], attn_size, None)
        for name, x in (("W_a", W_a), ("U_a", U_a), ("b_a", b_a), ("v_a", v_a)):
            _arrays.set_parameter(name, getattr(layer, name), x)
        return _project_and_attend(s, layer, lib.at_additive_project_keys, lib.at_additive_attend,
                                   queries, keys, values, keep)


def dot_attention(q, k, v, scale=0.0, mask=None, causal=False):
    """Dot-product attention, softmax(scale · Q Kᵀ + mask) V, the library's
    fused kernel. scale 0 (the default) means 1/√d, the scaled dot of
    Vaswani et al. 2017; pass scale=1 for the plain dot score.
    q (B, H, Tq, d), (B, Tq, d) or a step (B, d); k (B, [H,] Tk, d),
    v (B, [H,] Tk, dv) -> context like q with dv, weights (B, [H,] Tq, Tk)
    (a step: (B, Tk)). causal=True hides key j from query i when
    j > i + (Tk - Tq). Returns (context, weights)."""
    _arrays.checked("q", q, (2, 3, 4))
    key_ndim = 4 if q.ndim == 4 else 3
    _arrays.checked("k", k, (key_ndim,))
    _arrays.checked("v", v, (key_ndim,))
    lead = q.shape[:-2] if q.ndim >= 3 else q.shape[:1]
    key_count, depth = k.shape[-2], q.shape[-1]
    _arrays.expect_shape("k", k, lead + (key_count, depth))
    _arrays.expect_shape("v", v, lead + (key_count, v.shape[-1]))
    if q.ndim == 2:
        masks = [(q.shape[0], key_count)]
    else:
        masks = [(q.shape[0], key_count), q.shape[:-1] + (key_count,)]
    keep = _arrays.keep_mask(mask, masks, causal)
    with Session() as s:
        context, weights = _outputs()
        s.check(lib.at_dot_attention, s.ctx, _arrays.tensor(s, q), _arrays.tensor(s, k),
                _arrays.tensor(s, v), float(scale), ctypes.byref(keep), ctypes.byref(context),
                ctypes.byref(weights))
        return _arrays.to_numpy(context), _arrays.to_numpy(weights)


def bilinear_attention(queries, keys, values, W, mask=None):
    """Multiplicative "general" attention (Luong et al. 2015): the score
    q_tᵀ W k_j, W (Dq, Dk); α_t = softmax_j, c_t = Σ_j α_tj v_j.
    Returns (context, weights)."""
    batch, query_count, key_count = _query_key_value(queries, keys, values)
    _arrays.checked("W", W, (2,))
    keep = _arrays.keep_mask(mask, _score_masks(batch, query_count, key_count))
    layer = Bilinear()
    with Session() as s:
        s.check(lib.at_bilinear_init, s.ctx, ctypes.byref(layer), s.params, _PREFIX,
                queries.shape[-1], keys.shape[2], None)
        _arrays.set_parameter("W", layer.W, W)
        return _project_and_attend(s, layer, lib.at_bilinear_project_keys, lib.at_bilinear_attend,
                                   queries, keys, values, keep)


def _static_input(h, mask):
    """Check h (B, T, D) and a padding mask (B, T); return the AttnMask."""
    _arrays.checked("h", h, (3,))
    return _arrays.keep_mask(mask, [h.shape[:2]])


def han_attention(h, W, b, u_w, mask=None):
    """Static attention of HAN (Yang et al. 2016), one distribution per
    sequence:  u_t = tanh(W h_t + b),  α_t = softmax_t(u_tᵀ u_w),
    out = Σ_t α_t h_t.  h (B, T, D), W (A, D), b (A), u_w (A), mask (B, T)
    -> (out (B, D), weights (B, T))."""
    keep = _static_input(h, mask)
    attn_size = _arrays.checked("W", W, (2,)).shape[0]
    _arrays.checked("b", b, (1,))
    _arrays.checked("u_w", u_w, (1,))
    layer = HanAttention()
    with Session() as s:
        s.check(lib.at_han_attention_init, s.ctx, ctypes.byref(layer), s.params, _PREFIX,
                h.shape[2], attn_size, None)
        for name, x in (("W", W), ("b", b), ("u_w", u_w)):
            _arrays.set_parameter(name, getattr(layer, name), x)
        out, weights = _outputs()
        s.check(lib.at_han_attention_forward, s.ctx, ctypes.byref(layer), _arrays.tensor(s, h),
                ctypes.byref(keep), ctypes.byref(out), ctypes.byref(weights))
        return _arrays.to_numpy(out), _arrays.to_numpy(weights)


def feature_attention(h, W, b, mask=None, eps=1e-7):
    """The seed's Keras attention, one distribution per feature f:
        u_t = tanh(W h_t + b),  a_tf = exp(u_tf) · mask_t,
        α_tf = a_tf / (Σ_t a_tf + eps),  out_f = Σ_t α_tf h_tf.
    h (B, T, D), W (D, D), b (D), mask (B, T)
    -> (out (B, D), weights (B, T, D))."""
    keep = _static_input(h, mask)
    _arrays.checked("W", W, (2,))
    _arrays.checked("b", b, (1,))
    layer = FeatureAttention()
    options = FeatureAttentionOptions(eps)
    with Session() as s:
        s.check(lib.at_feature_attention_init_ext, s.ctx, ctypes.byref(layer), s.params,
                _PREFIX, h.shape[2], ctypes.byref(options), None)
        _arrays.set_parameter("W", layer.W, W)
        _arrays.set_parameter("b", layer.b, b)
        out, weights = _outputs()
        s.check(lib.at_feature_attention_forward, s.ctx, ctypes.byref(layer),
                _arrays.tensor(s, h), ctypes.byref(keep), ctypes.byref(out),
                ctypes.byref(weights))
        return _arrays.to_numpy(out), _arrays.to_numpy(weights)


def multi_head(query, key, value, heads, in_proj_weight, in_proj_bias, out_proj_weight,
               out_proj_bias, mask=None, causal=False):
    """Multi-head attention (Vaswani et al. 2017) laid out as
    torch.nn.MultiheadAttention(E, heads, batch_first=True), so its
    state_dict's tensors pass as they are:
        head_h = softmax(Q_h K_hᵀ/√(E/H) + mask) V_h,
        out = [head_1 … head_H] W_Oᵀ + b_O.
    query (B, Tq, E) or a step (B, E), key and value (B, Tk, E);
    in_proj_weight (3E, E), in_proj_bias (3E), out_proj_weight (E, E),
    out_proj_bias (E); mask (B, Tk) or (B, H, Tq, Tk)
    -> (out like query, weights (B, H, Tq, Tk) per head, never averaged;
    (B, H, Tk) for a step)."""
    batch, query_count, key_count = _query_key_value(query, key, value)
    embed = query.shape[-1]
    _arrays.expect_shape("key", key, (batch, key_count, embed))
    _arrays.expect_shape("value", value, (batch, key_count, embed))
    for name, x in (("in_proj_weight", in_proj_weight), ("in_proj_bias", in_proj_bias),
                    ("out_proj_weight", out_proj_weight), ("out_proj_bias", out_proj_bias)):
        _arrays.checked(name, x, (1, 2))
    masks = [(batch, key_count)]
    if query_count is not None:
        masks.append((batch, int(heads), query_count, key_count))
    keep = _arrays.keep_mask(mask, masks, causal)
    layer = MultiHead()
    with Session() as s:
        s.check(lib.at_multi_head_init, s.ctx, ctypes.byref(layer), s.params, _PREFIX,
                embed, int(heads), None)
        for name, x in (("in_proj_weight", in_proj_weight), ("in_proj_bias", in_proj_bias),
                        ("out_proj_weight", out_proj_weight), ("out_proj_bias", out_proj_bias)):
            _arrays.set_parameter(name, getattr(layer, name), x)
        out, weights = _outputs()
        s.check(lib.at_multi_head_forward, s.ctx, ctypes.byref(layer), _arrays.tensor(s, query),
                _arrays.tensor(s, key), _arrays.tensor(s, value), ctypes.byref(keep),
                ctypes.byref(out), ctypes.byref(weights))
        return _arrays.to_numpy(out), _arrays.to_numpy(weights)
