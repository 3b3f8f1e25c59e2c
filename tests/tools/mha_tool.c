/*
 * mha_tool.c - run attend's multi-head attention once, forward and
 * backward, and write down everything torch.nn.MultiheadAttention needs to
 * redo it (tests/parity/test_multi_head_parity.py is the other half).
 *
 *     mha_tool CASE OUT.safetensors [SEED]        mha_tool --list
 *
 * Each case is one row of the table below: sizes, which masks, and whether
 * query, key and value are one tensor (self-attention) or the query is a
 * single decoder step (B, E). The tool initialises an at_multi_head under
 * prefix "" (so the names are exactly torch's state_dict keys), moves the
 * zero biases to random values, draws random inputs, runs forward with
 * per-head weights, and backward from a random output gradient. The file,
 * written with at_checkpoint_save from a second parameter set, holds:
 *
 *     in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias
 *     query, key, value (or x for self-attention)
 *     seed.out                the output gradient
 *     out.out, out.weights    output (B, Tq, E), per-head weights (B, H, Tq, Tk)
 *     grad.NAME               every input's and every parameter's gradient
 *
 * and metadata: case, seed, sizes (JSON), causal ("0"/"1"), self, step, and
 * key_keep / full_keep: attend's masks as JSON 0/1 arrays, 1 = KEEP.
 * The weights carry no gradient (attend's weights are for looking at), so
 * L = sum(out · seed.out) only.
 */
#include "attend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mha_case {
    const char *name;
    int B, tq, tk, E, H; /* tq = 0: a decoder step, query (B, E)              */
    int padding;         /* key padding (B, Tk): row b keeps its first len[b]  */
    int lengths[4];
    int causal;
    int full; /* a full mask (B·H·Tq, Tk), every row keeps >= 1 key */
    int self; /* query = key = value = x                           */
} mha_case;

static const mha_case cases[] = {
    {"mha_plain", 2, 3, 5, 8, 2, 0, {0}, 0, 0, 0},
    {"mha_one_head", 2, 4, 4, 6, 1, 0, {0}, 0, 0, 0},
    {"mha_padding", 3, 3, 5, 8, 4, 1, {5, 2, 4}, 0, 0, 0},
    {"mha_causal", 2, 4, 6, 6, 3, 0, {0}, 1, 0, 0},
    {"mha_padding_causal", 3, 4, 5, 4, 2, 1, {5, 2, 3}, 1, 0, 0},
    {"mha_full_mask", 2, 3, 4, 4, 2, 0, {0}, 0, 1, 0},
    {"mha_self_causal", 2, 5, 5, 6, 3, 0, {0}, 1, 0, 1},
    {"mha_step_padding", 3, 0, 4, 4, 2, 1, {4, 1, 3}, 0, 0, 0},
    {"mha_tq1_tk1", 2, 1, 1, 4, 2, 0, {0}, 0, 0, 0},
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

typedef struct run {
    const mha_case *c;
    at_ctx *ctx;
    at_params *model, *dump;
    at_metadata meta;
    at_rng rng;
} run;

static void die(const run *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3), noreturn))
#endif
    ;

static void die(const run *r, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "mha_tool: case '%s': ", r->c ? r->c->name : "?");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(1);
}

#define TRY(r, call)                                                                               \
    do {                                                                                           \
        at_status try_status_ = (call);                                                            \
        if (try_status_ != AT_OK)                                                                  \
            die((r), "%s failed: %s: %s", #call, at_status_name(try_status_),                      \
                at_ctx_error((r)->ctx));                                                           \
    } while (0)

/* Copy n floats into the file under name (zeros if data is NULL). */
static float *put(run *r, const char *name, int ndim, const int *shape, const float *data) {
    at_tensor *t;
    TRY(r, at_params_add(r->ctx, r->dump, name, ndim, shape, &t));
    if (data) memcpy(t->data, data, t->size * sizeof(float));
    return t->data;
}

static void put_grad(run *r, const char *name, const at_tensor *t) {
    char key[128];
    if (!t->grad) die(r, "no gradient reached '%s'", name);
    snprintf(key, sizeof key, "grad.%s", name);
    put(r, key, t->ndim, t->shape, t->grad);
}

static void meta(run *r, const char *key, const char *value) {
    TRY(r, at_metadata_set(r->ctx, &r->meta, key, value));
}

/* A JSON array of n 0/1 bytes. */
static void meta_mask(run *r, const char *key, const uint8_t *keep, size_t n) {
    char *s = malloc(3 * n + 3);
    if (!s) die(r, "out of memory");
    size_t len = 0;
    s[len++] = '[';
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(s + len, "%s%d", i ? "," : "", keep[i] != 0);
    s[len++] = ']';
    s[len] = '\0';
    meta(r, key, s);
    free(s);
}

/* A uniform random input in [-1, 1), stored under name, collecting a gradient. */
static at_tensor *input(run *r, const char *name, int ndim, const int *shape) {
    at_tensor *t;
    TRY(r, at_tensor_new(r->ctx, &t, ndim, shape));
    for (size_t i = 0; i < t->size; i++)
        t->data[i] = 2.0f * at_rng_uniform(&r->rng) - 1.0f;
    TRY(r, at_tensor_require_grad(r->ctx, t));
    put(r, name, ndim, shape, t->data);
    return t;
}

/* The masks of the case (attend's convention, 1 = KEEP), into `keep`. */
static void make_mask(run *r, uint8_t *keep, at_attn_mask *mask) {
    const mha_case *c = r->c;
    int tq = c->tq ? c->tq : 1;
    *mask = (at_attn_mask){NULL, 0, c->causal};
    if (c->padding) {
        for (int b = 0; b < c->B; b++)
            for (int j = 0; j < c->tk; j++)
                keep[b * c->tk + j] = j < c->lengths[b];
        *mask = (at_attn_mask){keep, c->B, c->causal};
        meta_mask(r, "key_keep", keep, (size_t)c->B * c->tk);
    } else if (c->full) {
        int rows = c->B * c->H * tq;
        for (int row = 0; row < rows; row++) {
            for (int j = 0; j < c->tk; j++)
                keep[row * c->tk + j] = at_rng_uniform(&r->rng) < 0.6f;
            keep[row * c->tk + (int)at_rng_below(&r->rng, (uint32_t)c->tk)] = 1;
        }
        *mask = (at_attn_mask){keep, rows, c->causal};
        meta_mask(r, "full_keep", keep, (size_t)rows * c->tk);
    }
}

static void run_case(run *r) {
    const mha_case *c = r->c;
    at_multi_head layer;
    TRY(r, at_multi_head_init(r->ctx, &layer, r->model, "", c->E, c->H, &r->rng));
    /* both biases start at zero: move them so a wrong bias term would show */
    for (size_t i = 0; i < layer.in_proj_bias->size; i++)
        layer.in_proj_bias->data[i] = at_rng_uniform(&r->rng) - 0.5f;
    for (size_t i = 0; i < layer.out_proj_bias->size; i++)
        layer.out_proj_bias->data[i] = at_rng_uniform(&r->rng) - 0.5f;

    int qs[3] = {c->B, c->tq, c->E}, ks[3] = {c->B, c->tk, c->E};
    at_tensor *query, *key, *value;
    if (c->self) {
        query = key = value = input(r, "x", 3, qs);
    } else {
        if (!c->tq) qs[1] = c->E; /* a decoder step (B, E) */
        query = input(r, "query", c->tq ? 3 : 2, qs);
        key = input(r, "key", 3, ks);
        value = input(r, "value", 3, ks);
    }
    uint8_t *keep = calloc((size_t)c->B * c->H * (c->tq ? c->tq : 1) * c->tk, 1);
    if (!keep) die(r, "out of memory");
    at_attn_mask mask;
    make_mask(r, keep, &mask);

    at_tensor *out, *weights;
    TRY(r, at_multi_head_forward(r->ctx, &layer, query, key, value, &mask, &out, &weights));
    put(r, "out.out", out->ndim, out->shape, out->data);
    put(r, "out.weights", weights->ndim, weights->shape, weights->data);
    float *seed = put(r, "seed.out", out->ndim, out->shape, NULL);
    for (size_t i = 0; i < out->size; i++)
        seed[i] = at_rng_normal(&r->rng);
    TRY(r, at_backward_seeded(r->ctx, out, seed));

    if (c->self) {
        put_grad(r, "x", query);
    } else {
        put_grad(r, "query", query);
        put_grad(r, "key", key);
        put_grad(r, "value", value);
    }
    for (int i = 0; i < at_params_count(r->model); i++) {
        at_tensor *p = at_params_get(r->model, i);
        put(r, p->name, p->ndim, p->shape, p->data);
        put_grad(r, p->name, p);
    }
    char sizes[160];
    snprintf(sizes, sizeof sizes, "{\"B\": %d, \"Tq\": %d, \"Tk\": %d, \"E\": %d, \"H\": %d}", c->B,
             c->tq ? c->tq : 1, c->tk, c->E, c->H);
    meta(r, "sizes", sizes);
    meta(r, "causal", c->causal ? "1" : "0");
    meta(r, "self", c->self ? "1" : "0");
    meta(r, "step", c->tq ? "0" : "1");
    free(keep);
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < N_CASES; i++)
            printf("%s\n", cases[i].name);
        return 0;
    }
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: mha_tool CASE OUT.safetensors [SEED] | mha_tool --list\n");
        return 2;
    }
    run r = {0};
    for (int i = 0; i < N_CASES; i++)
        if (strcmp(argv[1], cases[i].name) == 0) r.c = &cases[i];
    if (!r.c) {
        fprintf(stderr, "mha_tool: unknown case '%s' (try --list)\n", argv[1]);
        return 2;
    }
    unsigned long long seed = argc == 4 ? strtoull(argv[3], NULL, 10) : 20240612ull;
    if (at_ctx_create(&r.ctx, NULL) != AT_OK) die(&r, "cannot create a context");
    TRY(&r, at_params_create(r.ctx, &r.model));
    TRY(&r, at_params_create(r.ctx, &r.dump));
    at_rng_seed(&r.rng, seed);

    run_case(&r);

    char text[32];
    snprintf(text, sizeof text, "%llu", seed);
    meta(&r, "case", r.c->name);
    meta(&r, "seed", text);
    TRY(&r, at_checkpoint_save(r.ctx, argv[2], r.dump, &r.meta));
    at_metadata_clear(&r.meta);
    at_params_free(r.dump);
    at_params_free(r.model);
    at_ctx_free(r.ctx);
    return 0;
}
