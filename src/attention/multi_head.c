/*
 * multi_head.c - multi-head attention (family 10, Vaswani et al. 2017), with
 * the parameters of torch.nn.MultiheadAttention(E, H, kdim, vdim,
 * batch_first=True) so that a state_dict moves between the two unchanged.
 *
 * The idea: H small attentions side by side, each in its own E/H-wide
 * subspace, then one projection mixes what the heads found:
 *
 *     Q = query W_Qᵀ + b_Q    K = key W_Kᵀ + b_K    V = value W_Vᵀ + b_V
 *     head_h = softmax(Q_h K_hᵀ / √(E/H) + mask) V_h
 *     out = [head_1 … head_H] W_Oᵀ + b_O
 *
 *     query (B, Tq, E)   key (B, Tk, kdim)   value (B, Tk, vdim)   out (B, Tq, O)
 *     W_Q (E, E)   W_K (E, kdim)   W_V (E, vdim)   b_Q, b_K, b_V (E)
 *     W_O out_proj.weight (O, E)                  b_O out_proj.bias (O)
 *     Q_h, K_h, V_h: columns h·E/H .. (h+1)·E/H − 1 of Q, K, V
 *     heads (B, H, T, E/H)   weights (B, H, Tq, Tk), one map per head, never averaged
 *
 * kdim, vdim and O are E unless at_multi_head_init_sizes says otherwise.
 * Stored as torch stores them: when kdim == vdim == E, one packed
 * in_proj_weight (3E, E) = [W_Q; W_K; W_V]; otherwise three matrices
 * q_proj_weight, k_proj_weight, v_proj_weight (torch's names when its
 * _qkv_same_embed_dim is false). in_proj_bias (3E) = [b_Q; b_K; b_V] in
 * both cases. torch has no O ≠ E; with O = E the layout is exactly its.
 *
 * Splitting into heads is a rearrangement, (B, T, E) <-> (B, H, T, E/H):
 * one helper, move_heads, does it in both directions (forward of the input
 * projection and backward of the output projection go to heads; the other
 * two come back). The pieces, each one tape entry:
 *
 *     in_proj   x (B, T, in) -> heads (B, H, T, E/H)   (Q, K or V: part 0, 1, 2)
 *     at_dot_attention on the heads, scale 1/√(E/H)   the fused kernel, G = B·H
 *     out_proj  heads (B, H, Tq, E/H) -> out (B, Tq, O)
 *
 * _project_kv does K and V once per sequence (cross-attention over a fixed
 * memory); _attend does the rest per query; _forward is both.
 *
 * Initialisation, as torch does it (MultiheadAttention._reset_parameters):
 * in_proj_weight xavier_uniform_ on the whole (3E, E) matrix, i.e.
 * U(−a, a), a = √(6 / (E + 3E)) (or each of q/k/v_proj_weight on its own);
 * in_proj_bias and out_proj.bias zero; out_proj.weight keeps nn.Linear's
 * default kaiming_uniform_(a = √5), which is U(−1/√E, 1/√E). rng NULL
 * leaves every parameter zero.
 *
 * Masks: a padding mask (B, Tk) with rows = B, a full mask with one row per
 * score row (B·H·Tq rows, ordered b, then h, then query: torch's 3-D
 * attn_mask (B·H, Tq, Tk) flattened), causal. A query that sees no key
 * gets zero weights and a zero head context, so its output is b_O (torch
 * gives NaN there); no gradient reaches query, key or value through it.
 * A decoder step may pass query (B, E): out (B, O), weights (B, H, Tk).
 * Weights come from the fused kernel and carry a gradient (a loss on them
 * reaches query, key and the Q and K projections).
 */
#include "attention.h"
#include "../layers/layers.h"

#include <math.h>

/* ---------------------------------------------------------------- init */

/* The sizes of a layer: kdim, vdim and out_dim 0 mean E (a layer made
 * before they existed, or by hand). */
typedef struct mha_sizes {
    int E, H, kdim, vdim, out;
    int packed; /* 1: one in_proj_weight (3E, E); 0: q/k/v_proj_weight */
} mha_sizes;

static mha_sizes sizes_of(const at_multi_head *layer) {
    int E = layer->embed_dim;
    mha_sizes n = {E, layer->heads, layer->kdim > 0 ? layer->kdim : E,
                   layer->vdim > 0 ? layer->vdim : E, layer->out_dim > 0 ? layer->out_dim : E, 0};
    n.packed = n.kdim == E && n.vdim == E;
    return n;
}

at_status at_multi_head_init_sizes(at_ctx *ctx, at_multi_head *layer, at_params *params,
                                   const char *prefix, int embed_dim, int heads, int kdim,
                                   int vdim, int out_dim, at_rng *rng) {
    const char *op = "multi_head_init";
    if (!ctx) return AT_ERR_ARGUMENT;
    if (!layer || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: NULL layer or params", op);
    if (embed_dim <= 0 || heads <= 0 || embed_dim % heads != 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "%s: embed_dim %d must be > 0 and divisible by heads %d (> 0)", op,
                           embed_dim, heads);
    if (kdim < 0 || vdim < 0 || out_dim < 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "%s: kdim %d, vdim %d and out_dim %d must be > 0 (or 0 for E)", op,
                           kdim, vdim, out_dim);
    int E = embed_dim;
    at_multi_head made = {.embed_dim = E, .heads = heads, .kdim = kdim ? kdim : E,
                          .vdim = vdim ? vdim : E, .out_dim = out_dim ? out_dim : E};
    mha_sizes n = sizes_of(&made);
    if (n.packed) {
        AT_TRY(layer_param(ctx, params, prefix, "in_proj_weight", NULL, 2, (int[]){3 * E, E},
                           &made.in_proj_weight));
    } else { /* torch's order: q, k, v, then the bias */
        AT_TRY(layer_param(ctx, params, prefix, "q_proj_weight", NULL, 2, (int[]){E, E},
                           &made.q_proj_weight));
        AT_TRY(layer_param(ctx, params, prefix, "k_proj_weight", NULL, 2, (int[]){E, n.kdim},
                           &made.k_proj_weight));
        AT_TRY(layer_param(ctx, params, prefix, "v_proj_weight", NULL, 2, (int[]){E, n.vdim},
                           &made.v_proj_weight));
    }
    AT_TRY(layer_param(ctx, params, prefix, "in_proj_bias", NULL, 1, (int[]){3 * E},
                       &made.in_proj_bias));
    AT_TRY(layer_param(ctx, params, prefix, "out_proj.weight", NULL, 2, (int[]){n.out, E},
                       &made.out_proj_weight));
    AT_TRY(layer_param(ctx, params, prefix, "out_proj.bias", NULL, 1, (int[]){n.out},
                       &made.out_proj_bias));
    if (n.packed) {
        at_init_glorot_uniform(made.in_proj_weight, E, 3 * E, 1.0f, rng);
    } else {
        at_init_glorot_uniform(made.q_proj_weight, E, E, 1.0f, rng);
        at_init_glorot_uniform(made.k_proj_weight, n.kdim, E, 1.0f, rng);
        at_init_glorot_uniform(made.v_proj_weight, n.vdim, E, 1.0f, rng);
    }
    float bound = 1.0f / sqrtf((float)E);
    at_init_uniform(made.out_proj_weight, -bound, bound, rng);
    *layer = made;
    return AT_OK;
}

at_status at_multi_head_init(at_ctx *ctx, at_multi_head *layer, at_params *params,
                             const char *prefix, int embed_dim, int heads, at_rng *rng) {
    return at_multi_head_init_sizes(ctx, layer, params, prefix, embed_dim, heads, 0, 0, 0, rng);
}

static at_status check_param(at_ctx *ctx, const char *op, const char *name, const at_tensor *t,
                             int ndim, int d0, int d1) {
    if (!t) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: %s is NULL", op, name);
    if (t->ndim != ndim || t->shape[0] != d0 || (ndim == 2 && t->shape[1] != d1)) {
        char buf[64], want[64];
        ati_shape_str(want, sizeof want, ndim, (int[]){d0, d1});
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: %s is %s, the layer's sizes need %s", op, name,
                           ati_shape_str(buf, sizeof buf, t->ndim, t->shape), want);
    }
    return AT_OK;
}

static at_status check_multi_head(at_ctx *ctx, const char *op, const at_multi_head *layer) {
    if (!layer) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: layer is NULL", op);
    int E = layer->embed_dim, H = layer->heads;
    if (E <= 0 || H <= 0 || E % H != 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: embed_dim %d is not a multiple of heads %d",
                           op, E, H);
    mha_sizes n = sizes_of(layer);
    if (n.packed) {
        AT_TRY(check_param(ctx, op, "in_proj_weight", layer->in_proj_weight, 2, 3 * E, E));
    } else {
        AT_TRY(check_param(ctx, op, "q_proj_weight", layer->q_proj_weight, 2, E, E));
        AT_TRY(check_param(ctx, op, "k_proj_weight", layer->k_proj_weight, 2, E, n.kdim));
        AT_TRY(check_param(ctx, op, "v_proj_weight", layer->v_proj_weight, 2, E, n.vdim));
    }
    AT_TRY(check_param(ctx, op, "in_proj_bias", layer->in_proj_bias, 1, 3 * E, 0));
    AT_TRY(check_param(ctx, op, "out_proj.weight", layer->out_proj_weight, 2, n.out, E));
    return check_param(ctx, op, "out_proj.bias", layer->out_proj_bias, 1, n.out, 0);
}

/* -------------------------------------------------------------- pieces */

/* The one head split/merge. to_heads = 1: heads (B, H, T, hd) <- flat
 * (B, T, E); to_heads = 0: flat (B, T, E) <- heads (B, H, T, hd). add = 1
 * adds into dst (a gradient that others also add to); add = 0 writes
 * every element of dst, which then needs no zeroing first. */
static void move_head(int to_heads, int add, int b, int h, int T, int H, int hd,
                      const float *src, float *dst) {
    int E = H * hd;
    for (int t = 0; t < T; t++) {
        size_t flat = ((size_t)b * T + t) * E + (size_t)h * hd;
        size_t head = (((size_t)b * H + h) * T + t) * hd;
        const float *from = src + (to_heads ? flat : head);
        float *to = dst + (to_heads ? head : flat);
        if (add)
            for (int i = 0; i < hd; i++) to[i] += from[i];
        else
            for (int i = 0; i < hd; i++) to[i] = from[i];
    }
}

/* Each (b, h) touches its own elements, so large moves are cut between
 * threads by (b, h): the same bits for any number. */
enum { MOVE_HEADS_PARALLEL_MIN = 1 << 16 };

static void move_heads(int to_heads, int add, int B, int T, int H, int hd, const float *src,
                       float *dst, int threads) {
    long pieces = (long)B * H;
    if (threads <= 1 || pieces < 2 || pieces * T * hd < MOVE_HEADS_PARALLEL_MIN) {
        for (long p = 0; p < pieces; p++)
            move_head(to_heads, add, (int)(p / H), (int)(p % H), T, H, hd, src, dst);
        return;
    }
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long p = 0; p < pieces; p++)
        move_head(to_heads, add, (int)(p / H), (int)(p % H), T, H, hd, src, dst);
}

/* y (R, out) = x (R, in) Wᵀ + b, W (out, in), b (out); y is overwritten.
 * The products run on the context's threads (the same bits for any
 * number): on one, the Transformer's second thread waited out a third of
 * every layer's work. */
static void linear_forward(int rows, int in, int out, const float *x, const float *W,
                           const float *b, float *y, int threads) {
    ati_gemm_bias(0, 1, rows, out, in, 1.0f, x, in, W, in, b, y, out, threads);
}

/* The backward of linear_forward: dx, dW, db each added to where not NULL;
 * dx_beta 0 writes dx instead (a scratch buffer of the op's own). */
static void linear_backward(int rows, int in, int out, const float *x, const float *W,
                            const float *dy, float *dx, float dx_beta, float *dW, float *db,
                            int threads) {
    // forward: y = x Wᵀ + b              so dx += dy W : (R, out) x (out, in)
    if (dx)
        ati_gemm_threads(0, 0, rows, in, out, 1.0f, dy, out, W, in, dx_beta, dx, in, threads);
    // forward: y = x Wᵀ + b              so dW += dyᵀ x : (out, R) x (R, in)
    if (dW) ati_gemm_threads(1, 0, out, in, rows, 1.0f, dy, out, x, in, 1.0f, dW, in, threads);
    // forward: y[r, :] = ... + b          so db += Σ_r dy[r, :]
    if (db) ati_add_column_sums(db, dy, rows, out, threads);
}

/* A float pointer offset into t's gradient, or NULL when t has none. */
static float *grad_at(const at_tensor *t, size_t offset) {
    return t->grad ? t->grad + offset : NULL;
}

/* The weight of projection `part` (0 = Q, 1 = K, 2 = V): a tensor and the
 * offset of its (E, in) block, a row block of in_proj_weight when packed. */
static at_tensor *part_weight(const at_multi_head *layer, int part, size_t *offset) {
    mha_sizes n = sizes_of(layer);
    *offset = n.packed ? (size_t)part * n.E * n.E : 0;
    if (n.packed) return layer->in_proj_weight;
    return part == 0 ? layer->q_proj_weight : part == 1 ? layer->k_proj_weight
                                                        : layer->v_proj_weight;
}

/* in_proj: node->iarg = {part, H}; inputs x, W (the part's weight tensor:
 * in_proj_weight (3E, E) or its own (E, in)), in_proj_bias. */
static at_status in_proj_backward(at_ctx *ctx, ati_node *node) {
    at_tensor *x = node->in[0], *W = node->in[1], *bias = node->in[2];
    int part = node->iarg[0], H = node->iarg[1];
    int B = x->shape[0], T = x->shape[1], in = x->shape[2], rows = B * T;
    int E = node->out->shape[1] * node->out->shape[3];
    size_t w_off = W->shape[0] == 3 * E ? (size_t)part * E * E : 0; // packed: a row block
    float *d_proj; // (B, T, E), every element written below
    AT_TRY(ati_scratch(ctx, (void **)&d_proj, (size_t)rows * E * sizeof *d_proj));
    // forward: heads (B, H, T, E/H) = proj (B, T, E) split into heads
    move_heads(0, 0, B, T, H, E / H, node->out->grad, d_proj, ctx->threads);
    // forward: proj = x W_partᵀ + b_part, W_part (E, in)
    size_t b_off = (size_t)part * E;
    linear_backward(rows, in, E, x->data, W->data + w_off, d_proj, x->grad, 1.0f,
                    grad_at(W, w_off), grad_at(bias, b_off), ctx->threads);
    return AT_OK;
}

/* heads (B, H, T, E/H) = split(x W_partᵀ + b_part), part 0 = Q, 1 = K, 2 = V;
 * x (B, T, in), in = E, kdim or vdim. */
static at_status in_proj(at_ctx *ctx, const at_multi_head *layer, at_tensor *x, int part,
                         at_tensor **heads_out) {
    int B = x->shape[0], T = x->shape[1], in = x->shape[2], E = layer->embed_dim;
    int H = layer->heads;
    size_t w_off;
    at_tensor *W = part_weight(layer, part, &w_off);
    at_tensor *inputs[3] = {x, W, layer->in_proj_bias};
    int track = ati_tracking(ctx, 3, inputs);
    int shape[4] = {B, H, T, E / H};
    at_tensor *heads;
    AT_TRY(ati_result_uninit(ctx, &heads, 4, shape, track)); // every element written
    float *proj; // (B, T, E), written by linear_forward
    AT_TRY(ati_scratch(ctx, (void **)&proj, (size_t)B * T * E * sizeof *proj));
    linear_forward(B * T, in, E, x->data, W->data + w_off,
                   layer->in_proj_bias->data + (size_t)part * E, proj, ctx->threads);
    move_heads(1, 0, B, T, H, E / H, proj, heads->data, ctx->threads);
    if (track) {
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, "multi_head_in_proj", in_proj_backward, heads, 3,
                              inputs));
        node->iarg[0] = part;
        node->iarg[1] = H;
    }
    *heads_out = heads;
    return AT_OK;
}

/* out_proj: inputs heads, out_proj.weight, out_proj.bias; saved = merged. */
static at_status out_proj_backward(at_ctx *ctx, ati_node *node) {
    at_tensor *heads = node->in[0], *W_O = node->in[1], *b_O = node->in[2];
    const float *merged = node->saved; // (B, Tq, E)
    int B = heads->shape[0], H = heads->shape[1], T = heads->shape[2], hd = heads->shape[3];
    int E = H * hd, rows = B * T, O = W_O->shape[0];
    float *d_merged = NULL; // (B, Tq, E), written by linear_backward (dx_beta 0)
    if (heads->grad)
        AT_TRY(ati_scratch(ctx, (void **)&d_merged, (size_t)rows * E * sizeof *d_merged));
    // forward: out = merged W_Oᵀ + b_O, W_O (O, E)
    linear_backward(rows, E, O, merged, W_O->data, node->out->grad, d_merged, 0.0f, W_O->grad,
                    b_O->grad, ctx->threads);
    // forward: merged (B, Tq, E) = heads (B, H, Tq, E/H) concatenated
    if (heads->grad) move_heads(1, 1, B, T, H, hd, d_merged, heads->grad, ctx->threads);
    return AT_OK;
}

/* out (B, Tq, O) = [head_1 … head_H] W_Oᵀ + b_O. */
static at_status out_proj(at_ctx *ctx, const at_multi_head *layer, at_tensor *heads,
                          at_tensor **out_result) {
    int B = heads->shape[0], H = heads->shape[1], T = heads->shape[2], hd = heads->shape[3];
    int E = layer->embed_dim, O = sizes_of(layer).out;
    at_tensor *inputs[3] = {heads, layer->out_proj_weight, layer->out_proj_bias};
    int track = ati_tracking(ctx, 3, inputs);
    int shape[3] = {B, T, O};
    at_tensor *out;
    AT_TRY(ati_result_uninit(ctx, &out, 3, shape, track)); // every element written
    float *merged; // (B, Tq, E), every element written
    AT_TRY(ati_scratch(ctx, (void **)&merged, (size_t)B * T * E * sizeof *merged));
    move_heads(0, 0, B, T, H, hd, heads->data, merged, ctx->threads);
    linear_forward(B * T, E, O, merged, layer->out_proj_weight->data,
                   layer->out_proj_bias->data, out->data, ctx->threads);
    if (track) {
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, "multi_head_out_proj", out_proj_backward, out, 3,
                              inputs));
        node->saved = merged;
    }
    *out_result = out;
    return AT_OK;
}

/* -------------------------------------------------------------- public */

at_status at_multi_head_project_kv(at_ctx *ctx, const at_multi_head *layer, at_tensor *key,
                                   at_tensor *value, at_tensor **k_heads, at_tensor **v_heads) {
    const char *op = "multi_head_project_kv";
    if (!ctx) return AT_ERR_ARGUMENT;
    AT_TRY(check_multi_head(ctx, op, layer));
    if (!k_heads || !v_heads)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: k_heads or v_heads is NULL", op);
    AT_CHECK_TENSOR(ctx, key, "multi_head_project_kv: key");
    AT_CHECK_TENSOR(ctx, value, "multi_head_project_kv: value");
    int tk, tv;
    mha_sizes n = sizes_of(layer);
    AT_TRY(attn_check_sequence(ctx, op, "key", key, key->shape[0], n.kdim, &tk));
    AT_TRY(attn_check_sequence(ctx, op, "value", value, key->shape[0], n.vdim, &tv));
    if (tk != tv)
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: key has Tk = %d, value has %d", op, tk, tv);
    at_tensor *K, *V;
    AT_TRY(in_proj(ctx, layer, key, 1, &K));   // K (B, H, Tk, E/H)
    AT_TRY(in_proj(ctx, layer, value, 2, &V)); // V (B, H, Tk, E/H)
    *k_heads = K;
    *v_heads = V;
    return AT_OK;
}

/* k_heads or v_heads must be (B, H, Tk, E/H), both with the same Tk. */
static at_status check_heads(at_ctx *ctx, const at_multi_head *layer, const char *what,
                             const at_tensor *t, int B, int tk) {
    const char *op = "multi_head_attend";
    if (!t) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: %s is NULL", op, what);
    int H = layer->heads, hd = layer->embed_dim / H;
    if (t->ndim != 4 || t->shape[0] != B || t->shape[1] != H || t->shape[3] != hd ||
        (tk > 0 && t->shape[2] != tk)) {
        char buf[64];
        return at_ctx_fail(ctx, AT_ERR_SHAPE,
                           "%s: %s %s must be (B = %d, H = %d, Tk, E/H = %d) as made by "
                           "at_multi_head_project_kv",
                           op, what, ati_shape_str(buf, sizeof buf, t->ndim, t->shape), B, H, hd);
    }
    return AT_OK;
}

at_status at_multi_head_attend(at_ctx *ctx, const at_multi_head *layer, at_tensor *query,
                               at_tensor *k_heads, at_tensor *v_heads, const at_attn_mask *mask,
                               at_tensor **out, at_tensor **weights) {
    const char *op = "multi_head_attend";
    if (!ctx) return AT_ERR_ARGUMENT;
    AT_TRY(check_multi_head(ctx, op, layer));
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: out is NULL", op);
    attn_queries qs;
    AT_TRY(attn_read_queries(ctx, op, query, layer->embed_dim, &qs));
    AT_TRY(check_heads(ctx, layer, "k_heads", k_heads, qs.batch, 0));
    AT_TRY(check_heads(ctx, layer, "v_heads", v_heads, qs.batch, k_heads->shape[2]));

    at_tensor *q = query, *Q, *context, *alpha = NULL, *result;
    // a decoder step (B, E) is read as (B, 1, E)
    if (qs.single_step) AT_TRY(attn_unit_axis(ctx, query, 1, 1, &q));
    AT_TRY(in_proj(ctx, layer, q, 0, &Q)); // Q (B, H, Tq, E/H)
    // head_h (B, H, Tq, E/H) = softmax(Q_h K_hᵀ / √(E/H) + mask) V_h
    AT_TRY(at_dot_attention(ctx, Q, k_heads, v_heads, 0.0f, mask, &context,
                            weights ? &alpha : NULL));
    // explain one step: each head's context, before the output projection
    AT_TRY(ati_trace_put(ctx, "head_context", context->data, context->ndim, context->shape));
    AT_TRY(out_proj(ctx, layer, context, &result)); // out (B, Tq, O)
    if (qs.single_step) {
        AT_TRY(attn_unit_axis(ctx, result, 1, 0, &result));           // (B, O)
        if (alpha) AT_TRY(attn_unit_axis(ctx, alpha, 2, 0, &alpha)); // (B, H, Tk)
    }
    *out = result;
    if (weights) *weights = alpha;
    return AT_OK;
}

at_status at_multi_head_forward(at_ctx *ctx, const at_multi_head *layer, at_tensor *query,
                                at_tensor *key, at_tensor *value, const at_attn_mask *mask,
                                at_tensor **out, at_tensor **weights) {
    if (ctx && query && key && query->shape[0] != key->shape[0])
        return at_ctx_fail(ctx, AT_ERR_SHAPE,
                           "multi_head_forward: query has batch %d, key has batch %d",
                           query->shape[0], key->shape[0]);
    at_tensor *k_heads, *v_heads;
    AT_TRY(at_multi_head_project_kv(ctx, layer, key, value, &k_heads, &v_heads));
    return at_multi_head_attend(ctx, layer, query, k_heads, v_heads, mask, out, weights);
}
