/*
 * families_dump.c - every attention family of attend/attention.h run
 * through the C API directly, on inputs a Python test wrote, so that
 * test_binding_vs_c.py can check that the Python binding gives the same
 * bits. It catches what a NumPy comparison within a tolerance can hide: an
 * argument in the wrong place, a struct field off by one, a mask read
 * with the wrong row count, a parameter copied into the wrong tensor.
 *
 *     families_dump IN.safetensors OUT.safetensors
 *
 * IN holds, for each case below, its arrays as "CASE.NAME": float32
 * inputs and parameters (F32), the keep-mask "CASE.mask" (U8, 1 = keep;
 * absent = no mask), integer lengths or positions (I32); and its integer
 * settings in the metadata as "CASE.SETTING" (causal, heads, window, ...).
 * Every case is run, and a missing array it needs is an error. Each
 * layer is made with rng = NULL under the prefix CASE and its parameters
 * are then overwritten with the file's, as the binding does. OUT holds
 * each case's outputs as "CASE.OUTPUT" (context, weights, ...), written
 * with at_checkpoint_save.
 *
 * One context, one thread, gradients off: the binding's settings. Any
 * failure prints "families_dump: CASE: what failed" and exits with 1.
 */
#include "attend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_BYTES 128

typedef struct dump {
    at_ctx *ctx;
    at_params *layers;     /* every case's layer parameters (prefix CASE) */
    at_params *outputs;    /* "CASE.OUTPUT", the file written              */
    at_safetensors *in;
    const char *case_name;
    uint8_t *keep;         /* the current case's mask bytes (or NULL)     */
} dump;

static void die(const dump *d, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "families_dump: %s: ", d->case_name ? d->case_name : "setup");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void check(const dump *d, at_status status) {
    if (status != AT_OK) die(d, "%s (%s)", at_ctx_error(d->ctx), at_status_name(status));
}

/* "CASE.name" into key. */
static void case_key(const dump *d, const char *name, char key[NAME_BYTES]) {
    if (snprintf(key, NAME_BYTES, "%s.%s", d->case_name, name) >= NAME_BYTES)
        die(d, "the name '%s' is too long", name);
}

/* ------------------------------------------------------------- inputs */

/* The index and info of CASE.name, or -1 if absent and not required. */
static int find(const dump *d, const char *name, at_dtype dtype, int required,
                at_safetensor_info *info) {
    char key[NAME_BYTES];
    case_key(d, name, key);
    int index = at_safetensors_find(d->in, key);
    if (index < 0) {
        if (required) die(d, "the input file has no '%s'", key);
        return -1;
    }
    check(d, at_safetensors_info(d->ctx, d->in, index, info));
    if (info->dtype != dtype)
        die(d, "'%s' is %s, expected %s", key, at_dtype_name(info->dtype), at_dtype_name(dtype));
    if (info->ndim < 1 || info->ndim > AT_MAX_DIMS)
        die(d, "'%s' has %d dimensions, expected 1 .. %d", key, info->ndim, AT_MAX_DIMS);
    return index;
}

/* CASE.name (F32) as a new arena tensor; NULL if absent and optional. */
static at_tensor *read_tensor(const dump *d, const char *name, int required) {
    at_safetensor_info info;
    int index = find(d, name, AT_DTYPE_F32, required, &info);
    if (index < 0) return NULL;
    int shape[AT_MAX_DIMS];
    for (int i = 0; i < info.ndim; i++) shape[i] = (int)info.shape[i];
    at_tensor *t;
    check(d, at_tensor_new(d->ctx, &t, info.ndim, shape));
    check(d, at_safetensors_read_f32(d->ctx, d->in, index, t->data, t->size));
    return t;
}

static at_tensor *input(const dump *d, const char *name) { return read_tensor(d, name, 1); }
static at_tensor *optional_input(const dump *d, const char *name) {
    return read_tensor(d, name, 0);
}

/* Overwrite a layer parameter with CASE.name; the shapes must agree. */
static void set_param(const dump *d, const char *name, at_tensor *param) {
    if (!param) die(d, "the layer has no parameter '%s'", name);
    at_tensor *given = input(d, name);
    if (given->ndim != param->ndim ||
        memcmp(given->shape, param->shape, (size_t)param->ndim * sizeof(int)) != 0)
        die(d, "'%s' does not have the layer's shape", name);
    memcpy(param->data, given->data, param->size * sizeof(float));
}

/* CASE.mask (U8, rows = every dimension but the last) with causal. */
static at_attn_mask read_mask(dump *d, int causal) {
    at_attn_mask mask = {NULL, 0, causal};
    at_safetensor_info info;
    int index = find(d, "mask", AT_DTYPE_U8, 0, &info);
    if (index < 0) return mask;
    free(d->keep);
    d->keep = malloc(info.bytes);
    if (!d->keep) die(d, "out of memory for the mask");
    check(d, at_safetensors_read(d->ctx, d->in, index, d->keep, info.bytes));
    mask.keep = d->keep;
    mask.rows = (int)(info.numel / (uint64_t)info.shape[info.ndim - 1]);
    return mask;
}

/* CASE.name (I32, count values) into out; 0 if absent and optional. */
static int read_ints(const dump *d, const char *name, int required, int32_t *out, int count) {
    at_safetensor_info info;
    int index = find(d, name, AT_DTYPE_I32, required, &info);
    if (index < 0) return 0;
    if (info.numel != (uint64_t)count) die(d, "'%s' has %d values, expected %d", name,
                                           (int)info.numel, count);
    check(d, at_safetensors_read(d->ctx, d->in, index, out, info.bytes));
    return 1;
}

/* The metadata CASE.key as a whole number in [min, max]. */
static int setting(const dump *d, const char *key, long min, long max) {
    char full[NAME_BYTES];
    long value;
    case_key(d, key, full);
    check(d, at_metadata_get_long(d->ctx, at_safetensors_metadata(d->in), full, min, max, &value));
    return (int)value;
}

/* ------------------------------------------------------------ outputs */

static void output(const dump *d, const char *name, const at_tensor *t) {
    char key[NAME_BYTES];
    at_tensor *copy;
    if (!t) die(d, "no output '%s'", name);
    case_key(d, name, key);
    check(d, at_params_add(d->ctx, d->outputs, key, t->ndim, t->shape, &copy));
    memcpy(copy->data, t->data, t->size * sizeof(float));
}

static void output_ints(const dump *d, const char *name, const int32_t *values, int count) {
    at_tensor *t;
    check(d, at_tensor_new(d->ctx, &t, 1, (int[]){count}));
    for (int i = 0; i < count; i++) t->data[i] = (float)values[i];
    output(d, name, t);
}

static void output_pair(const dump *d, const char *first, at_tensor *a, const char *second,
                        at_tensor *b) {
    output(d, first, a);
    output(d, second, b);
}

/* ------------------------------------------------------------ families */

static void run_additive(dump *d) {
    at_tensor *q = input(d, "queries"), *k = input(d, "keys"), *v = input(d, "values");
    at_tensor *W_a = input(d, "W_a"), *U_a = input(d, "U_a");
    at_additive layer;
    // W_a (A, Dq), U_a (A, Dk)
    check(d, at_additive_init(d->ctx, &layer, d->layers, d->case_name, W_a->shape[1],
                              U_a->shape[1], W_a->shape[0], NULL));
    set_param(d, "W_a", layer.W_a);
    set_param(d, "U_a", layer.U_a);
    set_param(d, "b_a", layer.b_a);
    set_param(d, "v_a", layer.v_a);
    at_attn_mask mask = read_mask(d, 0);
    at_tensor *keys_proj, *context, *weights;
    check(d, at_additive_project_keys(d->ctx, &layer, k, &keys_proj));
    check(d, at_additive_attend(d->ctx, &layer, q, keys_proj, v, &mask, &context, &weights));
    output_pair(d, "context", context, "weights", weights);
}

static void run_dot(dump *d) {
    at_tensor *q = input(d, "q"), *k = input(d, "k"), *v = input(d, "v");
    at_tensor *scale = input(d, "scale"); // (1)
    at_attn_mask mask = read_mask(d, setting(d, "causal", 0, 1));
    at_tensor *context, *weights;
    check(d, at_dot_attention(d->ctx, q, k, v, scale->data[0], &mask, &context, &weights));
    output_pair(d, "context", context, "weights", weights);
}

static void run_bilinear(dump *d) {
    at_tensor *q = input(d, "queries"), *k = input(d, "keys"), *v = input(d, "values");
    at_bilinear layer;
    check(d, at_bilinear_init(d->ctx, &layer, d->layers, d->case_name, q->shape[q->ndim - 1],
                              k->shape[2], NULL));
    set_param(d, "W", layer.W);
    at_attn_mask mask = read_mask(d, 0);
    at_tensor *keys_proj, *context, *weights;
    check(d, at_bilinear_project_keys(d->ctx, &layer, k, &keys_proj));
    check(d, at_bilinear_attend(d->ctx, &layer, q, keys_proj, v, &mask, &context, &weights));
    output_pair(d, "context", context, "weights", weights);
}

static void run_han(dump *d) {
    at_tensor *h = input(d, "h"), *W = input(d, "W");
    at_han_attention layer;
    // W (A, D)
    check(d, at_han_attention_init(d->ctx, &layer, d->layers, d->case_name, W->shape[1],
                                   W->shape[0], NULL));
    set_param(d, "W", layer.W);
    set_param(d, "b", layer.b);
    set_param(d, "u_w", layer.u_w);
    at_attn_mask mask = read_mask(d, 0);
    at_tensor *out, *weights;
    check(d, at_han_attention_forward(d->ctx, &layer, h, &mask, &out, &weights));
    output_pair(d, "out", out, "weights", weights);
}

static void run_feature(dump *d) {
    at_tensor *h = input(d, "h");
    at_feature_attention_options options = {.eps = input(d, "eps")->data[0]};
    at_feature_attention layer;
    check(d, at_feature_attention_init_ext(d->ctx, &layer, d->layers, d->case_name, h->shape[2],
                                           &options, NULL));
    set_param(d, "W", layer.W);
    set_param(d, "b", layer.b);
    at_attn_mask mask = read_mask(d, 0);
    at_tensor *out, *weights;
    check(d, at_feature_attention_forward(d->ctx, &layer, h, &mask, &out, &weights));
    output_pair(d, "out", out, "weights", weights);
}

static void run_multi_head(dump *d) {
    at_tensor *query = input(d, "query"), *key = input(d, "key"), *value = input(d, "value");
    at_multi_head layer;
    check(d, at_multi_head_init(d->ctx, &layer, d->layers, d->case_name,
                                query->shape[query->ndim - 1], setting(d, "heads", 1, 1024),
                                NULL));
    set_param(d, "in_proj_weight", layer.in_proj_weight);
    set_param(d, "in_proj_bias", layer.in_proj_bias);
    set_param(d, "out_proj_weight", layer.out_proj_weight);
    set_param(d, "out_proj_bias", layer.out_proj_bias);
    at_attn_mask mask = read_mask(d, setting(d, "causal", 0, 1));
    at_tensor *out, *weights;
    check(d, at_multi_head_forward(d->ctx, &layer, query, key, value, &mask, &out, &weights));
    output_pair(d, "out", out, "weights", weights);
}

/* A Luong layer of the case's "score" setting (at_score), sizes from the
 * parameters: concat W_a (A, Dq + Dk), location W_a (max_source_len, Dq). */
static at_luong make_luong(dump *d, int query_size, int key_size) {
    at_score score = (at_score)setting(d, "score", AT_SCORE_DOT, AT_SCORE_LOCATION);
    at_tensor *W_a = score == AT_SCORE_DOT ? NULL : input(d, "W_a");
    int rows = W_a ? W_a->shape[0] : 0;
    at_luong layer;
    check(d, at_luong_init(d->ctx, &layer, d->layers, d->case_name, score, query_size, key_size,
                           score == AT_SCORE_CONCAT ? rows : 0,
                           score == AT_SCORE_LOCATION ? rows : 0, 0, NULL));
    if (W_a) set_param(d, "W_a", layer.W_a);
    if (score == AT_SCORE_CONCAT) set_param(d, "v_a", layer.v_a);
    return layer;
}

static void run_luong(dump *d) {
    at_tensor *q = input(d, "queries"), *k = input(d, "keys"), *v = input(d, "values");
    at_luong layer = make_luong(d, q->shape[q->ndim - 1], k->shape[2]);
    at_attn_mask mask = read_mask(d, 0);
    at_tensor *keys_proj, *context, *weights;
    check(d, at_luong_project_keys(d->ctx, &layer, k, &keys_proj));
    check(d, at_luong_attend(d->ctx, &layer, q, keys_proj, v, &mask, &context, &weights));
    output_pair(d, "context", context, "weights", weights);
}

static void run_luong_attentional(dump *d) {
    at_tensor *context = input(d, "context"), *q = input(d, "queries"), *W_c = input(d, "W_c");
    int query_size = q->shape[q->ndim - 1];
    at_luong layer;
    check(d, at_luong_init(d->ctx, &layer, d->layers, d->case_name, AT_SCORE_DOT, query_size,
                           query_size, 0, 0, 0, NULL));
    check(d, at_luong_init_attentional(d->ctx, &layer, d->layers, d->case_name,
                                       context->shape[context->ndim - 1], W_c->shape[0], NULL));
    set_param(d, "W_c", layer.W_c);
    at_tensor *h_tilde;
    check(d, at_luong_attentional(d->ctx, &layer, context, q, &h_tilde));
    output(d, "h_tilde", h_tilde);
}

static void run_luong_local(dump *d) {
    at_tensor *q = input(d, "queries"), *k = input(d, "keys"), *v = input(d, "values");
    at_local_kind kind = (at_local_kind)setting(d, "kind", AT_LOCAL_M, AT_LOCAL_P);
    at_tensor *W_p = kind == AT_LOCAL_P ? input(d, "W_p") : NULL;
    at_luong_local layer;
    at_tensor *W_a = input(d, "W_a"); // the general score: W_a (Dq, Dk)
    check(d, at_luong_local_init(d->ctx, &layer, d->layers, d->case_name, kind, AT_SCORE_GENERAL,
                                 W_a->shape[0], W_a->shape[1], 0, 0,
                                 setting(d, "window", 0, 1 << 20), W_p ? W_p->shape[0] : 0,
                                 NULL));
    set_param(d, "W_a", layer.align.W_a);
    if (W_p) {
        set_param(d, "W_p", layer.W_p);
        set_param(d, "v_p", layer.v_p);
    }
    at_attn_mask mask = read_mask(d, 0);
    int batch = k->shape[0];
    int32_t *lengths = malloc((size_t)batch * sizeof *lengths);
    if (!lengths) die(d, "out of memory");
    int has_lengths = read_ints(d, "lengths", 0, lengths, batch);
    at_tensor *keys_proj, *context, *weights, *positions;
    check(d, at_luong_project_keys(d->ctx, &layer.align, k, &keys_proj));
    check(d, at_luong_local_attend(d->ctx, &layer, q, keys_proj, v, &mask,
                                   has_lengths ? lengths : NULL,
                                   setting(d, "first_step", 0, 1 << 20), &context, &weights,
                                   &positions));
    free(lengths);
    output_pair(d, "context", context, "weights", weights);
    output(d, "positions", positions);
}

/* A monotonic layer with the case's W_a (A, Dq), U_a (A, Dk), b_a, v_a, g, r. */
static at_monotonic make_monotonic(dump *d) {
    at_tensor *W_a = input(d, "W_a"), *U_a = input(d, "U_a");
    at_monotonic layer;
    check(d, at_monotonic_init(d->ctx, &layer, d->layers, d->case_name, W_a->shape[1],
                               U_a->shape[1], W_a->shape[0], NULL));
    set_param(d, "W_a", layer.energy.W_a);
    set_param(d, "U_a", layer.energy.U_a);
    set_param(d, "b_a", layer.energy.b_a);
    set_param(d, "v_a", layer.energy.v_a);
    set_param(d, "g", layer.g);
    set_param(d, "r", layer.r);
    return layer;
}

static void run_monotonic(dump *d) {
    at_tensor *q = input(d, "query"), *k = input(d, "keys"), *v = input(d, "values");
    at_monotonic layer = make_monotonic(d);
    at_attn_mask mask = read_mask(d, 0);
    at_tensor *keys_proj, *context, *alpha;
    check(d, at_additive_project_keys(d->ctx, &layer.energy, k, &keys_proj));
    check(d, at_monotonic_attend(d->ctx, &layer, q, keys_proj, v, optional_input(d, "alpha_prev"),
                                 &mask, &context, &alpha));
    output_pair(d, "context", context, "alpha", alpha);
}

static void run_monotonic_hard(dump *d) {
    at_tensor *q = input(d, "query"), *k = input(d, "keys"), *v = input(d, "values");
    at_monotonic layer = make_monotonic(d);
    at_attn_mask mask = read_mask(d, 0);
    int batch = k->shape[0];
    int32_t *positions = malloc((size_t)batch * sizeof *positions);
    if (!positions) die(d, "out of memory");
    read_ints(d, "positions", 1, positions, batch);
    at_tensor *keys_proj, *context, *weights;
    check(d, at_additive_project_keys(d->ctx, &layer.energy, k, &keys_proj));
    check(d, at_monotonic_attend_hard(d->ctx, &layer, q, keys_proj, v, &mask, positions, &context,
                                      &weights));
    output_pair(d, "context", context, "weights", weights);
    output_ints(d, "positions", positions, batch);
    free(positions);
}

static void run_forward(dump *d) {
    at_tensor *y = input(d, "y"), *v = input(d, "values");
    at_attn_mask mask = read_mask(d, 0);
    at_tensor *context, *alpha;
    check(d, at_forward_attention(d->ctx, y, optional_input(d, "alpha_prev"),
                                  optional_input(d, "transition"), v, &mask, &context, &alpha));
    output_pair(d, "context", context, "alpha", alpha);
}

static void run_self(dump *d) {
    at_tensor *x = input(d, "x"), *W_Q = input(d, "W_Q"), *W_V = input(d, "W_V");
    at_self_attention layer;
    // W_Q (d_k, D), W_V (d_v, D)
    check(d, at_self_attention_init_sizes(d->ctx, &layer, d->layers, d->case_name, x->shape[2],
                                          W_Q->shape[0], W_V->shape[0], NULL));
    set_param(d, "W_Q", layer.W_Q);
    set_param(d, "W_K", layer.W_K);
    set_param(d, "W_V", layer.W_V);
    at_attn_mask mask = read_mask(d, setting(d, "causal", 0, 1));
    at_tensor *out, *weights;
    check(d, at_self_attention_forward(d->ctx, &layer, x, &mask, &out, &weights));
    output_pair(d, "out", out, "weights", weights);
}

static void run_structured(dump *d) {
    at_tensor *h = input(d, "h"), *W_s1 = input(d, "W_s1"), *W_s2 = input(d, "W_s2");
    at_structured_attention layer;
    // W_s1 (da, D), W_s2 (r, da)
    check(d, at_structured_attention_init(d->ctx, &layer, d->layers, d->case_name, h->shape[2],
                                          W_s1->shape[0], W_s2->shape[0], NULL));
    set_param(d, "W_s1", layer.W_s1);
    set_param(d, "W_s2", layer.W_s2);
    at_attn_mask mask = read_mask(d, 0);
    at_tensor *out, *weights, *penalty, *penalties;
    check(d, at_structured_attention_forward(d->ctx, &layer, h, &mask, &out, &weights));
    check(d, at_structured_penalty(d->ctx, weights, &penalty));
    check(d, at_structured_penalty_rows(d->ctx, weights, &penalties));
    output_pair(d, "out", out, "weights", weights);
    output_pair(d, "penalty", penalty, "penalty_rows", penalties);
}

static void run_key_value(dump *d) {
    at_tensor *k = input(d, "keys"), *v = input(d, "values"), *x = input(d, "x");
    at_tensor *W_Y = input(d, "W_Y"), *W_r = input(d, "W_r");
    at_key_value layer;
    // W_Y (A, Dk), W_r (Do, Dv)
    check(d, at_key_value_init(d->ctx, &layer, d->layers, d->case_name, k->shape[2], v->shape[2],
                               x->shape[2], W_r->shape[0], W_Y->shape[0],
                               setting(d, "memory", 1, 1 << 20), NULL));
    set_param(d, "W_Y", layer.W_Y);
    set_param(d, "W_h", layer.W_h);
    set_param(d, "w", layer.w);
    set_param(d, "W_r", layer.W_r);
    set_param(d, "W_x", layer.W_x);
    at_attn_mask mask = read_mask(d, 0);
    at_tensor *out, *weights, *read;
    check(d, at_key_value_forward_ext(d->ctx, &layer, k, v, x, &mask, &out, &weights, &read));
    output_pair(d, "out", out, "weights", weights);
    output(d, "read", read);
}

/* ---------------------------------------------------------------- main */

typedef struct family_case {
    const char *name;
    void (*run)(dump *d);
} family_case;

/* Every case the input file must hold (the Luong ones take their score
 * and local kind from the metadata). */
static const family_case CASES[] = {
    {"additive", run_additive},         {"dot", run_dot},
    {"dot_heads", run_dot},             {"bilinear", run_bilinear},
    {"han", run_han},                   {"feature", run_feature},
    {"multi_head", run_multi_head},     {"luong_dot", run_luong},
    {"luong_general", run_luong},       {"luong_concat", run_luong},
    {"luong_location", run_luong},      {"luong_attentional", run_luong_attentional},
    {"local_m", run_luong_local},       {"local_p", run_luong_local},
    {"monotonic", run_monotonic},       {"monotonic_hard", run_monotonic_hard},
    {"forward", run_forward},           {"self", run_self},
    {"structured", run_structured},     {"key_value", run_key_value},
};

int main(int argc, char **argv) {
    dump d = {0};
    if (argc != 3) {
        fprintf(stderr, "usage: families_dump IN.safetensors OUT.safetensors\n");
        return 2;
    }
    if (at_ctx_create(&d.ctx, NULL) != AT_OK) die(&d, "cannot create a context");
    at_ctx_set_grad(d.ctx, 0);
    check(&d, at_params_create(d.ctx, &d.layers));
    check(&d, at_params_create(d.ctx, &d.outputs));
    check(&d, at_safetensors_open(d.ctx, &d.in, argv[1]));
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        d.case_name = CASES[i].name;
        CASES[i].run(&d);
    }
    d.case_name = NULL;
    check(&d, at_checkpoint_save(d.ctx, argv[2], d.outputs, NULL));
    free(d.keep);
    at_safetensors_close(d.in);
    at_params_free(d.outputs);
    at_params_free(d.layers);
    at_ctx_free(d.ctx);
    return 0;
}
