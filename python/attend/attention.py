"""The attention families of libattend as functions on NumPy arrays.

Every family of include/attend/attention.h but the seed's AttentionDecoder
cell (a whole GRU-style decoder step, not an attention to look at):
  additive_attention     Bahdanau (additive, "concat")
  dot_attention          dot and scaled dot, with heads and causal masks
  bilinear_attention     "general", q W k
  luong_attention        Luong global: dot, general, concat, location
  luong_attentional      Luong's h̃_t = tanh(W_c [c_t; h_t])
  luong_local_attention  Luong local-m and local-p
  monotonic_attention    Raffel's soft (expected) monotonic alignment
  monotonic_attention_hard   its hard decoding step
  forward_attention      Zhang's forward attention on any weights y
  han_attention          HAN's static attention (one distribution)
  feature_attention      the seed's Keras layer (one per feature)
  self_attention         scaled dot self-attention
  structured_attention   Lin et al.'s r hops; structured_penalty
  key_value_attention    Daniluk's key-value attention
  multi_head             multi-head, laid out as torch's

Each function takes float32 arrays with the shapes of include/attend/
attention.h, an optional keep-mask (1 = keep) and the family's parameters,
runs the C library's forward pass (inference: no gradients, no noise) and
returns (context, weights) as new NumPy arrays (a few add an output on
request: positions, the read r_t). The parameters are the caller's: each call makes its layer
with rng = NULL (every parameter zero) and copies the given arrays into the
layer's parameter tensors, so weights dumped from any model (PyTorch,
Keras) can be looked at through attend.

Shapes (B batch, Tq queries, Tk keys, H heads):
  queries (B, Tq, Dq) or a decoder step (B, Dq); keys (B, Tk, Dk);
  values (B, Tk, Dv) -> context (B, Tq, Dv) or (B, Dv),
                        weights (B, Tq, Tk) or (B, Tk).
Masks: a padding mask (B, Tk), or a full mask with one row per score row
((B, Tq, Tk); (B, H, Tq, Tk) for heads). A query that sees no key gets zero
weights and a zero context, never NaN. Integer arrays (lengths, positions)
take any integer dtype and are copied as int32.
"""
import ctypes

from . import _arrays
from ._lib import (Additive, Bilinear, FeatureAttention, FeatureAttentionOptions,
                   HanAttention, KeyValue, Luong, LuongLocal, Monotonic, MultiHead,
                   SelfAttention, Session, StructuredAttention, Tensor, lib)

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


# ------------------------------------------------ Luong, global and local
_SCORES = {"dot": 0, "general": 1, "concat": 2, "location": 3}
_SCORE_PARAMETERS = {"dot": (), "general": ("W_a",), "concat": ("W_a", "v_a"),
                     "location": ("W_a",)}
_LOCAL_KINDS = {"m": 0, "p": 1}


def _optional_parameters(what, wanted, given):
    """Check that exactly the parameters named in wanted are given (not
    None) among given, a tuple of (name, array or None), and are float32
    arrays of the right rank; what names the form for the message."""
    for name, x, ndim in given:
        if name in wanted and x is None:
            raise ValueError(f"{what} needs {name}")
        if name not in wanted and x is not None:
            raise ValueError(f"{what} has no {name}; pass {name}=None")
        if x is not None:
            _arrays.checked(name, x, (ndim,))


def _luong_score(score, W_a, v_a):
    """Check a Luong score's parameters; return (score code, attn_size A,
    max_source_len) for at_luong_init."""
    if score not in _SCORES:
        raise ValueError(f"score must be one of {', '.join(_SCORES)}, not {score!r}")
    _optional_parameters(f"the {score} score", _SCORE_PARAMETERS[score],
                         (("W_a", W_a, 2), ("v_a", v_a, 1)))
    attn_size = W_a.shape[0] if score == "concat" else 0
    max_source_len = W_a.shape[0] if score == "location" else 0
    return _SCORES[score], attn_size, max_source_len


def _set_parameters(layer, named):
    """Copy each (name, array or None) into the layer's tensor of that name."""
    for name, x in named:
        if x is not None:
            _arrays.set_parameter(name, getattr(layer, name), x)


def luong_attention(queries, keys, values, score="dot", W_a=None, v_a=None, mask=None):
    """Global attention (Luong et al. 2015). The score of the decoder state
    h_t against each source state h̄_s:
        dot       h_tᵀ h̄_s                   (Dq == Dk; no parameters)
        general   h_tᵀ W_a h̄_s               W_a (Dq, Dk)
        concat    v_aᵀ tanh(W_a [h_t; h̄_s])   W_a (A, Dq + Dk), v_a (A)
        location  a_t = softmax(W_a h_t)      W_a (max_source_len, Dq); the
                  first Tk rows are used (Tk <= max_source_len)
        a_t = softmax_s(score),  c_t = Σ_s a_t(s) v_s.
    queries (B, Tq, Dq) or a step (B, Dq), keys (B, Tk, Dk), values
    (B, Tk, Dv); mask (B, Tk) or (B, Tq, Tk) -> (context (B, [Tq,] Dv),
    weights (B, [Tq,] Tk)). h̃_t is luong_attentional."""
    batch, query_count, key_count = _query_key_value(queries, keys, values)
    code, attn_size, max_source_len = _luong_score(score, W_a, v_a)
    keep = _arrays.keep_mask(mask, _score_masks(batch, query_count, key_count))
    layer = Luong()
    with Session() as s:
        s.check(lib.at_luong_init, s.ctx, ctypes.byref(layer), s.params, _PREFIX, code,
                queries.shape[-1], keys.shape[2], attn_size, max_source_len, 0, None)
        _set_parameters(layer, (("W_a", W_a), ("v_a", v_a)))
        return _project_and_attend(s, layer, lib.at_luong_project_keys, lib.at_luong_attend,
                                   queries, keys, values, keep)


def luong_attentional(context, queries, W_c):
    """Luong's attentional hidden state h̃_t = tanh(W_c [c_t; h_t]).
    context (B, [Tq,] Dv) (from luong_attention or luong_local_attention),
    queries (B, [Tq,] Dq), W_c (Dc, Dv + Dq) -> h_tilde (B, [Tq,] Dc)."""
    _arrays.checked("context", context, (2, 3))
    _arrays.checked("queries", queries, (context.ndim,))
    _arrays.expect_shape("queries", queries, context.shape[:-1] + queries.shape[-1:])
    attentional_size = _arrays.checked("W_c", W_c, (2,)).shape[0]
    query_size = queries.shape[-1]
    layer = Luong()
    with Session() as s:
        # W_c does not depend on the score: a dot layer carries it
        s.check(lib.at_luong_init, s.ctx, ctypes.byref(layer), s.params, _PREFIX,
                _SCORES["dot"], query_size, query_size, 0, 0, 0, None)
        s.check(lib.at_luong_init_attentional, s.ctx, ctypes.byref(layer), s.params, _PREFIX,
                context.shape[-1], attentional_size, None)
        _arrays.set_parameter("W_c", layer.W_c, W_c)
        h_tilde = ctypes.POINTER(Tensor)()
        s.check(lib.at_luong_attentional, s.ctx, ctypes.byref(layer),
                _arrays.tensor(s, context), _arrays.tensor(s, queries), ctypes.byref(h_tilde))
        return _arrays.to_numpy(h_tilde)


def luong_local_attention(queries, keys, values, kind, window, score="dot", W_a=None,
                          v_a=None, W_p=None, v_p=None, mask=None, lengths=None,
                          first_step=0, return_positions=False):
    """Local attention (Luong et al. 2015): attend only inside the window
    [p_t − D, p_t + D] (D = window), clipped to the row's source length S.
        kind "m"  p_t = t (query i is step first_step + i); a_t = the
                  score's softmax restricted to the window
        kind "p"  p_t = S · sigmoid(v_pᵀ tanh(W_p h_t)), W_p (P, Dq), v_p (P);
                  a_t(s) = align_t(s) · exp(−(s − p_t)² / (2σ²)), σ = D/2
    The score is dot, general or concat, with W_a and v_a as in
    luong_attention. S is lengths[b] (integers (B)), or what a padding
    mask (B, Tk) keeps of row b, or Tk (a full mask (B, Tq, Tk) says
    nothing of S: pass lengths with it). The weights are a_t (for "p"
    they need not sum to 1, as in the paper).
    queries (B, Tq, Dq) or a step (B, Dq), keys (B, Tk, Dk), values
    (B, Tk, Dv) -> (context (B, [Tq,] Dv), weights (B, [Tq,] Tk)), and
    positions p_t (B, Tq) (float32) when return_positions."""
    batch, query_count, key_count = _query_key_value(queries, keys, values)
    if kind not in _LOCAL_KINDS:
        raise ValueError(f"kind must be 'm' (local-m) or 'p' (local-p), not {kind!r}")
    code, attn_size, _ = _luong_score(score, W_a, v_a)
    _optional_parameters(f"local-{kind}", ("W_p", "v_p") if kind == "p" else (),
                         (("W_p", W_p, 2), ("v_p", v_p, 1)))
    predict_size = W_p.shape[0] if kind == "p" else 0
    keep = _arrays.keep_mask(mask, _score_masks(batch, query_count, key_count))
    source_lengths = None if lengths is None else _arrays.int32s("lengths", lengths, (batch,))
    layer = LuongLocal()
    with Session() as s:
        s.check(lib.at_luong_local_init, s.ctx, ctypes.byref(layer), s.params, _PREFIX,
                _LOCAL_KINDS[kind], code, queries.shape[-1], keys.shape[2], attn_size, 0,
                int(window), predict_size, None)
        _set_parameters(layer.align, (("W_a", W_a), ("v_a", v_a)))
        _set_parameters(layer, (("W_p", W_p), ("v_p", v_p)))
        keys_proj = ctypes.POINTER(Tensor)()
        s.check(lib.at_luong_project_keys, s.ctx, ctypes.byref(layer.align),
                _arrays.tensor(s, keys), ctypes.byref(keys_proj))
        context, weights = _outputs()
        positions = ctypes.POINTER(Tensor)()
        s.check(lib.at_luong_local_attend, s.ctx, ctypes.byref(layer),
                _arrays.tensor(s, queries), keys_proj, _arrays.tensor(s, values),
                ctypes.byref(keep),
                None if source_lengths is None else _arrays.int32_pointer(source_lengths),
                int(first_step), ctypes.byref(context), ctypes.byref(weights),
                ctypes.byref(positions) if return_positions else None)
        result = (_arrays.to_numpy(context), _arrays.to_numpy(weights))
        return result + (_arrays.to_numpy(positions),) if return_positions else result


# ------------------------------------------------------ forced-forward
def _step_query_key_value(query, keys, values):
    """Check query (B, Dq), keys (B, Tk, Dk), values (B, Tk, Dv); return (B, Tk)."""
    _arrays.checked("query", query, (2,))
    _arrays.checked("keys", keys, (3,))
    _arrays.checked("values", values, (3,))
    batch, key_count = keys.shape[:2]
    if query.shape[0] != batch:
        raise ValueError(f"query has batch {query.shape[0]} but keys has batch {batch}")
    _arrays.expect_shape("values", values, (batch, key_count, values.shape[2]))
    return batch, key_count


def _monotonic_call(attend, query, keys, values, parameters, between):
    """Make a monotonic layer with the caller's parameters (W_a, U_a, b_a,
    v_a, g, r), project the keys, and call attend(ctx, layer, query,
    keys_proj, values, *between(session), context, weights)."""
    W_a, U_a, b_a, v_a, g, r = parameters
    attn_size = _arrays.checked("W_a", W_a, (2,)).shape[0]
    for name, x in (("U_a", U_a), ("b_a", b_a), ("v_a", v_a), ("g", g), ("r", r)):
        _arrays.checked(name, x, (1, 2))
    layer = Monotonic()
    with Session() as s:
        s.check(lib.at_monotonic_init, s.ctx, ctypes.byref(layer), s.params, _PREFIX,
                query.shape[1], keys.shape[2], attn_size, None)
        _set_parameters(layer.energy, (("W_a", W_a), ("U_a", U_a), ("b_a", b_a), ("v_a", v_a)))
        _set_parameters(layer, (("g", g), ("r", r)))
        keys_proj = ctypes.POINTER(Tensor)()
        s.check(lib.at_additive_project_keys, s.ctx, ctypes.byref(layer.energy),
                _arrays.tensor(s, keys), ctypes.byref(keys_proj))
        context, weights = _outputs()
        s.check(attend, s.ctx, ctypes.byref(layer), _arrays.tensor(s, query), keys_proj,
                _arrays.tensor(s, values), *between(s), ctypes.byref(context),
                ctypes.byref(weights))
        return _arrays.to_numpy(context), _arrays.to_numpy(weights)


def monotonic_attention(query, keys, values, W_a, U_a, b_a, v_a, g, r, alpha_prev=None,
                        mask=None):
    """Monotonic attention (Raffel et al. 2017), one decoder step of the
    soft (expected) alignment:
        e_ij = g v_aᵀ/‖v_a‖ tanh(W_a s_{i−1} + U_a h_j + b_a) + r,
        p_ij = σ(e_ij)  (0 where masked),
        q_ij = (1 − p_{i,j−1}) q_{i,j−1} + α_{i−1,j},  α_ij = p_ij q_ij.
    query s_{i−1} (B, Dq), keys h (B, Tk, Dk), values (B, Tk, Dv);
    W_a (A, Dq), U_a (A, Dk), b_a (A), v_a (A), g (1), r (1);
    alpha_prev α_{i−1} (B, Tk) or None (δ at position 0); mask (B, Tk)
    -> (context (B, Dv), alpha (B, Tk)); Σ_j α_ij <= 1."""
    batch, key_count = _step_query_key_value(query, keys, values)
    if alpha_prev is not None:
        _arrays.checked("alpha_prev", alpha_prev, (2,))
        _arrays.expect_shape("alpha_prev", alpha_prev, (batch, key_count))
    keep = _arrays.keep_mask(mask, [(batch, key_count)])

    def between(s):
        previous = None if alpha_prev is None else _arrays.tensor(s, alpha_prev)
        return previous, ctypes.byref(keep)
    return _monotonic_call(lib.at_monotonic_attend, query, keys, values,
                           (W_a, U_a, b_a, v_a, g, r), between)


def monotonic_attention_hard(query, keys, values, W_a, U_a, b_a, v_a, g, r, positions,
                             mask=None):
    """Hard monotonic attention (Raffel et al. 2017), for decoding: from
    positions[b] (included) scan forward and stop at the first kept j with
    p_ij >= 0.5 (p_ij as in monotonic_attention); if there is none, attend
    to nothing (zero context) and keep the position.
    positions (B) integers, the previous positions (start at 0); the
    other arrays as in monotonic_attention -> (context (B, Dv),
    weights (B, Tk) one-hot or all zero, new positions (B) int32).
    The positions passed in are not changed."""
    batch, key_count = _step_query_key_value(query, keys, values)
    walked = _arrays.int32s("positions", positions, (batch,))
    keep = _arrays.keep_mask(mask, [(batch, key_count)])
    context, weights = _monotonic_call(lib.at_monotonic_attend_hard, query, keys, values,
                                       (W_a, U_a, b_a, v_a, g, r),
                                       lambda s: (ctypes.byref(keep),
                                                  _arrays.int32_pointer(walked)))
    return context, weights, walked


def forward_attention(y, values, alpha_prev=None, transition=None, mask=None):
    """Forward attention (Zhang et al. 2018) on any soft attention y:
        α̂_t(n) = ((1 − u) α̂_{t−1}(n) + u α̂_{t−1}(n−1)) · y_t(n),
    renormalised over n (all zeros if the sum is 0); c_t = Σ_n α̂_t(n) v_n.
    y (B, Tk) >= 0 (need not sum to 1), values (B, Tk, Dv), alpha_prev
    (B, Tk) or None (δ at position 0), transition u (B, 1) in [0, 1] or
    None (the plain form: both coefficients 1), mask (B, Tk)
    -> (context (B, Dv), alpha (B, Tk))."""
    _arrays.checked("y", y, (2,))
    _arrays.checked("values", values, (3,))
    batch, key_count = y.shape
    _arrays.expect_shape("values", values, (batch, key_count, values.shape[2]))
    for name, x, shape in (("alpha_prev", alpha_prev, (batch, key_count)),
                           ("transition", transition, (batch, 1))):
        if x is not None:
            _arrays.checked(name, x, (2,))
            _arrays.expect_shape(name, x, shape)
    keep = _arrays.keep_mask(mask, [(batch, key_count)])
    with Session() as s:
        optional = [None if x is None else _arrays.tensor(s, x) for x in (alpha_prev, transition)]
        context, alpha = _outputs()
        s.check(lib.at_forward_attention, s.ctx, _arrays.tensor(s, y), optional[0], optional[1],
                _arrays.tensor(s, values), ctypes.byref(keep), ctypes.byref(context),
                ctypes.byref(alpha))
        return _arrays.to_numpy(context), _arrays.to_numpy(alpha)


# ------------------------------------------------------ self-attention
def self_attention(x, W_Q, W_K, W_V, mask=None, causal=False):
    """Scaled dot-product self-attention (Vaswani et al. 2017) of one
    sequence x: Q = x W_Qᵀ, K = x W_Kᵀ, V = x W_Vᵀ,
        out = softmax(Q Kᵀ/√d_k + mask) V.
    x (B, T, D), W_Q and W_K (d_k, D), W_V (d_v, D); mask (B, T) or
    (B, T, T); causal=True lets query i see keys 0..i
    -> (out (B, T, d_v), weights (B, T, T))."""
    _arrays.checked("x", x, (3,))
    key_size = _arrays.checked("W_Q", W_Q, (2,)).shape[0]
    value_size = _arrays.checked("W_V", W_V, (2,)).shape[0]
    _arrays.checked("W_K", W_K, (2,))
    batch, length = x.shape[:2]
    keep = _arrays.keep_mask(mask, [(batch, length), (batch, length, length)], causal)
    layer = SelfAttention()
    with Session() as s:
        s.check(lib.at_self_attention_init_sizes, s.ctx, ctypes.byref(layer), s.params, _PREFIX,
                x.shape[2], key_size, value_size, None)
        _set_parameters(layer, (("W_Q", W_Q), ("W_K", W_K), ("W_V", W_V)))
        out, weights = _outputs()
        s.check(lib.at_self_attention_forward, s.ctx, ctypes.byref(layer), _arrays.tensor(s, x),
                ctypes.byref(keep), ctypes.byref(out), ctypes.byref(weights))
        return _arrays.to_numpy(out), _arrays.to_numpy(weights)


def structured_attention(h, W_s1, W_s2, mask=None):
    """Structured self-attention (Lin et al. 2017), r hops, each its own
    distribution over the T positions of h:
        A = softmax_T(W_s2 tanh(W_s1 hᵀ)),  M = A h.
    h (B, T, D), W_s1 (da, D), W_s2 (r, da); mask (B, T) or one row per
    hop (B, r, T) -> (M (B, r, D), weights A (B, r, T)).
    structured_penalty(A) is the penalty ‖A Aᵀ − I‖²_F."""
    _arrays.checked("h", h, (3,))
    attn_size = _arrays.checked("W_s1", W_s1, (2,)).shape[0]
    hops = _arrays.checked("W_s2", W_s2, (2,)).shape[0]
    batch, length = h.shape[:2]
    keep = _arrays.keep_mask(mask, [(batch, length), (batch, hops, length)])
    layer = StructuredAttention()
    with Session() as s:
        s.check(lib.at_structured_attention_init, s.ctx, ctypes.byref(layer), s.params, _PREFIX,
                h.shape[2], attn_size, hops, None)
        _set_parameters(layer, (("W_s1", W_s1), ("W_s2", W_s2)))
        out, weights = _outputs()
        s.check(lib.at_structured_attention_forward, s.ctx, ctypes.byref(layer),
                _arrays.tensor(s, h), ctypes.byref(keep), ctypes.byref(out),
                ctypes.byref(weights))
        return _arrays.to_numpy(out), _arrays.to_numpy(weights)


def structured_penalty(weights, per_row=False):
    """The penalty of structured self-attention on its weights A (B, r, T):
    the batch mean of ‖A_b A_bᵀ − I‖²_F (a float), or per_row=True: each
    row's ‖A_b A_bᵀ − I‖²_F (B) as a float32 array."""
    _arrays.checked("weights", weights, (3,))
    penalty = ctypes.POINTER(Tensor)()
    function = lib.at_structured_penalty_rows if per_row else lib.at_structured_penalty
    with Session() as s:
        s.check(function, s.ctx, _arrays.tensor(s, weights), ctypes.byref(penalty))
        values = _arrays.to_numpy(penalty)
    return values if per_row else float(values[0])


# ------------------------------------------------------------ key-value
def key_value_attention(keys, values, x, W_Y, W_h, w, W_r, W_x, memory, mask=None,
                        return_read=False):
    """Key-value attention (Daniluk et al. 2017) over the previous L =
    memory steps of one sequence:
        M_tj = tanh(W_Y k_j + W_h k_t)  (j = t−L .. t−1),  α_t = softmax_j(wᵀ M_t),
        r_t = Σ_j α_tj v_j,  h*_t = tanh(W_r r_t + W_x x_t).
    keys (B, T, Dk), values (B, T, Dv), x (B, T, Dx) (the values for
    key-value, the predict part for key-value-predict); W_Y and W_h
    (A, Dk), w (A), W_r (Do, Dv), W_x (Do, Dx); mask (B, T) or (B, T, T)
    -> (out (B, T, Do), weights (B, T, T), zero outside the window; step 0
    sees nothing), and the read r (B, T, Dv) when return_read."""
    for name, array in (("keys", keys), ("values", values), ("x", x)):
        _arrays.checked(name, array, (3,))
    batch, length = keys.shape[:2]
    _arrays.expect_shape("values", values, (batch, length, values.shape[2]))
    _arrays.expect_shape("x", x, (batch, length, x.shape[2]))
    attn_size = _arrays.checked("W_Y", W_Y, (2,)).shape[0]
    out_size = _arrays.checked("W_r", W_r, (2,)).shape[0]
    for name, array in (("W_h", W_h), ("w", w), ("W_x", W_x)):
        _arrays.checked(name, array, (1, 2))
    keep = _arrays.keep_mask(mask, [(batch, length), (batch, length, length)])
    layer = KeyValue()
    with Session() as s:
        s.check(lib.at_key_value_init, s.ctx, ctypes.byref(layer), s.params, _PREFIX,
                keys.shape[2], values.shape[2], x.shape[2], out_size, attn_size, int(memory),
                None)
        _set_parameters(layer, (("W_Y", W_Y), ("W_h", W_h), ("w", w), ("W_r", W_r),
                                ("W_x", W_x)))
        out, weights = _outputs()
        read = ctypes.POINTER(Tensor)()
        s.check(lib.at_key_value_forward_ext, s.ctx, ctypes.byref(layer),
                _arrays.tensor(s, keys), _arrays.tensor(s, values), _arrays.tensor(s, x),
                ctypes.byref(keep), ctypes.byref(out), ctypes.byref(weights),
                ctypes.byref(read) if return_read else None)
        result = (_arrays.to_numpy(out), _arrays.to_numpy(weights))
        return result + (_arrays.to_numpy(read),) if return_read else result
