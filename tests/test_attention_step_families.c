/*
 * test_attention_step_families.c - the decoder-step families: additive
 * (Bahdanau), the seed's AttentionDecoder, Luong global (dot, general,
 * concat, location) and Luong local (local-m, local-p).
 *
 * Every family is gradient-checked against finite differences with respect
 * to every input and every parameter, with the returned weights (and
 * h̃, positions) part of the checked output so their gradients are checked
 * too. Shapes cover T = 1, Tq ≠ Tk, single-step queries (B, Dq), padding
 * masks with rows of different lengths, causal masks and fully masked
 * rows. Forward values are compared with naive double-precision references
 * written here from the equations; fully masked rows must give exact zeros;
 * bad arguments must fail with the right status; inference mode must record
 * nothing.
 */
#include "internal.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Helpers shared with the other tests (gc_join_outputs, test_mask_keeps,
 * test_random_floats, ...) are in testutil.h. */

/* ------------------------------------------- the scored families' case */

enum family { ADDITIVE, LUONG, LOCAL };

typedef struct attn_case {
    const char *name;
    int family;
    at_score score;     /* LUONG, LOCAL */
    at_local_kind kind; /* LOCAL */
    int B, tq, tk, dq, dk, dv, A;
    int single_step;        /* queries given as (B, Dq); tq must be 1 */
    at_attn_mask mask;      /* keep may be NULL */
    const int32_t *lengths; /* LOCAL, or NULL */
    int first_step;         /* local-m */
    int window, predict;    /* LOCAL: D, P */
    int attentional;        /* LUONG/LOCAL: Dc > 0 also checks h̃ = tanh(W_c [c; h]) */
    int want_weights, want_positions;
    int max_len; /* location */
} attn_case;

typedef struct attn_run {
    const attn_case *c;
    at_additive additive;
    at_luong luong;
    at_luong_local local;
} attn_run;

static at_status init_run(at_ctx *ctx, attn_run *run, at_params *params, at_rng *rng) {
    const attn_case *c = run->c;
    switch (c->family) {
    case ADDITIVE:
        return at_additive_init(ctx, &run->additive, params, "attn", c->dq, c->dk, c->A, rng);
    case LUONG:
        return at_luong_init(ctx, &run->luong, params, "attn", c->score, c->dq, c->dk, c->A,
                             c->max_len, c->attentional, rng);
    default:
        return at_luong_local_init(ctx, &run->local, params, "attn", c->kind, c->score, c->dq,
                                   c->dk, c->A, c->attentional, c->window, c->predict, rng);
    }
}

typedef struct attn_outputs {
    at_tensor *context, *weights, *h_tilde, *positions;
} attn_outputs;

/* inputs: queries, keys, values */
static at_status run_family(at_ctx *ctx, attn_run *run, at_tensor *q, at_tensor *k, at_tensor *v,
                            attn_outputs *o) {
    const attn_case *c = run->c;
    const at_attn_mask *mask = &c->mask;
    at_tensor **w = c->want_weights ? &o->weights : NULL;
    at_tensor *kp;
    *o = (attn_outputs){0};
    if (c->family == ADDITIVE) {
        AT_TRY(at_additive_project_keys(ctx, &run->additive, k, &kp));
        return at_additive_attend(ctx, &run->additive, q, kp, v, mask, &o->context, w);
    }
    const at_luong *scorer = c->family == LUONG ? &run->luong : &run->local.align;
    AT_TRY(at_luong_project_keys(ctx, scorer, k, &kp));
    if (c->family == LUONG)
        AT_TRY(at_luong_attend(ctx, &run->luong, q, kp, v, mask, &o->context, w));
    else
        AT_TRY(at_luong_local_attend(ctx, &run->local, q, kp, v, mask, c->lengths, c->first_step,
                                     &o->context, w, c->want_positions ? &o->positions : NULL));
    if (c->attentional) AT_TRY(at_luong_attentional(ctx, scorer, o->context, q, &o->h_tilde));
    return AT_OK;
}

static at_status build_family(at_ctx *ctx, at_tensor *const *inputs, void *user, at_tensor **y) {
    attn_outputs o;
    AT_TRY(run_family(ctx, user, inputs[0], inputs[1], inputs[2], &o));
    at_tensor *parts[4] = {o.context, o.weights, o.h_tilde, o.positions};
    return gc_join_outputs(ctx, y, 4, parts);
}

/* The case's three input arrays. */
typedef struct attn_data {
    float *q, *k, *v;
} attn_data;

static attn_data random_data(const attn_case *c, at_rng *rng) {
    attn_data d = {test_random_floats((size_t)c->B * c->tq * c->dq, -1.0f, 1.0f, rng),
                   test_random_floats((size_t)c->B * c->tk * c->dk, -1.0f, 1.0f, rng),
                   test_random_floats((size_t)c->B * c->tk * c->dv, -1.0f, 1.0f, rng)};
    return d;
}

static void free_data(attn_data *d) {
    free(d->q);
    free(d->k);
    free(d->v);
}

/* Arena tensors of the data, queries (B, Dq) for a single step. */
static void data_tensors(at_ctx *ctx, const attn_case *c, const attn_data *d, at_tensor **q,
                         at_tensor **k, at_tensor **v) {
    if (c->single_step)
        at_tensor_from(ctx, q, 2, (const int[]){c->B, c->dq}, d->q);
    else
        at_tensor_from(ctx, q, 3, (const int[]){c->B, c->tq, c->dq}, d->q);
    at_tensor_from(ctx, k, 3, (const int[]){c->B, c->tk, c->dk}, d->k);
    at_tensor_from(ctx, v, 3, (const int[]){c->B, c->tk, c->dv}, d->v);
}

/* local-p: how close the nearest p_t comes to an integer. The window
 * {s : |s − p_t| <= D} changes as p_t crosses one (D is an integer), a jump
 * that finite differences cannot see through, so gradient checks only use
 * inputs whose every p_t stays well inside (k + margin, k + 1 − margin). */
static double position_margin(attn_run *run, const attn_data *d) {
    const attn_case *c = run->c;
    at_ctx *ctx = test_new_ctx();
    at_ctx_set_grad(ctx, 0);
    at_tensor *q, *k, *v;
    data_tensors(ctx, c, d, &q, &k, &v);
    attn_case probe = *c;
    probe.want_positions = 1;
    run->c = &probe;
    attn_outputs o;
    double margin = -1.0;
    if (run_family(ctx, run, q, k, v, &o) == AT_OK) {
        margin = 1.0;
        for (size_t r = 0; r < o.positions->size; r++) {
            if (c->lengths && c->lengths[r / (size_t)c->tq] == 0) continue; // p_t = 0, no window
            double p = o.positions->data[r], frac = p - floor(p);
            margin = fmin(margin, fmin(frac, 1.0 - frac));
        }
    }
    run->c = c;
    at_ctx_free(ctx);
    return margin;
}

/* Gradient check of one case with respect to queries, keys, values and
 * every parameter. local-p retries seeds until p_t keeps clear of the
 * window's jumps (see position_margin). */
static void gc_family(const attn_case *c, unsigned seed) {
    at_ctx *ctx = test_new_ctx();
    attn_run run = {.c = c};
    at_params *params = NULL;
    attn_data d = {0};
    int ready = 0;
    for (int attempt = 0; attempt < 200 && !ready; attempt++) {
        if (params) at_params_free(params);
        free_data(&d);
        at_rng rng;
        at_rng_seed(&rng, seed * 1000u + (unsigned)attempt);
        at_params_create(ctx, &params);
        at_status s = init_run(ctx, &run, params, &rng);
        CHECK(s == AT_OK, "%s: init failed: %s", c->name, at_ctx_error(ctx));
        if (s != AT_OK) break;
        test_jitter_params(params, &rng, 0.3f);
        d = random_data(c, &rng);
        ready = c->family != LOCAL || c->kind != AT_LOCAL_P || position_margin(&run, &d) > 0.1;
    }
    CHECK(ready, "%s: no seed keeps p_t clear of integers", c->name);
    if (ready) {
        gc_input in[3] = {
            {"queries",
             c->single_step ? 2 : 3,
             {c->B, c->single_step ? c->dq : c->tq, c->dq, 1},
             d.q},
            {"keys", 3, {c->B, c->tk, c->dk, 1}, d.k},
            {"values", 3, {c->B, c->tk, c->dv, 1}, d.v},
        };
        gc_options opts = {.seed = seed};
        if (c->family == LOCAL && c->kind == AT_LOCAL_P) opts.step = 5e-3;
        gc_check(c->name, 3, in, params, build_family, &run, &opts);
    }
    free_data(&d);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ------------------------------------------- naive double references */

/* The score of query i against key j of batch row b, from the equations. */
static double naive_score(const attn_run *run, const attn_data *d, int b, int i, int j) {
    const attn_case *c = run->c;
    const float *q = d->q + ((size_t)b * c->tq + i) * c->dq;
    const float *k = d->k + ((size_t)b * c->tk + j) * c->dk;
    const at_luong *l = c->family == LUONG ? &run->luong : &run->local.align;
    at_score score = c->family == ADDITIVE ? AT_SCORE_CONCAT : l->score;
    double e = 0.0;
    if (score == AT_SCORE_DOT)
        for (int x = 0; x < c->dq; x++)
            e += (double)q[x] * k[x];
    if (score == AT_SCORE_GENERAL) // h_tᵀ W_a h̄_s
        for (int x = 0; x < c->dq; x++)
            for (int y = 0; y < c->dk; y++)
                e += (double)q[x] * l->W_a->data[x * c->dk + y] * k[y];
    if (score == AT_SCORE_LOCATION) // (W_a h_t)[j]
        for (int x = 0; x < c->dq; x++)
            e += (double)l->W_a->data[j * c->dq + x] * q[x];
    if (score == AT_SCORE_CONCAT)
        for (int a = 0; a < c->A; a++) {
            double pre = 0.0, v_a;
            if (c->family == ADDITIVE) { // W_a q + U_a k + b_a
                const at_additive *m = &run->additive;
                for (int x = 0; x < c->dq; x++)
                    pre += (double)m->W_a->data[a * c->dq + x] * q[x];
                for (int y = 0; y < c->dk; y++)
                    pre += (double)m->U_a->data[a * c->dk + y] * k[y];
                pre += m->b_a->data[a];
                v_a = m->v_a->data[a];
            } else { // W_a [h_t; h̄_s]
                const float *W = l->W_a->data + (size_t)a * (c->dq + c->dk);
                for (int x = 0; x < c->dq; x++)
                    pre += (double)W[x] * q[x];
                for (int y = 0; y < c->dk; y++)
                    pre += (double)W[c->dq + y] * k[y];
                v_a = l->v_a->data[a];
            }
            e += v_a * tanh(pre);
        }
    return e;
}

/* Local attention's source length S of batch row b: lengths[b]; without
 * them what a padding mask keeps of the row; else Tk. */
static int naive_source_length(const attn_case *c, int b) {
    if (c->lengths) return c->lengths[b];
    if (!c->mask.keep || c->mask.rows != c->B) return c->tk;
    int kept = 0;
    for (int j = 0; j < c->tk; j++)
        kept += c->mask.keep[(size_t)b * c->tk + j] != 0;
    return kept;
}

/* local-p's p_t = S sigmoid(v_pᵀ tanh(W_p h_t)); local-m's p_t = first_step + i. */
static double naive_position(const attn_run *run, const attn_data *d, int b, int i) {
    const attn_case *c = run->c;
    if (c->kind == AT_LOCAL_M) return c->first_step + i;
    const float *q = d->q + ((size_t)b * c->tq + i) * c->dq;
    double u = 0.0, S = naive_source_length(c, b);
    for (int k = 0; k < c->predict; k++) {
        double pre = 0.0;
        for (int x = 0; x < c->dq; x++)
            pre += (double)run->local.W_p->data[k * c->dq + x] * q[x];
        u += run->local.v_p->data[k] * tanh(pre);
    }
    return S / (1.0 + exp(-u));
}

/* weights (B, Tq, Tk) and context (B, Tq, Dv) from the equations. */
static void naive_attention(const attn_run *run, const attn_data *d, float *weights, float *context,
                            float *positions) {
    const attn_case *c = run->c;
    for (int b = 0; b < c->B; b++)
        for (int i = 0; i < c->tq; i++) {
            double e[64], p = 0.0, D = c->window, sum = 0.0, max = -INFINITY;
            int keep[64];
            if (c->family == LOCAL) p = naive_position(run, d, b, i);
            if (positions) positions[b * c->tq + i] = (float)p;
            for (int j = 0; j < c->tk; j++) {
                keep[j] = test_mask_keeps(&c->mask, c->B, b, i, j, c->tq, c->tk);
                if (c->family == LOCAL)
                    keep[j] = keep[j] && j < naive_source_length(c, b) && fabs(j - p) <= D;
                e[j] = naive_score(run, d, b, i, j);
                if (keep[j]) max = fmax(max, e[j]);
            }
            for (int j = 0; j < c->tk; j++)
                sum += keep[j] ? exp(e[j] - max) : 0.0;
            float *w = weights + ((size_t)b * c->tq + i) * c->tk;
            for (int j = 0; j < c->tk; j++) {
                double a = keep[j] ? exp(e[j] - max) / sum : 0.0;
                if (c->family == LOCAL && c->kind == AT_LOCAL_P)
                    a *= exp(-(j - p) * (j - p) / (2.0 * (D / 2) * (D / 2)));
                w[j] = (float)a;
            }
            for (int x = 0; x < c->dv; x++) {
                double acc = 0.0;
                for (int j = 0; j < c->tk; j++)
                    acc += (double)w[j] * d->v[((size_t)b * c->tk + j) * c->dv + x];
                context[((size_t)b * c->tq + i) * c->dv + x] = (float)acc;
            }
        }
}

/* h̃ = tanh(W_c [c; h]) for every query. */
static void naive_attentional(const attn_run *run, const attn_data *d, const float *context,
                              float *h_tilde) {
    const attn_case *c = run->c;
    const at_luong *l = c->family == LUONG ? &run->luong : &run->local.align;
    int rows = c->B * c->tq, dc = c->attentional, in = c->dv + c->dq;
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < dc; o++) {
            double pre = 0.0;
            for (int x = 0; x < c->dv; x++)
                pre += (double)l->W_c->data[o * in + x] * context[r * c->dv + x];
            for (int x = 0; x < c->dq; x++)
                pre += (double)l->W_c->data[o * in + c->dv + x] * d->q[r * c->dq + x];
            h_tilde[r * dc + o] = (float)tanh(pre);
        }
}

/* Forward values of one case against the naive reference (inference mode). */
static void check_values(const attn_case *c, unsigned seed) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, seed);
    at_params *params;
    at_params_create(ctx, &params);
    attn_run run = {.c = c};
    attn_case full = *c;
    full.want_weights = 1;
    full.want_positions = c->family == LOCAL;
    run.c = &full;
    CHECK_OK(ctx, init_run(ctx, &run, params, &rng));
    test_jitter_params(params, &rng, 0.3f);
    attn_data d = random_data(c, &rng);
    at_ctx_set_grad(ctx, 0);
    at_tensor *q, *k, *v;
    data_tensors(ctx, c, &d, &q, &k, &v);
    attn_outputs o;
    CHECK_OK(ctx, run_family(ctx, &run, q, k, v, &o));
    size_t rows = (size_t)c->B * c->tq;
    float *w = malloc(rows * c->tk * sizeof(float)), *cx = malloc(rows * c->dv * sizeof(float));
    float *pos = malloc(rows * sizeof(float));
    float *ht = malloc(rows * (c->attentional + 1) * sizeof(float));
    naive_attention(&run, &d, w, cx, pos);
    char what[160];
    if (o.context && o.weights) {
        snprintf(what, sizeof what, "%s: weights", c->name);
        check_close(what, o.weights->data, w, rows * c->tk, 2e-5, 2e-4);
        snprintf(what, sizeof what, "%s: context", c->name);
        check_close(what, o.context->data, cx, rows * c->dv, 2e-5, 2e-4);
        CHECK(o.context->ndim == (c->single_step ? 2 : 3) && o.weights->ndim == o.context->ndim,
              "%s: outputs keep the queries' form", c->name);
    }
    if (o.positions) {
        snprintf(what, sizeof what, "%s: positions", c->name);
        check_close(what, o.positions->data, pos, rows, 1e-5, 1e-5);
    }
    if (c->attentional && o.h_tilde) {
        naive_attentional(&run, &d, o.context->data, ht);
        snprintf(what, sizeof what, "%s: h_tilde", c->name);
        check_close(what, o.h_tilde->data, ht, rows * c->attentional, 2e-5, 2e-4);
    }
    free(w);
    free(cx);
    free(pos);
    free(ht);
    free_data(&d);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* 1 if query i of batch row b keeps at least one key (the naive rule). */
static int row_alive(const attn_run *run, const attn_data *d, int b, int i) {
    const attn_case *c = run->c;
    double p = c->family == LOCAL ? naive_position(run, d, b, i) : 0.0;
    for (int j = 0; j < c->tk; j++) {
        int keep = test_mask_keeps(&c->mask, c->B, b, i, j, c->tq, c->tk);
        if (c->family == LOCAL)
            keep = keep && j < naive_source_length(c, b) && fabs(j - p) <= c->window;
        if (keep) return 1;
    }
    return 0;
}

/* The checks of check_dead_rows, once the outputs y = [context, weights] exist. */
static void check_dead_outputs(at_ctx *ctx, const attn_run *run, const attn_data *data,
                               const attn_outputs *out, at_tensor *y, at_tensor *const *inputs,
                               at_params *params) {
    const attn_case *c = run->c;
    at_tensor *q = inputs[0], *k = inputs[1], *v = inputs[2];
    float *ones = malloc(y->size * sizeof(float));
    for (size_t i = 0; i < y->size; i++)
        ones[i] = 1.0f;
    CHECK_OK(ctx, at_backward_seeded(ctx, y, ones));
    free(ones);
    int dead_rows = 0;
    for (int b = 0; b < c->B; b++)
        for (int i = 0; i < c->tq; i++) {
            if (row_alive(run, data, b, i)) continue;
            size_t r = (size_t)b * c->tq + i;
            dead_rows++;
            CHECK(test_all_zero(out->context->data + r * c->dv, c->dv), "%s: dead row %zu context",
                  c->name, r);
            CHECK(test_all_zero(out->weights->data + r * c->tk, c->tk), "%s: dead row %zu weights",
                  c->name, r);
            CHECK(test_all_zero(q->grad + r * c->dq, c->dq), "%s: dead row %zu query gradient",
                  c->name, r);
        }
    CHECK(dead_rows > 0, "%s: the case has no fully masked row", c->name);
    CHECK(test_all_finite(out->context->data, out->context->size) &&
              test_all_finite(out->weights->data, out->weights->size),
          "%s: outputs finite", c->name);
    CHECK(test_all_finite(q->grad, q->size) && test_all_finite(k->grad, k->size) &&
              test_all_finite(v->grad, v->size),
          "%s: input gradients finite", c->name);
    for (int p = 0; p < at_params_count(params); p++) {
        at_tensor *t = at_params_get(params, p);
        CHECK(test_all_finite(t->grad, t->size), "%s: gradient of %s finite", c->name, t->name);
    }
}

/* A query that sees no key: exact zero weights, context and query gradient;
 * nothing anywhere is NaN. */
static void check_dead_rows(const attn_case *c, unsigned seed) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, seed);
    at_params *params;
    at_params_create(ctx, &params);
    attn_case dead = *c;
    dead.want_weights = 1;
    dead.attentional = 0; // h̃ reads h_t directly: its gradient is not zero
    attn_run run = {.c = &dead};
    CHECK_OK(ctx, init_run(ctx, &run, params, &rng));
    test_jitter_params(params, &rng, 0.3f);
    attn_data d = random_data(c, &rng);
    at_tensor *q, *k, *v;
    data_tensors(ctx, c, &d, &q, &k, &v);
    at_tensor_require_grad(ctx, q);
    at_tensor_require_grad(ctx, k);
    at_tensor_require_grad(ctx, v);
    attn_outputs o;
    at_tensor *y = NULL;
    at_status s = run_family(ctx, &run, q, k, v, &o);
    if (s == AT_OK) s = gc_join_outputs(ctx, &y, 2, (at_tensor *[]){o.context, o.weights});
    CHECK(s == AT_OK, "%s: %s", c->name, at_ctx_error(ctx));
    if (s == AT_OK) check_dead_outputs(ctx, &run, &d, &o, y, (at_tensor *[]){q, k, v}, params);
    free_data(&d);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------------- masks */

static const uint8_t pad_2x4[8] = {1, 1, 1, 1, 1, 1, 0, 0}; /* lengths 4, 2 */
static const uint8_t pad_3x4[12] = {1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0};
static const uint8_t pad_dead_2x4[8] = {1, 1, 1, 0, 0, 0, 0, 0}; /* row b = 1 sees nothing */
static const uint8_t pad_2x5[10] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
/* a full mask (B*Tq = 6 rows of Tk = 4): row 1 dead, the rest scattered */
static const uint8_t full_6x4[24] = {1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0,
                                     1, 1, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1};
static const int32_t lengths_4_2[2] = {4, 2};
static const int32_t lengths_5_3[2] = {5, 3};
static const int32_t lengths_3_0[2] = {3, 0};

#define PADDING(keep, rows)                                                                        \
    { keep, rows, 0 }
#define CAUSAL                                                                                     \
    { NULL, 0, 1 }

/* ------------------------------------------------------------- cases */

static const attn_case additive_cases[] = {
    {"additive B2 Tq3 Tk4 padding", ADDITIVE, 0, 0, 2, 3, 4, 3, 5, 2, 4, 0, PADDING(pad_2x4, 2),
     .want_weights = 1},
    {"additive T=1", ADDITIVE, 0, 0, 1, 1, 1, 2, 3, 2, 3, 0, {0}, .want_weights = 1},
    {"additive causal Tq2 Tk4 + padding",
     ADDITIVE,
     0,
     0,
     2,
     2,
     4,
     3,
     2,
     3,
     4,
     0,
     {pad_2x4, 2, 1},
     .want_weights = 1},
    {"additive causal Tq3 Tk3", ADDITIVE, 0, 0, 2, 3, 3, 2, 2, 2, 3, 0, CAUSAL, .want_weights = 1},
    {"additive single step (B, Dq)", ADDITIVE, 0, 0, 3, 1, 4, 3, 2, 3, 5, 1, PADDING(pad_3x4, 3),
     .want_weights = 1},
    {"additive full mask, a dead row", ADDITIVE, 0, 0, 2, 3, 4, 3, 3, 2, 4, 0, PADDING(full_6x4, 6),
     .want_weights = 1},
    {"additive dead batch row, no weights", ADDITIVE, 0, 0, 2, 3, 4, 2, 3, 2, 3, 0,
     PADDING(pad_dead_2x4, 2), .want_weights = 0},
};

static const attn_case luong_cases[] = {
    {"luong dot + attentional", LUONG, AT_SCORE_DOT, 0, 2, 3, 4, 3, 3, 3, 0, 0, PADDING(pad_2x4, 2),
     .attentional = 2, .want_weights = 1},
    {"luong general causal Tq2 Tk4 + attentional",
     LUONG,
     AT_SCORE_GENERAL,
     0,
     2,
     2,
     4,
     3,
     5,
     5,
     0,
     0,
     {pad_2x4, 2, 1},
     .attentional = 3,
     .want_weights = 1},
    {"luong general single step", LUONG, AT_SCORE_GENERAL, 0, 3, 1, 4, 2, 3, 3, 0, 1,
     PADDING(pad_3x4, 3), .attentional = 2, .want_weights = 1},
    {"luong concat full mask, a dead row", LUONG, AT_SCORE_CONCAT, 0, 2, 3, 4, 3, 2, 2, 4, 0,
     PADDING(full_6x4, 6), .attentional = 2, .want_weights = 1},
    {"luong concat T=1", LUONG, AT_SCORE_CONCAT, 0, 1, 1, 1, 2, 3, 3, 2, 0, {0}, .want_weights = 1},
    {"luong location Tk4 of 6", LUONG, AT_SCORE_LOCATION, 0, 2, 3, 4, 3, 2, 2, 0, 0,
     PADDING(pad_2x4, 2), .max_len = 6, .attentional = 2, .want_weights = 1},
    {"luong location causal single step",
     LUONG,
     AT_SCORE_LOCATION,
     0,
     3,
     1,
     4,
     3,
     2,
     2,
     0,
     1,
     {pad_3x4, 3, 1},
     .max_len = 4},
    {"luong dot dead batch row", LUONG, AT_SCORE_DOT, 0, 2, 3, 4, 2, 2, 3, 0, 0,
     PADDING(pad_dead_2x4, 2), .want_weights = 1},
};

/* local-m: p_t is an integer that no input moves, so any data is fine.
 * local-p: gc_family picks data whose p_t stay clear of integers. */
static const attn_case local_cases[] = {
    {"local-m general D=1 lengths 4,2",
     LOCAL,
     AT_SCORE_GENERAL,
     AT_LOCAL_M,
     2,
     3,
     5,
     3,
     4,
     4,
     0,
     0,
     {0},
     lengths_4_2,
     .first_step = 1,
     .window = 1,
     .attentional = 2,
     .want_weights = 1,
     .want_positions = 1},
    {"local-m dot D=0 single step", LOCAL, AT_SCORE_DOT, AT_LOCAL_M, 2, 1, 4, 3, 3, 2, 0, 1,
     PADDING(pad_2x4, 2), .first_step = 2, .window = 0, .want_weights = 1},
    {"local-m concat D=2 causal", LOCAL, AT_SCORE_CONCAT, AT_LOCAL_M, 2, 3, 4, 2, 3, 3, 3, 0,
     CAUSAL, .window = 2, .want_weights = 1},
    {"local-p concat D=2 lengths 5,3",
     LOCAL,
     AT_SCORE_CONCAT,
     AT_LOCAL_P,
     2,
     2,
     5,
     3,
     2,
     2,
     3,
     0,
     {0},
     lengths_5_3,
     .window = 2,
     .predict = 3,
     .want_weights = 1,
     .want_positions = 1},
    {"local-p general D=1 padding + attentional", LOCAL, AT_SCORE_GENERAL, AT_LOCAL_P, 2, 3, 5, 3,
     4, 4, 0, 0, PADDING(pad_2x5, 2), .window = 1, .predict = 2, .attentional = 2,
     .want_weights = 1, .want_positions = 1},
    {"local-p dot D=2 single step, no weights",
     LOCAL,
     AT_SCORE_DOT,
     AT_LOCAL_P,
     3,
     1,
     4,
     3,
     3,
     2,
     0,
     1,
     {0},
     .window = 2,
     .predict = 4},
    {"local-p dot D=1 T=1",
     LOCAL,
     AT_SCORE_DOT,
     AT_LOCAL_P,
     1,
     1,
     1,
     2,
     2,
     2,
     0,
     0,
     {0},
     .window = 1,
     .predict = 2,
     .want_weights = 1,
     .want_positions = 1},
    {"local-p dot dead batch row",
     LOCAL,
     AT_SCORE_DOT,
     AT_LOCAL_P,
     2,
     2,
     4,
     2,
     2,
     3,
     0,
     0,
     {0},
     lengths_3_0,
     .window = 2,
     .predict = 2,
     .want_weights = 1,
     .want_positions = 1},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void test_cases(const attn_case *cases, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        gc_family(&cases[i], seed + (unsigned)i);
        check_values(&cases[i], seed + 100u + (unsigned)i);
    }
}

/* --------------------------------------------------- attention decoder */

typedef struct decoder_case {
    const char *name;
    int B, tx, Y, Dh, S, V, A;
    int from_previous;
    at_attn_mask mask;
    int want_weights;
} decoder_case;

typedef struct decoder_run {
    const decoder_case *c;
    at_attention_decoder dec;
} decoder_run;

/* inputs: annotations (B, Tx, Dh), y_0 (B, Y), y_1 (B, Y). Two steps from
 * s_0 = tanh(W_s h_1), so the gradient also flows through s_1 into step 2. */
static at_status build_decoder(at_ctx *ctx, at_tensor *const *inputs, void *user, at_tensor **y) {
    decoder_run *run = user;
    const decoder_case *c = run->c;
    at_tensor *ann = inputs[0], *s0, *kp, *s1, *s2, *l1, *l2, *w1 = NULL, *w2 = NULL;
    AT_TRY(at_attention_decoder_start(ctx, &run->dec, ann, &s0));
    AT_TRY(at_additive_project_keys(ctx, &run->dec.attention, ann, &kp));
    AT_TRY(at_attention_decoder_step(ctx, &run->dec, inputs[1], s0, ann, kp, &c->mask, &s1, &l1,
                                     c->want_weights ? &w1 : NULL));
    AT_TRY(at_attention_decoder_step(ctx, &run->dec, inputs[2], s1, ann, kp, &c->mask, &s2, &l2,
                                     c->want_weights ? &w2 : NULL));
    at_tensor *parts[5] = {l1, w1, s2, l2, w2};
    return gc_join_outputs(ctx, y, 5, parts);
}

static void gc_decoder(const decoder_case *c, unsigned seed) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, seed);
    at_params *params;
    at_params_create(ctx, &params);
    decoder_run run = {.c = c};
    CHECK_OK(ctx, at_attention_decoder_init(ctx, &run.dec, params, "dec", c->Y, c->Dh, c->S, c->V,
                                            c->A, &rng));
    run.dec.output_from_previous_state = c->from_previous;
    test_jitter_params(params, &rng, 0.3f);
    float *ann = test_random_floats((size_t)c->B * c->tx * c->Dh, -1.0f, 1.0f, &rng);
    float *y0 = test_random_floats((size_t)c->B * c->Y, -1.0f, 1.0f, &rng),
          *y1 = test_random_floats((size_t)c->B * c->Y, -1.0f, 1.0f, &rng);
    gc_input in[3] = {{"annotations", 3, {c->B, c->tx, c->Dh, 1}, ann},
                      {"y_0", 2, {c->B, c->Y, 1, 1}, y0},
                      {"y_1", 2, {c->B, c->Y, 1, 1}, y1}};
    gc_options opts = {.seed = seed};
    gc_check(c->name, 3, in, params, build_decoder, &run, &opts);
    free(ann);
    free(y0);
    free(y1);
    at_params_free(params);
    at_ctx_free(ctx);
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Σ_k M[o][k] x[k] for an (rows, n) parameter. */
static double row_dot(const at_tensor *M, int o, const float *x) {
    int n = M->shape[1];
    double acc = 0.0;
    for (int k = 0; k < n; k++)
        acc += (double)M->data[o * n + k] * x[k];
    return acc;
}

/* One step of batch row b from the equations: s (S), logits (V), alpha (Tx). */
static void naive_decoder_step(const at_attention_decoder *m, const decoder_case *c,
                               const float *ann, const float *y, const float *sp, int b, float *s,
                               float *logits, float *alpha) {
    const at_additive *at = &m->attention;
    int S = c->S, Dh = c->Dh, tx = c->tx;
    const float *h = ann + (size_t)b * tx * Dh;
    double e[16], max = -INFINITY, sum = 0.0;
    float ctx_vec[16], r[16], z[16], rs[16];
    for (int j = 0; j < tx; j++) { // e_j = v_aᵀ tanh(W_a s + U_a h_j + b_a)
        e[j] = 0.0;
        for (int a = 0; a < c->A; a++)
            e[j] += at->v_a->data[a] * tanh(row_dot(at->W_a, a, sp) +
                                            row_dot(at->U_a, a, h + j * Dh) + at->b_a->data[a]);
        if (test_mask_keeps(&c->mask, c->B, b, 0, j, 1, tx)) max = fmax(max, e[j]);
    }
    for (int j = 0; j < tx; j++)
        sum += test_mask_keeps(&c->mask, c->B, b, 0, j, 1, tx) ? exp(e[j] - max) : 0;
    for (int j = 0; j < tx; j++)
        alpha[j] =
            test_mask_keeps(&c->mask, c->B, b, 0, j, 1, tx) ? (float)(exp(e[j] - max) / sum) : 0.0f;
    for (int x = 0; x < Dh; x++) {
        double acc = 0.0;
        for (int j = 0; j < tx; j++)
            acc += alpha[j] * h[j * Dh + x];
        ctx_vec[x] = (float)acc;
    }
    for (int o = 0; o < S; o++) {
        r[o] = (float)sigmoid(row_dot(m->W_r, o, y) + row_dot(m->U_r, o, sp) +
                              row_dot(m->C_r, o, ctx_vec) + m->b_r->data[o]);
        z[o] = (float)sigmoid(row_dot(m->W_z, o, y) + row_dot(m->U_z, o, sp) +
                              row_dot(m->C_z, o, ctx_vec) + m->b_z->data[o]);
        rs[o] = r[o] * sp[o];
    }
    for (int o = 0; o < S; o++) {
        double cand = tanh(row_dot(m->W_p, o, y) + row_dot(m->U_p, o, rs) +
                           row_dot(m->C_p, o, ctx_vec) + m->b_p->data[o]);
        s[o] = (float)((1.0 - z[o]) * sp[o] + z[o] * cand);
    }
    const float *s_out = m->output_from_previous_state ? sp : s;
    for (int o = 0; o < c->V; o++)
        logits[o] = (float)(row_dot(m->W_o, o, y) + row_dot(m->U_o, o, s_out) +
                            row_dot(m->C_o, o, ctx_vec) + m->b_o->data[o]);
}

static void check_decoder_values(const decoder_case *c, unsigned seed) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, seed);
    at_params *params;
    at_params_create(ctx, &params);
    at_attention_decoder dec;
    CHECK_OK(ctx, at_attention_decoder_init(ctx, &dec, params, "dec", c->Y, c->Dh, c->S, c->V, c->A,
                                            &rng));
    dec.output_from_previous_state = c->from_previous;
    test_jitter_params(params, &rng, 0.3f);
    float *ann = test_random_floats((size_t)c->B * c->tx * c->Dh, -1.0f, 1.0f, &rng);
    float *y0 = test_random_floats((size_t)c->B * c->Y, -1.0f, 1.0f, &rng);
    at_tensor *a, *y, *s0, *kp, *s1, *l1, *w1;
    at_tensor_from(ctx, &a, 3, (const int[]){c->B, c->tx, c->Dh}, ann);
    at_tensor_from(ctx, &y, 2, (const int[]){c->B, c->Y}, y0);
    CHECK_OK(ctx, at_attention_decoder_start(ctx, &dec, a, &s0));
    CHECK_OK(ctx, at_additive_project_keys(ctx, &dec.attention, a, &kp));
    CHECK_OK(ctx, at_attention_decoder_step(ctx, &dec, y, s0, a, kp, &c->mask, &s1, &l1, &w1));
    for (int b = 0; b < c->B; b++) {
        float want_s0[16], s[16], logits[16], alpha[16];
        for (int o = 0; o < c->S; o++) // s_0 = tanh(W_s h_1)
            want_s0[o] = (float)tanh(row_dot(dec.W_s, o, ann + (size_t)b * c->tx * c->Dh));
        check_close("decoder s_0", s0->data + b * c->S, want_s0, c->S, 2e-5, 2e-4);
        naive_decoder_step(&dec, c, ann, y0 + b * c->Y, s0->data + b * c->S, b, s, logits, alpha);
        check_close("decoder s_1", s1->data + b * c->S, s, c->S, 2e-5, 2e-4);
        check_close("decoder logits", l1->data + b * c->V, logits, c->V, 2e-5, 2e-4);
        check_close("decoder weights", w1->data + b * c->tx, alpha, c->tx, 2e-5, 2e-4);
    }
    free(ann);
    free(y0);
    at_params_free(params);
    at_ctx_free(ctx);
}

static const decoder_case decoder_cases[] = {
    {"decoder s_t readout, padding", 2, 4, 3, 5, 4, 3, 4, 0, PADDING(pad_2x4, 2), 1},
    {"decoder s_{t-1} readout, padding", 2, 4, 3, 5, 4, 3, 4, 1, PADDING(pad_2x4, 2), 1},
    {"decoder Tx=1 B=1, no weights", 1, 1, 2, 3, 2, 2, 2, 0, {0}, 0},
    {"decoder dead batch row", 2, 4, 2, 3, 3, 2, 3, 1, PADDING(pad_dead_2x4, 2), 1},
};

static void check_names(at_params *params, const char *const *names, int n) {
    CHECK(at_params_count(params) == n, "expected %d parameters, have %d", n,
          at_params_count(params));
    for (int i = 0; i < n && i < at_params_count(params); i++)
        CHECK(strcmp(at_params_get(params, i)->name, names[i]) == 0,
              "parameter %d is '%s', want '%s'", i, at_params_get(params, i)->name, names[i]);
}

static void test_decoder(void) {
    for (size_t i = 0; i < COUNT(decoder_cases); i++) {
        gc_decoder(&decoder_cases[i], 40u + (unsigned)i);
        if (decoder_cases[i].want_weights)
            check_decoder_values(&decoder_cases[i], 50u + (unsigned)i);
    }
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 60);
    at_params *params;
    at_params_create(ctx, &params);
    at_attention_decoder dec;
    CHECK_OK(ctx, at_attention_decoder_init(ctx, &dec, params, "dec", 3, 5, 4, 6, 2, &rng));
    check_names(params,
                (const char *const[]){"dec.attention.W_a", "dec.attention.U_a", "dec.attention.b_a",
                                      "dec.attention.v_a", "dec.W_r",           "dec.U_r",
                                      "dec.C_r",           "dec.b_r",           "dec.W_z",
                                      "dec.U_z",           "dec.C_z",           "dec.b_z",
                                      "dec.W_p",           "dec.U_p",           "dec.C_p",
                                      "dec.b_p",           "dec.W_o",           "dec.U_o",
                                      "dec.C_o",           "dec.b_o",           "dec.W_s"},
                21);
    CHECK(dec.attention.W_a->shape[0] == 2 && dec.attention.W_a->shape[1] == 4 &&
              dec.attention.U_a->shape[1] == 5 && dec.W_o->shape[0] == 6 &&
              dec.W_o->shape[1] == 3 && dec.C_r->shape[1] == 5 && dec.W_s->shape[0] == 4,
          "decoder parameter shapes");
    CHECK(dec.output_from_previous_state == 0, "decoder default reads s_t");
    CHECK(test_all_zero(dec.b_r->data, 4) && test_all_zero(dec.b_o->data, 6),
          "decoder biases start at 0");
    /* errors: wrong y_prev size, wrong annotation size, NULL outputs */
    at_tensor *ann, *y, *bad_y, *s0, *kp, *s = NULL, *logits = NULL;
    at_tensor_new(ctx, &ann, 3, (const int[]){2, 3, 5});
    at_tensor_new(ctx, &y, 2, (const int[]){2, 3});
    at_tensor_new(ctx, &bad_y, 2, (const int[]){2, 4});
    CHECK_OK(ctx, at_attention_decoder_start(ctx, &dec, ann, &s0));
    CHECK_OK(ctx, at_additive_project_keys(ctx, &dec.attention, ann, &kp));
    CHECK_STATUS(ctx,
                 at_attention_decoder_step(ctx, &dec, bad_y, s0, ann, kp, NULL, &s, &logits, NULL),
                 AT_ERR_SHAPE);
    CHECK(s == NULL && logits == NULL, "decoder outputs untouched on failure");
    CHECK_STATUS(ctx,
                 at_attention_decoder_step(ctx, &dec, y, s0, ann, kp, NULL, NULL, &logits, NULL),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_attention_decoder_step(ctx, &dec, y, y, ann, kp, NULL, &s, &logits, NULL),
                 AT_ERR_SHAPE);
    at_tensor *ann_bad;
    at_tensor_new(ctx, &ann_bad, 3, (const int[]){2, 3, 4});
    CHECK_STATUS(ctx, at_attention_decoder_start(ctx, &dec, ann_bad, &s0), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_attention_decoder_init(ctx, &dec, params, "x", 0, 5, 4, 6, 2, &rng),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_attention_decoder_init(ctx, &dec, params, "dec", 3, 5, 4, 6, 2, &rng),
                 AT_ERR_ARGUMENT); /* names already taken */
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ---------------------------------------------------- names and errors */

static void test_names_and_init(void) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 70);
    at_params *params;
    at_params_create(ctx, &params);
    at_additive add;
    CHECK_OK(ctx, at_additive_init(ctx, &add, params, "att", 3, 5, 4, &rng));
    check_names(params, (const char *const[]){"att.W_a", "att.U_a", "att.b_a", "att.v_a"}, 4);
    CHECK(test_all_zero(add.b_a->data, 4), "additive b_a starts at 0");
    int small = 1;
    for (int a = 0; a < 4; a++)
        small &= fabsf(add.v_a->data[a]) <= 0.5f;
    CHECK(small, "v_a uniform in ±1/√A");
    at_params_free(params);

    at_params_create(ctx, &params);
    at_luong g, cat, loc, dot;
    CHECK_OK(ctx, at_luong_init(ctx, &g, params, "g", AT_SCORE_GENERAL, 3, 5, 0, 0, 2, &rng));
    CHECK_OK(ctx, at_luong_init(ctx, &cat, params, "c", AT_SCORE_CONCAT, 3, 5, 4, 0, 0, &rng));
    CHECK_OK(ctx, at_luong_init(ctx, &loc, params, "l", AT_SCORE_LOCATION, 3, 5, 0, 7, 0, &rng));
    CHECK_OK(ctx, at_luong_init(ctx, &dot, params, "d", AT_SCORE_DOT, 3, 3, 0, 0, 0, &rng));
    check_names(params, (const char *const[]){"g.W_a", "g.W_c", "c.W_a", "c.v_a", "l.W_a"}, 5);
    CHECK(g.W_a->shape[0] == 3 && g.W_a->shape[1] == 5, "general W_a (Dq, Dk)");
    CHECK(g.W_c->shape[0] == 2 && g.W_c->shape[1] == 8, "W_c (Dc, Dv + Dq)");
    CHECK(cat.W_a->shape[0] == 4 && cat.W_a->shape[1] == 8, "concat W_a (A, Dq + Dk)");
    CHECK(loc.W_a->shape[0] == 7 && loc.W_a->shape[1] == 3, "location W_a (max_len, Dq)");
    CHECK(dot.W_a == NULL && dot.W_c == NULL, "dot has no parameters");
    CHECK_STATUS(ctx, at_luong_init(ctx, &dot, params, "x", AT_SCORE_DOT, 3, 4, 0, 0, 0, &rng),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_luong_init(ctx, &dot, params, "x", AT_SCORE_CONCAT, 3, 4, 0, 0, 0, &rng),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_luong_init(ctx, &dot, params, "x", AT_SCORE_LOCATION, 3, 4, 0, 0, 0, &rng),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_luong_init(ctx, &dot, params, "x", (at_score)9, 3, 4, 0, 0, 0, &rng),
                 AT_ERR_ARGUMENT);
    at_params_free(params);

    at_params_create(ctx, &params);
    at_luong_local lp, lm;
    CHECK_OK(ctx, at_luong_local_init(ctx, &lp, params, "lp", AT_LOCAL_P, AT_SCORE_GENERAL, 3, 5, 0,
                                      2, 2, 6, &rng));
    CHECK_OK(ctx, at_luong_local_init(ctx, &lm, params, "lm", AT_LOCAL_M, AT_SCORE_DOT, 3, 3, 0, 0,
                                      0, 0, &rng));
    check_names(params, (const char *const[]){"lp.W_a", "lp.W_c", "lp.W_p", "lp.v_p"}, 4);
    CHECK(lp.W_p->shape[0] == 6 && lp.W_p->shape[1] == 3 && lm.W_p == NULL, "W_p (P, Dq)");
    CHECK_STATUS(ctx,
                 at_luong_local_init(ctx, &lm, params, "x", AT_LOCAL_P, AT_SCORE_DOT, 3, 3, 0, 0, 0,
                                     4, &rng),
                 AT_ERR_ARGUMENT); /* local-p with D = 0: σ = 0 */
    CHECK_STATUS(ctx,
                 at_luong_local_init(ctx, &lm, params, "x", AT_LOCAL_M, AT_SCORE_LOCATION, 3, 3, 0,
                                     0, 1, 0, &rng),
                 AT_ERR_ARGUMENT);
    at_params_free(params);
    at_ctx_free(ctx);
}

static void test_errors(void) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 80);
    at_params *params;
    at_params_create(ctx, &params);
    at_additive add;
    at_luong gen, loc;
    at_luong_local local;
    at_additive_init(ctx, &add, params, "a", 3, 5, 4, &rng);
    at_luong_init(ctx, &gen, params, "g", AT_SCORE_GENERAL, 3, 5, 0, 0, 2, &rng);
    at_luong_init(ctx, &loc, params, "l", AT_SCORE_LOCATION, 3, 5, 0, 3, 0, &rng);
    at_luong_local_init(ctx, &local, params, "p", AT_LOCAL_P, AT_SCORE_GENERAL, 3, 5, 0, 0, 2, 2,
                        &rng);
    at_tensor *q, *q4, *k, *v, *v_short, *kp, *kp_g, *q_4d;
    at_tensor_new(ctx, &q, 3, (const int[]){2, 3, 3});
    at_tensor_new(ctx, &q4, 3, (const int[]){2, 3, 4});
    at_tensor_new(ctx, &k, 3, (const int[]){2, 4, 5});
    at_tensor_new(ctx, &v, 3, (const int[]){2, 4, 2});
    at_tensor_new(ctx, &v_short, 3, (const int[]){2, 3, 2});
    at_tensor_new(ctx, &q_4d, 4, (const int[]){1, 2, 3, 3});
    CHECK_OK(ctx, at_additive_project_keys(ctx, &add, k, &kp));
    CHECK_OK(ctx, at_luong_project_keys(ctx, &gen, k, &kp_g));
    at_tensor *c = NULL, *w = NULL, *untouched = NULL;
    CHECK_STATUS(ctx, at_additive_attend(ctx, &add, q4, kp, v, NULL, &c, &w), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_additive_attend(ctx, &add, q_4d, kp, v, NULL, &c, &w), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_additive_attend(ctx, &add, q, kp, v_short, NULL, &c, &w), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_additive_attend(ctx, &add, q, k, v, NULL, &c, &w), AT_ERR_SHAPE);
    CHECK_STATUS(ctx,
                 at_additive_attend(ctx, &add, q, kp, v, &(at_attn_mask){pad_3x4, 4, 0}, &c, &w),
                 AT_ERR_SHAPE); /* 4 mask rows do not divide 6 score rows */
    CHECK_STATUS(ctx, at_additive_attend(ctx, NULL, q, kp, v, NULL, &c, &w), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_additive_attend(ctx, &add, NULL, kp, v, NULL, &c, &w), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_additive_attend(ctx, &add, q, kp, v, NULL, NULL, &w), AT_ERR_ARGUMENT);
    CHECK(c == NULL && w == NULL, "outputs untouched on failure");
    CHECK_STATUS(ctx, at_additive_project_keys(ctx, &add, q, &untouched), AT_ERR_SHAPE);
    CHECK(untouched == NULL, "keys_proj untouched on failure");
    CHECK_STATUS(ctx, at_luong_attend(ctx, &gen, q, k, v, NULL, &c, &w), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_luong_attend(ctx, &gen, q, kp_g, v_short, NULL, &c, &w), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_luong_attend(ctx, &loc, q, k, v, NULL, &c, &w),
                 AT_ERR_SHAPE); /* Tk 4 > 3 */
    CHECK_STATUS(ctx,
                 at_luong_attend(ctx, &gen, q, kp_g, v, &(at_attn_mask){pad_2x4, 4, 0}, &c, &w),
                 AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_luong_project_keys(ctx, &gen, q, &untouched), AT_ERR_SHAPE);
    at_tensor *ctx_vec, *h;
    at_tensor_new(ctx, &ctx_vec, 3, (const int[]){2, 3, 4});
    CHECK_STATUS(ctx, at_luong_attentional(ctx, &gen, ctx_vec, q, &h), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_luong_attentional(ctx, &loc, ctx_vec, q, &h),
                 AT_ERR_ARGUMENT); /* no W_c */
    const int32_t too_long[2] = {4, 5}, negative[2] = {-1, 2};
    CHECK_STATUS(ctx,
                 at_luong_local_attend(ctx, &local, q, kp_g, v, NULL, too_long, 0, &c, &w, NULL),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx,
                 at_luong_local_attend(ctx, &local, q, kp_g, v, NULL, negative, 0, &c, &w, NULL),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_luong_local_attend(ctx, &local, q4, kp_g, v, NULL, NULL, 0, &c, &w, NULL),
                 AT_ERR_SHAPE);
    CHECK(c == NULL && w == NULL, "outputs untouched on failure");
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------ inference mode */

static void test_inference_records_nothing(void) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 90);
    at_params *params;
    at_params_create(ctx, &params);
    at_additive add;
    at_luong cat;
    at_luong_local local;
    at_attention_decoder dec;
    at_additive_init(ctx, &add, params, "a", 3, 5, 4, &rng);
    at_luong_init(ctx, &cat, params, "c", AT_SCORE_CONCAT, 3, 5, 4, 0, 2, &rng);
    at_luong_local_init(ctx, &local, params, "p", AT_LOCAL_P, AT_SCORE_CONCAT, 3, 5, 4, 0, 2, 2,
                        &rng);
    at_attention_decoder_init(ctx, &dec, params, "dec", 2, 5, 3, 4, 2, &rng);
    at_ctx_set_grad(ctx, 0);
    at_tensor *q, *k, *v, *y, *kp, *c, *w, *h, *pos, *s0, *s1, *logits;
    float qd[18], kd[40], vd[16], yd[4];
    fill_uniform(qd, 18, -1, 1, &rng);
    fill_uniform(kd, 40, -1, 1, &rng);
    fill_uniform(vd, 16, -1, 1, &rng);
    fill_uniform(yd, 4, -1, 1, &rng);
    at_tensor_from(ctx, &q, 3, (const int[]){2, 3, 3}, qd);
    at_tensor_from(ctx, &k, 3, (const int[]){2, 4, 5}, kd);
    at_tensor_from(ctx, &v, 3, (const int[]){2, 4, 2}, vd);
    at_tensor_from(ctx, &y, 2, (const int[]){2, 2}, yd);
    at_tensor_require_grad(ctx, q); /* even a leaf that wants a gradient records nothing */
    CHECK_OK(ctx, at_additive_project_keys(ctx, &add, k, &kp));
    CHECK_OK(ctx, at_additive_attend(ctx, &add, q, kp, v, NULL, &c, &w));
    CHECK(c->grad == NULL && w->grad == NULL, "inference outputs have no gradient buffer");
    CHECK_OK(ctx, at_luong_project_keys(ctx, &cat, k, &kp));
    CHECK_OK(ctx, at_luong_attend(ctx, &cat, q, kp, k, NULL, &c, &w));
    CHECK_OK(ctx, at_luong_attentional(ctx, &cat, c, q, &h));
    CHECK_OK(ctx, at_luong_local_attend(ctx, &local, q, kp, v, NULL, NULL, 0, &c, &w, &pos));
    CHECK_OK(ctx, at_attention_decoder_start(ctx, &dec, k, &s0));
    CHECK_OK(ctx, at_additive_project_keys(ctx, &dec.attention, k, &kp));
    CHECK_OK(ctx, at_attention_decoder_step(ctx, &dec, y, s0, k, kp, NULL, &s1, &logits, &w));
    CHECK(at_ctx_tape_length(ctx) == 0, "inference mode recorded %zu tape entries",
          at_ctx_tape_length(ctx));
    CHECK(s1->grad == NULL && logits->grad == NULL && pos->grad == NULL, "no gradient buffers");

    at_ctx_set_grad(ctx, 1);
    at_ctx_reset(ctx);
    at_tensor_from(ctx, &k, 3, (const int[]){2, 4, 5}, kd);
    at_tensor_from(ctx, &y, 2, (const int[]){2, 2}, yd);
    CHECK_OK(ctx, at_attention_decoder_start(ctx, &dec, k, &s0));
    CHECK_OK(ctx, at_additive_project_keys(ctx, &dec.attention, k, &kp));
    size_t before = at_ctx_tape_length(ctx);
    CHECK_OK(ctx, at_attention_decoder_step(ctx, &dec, y, s0, k, kp, NULL, &s1, &logits, NULL));
    CHECK(
        before == 2 && at_ctx_tape_length(ctx) == 5,
        "decoder: start and keys one entry each, a step three (attention, cell, readout): %zu, %zu",
        before, at_ctx_tape_length(ctx));
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------------ threads */

/* One additive forward and backward, big enough for the threaded loops:
 * context and every gradient, one after another, into out. */
static void additive_run_with_threads(int threads, float *out, size_t n) {
    at_ctx *ctx = test_new_ctx_with(0, threads);
    at_rng rng;
    at_rng_seed(&rng, 99);
    at_params *params;
    at_params_create(ctx, &params);
    at_additive add;
    at_additive_init(ctx, &add, params, "a", 16, 16, 32, &rng);
    const int B = 8, tq = 16, tk = 32;
    at_tensor *q, *k, *kp, *c, *w, *loss;
    at_tensor_new(ctx, &q, 3, (const int[]){B, tq, 16});
    at_tensor_new(ctx, &k, 3, (const int[]){B, tk, 16});
    fill_uniform(q->data, q->size, -1, 1, &rng);
    fill_uniform(k->data, k->size, -1, 1, &rng);
    at_tensor_require_grad(ctx, q);
    at_tensor_require_grad(ctx, k);
    CHECK_OK(ctx, at_additive_project_keys(ctx, &add, k, &kp));
    CHECK_OK(ctx, at_additive_attend(ctx, &add, q, kp, k, &(at_attn_mask){NULL, 0, 1}, &c, &w));
    CHECK_OK(ctx, at_sum(ctx, &loss, c));
    CHECK_OK(ctx, at_backward(ctx, loss));
    const at_tensor *parts[5] = {c, q, k, add.W_a, add.v_a};
    size_t at = 0;
    for (int i = 0; i < 5; i++) {
        const float *src = i == 0 ? parts[i]->data : parts[i]->grad;
        for (size_t j = 0; j < parts[i]->size && at < n; j++)
            out[at++] = src[j];
    }
    at_params_free(params);
    at_ctx_free(ctx);
}

static void test_threads_deterministic(void) {
    enum { N = 8 * 16 * 16 + 8 * 16 * 16 + 8 * 32 * 16 + 32 * 16 + 32 };
    static float one[N], four[N];
    additive_run_with_threads(1, one, N);
    additive_run_with_threads(4, four, N);
    CHECK(memcmp(one, four, sizeof one) == 0, "additive: 1 and 4 threads give different bits");
}

/* Luong's general, location and concat scores with the attentional layer
 * W_c, wide enough that their products are cut between threads: context,
 * h_tilde and every gradient, one after another, into out. */
static size_t luong_run_with_threads(int threads, at_score score, float *out, size_t n) {
    at_ctx *ctx = test_new_ctx_with(0, threads);
    at_rng rng;
    at_rng_seed(&rng, 97);
    at_params *params;
    at_params_create(ctx, &params);
    at_luong luong;
    const int B = 16, tq = 8, tk = 24, D = 128, Dc = 128;
    CHECK_OK(ctx, at_luong_init(ctx, &luong, params, "l", score, D, D, 64, tk, Dc, &rng));
    at_tensor *q, *k, *kp, *c, *ht, *loss;
    at_tensor_new(ctx, &q, 3, (const int[]){B, tq, D});
    at_tensor_new(ctx, &k, 3, (const int[]){B, tk, D});
    fill_uniform(q->data, q->size, -1, 1, &rng);
    fill_uniform(k->data, k->size, -1, 1, &rng);
    at_tensor_require_grad(ctx, q);
    at_tensor_require_grad(ctx, k);
    CHECK_OK(ctx, at_luong_project_keys(ctx, &luong, k, &kp));
    CHECK_OK(ctx, at_luong_attend(ctx, &luong, q, kp, k, NULL, &c, NULL));
    CHECK_OK(ctx, at_luong_attentional(ctx, &luong, c, q, &ht));
    CHECK_OK(ctx, at_sum(ctx, &loss, ht));
    CHECK_OK(ctx, at_backward(ctx, loss));
    size_t at = 0;
    test_append(out, &at, n, c, 0), test_append(out, &at, n, ht, 0);
    test_append(out, &at, n, q, 1), test_append(out, &at, n, k, 1);
    test_append_param_grads(out, &at, n, params);
    at_params_free(params);
    at_ctx_free(ctx);
    return at;
}

static void test_luong_threads(void) {
    enum { N = 1 << 20 };
    const at_score scores[3] = {AT_SCORE_GENERAL, AT_SCORE_LOCATION, AT_SCORE_CONCAT};
    float *one = malloc(N * sizeof(float)), *two = malloc(N * sizeof(float));
    for (int i = 0; i < 3; i++) {
        size_t n1 = luong_run_with_threads(1, scores[i], one, N);
        size_t n2 = luong_run_with_threads(2, scores[i], two, N);
        CHECK(n1 == n2 && n1 < N, "luong score %d: %zu against %zu values", i, n1, n2);
        check_same_bits("luong, 2 threads vs 1", two, one, n1);
    }
    free(one), free(two);
}

/* Two steps of the seed's AttentionDecoder, wide enough that its gate
 * products are cut between threads (B 32, S 128): s, logits and every
 * gradient, one after another, into out. */
static size_t seed_decoder_run_with_threads(int threads, float *out, size_t n) {
    at_ctx *ctx = test_new_ctx_with(0, threads);
    at_rng rng;
    at_rng_seed(&rng, 98);
    at_params *params;
    at_params_create(ctx, &params);
    at_attention_decoder dec;
    const int B = 32, Tx = 12, Dh = 64, Y = 40, S = 128, V = 40, A = 64;
    CHECK_OK(ctx, at_attention_decoder_init(ctx, &dec, params, "seed", Y, Dh, S, V, A, &rng));
    at_tensor *ann, *y0, *kp, *s0, *s1, *s2, *l1, *l2, *sum1, *sum2, *loss;
    at_tensor_new(ctx, &ann, 3, (const int[]){B, Tx, Dh});
    at_tensor_new(ctx, &y0, 2, (const int[]){B, Y});
    fill_uniform(ann->data, ann->size, -1, 1, &rng);
    fill_uniform(y0->data, y0->size, -1, 1, &rng);
    at_tensor_require_grad(ctx, ann);
    CHECK_OK(ctx, at_additive_project_keys(ctx, &dec.attention, ann, &kp));
    CHECK_OK(ctx, at_attention_decoder_start(ctx, &dec, ann, &s0));
    CHECK_OK(ctx, at_attention_decoder_step(ctx, &dec, y0, s0, ann, kp, NULL, &s1, &l1, NULL));
    CHECK_OK(ctx, at_attention_decoder_step(ctx, &dec, l1, s1, ann, kp, NULL, &s2, &l2, NULL));
    CHECK_OK(ctx, at_sum(ctx, &sum1, l2));
    CHECK_OK(ctx, at_sum(ctx, &sum2, s2));
    CHECK_OK(ctx, at_add(ctx, &loss, sum1, sum2));
    CHECK_OK(ctx, at_backward(ctx, loss));
    size_t at = 0;
    test_append(out, &at, n, s2, 0), test_append(out, &at, n, l2, 0);
    test_append(out, &at, n, ann, 1);
    test_append_param_grads(out, &at, n, params);
    at_params_free(params);
    at_ctx_free(ctx);
    return at;
}

static void test_seed_decoder_threads(void) {
    enum { N = 1 << 20 };
    float *one = malloc(N * sizeof(float)), *two = malloc(N * sizeof(float));
    size_t n1 = seed_decoder_run_with_threads(1, one, N);
    size_t n2 = seed_decoder_run_with_threads(2, two, N);
    CHECK(n1 == n2 && n1 < N, "seed decoder: %zu against %zu values", n1, n2);
    check_same_bits("seed decoder, 2 threads vs 1", two, one, n1);
    free(one), free(two);
}

/* ---------------------------------------------------------------- main */

int main(void) {
    test_seed_decoder_threads();
    test_luong_threads();
    test_names_and_init();
    test_cases(additive_cases, COUNT(additive_cases), 1);
    test_cases(luong_cases, COUNT(luong_cases), 200);
    test_cases(local_cases, COUNT(local_cases), 400);
    check_dead_rows(&additive_cases[5], 11);
    check_dead_rows(&additive_cases[6], 12);
    check_dead_rows(&luong_cases[3], 13);
    check_dead_rows(&luong_cases[7], 14);
    check_dead_rows(&local_cases[0], 15);
    check_dead_rows(&local_cases[7], 16);
    test_decoder();
    test_errors();
    test_inference_records_nothing();
    test_threads_deterministic();
    return test_finish("test_attention_step_families");
}
