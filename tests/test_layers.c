/*
 * test_layers.c - initialisation and the layers: dense, embedding,
 * layernorm, LSTM, GRU, BiLSTM.
 *
 * Every layer is gradient-checked against finite differences with respect
 * to its inputs and its parameters, over shapes that include the size-1
 * corners. The recurrent layers are also checked for PyTorch's packed
 * sequence semantics (each row of a padded batch must equal that row run
 * alone at its own length), for agreement between the one-step cell and
 * the whole-sequence op, and for clear errors on bad sizes and lengths.
 */
#include "internal.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- helpers */

static gc_input gc_tensor(const char *name, int ndim, int d0, int d1, int d2, float *values) {
    gc_input in = {name, ndim, {d0, d1, d2, 1}, values};
    return in;
}

/* --------------------------------------------------------- initialisation */

/* max |A A^T - I| over a (rows, cols) matrix whose rows should be orthonormal
 * (or A^T A when rows > cols, columns orthonormal) */
static double orthogonality_error(const float *a, int rows, int cols) {
    int tall = rows > cols, n = tall ? cols : rows;
    double worst = 0.0;
    for (int p = 0; p < n; p++)
        for (int q = 0; q < n; q++) {
            double dot = 0.0;
            int len = tall ? rows : cols;
            for (int k = 0; k < len; k++) {
                double u = tall ? a[(size_t)k * cols + p] : a[(size_t)p * cols + k];
                double v = tall ? a[(size_t)k * cols + q] : a[(size_t)q * cols + k];
                dot += u * v;
            }
            worst = fmax(worst, fabs(dot - (p == q ? 1.0 : 0.0)));
        }
    return worst;
}

static void test_init(void) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 1);
    int sizes[][2] = {{1, 1}, {5, 5}, {64, 64}, {3, 7}, {7, 3}, {1, 6}, {6, 1}};
    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        int rows = sizes[c][0], cols = sizes[c][1];
        float *block = malloc((size_t)rows * cols * sizeof(float));
        CHECK_OK(ctx, at_init_orthogonal(ctx, block, rows, cols, 1.0f, &rng));
        double err = orthogonality_error(block, rows, cols);
        CHECK(err < 1e-5, "orthogonal (%d, %d): |Q Q^T - I| = %g", rows, cols, err);
        CHECK_OK(ctx, at_init_orthogonal(ctx, block, rows, cols, 2.0f, &rng));
        for (int i = 0; i < rows * cols; i++) block[i] *= 0.5f;
        err = orthogonality_error(block, rows, cols);
        CHECK(err < 1e-5, "orthogonal gain 2 (%d, %d): error %g", rows, cols, err);
        free(block);
    }
    float dummy;
    CHECK_STATUS(ctx, at_init_orthogonal(ctx, &dummy, 0, 3, 1.0f, &rng), AT_ERR_ARGUMENT);

    at_params *params;
    CHECK_OK(ctx, at_params_create(ctx, &params));
    int shape[2] = {200, 300};
    at_tensor *w;
    CHECK_OK(ctx, at_params_add(ctx, params, "w", 2, shape, &w));
    at_init_glorot_uniform(w, 300, 200, 1.0f, &rng);
    float bound = sqrtf(6.0f / 500.0f), lo = 1, hi = -1;
    double sum = 0, sq = 0;
    for (size_t i = 0; i < w->size; i++) {
        lo = fminf(lo, w->data[i]);
        hi = fmaxf(hi, w->data[i]);
        sum += w->data[i];
        sq += (double)w->data[i] * w->data[i];
    }
    CHECK(lo >= -bound && hi <= bound && hi > 0.95f * bound && lo < -0.95f * bound,
          "glorot range [%g, %g], bound %g", lo, hi, bound);
    CHECK(fabs(sq / w->size - bound * bound / 3.0) < 0.05 * bound * bound / 3.0,
          "glorot variance %g", sq / w->size);
    at_init_normal(w, 2.0f, 3.0f, &rng);
    sum = sq = 0;
    for (size_t i = 0; i < w->size; i++) {
        sum += w->data[i];
        sq += ((double)w->data[i] - 2.0) * ((double)w->data[i] - 2.0);
    }
    CHECK(fabs(sum / w->size - 2.0) < 0.05 && fabs(sqrt(sq / w->size) - 3.0) < 0.05,
          "normal mean %g std %g", sum / w->size, sqrt(sq / w->size));
    at_init_uniform(w, 1.0f, 1.5f, &rng);
    lo = 2, hi = 0;
    for (size_t i = 0; i < w->size; i++) {
        lo = fminf(lo, w->data[i]);
        hi = fmaxf(hi, w->data[i]);
    }
    CHECK(lo >= 1.0f && hi < 1.5f, "uniform range [%g, %g]", lo, hi);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------------ names, init */

static void check_names(at_params *params, const char *const *names, int n) {
    CHECK(at_params_count(params) == n, "expected %d parameters, have %d", n,
          at_params_count(params));
    for (int i = 0; i < n && i < at_params_count(params); i++)
        CHECK(strcmp(at_params_get(params, i)->name, names[i]) == 0, "parameter %d is '%s', want '%s'",
              i, at_params_get(params, i)->name, names[i]);
}

static void test_names_and_init(void) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 2);
    at_params *params;

    at_params_create(ctx, &params);
    at_dense dense;
    CHECK_OK(ctx, at_dense_init(ctx, &dense, params, "fc", 4, 3, 1, &rng));
    at_dense bare;
    CHECK_OK(ctx, at_dense_init(ctx, &bare, params, "", 2, 2, 0, &rng));
    check_names(params, (const char *const[]){"fc.weight", "fc.bias", "weight"}, 3);
    CHECK(bare.bias == NULL, "dense without bias has bias NULL");
    CHECK(dense.bias->data[0] == 0 && dense.bias->data[2] == 0, "dense bias starts at 0");
    CHECK_STATUS(ctx, at_dense_init(ctx, &dense, params, "fc", 4, 3, 1, &rng), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_dense_init(ctx, &dense, params, "x", 0, 3, 1, &rng), AT_ERR_ARGUMENT);
    at_params_free(params);

    at_params_create(ctx, &params);
    at_lstm lstm;
    CHECK_OK(ctx, at_lstm_init(ctx, &lstm, params, "enc", 3, 4, 0, &rng));
    check_names(params,
                (const char *const[]){"enc.weight_ih_l0", "enc.weight_hh_l0", "enc.bias_ih_l0",
                                      "enc.bias_hh_l0"},
                4);
    CHECK(lstm.weight_ih->shape[0] == 16 && lstm.weight_ih->shape[1] == 3, "weight_ih (4H, I)");
    int forget_ok = 1;
    for (int k = 0; k < 16; k++) {
        forget_ok &= lstm.bias_ih->data[k] == (k >= 4 && k < 8 ? 1.0f : 0.0f);
        forget_ok &= lstm.bias_hh->data[k] == 0.0f;
    }
    CHECK(forget_ok, "LSTM biases: forget gate of bias_ih 1, all else 0");
    for (int g = 0; g < 4; g++) {
        double err = orthogonality_error(lstm.weight_hh->data + g * 16, 4, 4);
        CHECK(err < 1e-5, "weight_hh gate block %d orthogonal: error %g", g, err);
    }
    at_params_free(params);

    at_params_create(ctx, &params);
    at_bilstm bi;
    CHECK_OK(ctx, at_bilstm_init(ctx, &bi, params, "", 2, 3, &rng));
    check_names(params,
                (const char *const[]){"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                      "weight_ih_l0_reverse", "weight_hh_l0_reverse",
                                      "bias_ih_l0_reverse", "bias_hh_l0_reverse"},
                8);
    CHECK(bi.bwd.reverse == 1 && bi.fwd.reverse == 0, "bilstm directions");
    at_params_free(params);

    at_params_create(ctx, &params);
    at_gru gru;
    CHECK_OK(ctx, at_gru_init(ctx, &gru, params, "dec", 2, 5, 1, &rng));
    check_names(params,
                (const char *const[]){"dec.weight_ih_l0_reverse", "dec.weight_hh_l0_reverse",
                                      "dec.bias_ih_l0_reverse", "dec.bias_hh_l0_reverse"},
                4);
    CHECK(gru.weight_hh->shape[0] == 15 && gru.bias_ih->data[5] == 0.0f, "GRU shapes and biases");
    at_params_free(params);

    at_params_create(ctx, &params);
    at_embedding emb;
    CHECK_OK(ctx, at_embedding_init(ctx, &emb, params, "emb", 100, 50, &rng));
    double sq = 0;
    for (size_t i = 0; i < emb.weight->size; i++) sq += (double)emb.weight->data[i] * emb.weight->data[i];
    CHECK(fabs(sq / emb.weight->size - 1.0) < 0.06, "embedding variance %g", sq / emb.weight->size);
    at_layernorm ln;
    CHECK_OK(ctx, at_layernorm_init(ctx, &ln, params, "ln", 3, 1e-5f));
    check_names(params, (const char *const[]){"emb.weight", "ln.weight", "ln.bias"}, 3);
    CHECK(ln.weight->data[2] == 1.0f && ln.bias->data[2] == 0.0f, "layernorm starts as identity");
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------ dense, embedding */

static at_status build_dense(at_ctx *ctx, at_tensor *const *inputs, void *user, at_tensor **y) {
    return at_dense_forward(ctx, user, inputs[0], y);
}

static void gc_dense(int ndim, const int *x_shape, int out, int with_bias) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 3);
    at_params *params;
    at_params_create(ctx, &params);
    at_dense layer;
    int in = x_shape[ndim - 1];
    CHECK_OK(ctx, at_dense_init(ctx, &layer, params, "fc", in, out, with_bias, &rng));
    test_jitter_params(params, &rng, 0.2f);
    size_t n = ati_shape_size(ndim, x_shape);
    float *x = test_random_floats(n, -1.0f, 1.0f, &rng);
    gc_input input = {"x", ndim, {1, 1, 1, 1}, x};
    memcpy(input.shape, x_shape, (size_t)ndim * sizeof(int));
    char name[64];
    snprintf(name, sizeof name, "dense %dD in %d out %d bias %d", ndim, in, out, with_bias);
    gc_check(name, 1, &input, params, build_dense, &layer, NULL);
    free(x);
    at_params_free(params);
    at_ctx_free(ctx);
}

static void test_dense(void) {
    gc_dense(3, (const int[]){2, 3, 4}, 5, 1);
    gc_dense(2, (const int[]){3, 4}, 2, 0);
    gc_dense(1, (const int[]){1}, 1, 1);
    gc_dense(4, (const int[]){2, 1, 2, 3}, 1, 1);
    gc_dense(2, (const int[]){60, 50}, 70, 1); /* large enough for the BLAS path */

    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 4);
    at_params *params;
    at_params_create(ctx, &params);
    at_dense layer;
    at_dense_init(ctx, &layer, params, "fc", 3, 2, 1, &rng);
    float xv[6] = {1, 2, 3, -1, 0, 0.5f};
    at_tensor *x, *y = NULL;
    at_tensor_from(ctx, &x, 2, (const int[]){2, 3}, xv);
    CHECK_OK(ctx, at_dense_forward(ctx, &layer, x, &y));
    float want[4];
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < 2; k++) {
            want[r * 2 + k] = layer.bias->data[k];
            for (int j = 0; j < 3; j++) want[r * 2 + k] += xv[r * 3 + j] * layer.weight->data[k * 3 + j];
        }
    check_close("dense values", y->data, want, 4, 1e-6, 1e-6);
    at_tensor *bad;
    at_tensor_new(ctx, &bad, 2, (const int[]){2, 4});
    at_tensor *untouched = x;
    CHECK_STATUS(ctx, at_dense_forward(ctx, &layer, bad, &untouched), AT_ERR_SHAPE);
    CHECK(untouched == x, "output untouched on failure");
    CHECK_STATUS(ctx, at_dense_forward(ctx, &layer, NULL, &y), AT_ERR_ARGUMENT);
    at_params_free(params);
    at_ctx_free(ctx);
}

typedef struct embedding_case {
    at_embedding layer;
    const int32_t *ids;
    int ndim;
    int shape[3];
} embedding_case;

static at_status build_embedding(at_ctx *ctx, at_tensor *const *inputs, void *user,
                                 at_tensor **y) {
    (void)inputs;
    embedding_case *c = user;
    return at_embedding_forward(ctx, &c->layer, c->ids, c->ndim, c->shape, y);
}

static void test_embedding(void) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 5);
    at_params *params;
    at_params_create(ctx, &params);
    embedding_case c = {.ndim = 2, .shape = {2, 3}};
    CHECK_OK(ctx, at_embedding_init(ctx, &c.layer, params, "emb", 5, 3, &rng));
    const int32_t ids[6] = {0, 4, 2, 2, 1, 0};
    c.ids = ids;
    gc_check("embedding", 0, NULL, params, build_embedding, &c, NULL);

    at_tensor *y = NULL;
    CHECK_OK(ctx, at_embedding_forward(ctx, &c.layer, ids, 2, c.shape, &y));
    if (y) {
        CHECK(y->ndim == 3 && y->shape[2] == 3, "embedding output (2, 3, 3)");
        check_close("embedding row", y->data + 3, c.layer.weight->data + 12, 3, 0, 0);
    }
    const int32_t bad_ids[1] = {5};
    CHECK_STATUS(ctx, at_embedding_forward(ctx, &c.layer, bad_ids, 1, (const int[]){1}, &y),
                 AT_ERR_ARGUMENT);
    at_params_free(params);
    at_ctx_free(ctx);
}

static at_status build_layernorm(at_ctx *ctx, at_tensor *const *inputs, void *user,
                                 at_tensor **y) {
    return at_layernorm_forward(ctx, user, inputs[0], y);
}

static void test_layernorm(void) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 6);
    at_params *params;
    at_params_create(ctx, &params);
    at_layernorm layer;
    CHECK_OK(ctx, at_layernorm_init(ctx, &layer, params, "ln", 5, 1e-5f));
    test_jitter_params(params, &rng, 0.2f);
    float *x = test_random_floats(15, -1.0f, 1.0f, &rng);
    gc_input input = gc_tensor("x", 2, 3, 5, 1, x);
    gc_check("layernorm", 1, &input, params, build_layernorm, &layer, NULL);
    at_tensor *t, *y;
    at_tensor_new(ctx, &t, 2, (const int[]){3, 4});
    CHECK_STATUS(ctx, at_layernorm_forward(ctx, &layer, t, &y), AT_ERR_SHAPE);
    free(x);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------------------- LSTM */

enum { WANT_OUT = 1, WANT_H = 2, WANT_C = 4, WANT_ALL = 7 };

typedef struct rnn_case {
    int B, T, I, H;
    const int32_t *lengths;
    int with_h0, with_c0, reverse, want, cell;
} rnn_case;

typedef struct rnn_run {
    const rnn_case *c;
    at_lstm lstm;
    at_gru gru;
} rnn_run;

/* inputs: x, then h0 if with_h0, then c0 if with_c0 */
static at_status build_lstm(at_ctx *ctx, at_tensor *const *inputs, void *user, at_tensor **y) {
    rnn_run *run = user;
    const rnn_case *c = run->c;
    at_tensor *h0 = c->with_h0 ? inputs[1] : NULL;
    at_tensor *c0 = c->with_c0 ? inputs[1 + c->with_h0] : NULL;
    at_tensor *parts[3] = {NULL, NULL, NULL};
    if (c->cell)
        AT_TRY(at_lstm_cell(ctx, &run->lstm, inputs[0], h0, c0, c->want & WANT_H ? &parts[1] : NULL,
                            c->want & WANT_C ? &parts[2] : NULL));
    else
        AT_TRY(at_lstm_forward(ctx, &run->lstm, inputs[0], c->lengths, h0, c0,
                               c->want & WANT_OUT ? &parts[0] : NULL,
                               c->want & WANT_H ? &parts[1] : NULL,
                               c->want & WANT_C ? &parts[2] : NULL));
    return gc_join_outputs(ctx, y, 3, parts);
}

static at_status build_gru(at_ctx *ctx, at_tensor *const *inputs, void *user, at_tensor **y) {
    rnn_run *run = user;
    const rnn_case *c = run->c;
    at_tensor *h0 = c->with_h0 ? inputs[1] : NULL;
    at_tensor *parts[2] = {NULL, NULL};
    if (c->cell)
        AT_TRY(at_gru_cell(ctx, &run->gru, inputs[0], h0, &parts[1]));
    else
        AT_TRY(at_gru_forward(ctx, &run->gru, inputs[0], c->lengths, h0,
                              c->want & WANT_OUT ? &parts[0] : NULL,
                              c->want & WANT_H ? &parts[1] : NULL));
    return gc_join_outputs(ctx, y, 2, parts);
}

static void gc_recurrent(const char *name, const rnn_case *c, int is_gru) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 7);
    at_params *params;
    at_params_create(ctx, &params);
    rnn_run run = {.c = c};
    if (is_gru) CHECK_OK(ctx, at_gru_init(ctx, &run.gru, params, "rnn", c->I, c->H, c->reverse, &rng));
    else CHECK_OK(ctx, at_lstm_init(ctx, &run.lstm, params, "rnn", c->I, c->H, c->reverse, &rng));
    test_jitter_params(params, &rng, 0.2f);

    gc_input inputs[3];
    int n = 0;
    float *buffers[3] = {NULL, NULL, NULL};
    size_t state = (size_t)c->B * c->H;
    buffers[0] = test_random_floats((size_t)c->B * c->T * c->I, -1.0f, 1.0f, &rng);
    inputs[n++] = c->cell ? gc_tensor("x", 2, c->B, c->I, 1, buffers[0])
                          : gc_tensor("x", 3, c->B, c->T, c->I, buffers[0]);
    if (c->with_h0) {
        buffers[1] = test_random_floats(state, -1.0f, 1.0f, &rng);
        inputs[n++] = gc_tensor("h0", 2, c->B, c->H, 1, buffers[1]);
    }
    if (c->with_c0) {
        buffers[2] = test_random_floats(state, -1.0f, 1.0f, &rng);
        inputs[n++] = gc_tensor("c0", 2, c->B, c->H, 1, buffers[2]);
    }
    gc_check(name, n, inputs, params, is_gru ? build_gru : build_lstm, &run, NULL);
    for (int i = 0; i < 3; i++) free(buffers[i]);
    at_params_free(params);
    at_ctx_free(ctx);
}

static void test_recurrent_gradients(void) {
    static const int32_t mixed[3] = {4, 1, 2}, mixed2[2] = {3, 2}, ones[2] = {1, 1};
    const rnn_case lstm_cases[] = {
        {3, 4, 2, 3, mixed, 1, 1, 0, WANT_ALL, 0},
        {3, 4, 2, 3, mixed, 1, 1, 1, WANT_ALL, 0},
        {1, 1, 1, 1, NULL, 0, 0, 0, WANT_ALL, 0},
        {1, 1, 1, 1, NULL, 1, 1, 1, WANT_ALL, 0},
        {2, 5, 3, 2, NULL, 1, 0, 1, WANT_OUT, 0},
        {2, 3, 2, 4, mixed2, 0, 1, 0, WANT_H | WANT_C, 0},
        {2, 3, 2, 4, mixed2, 0, 1, 1, WANT_C, 0},
        {2, 3, 1, 2, ones, 1, 1, 0, WANT_OUT | WANT_C, 0},
        {2, 1, 3, 2, NULL, 1, 1, 0, WANT_H | WANT_C, 1},
        {2, 1, 3, 2, NULL, 0, 0, 0, WANT_H | WANT_C, 1},
        {1, 1, 1, 1, NULL, 1, 1, 0, WANT_C, 1},
    };
    /* big enough that every product of the op goes through BLAS */
    static int32_t long_lengths[16];
    for (int b = 0; b < 16; b++) long_lengths[b] = 1 + (b * 7) % 16;
    const rnn_case big = {16, 16, 64, 16, long_lengths, 1, 1, 1, WANT_ALL, 0};
    gc_recurrent("lstm big (BLAS products)", &big, 0);
    gc_recurrent("gru big (BLAS products)", &big, 1);
    for (size_t i = 0; i < sizeof lstm_cases / sizeof lstm_cases[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "lstm case %zu", i);
        gc_recurrent(name, &lstm_cases[i], 0);
    }
    const rnn_case gru_cases[] = {
        {3, 4, 2, 3, mixed, 1, 0, 0, WANT_OUT | WANT_H, 0},
        {3, 4, 2, 3, mixed, 1, 0, 1, WANT_OUT | WANT_H, 0},
        {1, 1, 1, 1, NULL, 0, 0, 0, WANT_OUT | WANT_H, 0},
        {1, 1, 1, 1, NULL, 1, 0, 1, WANT_H, 0},
        {2, 5, 3, 2, NULL, 0, 0, 1, WANT_OUT, 0},
        {2, 3, 2, 4, mixed2, 1, 0, 0, WANT_H, 0},
        {2, 3, 1, 2, ones, 0, 0, 0, WANT_OUT, 0},
        {2, 1, 3, 2, NULL, 1, 0, 0, WANT_H, 1},
        {3, 1, 2, 1, NULL, 0, 0, 0, WANT_H, 1},
    };
    for (size_t i = 0; i < sizeof gru_cases / sizeof gru_cases[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "gru case %zu", i);
        gc_recurrent(name, &gru_cases[i], 1);
    }
}

/* ------------------------------------------------- packed-sequence checks */

/* Run LSTM or GRU on x (B, T, I); outputs copied to the caller's buffers
 * (any may be NULL). */
static void run_recurrent(at_ctx *ctx, const rnn_run *run, int is_gru, const float *x, int B,
                          int T, const int32_t *lengths, float *out, float *h_n, float *c_n) {
    at_tensor *xt, *o = NULL, *h = NULL, *c = NULL;
    int I = is_gru ? run->gru.input_size : run->lstm.input_size;
    int H = is_gru ? run->gru.hidden_size : run->lstm.hidden_size;
    CHECK_OK(ctx, at_tensor_from(ctx, &xt, 3, (const int[]){B, T, I}, x));
    if (is_gru) CHECK_OK(ctx, at_gru_forward(ctx, &run->gru, xt, lengths, NULL, &o, &h));
    else CHECK_OK(ctx, at_lstm_forward(ctx, &run->lstm, xt, lengths, NULL, NULL, &o, &h, &c));
    if (out && o) memcpy(out, o->data, (size_t)B * T * H * sizeof(float));
    if (h_n && h) memcpy(h_n, h->data, (size_t)B * H * sizeof(float));
    if (c_n && c) memcpy(c_n, c->data, (size_t)B * H * sizeof(float));
}

static void check_packed(int is_gru, int reverse) {
    enum { B = 4, T = 5, I = 3, H = 4 };
    const int32_t lengths[B] = {5, 1, 3, 2};
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 8);
    at_params *params;
    at_params_create(ctx, &params);
    rnn_run run = {0};
    if (is_gru) at_gru_init(ctx, &run.gru, params, "", I, H, reverse, &rng);
    else at_lstm_init(ctx, &run.lstm, params, "", I, H, reverse, &rng);
    test_jitter_params(params, &rng, 0.2f);
    float x[B * T * I], out[B * T * H], h_n[B * H], c_n[B * H];
    fill_uniform(x, B * T * I, -1, 1, &rng);
    run_recurrent(ctx, &run, is_gru, x, B, T, lengths, out, h_n, c_n);

    char what[64];
    for (int b = 0; b < B; b++) {
        int len = lengths[b];
        float alone_out[T * H], alone_h[H], alone_c[H];
        run_recurrent(ctx, &run, is_gru, x + b * T * I, 1, len, NULL, alone_out, alone_h, alone_c);
        snprintf(what, sizeof what, "%s%s row %d out", is_gru ? "gru" : "lstm",
                 reverse ? " reverse" : "", b);
        check_close(what, out + b * T * H, alone_out, (size_t)len * H, 1e-6, 1e-5);
        int zeros = 1;
        for (int k = len * H; k < T * H; k++) zeros &= out[b * T * H + k] == 0.0f;
        CHECK(zeros, "%s: outputs past length %d must be exactly 0", what, len);
        snprintf(what, sizeof what, "%s%s row %d h_n", is_gru ? "gru" : "lstm",
                 reverse ? " reverse" : "", b);
        check_close(what, h_n + b * H, alone_h, H, 1e-6, 1e-5);
        if (!is_gru) {
            snprintf(what, sizeof what, "lstm%s row %d c_n", reverse ? " reverse" : "", b);
            check_close(what, c_n + b * H, alone_c, H, 1e-6, 1e-5);
        }
    }
    /* NULL lengths equal lengths all T */
    const int32_t full[B] = {T, T, T, T};
    float out_full[B * T * H], out_null[B * T * H];
    run_recurrent(ctx, &run, is_gru, x, B, T, full, out_full, NULL, NULL);
    run_recurrent(ctx, &run, is_gru, x, B, T, NULL, out_null, NULL, NULL);
    check_close("lengths NULL vs all T", out_null, out_full, B * T * H, 0, 0);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* A reverse layer over a row equals a forward layer (same weights) over
 * the row's real steps reversed, with outputs reversed back. */
static void check_reverse_is_flipped_forward(void) {
    enum { T = 4, I = 2, H = 3 };
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 9);
    at_params *params;
    at_params_create(ctx, &params);
    rnn_run rev = {0}, fwd = {0};
    at_lstm_init(ctx, &rev.lstm, params, "", I, H, 1, &rng);
    fwd.lstm = rev.lstm;
    fwd.lstm.reverse = 0;
    float x[T * I], flipped[T * I], out_rev[T * H], out_fwd[T * H], want[T * H];
    fill_uniform(x, T * I, -1, 1, &rng);
    const int32_t len[1] = {3};
    for (int t = 0; t < 3; t++) memcpy(flipped + t * I, x + (2 - t) * I, I * sizeof(float));
    run_recurrent(ctx, &rev, 0, x, 1, T, len, out_rev, NULL, NULL);
    run_recurrent(ctx, &fwd, 0, flipped, 1, 3, NULL, out_fwd, NULL, NULL);
    for (int t = 0; t < 3; t++) memcpy(want + t * H, out_fwd + (2 - t) * H, H * sizeof(float));
    check_close("reverse = flipped forward", out_rev, want, 3 * H, 1e-6, 1e-5);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* Stepping the cell T times gives the sequence op's outputs. */
static void check_cell_matches_sequence(int is_gru) {
    enum { B = 3, T = 4, I = 2, H = 3 };
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 10);
    at_params *params;
    at_params_create(ctx, &params);
    rnn_run run = {0};
    if (is_gru) at_gru_init(ctx, &run.gru, params, "", I, H, 0, &rng);
    else at_lstm_init(ctx, &run.lstm, params, "", I, H, 0, &rng);
    test_jitter_params(params, &rng, 0.2f);
    float x[B * T * I], out[B * T * H], h_n[B * H], c_n[B * H], h0v[B * H], c0v[B * H];
    fill_uniform(x, B * T * I, -1, 1, &rng);
    fill_uniform(h0v, B * H, -1, 1, &rng);
    fill_uniform(c0v, B * H, -1, 1, &rng);
    at_tensor *xt, *h0, *c0, *o, *hn, *cn = NULL;
    at_tensor_from(ctx, &xt, 3, (const int[]){B, T, I}, x);
    at_tensor_from(ctx, &h0, 2, (const int[]){B, H}, h0v);
    at_tensor_from(ctx, &c0, 2, (const int[]){B, H}, c0v);
    if (is_gru) CHECK_OK(ctx, at_gru_forward(ctx, &run.gru, xt, NULL, h0, &o, &hn));
    else CHECK_OK(ctx, at_lstm_forward(ctx, &run.lstm, xt, NULL, h0, c0, &o, &hn, &cn));
    memcpy(out, o->data, sizeof out);
    memcpy(h_n, hn->data, sizeof h_n);
    if (cn) memcpy(c_n, cn->data, sizeof c_n);

    at_tensor *h = h0, *c = c0;
    for (int t = 0; t < T; t++) {
        float xs[B * I];
        for (int b = 0; b < B; b++) memcpy(xs + b * I, x + (b * T + t) * I, I * sizeof(float));
        at_tensor *xt_step;
        at_tensor_from(ctx, &xt_step, 2, (const int[]){B, I}, xs);
        if (is_gru) CHECK_OK(ctx, at_gru_cell(ctx, &run.gru, xt_step, h, &h));
        else CHECK_OK(ctx, at_lstm_cell(ctx, &run.lstm, xt_step, h, c, &h, &c));
        for (int b = 0; b < B; b++) {
            char what[48];
            snprintf(what, sizeof what, "%s cell step %d row %d", is_gru ? "gru" : "lstm", t, b);
            check_close(what, h->data + b * H, out + (b * T + t) * H, H, 1e-6, 1e-5);
        }
    }
    check_close("cell final h", h->data, h_n, B * H, 1e-6, 1e-5);
    if (!is_gru) check_close("cell final c", c->data, c_n, B * H, 1e-6, 1e-5);
    at_params_free(params);
    at_ctx_free(ctx);
}

static void test_recurrent_semantics(void) {
    for (int is_gru = 0; is_gru < 2; is_gru++)
        for (int reverse = 0; reverse < 2; reverse++) check_packed(is_gru, reverse);
    check_reverse_is_flipped_forward();
    check_cell_matches_sequence(0);
    check_cell_matches_sequence(1);
}

static void test_recurrent_errors(void) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 11);
    at_params *params;
    at_params_create(ctx, &params);
    at_lstm lstm;
    at_gru gru;
    at_lstm_init(ctx, &lstm, params, "l", 2, 3, 0, &rng);
    at_gru_init(ctx, &gru, params, "g", 2, 3, 0, &rng);
    at_tensor *x, *x2d, *wrong_i, *h_bad, *out = NULL, *h_n = NULL;
    at_tensor_new(ctx, &x, 3, (const int[]){2, 4, 2});
    at_tensor_new(ctx, &x2d, 2, (const int[]){2, 2});
    at_tensor_new(ctx, &wrong_i, 3, (const int[]){2, 4, 3});
    at_tensor_new(ctx, &h_bad, 2, (const int[]){3, 3});
    const int32_t zero_len[2] = {4, 0}, long_len[2] = {5, 1}, negative[2] = {-1, 2};

    CHECK_STATUS(ctx, at_lstm_forward(ctx, &lstm, x, zero_len, NULL, NULL, &out, &h_n, NULL),
                 AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "lengths[1] = 0") != NULL, "message names the length: %s",
          at_ctx_error(ctx));
    CHECK_STATUS(ctx, at_lstm_forward(ctx, &lstm, x, long_len, NULL, NULL, &out, NULL, NULL),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_gru_forward(ctx, &gru, x, negative, NULL, &out, NULL), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_gru_forward(ctx, &gru, x, long_len, NULL, &out, NULL), AT_ERR_ARGUMENT);
    CHECK(out == NULL && h_n == NULL, "outputs untouched on failure");
    CHECK_STATUS(ctx, at_lstm_forward(ctx, &lstm, wrong_i, NULL, NULL, NULL, &out, NULL, NULL),
                 AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_lstm_forward(ctx, &lstm, x2d, NULL, NULL, NULL, &out, NULL, NULL),
                 AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_lstm_forward(ctx, &lstm, x, NULL, h_bad, NULL, &out, NULL, NULL),
                 AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_lstm_forward(ctx, &lstm, x, NULL, NULL, h_bad, &out, NULL, NULL),
                 AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_gru_forward(ctx, &gru, x, NULL, h_bad, &out, NULL), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_lstm_forward(ctx, &lstm, NULL, NULL, NULL, NULL, &out, NULL, NULL),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_lstm_forward(ctx, NULL, x, NULL, NULL, NULL, &out, NULL, NULL),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_lstm_cell(ctx, &lstm, x, NULL, NULL, &out, NULL), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_gru_cell(ctx, &gru, x2d, h_bad, &out), AT_ERR_SHAPE);
    at_lstm empty = {0};
    CHECK_STATUS(ctx, at_lstm_forward(ctx, &empty, x, NULL, NULL, NULL, &out, NULL, NULL),
                 AT_ERR_ARGUMENT);
    CHECK(out == NULL, "outputs untouched on failure");
    at_bilstm bi;
    at_bilstm_init(ctx, &bi, params, "bi", 2, 3, &rng);
    CHECK_STATUS(ctx, at_bilstm_forward(ctx, &bi, x, zero_len, &out, &h_n), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_lstm_init(ctx, &lstm, params, "l", 2, 3, 0, &rng), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_gru_init(ctx, &gru, params, "z", 2, 0, 0, &rng), AT_ERR_ARGUMENT);

    /* inference mode: no tape, same numbers */
    at_tensor *o1, *o2;
    fill_uniform(x->data, x->size, -1, 1, &rng);
    CHECK_OK(ctx, at_lstm_forward(ctx, &lstm, x, NULL, NULL, NULL, &o1, NULL, NULL));
    size_t tape = at_ctx_tape_length(ctx);
    at_ctx_set_grad(ctx, 0);
    CHECK_OK(ctx, at_lstm_forward(ctx, &lstm, x, NULL, NULL, NULL, &o2, NULL, NULL));
    CHECK(at_ctx_tape_length(ctx) == tape && o2->grad == NULL, "inference mode records nothing");
    check_close("inference equals training forward", o2->data, o1->data, o1->size, 0, 0);
    at_ctx_set_grad(ctx, 1);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* After the first step, a training step of the same shapes must not grow
 * the arena: the layers take all their memory from it, none from malloc. */
static void test_arena_is_stable(void) {
    enum { B = 4, T = 6, I = 5, H = 7 };
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 13);
    at_params *params;
    at_params_create(ctx, &params);
    at_bilstm bi;
    at_gru gru;
    at_bilstm_init(ctx, &bi, params, "enc", I, H, &rng);
    at_gru_init(ctx, &gru, params, "dec", I, H, 0, &rng);
    float x[B * T * I], dy[B * T * 2 * H];
    fill_uniform(x, B * T * I, -1, 1, &rng);
    fill_uniform(dy, B * T * 2 * H, -1, 1, &rng);
    const int32_t lengths[B] = {6, 2, 3, 1};
    size_t capacity = 0, used = 0;
    for (int step = 0; step < 3; step++) {
        at_ctx_reset(ctx);
        at_tensor *xt, *out, *h_n, *g;
        at_tensor_from(ctx, &xt, 3, (const int[]){B, T, I}, x);
        CHECK_OK(ctx, at_bilstm_forward(ctx, &bi, xt, lengths, &out, &h_n));
        CHECK_OK(ctx, at_gru_forward(ctx, &gru, xt, lengths, NULL, NULL, &g));
        CHECK_OK(ctx, at_backward_seeded(ctx, out, dy));
        if (step == 1) {
            capacity = at_ctx_arena_capacity(ctx);
            used = at_ctx_arena_used(ctx);
        }
    }
    CHECK(at_ctx_arena_capacity(ctx) == capacity && at_ctx_arena_used(ctx) == used,
          "arena grew between equal steps: capacity %zu -> %zu", capacity,
          at_ctx_arena_capacity(ctx));
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ----------------------------------------------------------------- BiLSTM */

typedef struct bilstm_case {
    at_bilstm layer;
    const int32_t *lengths;
} bilstm_case;

static at_status build_bilstm(at_ctx *ctx, at_tensor *const *inputs, void *user, at_tensor **y) {
    bilstm_case *c = user;
    at_tensor *parts[2];
    AT_TRY(at_bilstm_forward(ctx, &c->layer, inputs[0], c->lengths, &parts[0], &parts[1]));
    return gc_join_outputs(ctx, y, 2, parts);
}

static void test_bilstm(void) {
    enum { B = 3, T = 4, I = 2, H = 2 };
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 12);
    at_params *params;
    at_params_create(ctx, &params);
    static const int32_t lengths[B] = {2, 4, 1};
    bilstm_case c = {.lengths = lengths};
    CHECK_OK(ctx, at_bilstm_init(ctx, &c.layer, params, "enc", I, H, &rng));
    test_jitter_params(params, &rng, 0.2f);
    float x[B * T * I];
    fill_uniform(x, B * T * I, -1, 1, &rng);
    gc_input input = gc_tensor("x", 3, B, T, I, x);
    gc_check("bilstm", 1, &input, params, build_bilstm, &c, NULL);

    /* the halves are the two directions */
    at_tensor *xt, *out, *h_n, *fo, *fh, *bo, *bh;
    at_tensor_from(ctx, &xt, 3, (const int[]){B, T, I}, x);
    CHECK_OK(ctx, at_bilstm_forward(ctx, &c.layer, xt, lengths, &out, &h_n));
    CHECK_OK(ctx, at_lstm_forward(ctx, &c.layer.fwd, xt, lengths, NULL, NULL, &fo, &fh, NULL));
    CHECK_OK(ctx, at_lstm_forward(ctx, &c.layer.bwd, xt, lengths, NULL, NULL, &bo, &bh, NULL));
    CHECK(out->ndim == 3 && out->shape[2] == 2 * H && h_n->shape[0] == 2 && h_n->shape[1] == B,
          "bilstm shapes");
    for (int r = 0; r < B * T; r++) {
        check_close("bilstm forward half", out->data + r * 2 * H, fo->data + r * H, H, 0, 0);
        check_close("bilstm reverse half", out->data + r * 2 * H + H, bo->data + r * H, H, 0, 0);
    }
    check_close("bilstm h_n[0]", h_n->data, fh->data, B * H, 0, 0);
    check_close("bilstm h_n[1]", h_n->data + B * H, bh->data, B * H, 0, 0);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* Two LSTM cell steps at B 64, H 256 (a decoder's cell), where each step's
 * gate work is cut between threads: states and every gradient the same
 * bits on 1 and 2 threads. */
static size_t lstm_cell_run(int threads, float *out, size_t room) {
    at_ctx *ctx = test_new_ctx_with(5, threads);
    at_rng rng;
    at_rng_seed(&rng, 41);
    at_params *params;
    at_params_create(ctx, &params);
    at_lstm cell;
    const int B = 64, I = 48, H = 256;
    CHECK_OK(ctx, at_lstm_init(ctx, &cell, params, "cell", I, H, 0, &rng));
    at_tensor *x, *h0, *c0, *h1, *c1, *h2, *c2, *loss, *sum_c;
    float *xd = test_random_floats((size_t)B * I, -1, 1, &rng);
    CHECK_OK(ctx, at_tensor_from(ctx, &x, 2, (const int[]){B, I}, xd));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, x));
    CHECK_OK(ctx, at_tensor_new(ctx, &h0, 2, (const int[]){B, H}));
    CHECK_OK(ctx, at_tensor_new(ctx, &c0, 2, (const int[]){B, H}));
    CHECK_OK(ctx, at_lstm_cell(ctx, &cell, x, h0, c0, &h1, &c1));
    CHECK_OK(ctx, at_lstm_cell(ctx, &cell, x, h1, c1, &h2, &c2));
    CHECK_OK(ctx, at_sum(ctx, &loss, h2));
    CHECK_OK(ctx, at_sum(ctx, &sum_c, c2));
    CHECK_OK(ctx, at_add(ctx, &loss, loss, sum_c));
    CHECK_OK(ctx, at_backward(ctx, loss));
    size_t at = 0;
    test_append(out, &at, room, h2, 0), test_append(out, &at, room, c2, 0);
    test_append(out, &at, room, x, 1);
    test_append_param_grads(out, &at, room, params);
    free(xd);
    at_params_free(params);
    at_ctx_free(ctx);
    return at;
}

static void test_lstm_cell_threads(void) {
    enum { ROOM = 1 << 20 };
    float *one = malloc(ROOM * sizeof(float)), *two = malloc(ROOM * sizeof(float));
    size_t n1 = lstm_cell_run(1, one, ROOM), n2 = lstm_cell_run(2, two, ROOM);
    CHECK(n1 == n2 && n1 < ROOM, "lstm cell: %zu against %zu values", n1, n2);
    check_same_bits("lstm cell, 2 threads vs 1", two, one, n1);
    free(one), free(two);
}

int main(void) {
    test_init();
    test_names_and_init();
    test_dense();
    test_embedding();
    test_layernorm();
    test_lstm_cell_threads();
    test_recurrent_gradients();
    test_recurrent_semantics();
    test_recurrent_errors();
    test_bilstm();
    test_arena_is_stable();
    return test_finish("layers");
}
