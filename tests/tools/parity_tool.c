/*
 * parity_tool.c - run one attend computation and write down everything
 * PyTorch needs to redo it.
 *
 * The PyTorch parity test (tests/parity/test_layers_parity.py) calls
 *
 *     parity_tool CASE OUT.safetensors [SEED]
 *
 * for each named case. The tool builds the layer or op with a seeded
 * generator, feeds it seeded random inputs, runs forward, then backward -
 * either from a seeded random output gradient (a vector-Jacobian product,
 * at_backward_seeded) or, for a loss, from the loss itself (at_backward) -
 * and saves ONE safetensors file through at_checkpoint_save, using a
 * second parameter set as the container. The file holds copies of:
 *
 *     NAME            each layer parameter under its real name, which is
 *                     PyTorch's state_dict name ("weight_ih_l0", "bias")
 *     x, h0, ...      the inputs
 *     seed.Y          the output gradient fed to backward for output Y
 *     out.Y           each output ("out.y", "out.h_n", "out.c_n", "out.loss")
 *     grad.NAME       the gradient of every input and every parameter
 *
 * and, in the metadata (string values, mostly JSON): "case", "seed",
 * "sizes" (a JSON object), and whatever else the case needs: "lengths",
 * "ids", "targets", "mask", "mask_rows", "ignore_index", "label_smoothing",
 * "eps", "trans_a", "trans_b".
 *
 * Several outputs at once (an LSTM's y, h_n and c_n): the public contract
 * says gradients accumulate into tensor->grad and backward walks the whole
 * tape, so the tool adds the seeds of the secondary outputs into their
 * ->grad first and then calls at_backward_seeded on the main output. That
 * gives the gradient of  L = sum(y * seed.y) + sum(h_n * seed.h_n) + ...
 * without routing it through other ops.
 *
 * Biases and LayerNorm weights start at constants (0 or 1); the tool
 * overwrites them with random values so that a wrong bias or gain would
 * show. `parity_tool --list` prints the case names, one a line.
 */
#include "attend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_BYTES 128

typedef struct run {
    const char *case_name;
    at_ctx *ctx;
    at_params *model; /* the layer's own parameters                     */
    at_params *dump;  /* copies of everything that goes into the file   */
    at_metadata meta;
    at_rng init_rng;  /* layer initialisation                           */
    at_rng data_rng;  /* inputs, ids, masks and output gradient seeds   */
} run;

/* ------------------------------------------------------------- failures */

static void die(const run *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3), noreturn))
#endif
    ;

static void die(const run *r, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "parity_tool: case '%s': ", r->case_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(1);
}

/* Run an attend call; on failure name it and print the context's message. */
#define TRY(r, call)                                                                          \
    do {                                                                                      \
        at_status try_status_ = (call);                                                       \
        if (try_status_ != AT_OK)                                                             \
            die((r), "%s failed: %s: %s", #call, at_status_name(try_status_),                 \
                at_ctx_error((r)->ctx));                                                      \
    } while (0)

/* ------------------------------------------------------------- the file */

/* Add a tensor called name to the file, copying n = prod(shape) floats from
 * data (or zeros if data is NULL). Returns the stored copy. */
static float *put(run *r, const char *name, int ndim, const int *shape, const float *data) {
    at_tensor *t;
    TRY(r, at_params_add(r->ctx, r->dump, name, ndim, shape, &t));
    if (data) memcpy(t->data, data, t->size * sizeof(float));
    return t->data;
}

static void put_value(run *r, const char *name, const at_tensor *t) {
    put(r, name, t->ndim, t->shape, t->data);
}

/* The gradient that backward left in t, under "grad.NAME". */
static void put_grad(run *r, const char *name, const at_tensor *t) {
    char key[NAME_BYTES];
    if (!t->grad) die(r, "no gradient reached '%s' (grad is NULL)", name);
    snprintf(key, sizeof key, "grad.%s", name);
    put(r, key, t->ndim, t->shape, t->grad);
}

/* Every layer parameter under its own name, and its gradient. */
static void put_params(run *r) {
    for (int i = 0; i < at_params_count(r->model); i++) {
        at_tensor *p = at_params_get(r->model, i);
        put_value(r, p->name, p);
        put_grad(r, p->name, p);
    }
}

static void meta(run *r, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void meta(run *r, const char *key, const char *fmt, ...) {
    char value[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof value) die(r, "metadata '%s' is too long", key);
    TRY(r, at_metadata_set(r->ctx, &r->meta, key, value));
}

/* A JSON array of n integers, e.g. "[3, 1, 5]". */
static void meta_ints(run *r, const char *key, const int32_t *v, int n) {
    size_t cap = 16 + (size_t)n * 13, len = 0;
    char *s = malloc(cap);
    if (!s) die(r, "out of memory");
    s[len++] = '[';
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%d", i ? ", " : "", (int)v[i]);
    snprintf(s + len, cap - len, "]");
    TRY(r, at_metadata_set(r->ctx, &r->meta, key, s));
    free(s);
}

static void meta_mask(run *r, const char *key, const uint8_t *mask, int n) {
    int32_t *v = malloc((size_t)n * sizeof *v);
    if (!v) die(r, "out of memory");
    for (int i = 0; i < n; i++) v[i] = mask[i] ? 1 : 0;
    meta_ints(r, key, v, n);
    free(v);
}

/* ------------------------------------------------------ inputs and seeds */

static size_t shape_size(int ndim, const int *shape) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    return n;
}

/* A new arena tensor of uniform values in [lo, hi), stored as `name`;
 * with grad it collects a gradient. */
static at_tensor *input(run *r, const char *name, int ndim, const int *shape, float lo,
                        float hi, int grad) {
    float *v = put(r, name, ndim, shape, NULL);
    size_t n = shape_size(ndim, shape);
    for (size_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * at_rng_uniform(&r->data_rng);
    at_tensor *t;
    TRY(r, at_tensor_from(r->ctx, &t, ndim, shape, v));
    if (grad) TRY(r, at_tensor_require_grad(r->ctx, t));
    return t;
}

/* Overwrite a parameter that starts constant (a bias, a gain) with
 * uniform values in [lo, hi). */
static void randomise(run *r, at_tensor *p, float lo, float hi) {
    if (!p) die(r, "randomise: parameter is NULL");
    for (size_t i = 0; i < p->size; i++) p->data[i] = lo + (hi - lo) * at_rng_uniform(&r->data_rng);
}

/* A random normal output gradient for y, stored as "seed.NAME". */
static const float *make_seed(run *r, const char *name, const at_tensor *y) {
    char key[NAME_BYTES];
    snprintf(key, sizeof key, "seed.%s", name);
    float *dy = put(r, key, y->ndim, y->shape, NULL);
    for (size_t i = 0; i < y->size; i++) dy[i] = at_rng_normal(&r->data_rng);
    return dy;
}

/* Store output y as "out.NAME" and add a random seed into its gradient,
 * before backward runs (see the header comment). */
static void seed_extra(run *r, const char *name, at_tensor *y) {
    char key[NAME_BYTES];
    snprintf(key, sizeof key, "out.%s", name);
    put_value(r, key, y);
    const float *dy = make_seed(r, name, y);
    if (!y->grad) die(r, "output '%s' has no gradient buffer: was nothing recorded?", name);
    for (size_t i = 0; i < y->size; i++) y->grad[i] += dy[i];
}

/* Store output y as "out.NAME" and run backward from it with a random seed. */
static void backward_from(run *r, const char *name, at_tensor *y) {
    char key[NAME_BYTES];
    snprintf(key, sizeof key, "out.%s", name);
    put_value(r, key, y);
    const float *dy = make_seed(r, name, y);
    TRY(r, at_backward_seeded(r->ctx, y, dy));
}

/* Store a scalar loss as "out.loss" and backpropagate from it (seed 1). */
static void backward_loss(run *r, at_tensor *loss) {
    put_value(r, "out.loss", loss);
    const float one = 1.0f;
    put(r, "seed.loss", loss->ndim, loss->shape, &one);
    TRY(r, at_backward(r->ctx, loss));
}

/* ------------------------------------------------------------ the cases */

/* Dense on a 3-D input: y = x W^T + b, x (B, T, in). */
static void dense_case(run *r, int with_bias) {
    const int B = 3, T = 4, IN = 5, OUT = 6;
    at_dense layer;
    TRY(r, at_dense_init(r->ctx, &layer, r->model, "", IN, OUT, with_bias, &r->init_rng));
    if (with_bias) randomise(r, layer.bias, -0.5f, 0.5f);
    at_tensor *x = input(r, "x", 3, (int[]){B, T, IN}, -1.0f, 1.0f, 1);
    at_tensor *y;
    TRY(r, at_dense_forward(r->ctx, &layer, x, &y));
    backward_from(r, "y", y);
    put_grad(r, "x", x);
    put_params(r);
    meta(r, "sizes", "{\"B\": %d, \"T\": %d, \"in\": %d, \"out\": %d, \"bias\": %d}", B, T, IN,
         OUT, with_bias);
}
static void case_dense(run *r) { dense_case(r, 1); }
static void case_dense_nobias(run *r) { dense_case(r, 0); }

/* Embedding lookup of (B, T) ids with repeats, so gradient rows add up. */
static void case_embedding(run *r) {
    enum { B = 3, T = 4, V = 7, D = 5 };
    at_embedding layer;
    TRY(r, at_embedding_init(r->ctx, &layer, r->model, "", V, D, &r->init_rng));
    int32_t ids[B * T];
    for (int i = 0; i < B * T; i++) ids[i] = (int32_t)at_rng_below(&r->data_rng, V);
    ids[0] = 0;           /* the first row of the table       */
    ids[B * T - 1] = V - 1; /* and the last                     */
    ids[1] = ids[5] = ids[9] = 3; /* one id three times         */
    at_tensor *y;
    TRY(r, at_embedding_forward(r->ctx, &layer, ids, 2, (int[]){B, T}, &y));
    backward_from(r, "y", y);
    put_params(r);
    meta_ints(r, "ids", ids, B * T);
    meta(r, "sizes", "{\"B\": %d, \"T\": %d, \"V\": %d, \"D\": %d}", B, T, V, D);
}

/* LayerNorm layer on (B, T, n), with random gain and bias. */
static void case_layernorm(run *r) {
    const int B = 3, T = 4, N = 6;
    const float eps = 1e-5f;
    at_layernorm layer;
    TRY(r, at_layernorm_init(r->ctx, &layer, r->model, "", N, eps));
    randomise(r, layer.weight, 0.5f, 1.5f);
    randomise(r, layer.bias, -0.5f, 0.5f);
    at_tensor *x = input(r, "x", 3, (int[]){B, T, N}, -2.0f, 3.0f, 1);
    at_tensor *y;
    TRY(r, at_layernorm_forward(r->ctx, &layer, x, &y));
    backward_from(r, "y", y);
    put_grad(r, "x", x);
    put_params(r);
    meta(r, "eps", "%.9g", (double)eps);
    meta(r, "sizes", "{\"B\": %d, \"T\": %d, \"n\": %d}", B, T, N);
}

/* The layer_norm op with gamma and beta as plain inputs (or without). */
static void layer_norm_op_case(run *r, int affine) {
    const int R = 5, N = 7;
    const float eps = 1e-5f;
    at_tensor *x = input(r, "x", 2, (int[]){R, N}, -1.0f, 2.0f, 1);
    at_tensor *gamma = NULL, *beta = NULL;
    if (affine) {
        gamma = input(r, "gamma", 1, (int[]){N}, 0.5f, 1.5f, 1);
        beta = input(r, "beta", 1, (int[]){N}, -0.5f, 0.5f, 1);
    }
    at_tensor *y;
    TRY(r, at_layer_norm(r->ctx, &y, x, gamma, beta, eps));
    backward_from(r, "y", y);
    put_grad(r, "x", x);
    if (affine) {
        put_grad(r, "gamma", gamma);
        put_grad(r, "beta", beta);
    }
    meta(r, "eps", "%.9g", (double)eps);
    meta(r, "sizes", "{\"R\": %d, \"n\": %d, \"affine\": %d}", R, N, affine);
}
static void case_layer_norm_op(run *r) { layer_norm_op_case(r, 1); }
static void case_layer_norm_op_plain(run *r) { layer_norm_op_case(r, 0); }

/* Sequence sizes shared by the small recurrent cases. Lengths mix 1, T and
 * values between, unsorted, so PyTorch must sort and unsort. */
enum { SEQ_B = 4, SEQ_T = 5, SEQ_I = 3, SEQ_H = 4 };
static const int32_t seq_lengths[SEQ_B] = {3, 5, 1, 4};

static void seq_meta(run *r, int B, int T, int I, int H, const int32_t *lengths) {
    if (lengths) meta_ints(r, "lengths", lengths, B);
    meta(r, "sizes", "{\"B\": %d, \"T\": %d, \"I\": %d, \"H\": %d}", B, T, I, H);
}

/* LSTM over (B, T, I) with optional h0, c0 and lengths, either direction. */
static void lstm_case(run *r, int B, int T, int I, int H, const int32_t *lengths, int reverse,
                      int with_state) {
    at_lstm layer;
    TRY(r, at_lstm_init(r->ctx, &layer, r->model, "", I, H, reverse, &r->init_rng));
    randomise(r, layer.bias_ih, -0.5f, 0.5f);
    randomise(r, layer.bias_hh, -0.5f, 0.5f);
    at_tensor *x = input(r, "x", 3, (int[]){B, T, I}, -1.0f, 1.0f, 1);
    at_tensor *h0 = NULL, *c0 = NULL;
    if (with_state) {
        h0 = input(r, "h0", 2, (int[]){B, H}, -0.5f, 0.5f, 1);
        c0 = input(r, "c0", 2, (int[]){B, H}, -0.5f, 0.5f, 1);
    }
    at_tensor *y, *h_n, *c_n;
    TRY(r, at_lstm_forward(r->ctx, &layer, x, lengths, h0, c0, &y, &h_n, &c_n));
    seed_extra(r, "h_n", h_n);
    seed_extra(r, "c_n", c_n);
    backward_from(r, "y", y);
    put_grad(r, "x", x);
    if (with_state) {
        put_grad(r, "h0", h0);
        put_grad(r, "c0", c0);
    }
    put_params(r);
    seq_meta(r, B, T, I, H, lengths);
}
static void case_lstm(run *r) { lstm_case(r, SEQ_B, SEQ_T, SEQ_I, SEQ_H, seq_lengths, 0, 1); }
static void case_lstm_reverse(run *r) {
    lstm_case(r, SEQ_B, SEQ_T, SEQ_I, SEQ_H, seq_lengths, 1, 1);
}
static void case_lstm_plain(run *r) { lstm_case(r, SEQ_B, SEQ_T, SEQ_I, SEQ_H, NULL, 0, 0); }
/* Sizes where the matrix products leave the small kernel for OpenBLAS
 * (h W_hh^T with 8 rows: B transposed, few rows of C, work > 4096). */
static void case_lstm_large(run *r) {
    static const int32_t lengths[8] = {7, 1, 4, 7, 2, 6, 3, 5};
    lstm_case(r, 8, 7, 40, 48, lengths, 0, 1);
}

/* GRU over (B, T, I) with h0 and lengths, either direction. */
static void gru_case(run *r, int reverse) {
    const int B = SEQ_B, T = SEQ_T, I = SEQ_I, H = SEQ_H;
    at_gru layer;
    TRY(r, at_gru_init(r->ctx, &layer, r->model, "", I, H, reverse, &r->init_rng));
    randomise(r, layer.bias_ih, -0.5f, 0.5f);
    randomise(r, layer.bias_hh, -0.5f, 0.5f);
    at_tensor *x = input(r, "x", 3, (int[]){B, T, I}, -1.0f, 1.0f, 1);
    at_tensor *h0 = input(r, "h0", 2, (int[]){B, H}, -0.5f, 0.5f, 1);
    at_tensor *y, *h_n;
    TRY(r, at_gru_forward(r->ctx, &layer, x, seq_lengths, h0, &y, &h_n));
    seed_extra(r, "h_n", h_n);
    backward_from(r, "y", y);
    put_grad(r, "x", x);
    put_grad(r, "h0", h0);
    put_params(r);
    seq_meta(r, B, T, I, H, seq_lengths);
}
static void case_gru(run *r) { gru_case(r, 0); }
static void case_gru_reverse(run *r) { gru_case(r, 1); }

/* One GRU step: x (B, I), h (B, H). */
static void case_gru_cell(run *r) {
    const int B = 3, I = 4, H = 5;
    at_gru layer;
    TRY(r, at_gru_init(r->ctx, &layer, r->model, "", I, H, 0, &r->init_rng));
    randomise(r, layer.bias_ih, -0.5f, 0.5f);
    randomise(r, layer.bias_hh, -0.5f, 0.5f);
    at_tensor *x = input(r, "x", 2, (int[]){B, I}, -1.0f, 1.0f, 1);
    at_tensor *h = input(r, "h", 2, (int[]){B, H}, -0.5f, 0.5f, 1);
    at_tensor *h_out;
    TRY(r, at_gru_cell(r->ctx, &layer, x, h, &h_out));
    backward_from(r, "h_out", h_out);
    put_grad(r, "x", x);
    put_grad(r, "h", h);
    put_params(r);
    meta(r, "sizes", "{\"B\": %d, \"I\": %d, \"H\": %d}", B, I, H);
}

/* One LSTM step: x (B, I), h, c (B, H). */
static void case_lstm_cell(run *r) {
    const int B = 3, I = 4, H = 5;
    at_lstm layer;
    TRY(r, at_lstm_init(r->ctx, &layer, r->model, "", I, H, 0, &r->init_rng));
    randomise(r, layer.bias_ih, -0.5f, 0.5f);
    randomise(r, layer.bias_hh, -0.5f, 0.5f);
    at_tensor *x = input(r, "x", 2, (int[]){B, I}, -1.0f, 1.0f, 1);
    at_tensor *h = input(r, "h", 2, (int[]){B, H}, -0.5f, 0.5f, 1);
    at_tensor *c = input(r, "c", 2, (int[]){B, H}, -0.5f, 0.5f, 1);
    at_tensor *h_out, *c_out;
    TRY(r, at_lstm_cell(r->ctx, &layer, x, h, c, &h_out, &c_out));
    seed_extra(r, "c_out", c_out);
    backward_from(r, "h_out", h_out);
    put_grad(r, "x", x);
    put_grad(r, "h", h);
    put_grad(r, "c", c);
    put_params(r);
    meta(r, "sizes", "{\"B\": %d, \"I\": %d, \"H\": %d}", B, I, H);
}

/* Bidirectional LSTM with lengths: y (B, T, 2H), h_n (2, B, H). */
static void case_bilstm(run *r) {
    enum { B = 4, T = 6, I = 3, H = 4 };
    static const int32_t lengths[B] = {6, 2, 1, 4};
    at_bilstm layer;
    TRY(r, at_bilstm_init(r->ctx, &layer, r->model, "", I, H, &r->init_rng));
    randomise(r, layer.fwd.bias_ih, -0.5f, 0.5f);
    randomise(r, layer.fwd.bias_hh, -0.5f, 0.5f);
    randomise(r, layer.bwd.bias_ih, -0.5f, 0.5f);
    randomise(r, layer.bwd.bias_hh, -0.5f, 0.5f);
    at_tensor *x = input(r, "x", 3, (int[]){B, T, I}, -1.0f, 1.0f, 1);
    at_tensor *y, *h_n;
    TRY(r, at_bilstm_forward(r->ctx, &layer, x, lengths, &y, &h_n));
    seed_extra(r, "h_n", h_n);
    backward_from(r, "y", y);
    put_grad(r, "x", x);
    put_params(r);
    meta_ints(r, "lengths", lengths, B);
    meta(r, "sizes", "{\"B\": %d, \"T\": %d, \"I\": %d, \"H\": %d}", B, T, I, H);
}

/* Cross-entropy of logits (rows, C) against targets, mean over kept rows. */
static void ce_case(run *r, int ndim, const int *shape, const int32_t *targets, int ignore_index,
                    float label_smoothing) {
    int rows = 1, C = shape[ndim - 1];
    for (int i = 0; i < ndim - 1; i++) rows *= shape[i];
    at_tensor *logits = input(r, "logits", ndim, shape, -3.0f, 3.0f, 1);
    at_tensor *loss;
    TRY(r, at_cross_entropy(r->ctx, &loss, logits, targets, ignore_index, label_smoothing));
    backward_loss(r, loss);
    put_grad(r, "logits", logits);
    meta_ints(r, "targets", targets, rows);
    meta(r, "ignore_index", "%d", ignore_index);
    meta(r, "label_smoothing", "%.9g", (double)label_smoothing);
    meta(r, "sizes", "{\"rows\": %d, \"C\": %d}", rows, C);
}

/* Padded sequences (B, T, C): target 0 is the padding id and is ignored. */
static void case_ce_ignore(run *r) {
    enum { B = 3, T = 5, C = 6 };
    static const int lengths[B] = {5, 2, 3};
    int32_t targets[B * T];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            targets[b * T + t] = t < lengths[b] ? 1 + (int32_t)at_rng_below(&r->data_rng, C - 1) : 0;
    ce_case(r, 3, (int[]){B, T, C}, targets, 0, 0.0f);
}

/* Label smoothing, nothing ignored. */
static void case_ce_smooth(run *r) {
    enum { N = 8, C = 5 };
    int32_t targets[N];
    for (int i = 0; i < N; i++) targets[i] = (int32_t)at_rng_below(&r->data_rng, C);
    ce_case(r, 2, (int[]){N, C}, targets, -100, 0.1f);
}

/* Label smoothing and ignored rows together (ignore_index -100). */
static void case_ce_smooth_ignore(run *r) {
    enum { N = 10, C = 7 };
    int32_t targets[N];
    for (int i = 0; i < N; i++) targets[i] = (int32_t)at_rng_below(&r->data_rng, C);
    targets[2] = targets[3] = targets[9] = -100;
    ce_case(r, 2, (int[]){N, C}, targets, -100, 0.2f);
}

/* Every row ignored: the contract says the loss is 0, not NaN. */
static void case_ce_all_ignored(run *r) {
    enum { N = 4, C = 3 };
    const int32_t targets[N] = {-1, -1, -1, -1};
    ce_case(r, 2, (int[]){N, C}, targets, -1, 0.1f);
}

/* Softmax or log-softmax of scores (B, Tq, Tk) under a mask:
 * kind 0 none, 1 a padding mask (B, Tk) with one batch row fully masked,
 * 2 a full mask (B*Tq, Tk) with one fully masked and one all-kept row. */
static void softmax_case(run *r, int log, int kind) {
    enum { B = 2, TQ = 3, TK = 5 };
    uint8_t mask[B * TQ * TK];
    int mask_rows = 0;
    if (kind == 1) {
        mask_rows = B;
        static const int lengths[B] = {3, 0};
        for (int b = 0; b < B; b++)
            for (int k = 0; k < TK; k++) mask[b * TK + k] = k < lengths[b];
    } else if (kind == 2) {
        mask_rows = B * TQ;
        for (int i = 0; i < B * TQ * TK; i++) mask[i] = at_rng_uniform(&r->data_rng) < 0.6f;
        for (int k = 0; k < TK; k++) {
            mask[1 * TK + k] = 0; /* row 1: fully masked */
            mask[4 * TK + k] = 1; /* row 4: all kept     */
        }
        mask[0] = 1; /* row 0 keeps at least its first position */
    }
    at_tensor *x = input(r, "x", 3, (int[]){B, TQ, TK}, -3.0f, 3.0f, 1);
    at_tensor *y;
    const uint8_t *m = kind ? mask : NULL;
    if (log)
        TRY(r, at_log_softmax(r->ctx, &y, x, m, mask_rows));
    else
        TRY(r, at_softmax(r->ctx, &y, x, m, mask_rows));
    backward_from(r, "y", y);
    put_grad(r, "x", x);
    if (kind) meta_mask(r, "mask", mask, mask_rows * TK);
    meta(r, "mask_rows", "%d", mask_rows);
    meta(r, "sizes", "{\"B\": %d, \"Tq\": %d, \"Tk\": %d}", B, TQ, TK);
}
static void case_softmax(run *r) { softmax_case(r, 0, 0); }
static void case_softmax_mask_pad(run *r) { softmax_case(r, 0, 1); }
static void case_softmax_mask_full(run *r) { softmax_case(r, 0, 2); }
static void case_log_softmax(run *r) { softmax_case(r, 1, 0); }
static void case_log_softmax_mask_pad(run *r) { softmax_case(r, 1, 1); }
static void case_log_softmax_mask_full(run *r) { softmax_case(r, 1, 2); }

/* Batched matmul; a and b are stored as given (already transposed when
 * trans_a / trans_b say so). */
static void matmul_case(run *r, int a_ndim, const int *a_shape, int b_ndim, const int *b_shape,
                        int trans_a, int trans_b) {
    at_tensor *a = input(r, "a", a_ndim, a_shape, -1.0f, 1.0f, 1);
    at_tensor *b = input(r, "b", b_ndim, b_shape, -1.0f, 1.0f, 1);
    at_tensor *y;
    TRY(r, at_matmul(r->ctx, &y, a, b, trans_a, trans_b));
    backward_from(r, "y", y);
    put_grad(r, "a", a);
    put_grad(r, "b", b);
    meta(r, "trans_a", "%d", trans_a);
    meta(r, "trans_b", "%d", trans_b);
    meta(r, "sizes", "{}");
}
/* (3, 4, 5) @ (3, 5, 6) */
static void case_matmul(run *r) {
    matmul_case(r, 3, (int[]){3, 4, 5}, 3, (int[]){3, 5, 6}, 0, 0);
}
/* (3, 5, 4)^T @ (3, 6, 5)^T: both transposed */
static void case_matmul_trans(run *r) {
    matmul_case(r, 3, (int[]){3, 5, 4}, 3, (int[]){3, 6, 5}, 1, 1);
}
/* (2, 3, 4, 5) @ (6, 5)^T: a 2-D b shared by every batch */
static void case_matmul_shared(run *r) {
    matmul_case(r, 4, (int[]){2, 3, 4, 5}, 2, (int[]){6, 5}, 0, 1);
}
/* (2, 70, 130) @ (2, 130, 40): the blocked kernel with K beyond one panel
 * (KC = 128) and ragged edges in M (MR = 4) and N (NR = 32) */
static void case_matmul_large(run *r) {
    matmul_case(r, 3, (int[]){2, 70, 130}, 3, (int[]){2, 130, 40}, 0, 0);
}
/* (3, 20, 64) @ (3, 48, 64)^T: few rows with b transposed go to OpenBLAS */
static void case_matmul_blas(run *r) {
    matmul_case(r, 3, (int[]){3, 20, 64}, 3, (int[]){3, 48, 64}, 0, 1);
}

typedef struct parity_case {
    const char *name;
    void (*fn)(run *r);
} parity_case;

static const parity_case cases[] = {
    {"dense", case_dense},
    {"dense_nobias", case_dense_nobias},
    {"embedding", case_embedding},
    {"layernorm", case_layernorm},
    {"layer_norm_op", case_layer_norm_op},
    {"layer_norm_op_plain", case_layer_norm_op_plain},
    {"lstm", case_lstm},
    {"lstm_reverse", case_lstm_reverse},
    {"lstm_plain", case_lstm_plain},
    {"lstm_large", case_lstm_large},
    {"gru", case_gru},
    {"gru_reverse", case_gru_reverse},
    {"gru_cell", case_gru_cell},
    {"lstm_cell", case_lstm_cell},
    {"bilstm", case_bilstm},
    {"ce_ignore", case_ce_ignore},
    {"ce_smooth", case_ce_smooth},
    {"ce_smooth_ignore", case_ce_smooth_ignore},
    {"ce_all_ignored", case_ce_all_ignored},
    {"softmax", case_softmax},
    {"softmax_mask_pad", case_softmax_mask_pad},
    {"softmax_mask_full", case_softmax_mask_full},
    {"log_softmax", case_log_softmax},
    {"log_softmax_mask_pad", case_log_softmax_mask_pad},
    {"log_softmax_mask_full", case_log_softmax_mask_full},
    {"matmul", case_matmul},
    {"matmul_trans", case_matmul_trans},
    {"matmul_shared", case_matmul_shared},
    {"matmul_large", case_matmul_large},
    {"matmul_blas", case_matmul_blas},
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

static void usage(void) {
    fprintf(stderr,
            "usage: parity_tool CASE OUT.safetensors [SEED]\n"
            "       parity_tool --list\n"
            "Runs one attend computation forward and backward and saves inputs, outputs,\n"
            "output-gradient seeds, parameters and gradients in one safetensors file.\n");
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < N_CASES; i++) printf("%s\n", cases[i].name);
        return 0;
    }
    if (argc < 3 || argc > 4) {
        usage();
        return 2;
    }
    const parity_case *pc = NULL;
    for (int i = 0; i < N_CASES; i++)
        if (strcmp(argv[1], cases[i].name) == 0) pc = &cases[i];
    if (!pc) {
        fprintf(stderr, "parity_tool: unknown case '%s' (try --list)\n", argv[1]);
        return 2;
    }
    unsigned long long seed = 20240611ull;
    if (argc == 4) {
        char *end;
        seed = strtoull(argv[3], &end, 10);
        if (*end || end == argv[3]) {
            fprintf(stderr, "parity_tool: SEED must be a number, got '%s'\n", argv[3]);
            return 2;
        }
    }

    run r = {.case_name = pc->name};
    if (at_ctx_create(&r.ctx, NULL) != AT_OK) die(&r, "cannot create a context");
    TRY(&r, at_params_create(r.ctx, &r.model));
    TRY(&r, at_params_create(r.ctx, &r.dump));
    at_rng_seed(&r.init_rng, seed);
    at_rng_seed(&r.data_rng, seed ^ 0x5eed5eed5eedull);

    pc->fn(&r);

    meta(&r, "case", "%s", pc->name);
    meta(&r, "seed", "%llu", seed);
    TRY(&r, at_checkpoint_save(r.ctx, argv[2], r.dump, &r.meta));

    at_metadata_clear(&r.meta);
    at_params_free(r.dump);
    at_params_free(r.model);
    at_ctx_free(r.ctx);
    return 0;
}
