/*
 * multiplicative.c - attention whose score is a product of query and key
 * (family 7): dot, scaled dot (Vaswani et al. 2017) and general/bilinear
 * (Luong et al. 2015).
 *
 * The idea: when the score is a dot product, every score of a group is one
 * matrix product and the whole attention is
 *
 *     S = scale · Q Kᵀ + mask      α = softmax_rows(S)      C = α V
 *
 *     Q (G, Tq, d)   K (G, Tk, d)   V (G, Tk, dv)   S, α (G, Tq, Tk)   C (G, Tq, dv)
 *
 * with G = B·H independent groups (batch rows times heads). The fused kernel
 * (dot_kernel.c) evaluates it tile by tile with an online softmax and keeps
 * only lse (G, Tq) = log Σ_j exp(S_ij) for backward, so without `weights`
 * no (Tq, Tk) matrix is ever stored. This file is the public face of that
 * kernel: it checks shapes, resolves the mask, and records ONE tape entry
 * whose backward asks the kernel to recompute the scores.
 *
 *   dot          score(q, k) = qᵀ k               scale = 1
 *   scaled dot   score(q, k) = qᵀ k / √d          scale = 0 (means 1/√d)
 *   general      score(q, k) = qᵀ W k             W (Dq, Dk)
 *
 * The general score is the dot score on projected keys: qᵀ W k = qᵀ (W k),
 * so at_bilinear_project_keys makes k̃_j = W k_j once per sequence,
 * keys_proj (B, Tk, Dq) = keys (B, Tk, Dk) Wᵀ, and at_bilinear_attend is
 * dot attention (scale 1) of the queries on k̃.
 *
 * Weights. When asked for, the kernel fills α as a tensor of its own, and
 * while gradients are on it carries a gradient like the context: a loss
 * term on α (an entropy penalty, a supervised alignment) reaches q, k and
 * through them every parameter. The one tape entry's backward hands the
 * kernel both dC and dα; the kernel adds dα to dP = dC Vᵀ before the
 * softmax backward (see dot_kernel.c). Without weights nothing changes.
 * Queries may be one decoder step (B, d) (B, Dq for the bilinear score):
 * read as Tq = 1, they give context (B, dv) and weights (B, Tk).
 *
 * Parameters: PREFIX.W (Dq, Dk), Glorot uniform (fan_in Dk, fan_out Dq),
 * as the library's dense layer; zero when rng is NULL.
 */
#include "attention.h"
#include "../layers/layers.h"

#include <math.h>

/* ------------------------------------------------------ at_dot_attention */

/* The sizes of one call; H = 1 when the tensors are 3-D. */
typedef struct dot_dims {
    int ndim;          /* 3 or 4, the same for q, k, v and the outputs */
    int B, H, tq, tk;  /* G = B·H groups                               */
    int d, dv;         /* query/key size, value size                   */
} dot_dims;

/* What backward needs beyond q, k, v and the context. */
typedef struct dot_saved {
    dot_dims dims;
    float scale;
    attn_mask_view mask; /* covers G·Tq score rows                        */
    float *lse;          /* (G, Tq)                                       */
    at_tensor *weights;  /* the α handed back (G, Tq, Tk), or NULL        */
} dot_saved;

static at_status shape_error(at_ctx *ctx, const char *what, const at_tensor *t,
                             const char *want) {
    char buf[64];
    return at_ctx_fail(ctx, AT_ERR_SHAPE, "dot_attention: %s %s must be %s", what,
                       ati_shape_str(buf, sizeof buf, t->ndim, t->shape), want);
}

/* Read q (B, [H,] Tq, d), k (B, [H,] Tk, d), v (B, [H,] Tk, dv). */
static at_status read_dot_dims(at_ctx *ctx, const at_tensor *q, const at_tensor *k,
                               const at_tensor *v, dot_dims *dims) {
    if (q->ndim != 3 && q->ndim != 4)
        return shape_error(ctx, "q", q, "(B, H, Tq, d), (B, Tq, d) or one step (B, d)");
    int n = q->ndim, four = n == 4;
    const char *kv_shape = four ? "(B, H, Tk, _) like q" : "(B, Tk, _) like q";
    if (k->ndim != n) return shape_error(ctx, "k", k, kv_shape);
    if (v->ndim != n) return shape_error(ctx, "v", v, kv_shape);
    *dims = (dot_dims){n, q->shape[0], four ? q->shape[1] : 1, q->shape[n - 2],
                       k->shape[n - 2], q->shape[n - 1], v->shape[n - 1]};
    for (int axis = 0; axis < n - 2; axis++) {
        if (k->shape[axis] != q->shape[axis])
            return shape_error(ctx, "k", k, "(B, [H,] Tk, d) with q's B and H");
        if (v->shape[axis] != q->shape[axis])
            return shape_error(ctx, "v", v, "(B, [H,] Tk, dv) with q's B and H");
    }
    if (k->shape[n - 1] != dims->d)
        return shape_error(ctx, "k", k, "(.., Tk, d) with the d of q");
    if (v->shape[n - 2] != dims->tk)
        return shape_error(ctx, "v", v, "(.., Tk, dv) with the Tk of k");
    return AT_OK;
}

/* An output shaped (B, [H,] rows, cols) like the inputs. */
static at_status dot_output(at_ctx *ctx, const dot_dims *dims, int rows, int cols, int track,
                            at_tensor **out) {
    int shape[4] = {dims->B, dims->H, rows, cols};
    if (dims->ndim == 4) return ati_result(ctx, out, 4, shape, track);
    int flat[3] = {dims->B, rows, cols};
    return ati_result(ctx, out, 3, flat, track);
}

static at_status dot_attention_backward(at_ctx *ctx, ati_node *node) {
    const dot_saved *s = node->saved;
    const dot_dims *n = &s->dims;
    at_tensor *q = node->in[0], *k = node->in[1], *v = node->in[2], *c = node->out;
    const at_tensor *w = s->weights;
    // forward: c = softmax(scale · q kᵀ + mask) v, recomputed tile by tile from lse,
    //          and weights = that softmax; dq, dk, dv are added only where the
    //          tensor has a gradient
    return attn_dot_backward(ctx, n->B * n->H, n->tq, n->tk, n->d, n->dv, s->scale, q->data,
                             k->data, v->data, c->data, s->lse, c->grad, w ? w->data : NULL,
                             w ? w->grad : NULL, &s->mask, q->grad, k->grad, v->grad);
}

/* Record the tape entry: inputs q, k, v; everything else in `saved`. */
static at_status record_dot(at_ctx *ctx, at_tensor *const qkv[3], at_tensor *context,
                            const dot_saved *saved) {
    void *copy;
    AT_TRY(ati_scratch(ctx, &copy, sizeof *saved));
    *(dot_saved *)copy = *saved;
    ati_node *node;
    AT_TRY(ati_tape_record(ctx, &node, "dot_attention", dot_attention_backward, context, 3, qkv));
    node->saved = copy;
    return AT_OK;
}

/* The fused call on q (B, [H,] Tq, d): one tape entry for context and weights. */
static at_status dot_attention_sequence(at_ctx *ctx, at_tensor *q, at_tensor *k, at_tensor *v,
                                        float scale, const at_attn_mask *mask,
                                        at_tensor **context, at_tensor **weights) {
    dot_saved s = {.scale = scale};
    AT_TRY(read_dot_dims(ctx, q, k, v, &s.dims));
    const dot_dims *n = &s.dims;
    if (s.scale == 0.0f) s.scale = 1.0f / sqrtf((float)n->d);
    int groups = n->B * n->H;
    AT_TRY(attn_mask_prepare(ctx, "dot_attention", mask, (size_t)groups * n->tq, n->tq, n->tk,
                             &s.mask));

    at_tensor *qkv[3] = {q, k, v};
    int track = ati_tracking(ctx, 3, qkv);
    at_tensor *c, *alpha = NULL;
    AT_TRY(dot_output(ctx, n, n->tq, n->dv, track, &c));                   // (B, [H,] Tq, dv)
    if (weights) AT_TRY(dot_output(ctx, n, n->tq, n->tk, track, &alpha));  // (B, [H,] Tq, Tk)
    AT_TRY(attn_scratch_floats(ctx, &s.lse, (size_t)groups * n->tq)); // lse (G, Tq)
    float *scores = NULL; // (G, Tq, Tk): only for explain one step
    if (alpha && ati_tracing(ctx))
        AT_TRY(attn_scratch_floats(ctx, &scores, (size_t)groups * n->tq * n->tk));
    AT_TRY(attn_dot_forward_scores(ctx, groups, n->tq, n->tk, n->d, n->dv, s.scale, q->data,
                                   k->data, v->data, &s.mask, c->data, s.lse,
                                   alpha ? alpha->data : NULL, scores));
    if (scores) AT_TRY(ati_trace_put(ctx, "scores", scores, 3, (int[]){groups, n->tq, n->tk}));
    s.weights = alpha;
    if (track) AT_TRY(record_dot(ctx, qkv, c, &s));
    *context = c;
    if (weights) *weights = alpha;
    return AT_OK;
}

at_status at_dot_attention(at_ctx *ctx, at_tensor *q, at_tensor *k, at_tensor *v, float scale,
                           const at_attn_mask *mask, at_tensor **context, at_tensor **weights) {
    if (!ctx) return AT_ERR_ARGUMENT;
    AT_CHECK_TENSOR(ctx, q, "dot_attention: q");
    AT_CHECK_TENSOR(ctx, k, "dot_attention: k");
    AT_CHECK_TENSOR(ctx, v, "dot_attention: v");
    if (!context) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dot_attention: context is NULL");
    if (!isfinite(scale))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dot_attention: scale %g is not finite",
                           (double)scale);
    if (q->ndim != 2)
        return dot_attention_sequence(ctx, q, k, v, scale, mask, context, weights);
    // a decoder step q (B, d) is read as (B, 1, d) against k (B, Tk, d), v (B, Tk, dv)
    if (k->ndim != 3) return shape_error(ctx, "k", k, "(B, Tk, d) for a step q (B, d)");
    at_tensor *q3, *c, *alpha = NULL;
    AT_TRY(attn_unit_axis(ctx, q, 1, 1, &q3));
    AT_TRY(dot_attention_sequence(ctx, q3, k, v, scale, mask, &c, weights ? &alpha : NULL));
    AT_TRY(attn_unit_axis(ctx, c, 1, 0, &c));                    // (B, dv)
    if (alpha) AT_TRY(attn_unit_axis(ctx, alpha, 1, 0, &alpha)); // (B, Tk)
    *context = c;
    if (weights) *weights = alpha;
    return AT_OK;
}

/* ------------------------------------------------------------ bilinear */

at_status at_bilinear_init(at_ctx *ctx, at_bilinear *layer, at_params *params,
                           const char *prefix, int query_size, int key_size, at_rng *rng) {
    if (!ctx) return AT_ERR_ARGUMENT;
    if (!layer || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "bilinear_init: NULL layer or params");
    if (query_size <= 0 || key_size <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "bilinear_init: query_size %d and key_size %d must be > 0",
                           query_size, key_size);
    at_bilinear made = {NULL, query_size, key_size};
    int shape[2] = {query_size, key_size};
    AT_TRY(layer_param(ctx, params, prefix, "W", NULL, 2, shape, &made.W));
    at_init_glorot_uniform(made.W, key_size, query_size, 1.0f, rng);
    *layer = made;
    return AT_OK;
}

static at_status check_bilinear(at_ctx *ctx, const char *op, const at_bilinear *layer) {
    if (!layer || !layer->W)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: NULL layer or W", op);
    const at_tensor *W = layer->W;
    if (W->ndim != 2 || W->shape[0] != layer->query_size || W->shape[1] != layer->key_size)
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: W must be (Dq = %d, Dk = %d)", op,
                           layer->query_size, layer->key_size);
    return AT_OK;
}

at_status at_bilinear_project_keys(at_ctx *ctx, const at_bilinear *layer, at_tensor *keys,
                                   at_tensor **keys_proj) {
    if (!ctx) return AT_ERR_ARGUMENT;
    AT_TRY(check_bilinear(ctx, "bilinear_project_keys", layer));
    if (!keys_proj)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "bilinear_project_keys: keys_proj is NULL");
    AT_CHECK_TENSOR(ctx, keys, "bilinear_project_keys: keys");
    AT_TRY(attn_check_sequence(ctx, "bilinear_project_keys", "keys", keys, keys->shape[0],
                               layer->key_size, NULL));
    // keys_proj (B, Tk, Dq) = keys (B, Tk, Dk) Wᵀ, W (Dq, Dk) shared by the batch
    return at_matmul(ctx, keys_proj, keys, layer->W, 0, 1);
}

at_status attn_scratch_floats(at_ctx *ctx, float **out, size_t n) {
    void *memory;
    AT_TRY(ati_scratch_zero(ctx, &memory, n * sizeof(float)));
    *out = memory;
    return AT_OK;
}

at_status attn_unit_axis(at_ctx *ctx, at_tensor *x, int axis, int insert, at_tensor **out) {
    int shape[AT_MAX_DIMS], n = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i == axis && insert) shape[n++] = 1;
        if (i == axis && !insert) continue;
        shape[n++] = x->shape[i];
    }
    return at_reshape(ctx, out, x, n, shape);
}

at_status at_bilinear_attend(at_ctx *ctx, const at_bilinear *layer, at_tensor *queries,
                             at_tensor *keys_proj, at_tensor *values, const at_attn_mask *mask,
                             at_tensor **context, at_tensor **weights) {
    const char *op = "bilinear_attend";
    if (!ctx) return AT_ERR_ARGUMENT;
    AT_TRY(check_bilinear(ctx, op, layer));
    if (!context) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: context is NULL", op);
    attn_queries qs;
    AT_TRY(attn_read_queries(ctx, op, queries, layer->query_size, &qs));
    int tk;
    AT_TRY(attn_check_sequence(ctx, op, "keys_proj", keys_proj, qs.batch, layer->query_size,
                               &tk));
    AT_TRY(attn_check_sequence(ctx, op, "values", values, qs.batch, -1, NULL));
    if (values->shape[1] != tk)
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: values have Tk = %d, keys_proj Tk = %d", op,
                           values->shape[1], tk);

    // score(q, k̃_j) = qᵀ k̃_j = qᵀ W k_j: dot attention, no scaling (a decoder
    // step (B, Dq) gives context (B, Dv) and weights (B, Tk))
    return at_dot_attention(ctx, queries, keys_proj, values, 1.0f, mask, context, weights);
}
