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
#include "parity_dump.h"

#include <stdio.h>

/* ------------------------------------------------------------ the cases */

/* Dense on a 3-D input: y = x W^T + b, x (B, T, in). */
static void dense_case(pd_run *r, int with_bias) {
    const int B = 3, T = 4, IN = 5, OUT = 6;
    at_dense layer;
    TRY(r, at_dense_init(r->ctx, &layer, r->model, "", IN, OUT, with_bias, &r->init_rng));
    if (with_bias) pd_randomise(r, layer.bias, -0.5f, 0.5f);
    at_tensor *x = pd_input(r, "x", 3, (int[]){B, T, IN}, -1.0f, 1.0f, 1);
    at_tensor *y;
    TRY(r, at_dense_forward(r->ctx, &layer, x, &y));
    pd_backward_from(r, "y", y);
    pd_put_grad(r, "x", x);
    pd_put_params(r);
    pd_meta(r, "sizes", "{\"B\": %d, \"T\": %d, \"in\": %d, \"out\": %d, \"bias\": %d}", B, T, IN,
            OUT, with_bias);
}
static void case_dense(pd_run *r) { dense_case(r, 1); }
static void case_dense_nobias(pd_run *r) { dense_case(r, 0); }

/* Embedding lookup of (B, T) ids with repeats, so gradient rows add up. */
static void case_embedding(pd_run *r) {
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
    pd_backward_from(r, "y", y);
    pd_put_params(r);
    pd_meta_ints(r, "ids", ids, B * T);
    pd_meta(r, "sizes", "{\"B\": %d, \"T\": %d, \"V\": %d, \"D\": %d}", B, T, V, D);
}

/* LayerNorm layer on (B, T, n), with random gain and bias. */
static void case_layernorm(pd_run *r) {
    const int B = 3, T = 4, N = 6;
    const float eps = 1e-5f;
    at_layernorm layer;
    TRY(r, at_layernorm_init(r->ctx, &layer, r->model, "", N, eps));
    pd_randomise(r, layer.weight, 0.5f, 1.5f);
    pd_randomise(r, layer.bias, -0.5f, 0.5f);
    at_tensor *x = pd_input(r, "x", 3, (int[]){B, T, N}, -2.0f, 3.0f, 1);
    at_tensor *y;
    TRY(r, at_layernorm_forward(r->ctx, &layer, x, &y));
    pd_backward_from(r, "y", y);
    pd_put_grad(r, "x", x);
    pd_put_params(r);
    pd_meta(r, "eps", "%.9g", (double)eps);
    pd_meta(r, "sizes", "{\"B\": %d, \"T\": %d, \"n\": %d}", B, T, N);
}

/* The layer_norm op with gamma and beta as plain inputs (or without). */
static void layer_norm_op_case(pd_run *r, int affine) {
    const int R = 5, N = 7;
    const float eps = 1e-5f;
    at_tensor *x = pd_input(r, "x", 2, (int[]){R, N}, -1.0f, 2.0f, 1);
    at_tensor *gamma = NULL, *beta = NULL;
    if (affine) {
        gamma = pd_input(r, "gamma", 1, (int[]){N}, 0.5f, 1.5f, 1);
        beta = pd_input(r, "beta", 1, (int[]){N}, -0.5f, 0.5f, 1);
    }
    at_tensor *y;
    TRY(r, at_layer_norm(r->ctx, &y, x, gamma, beta, eps));
    pd_backward_from(r, "y", y);
    pd_put_grad(r, "x", x);
    if (affine) {
        pd_put_grad(r, "gamma", gamma);
        pd_put_grad(r, "beta", beta);
    }
    pd_meta(r, "eps", "%.9g", (double)eps);
    pd_meta(r, "sizes", "{\"R\": %d, \"n\": %d, \"affine\": %d}", R, N, affine);
}
static void case_layer_norm_op(pd_run *r) { layer_norm_op_case(r, 1); }
static void case_layer_norm_op_plain(pd_run *r) { layer_norm_op_case(r, 0); }

/* Sequence sizes shared by the small recurrent cases. Lengths mix 1, T and
 * values between, unsorted, so PyTorch must sort and unsort. */
enum { SEQ_B = 4, SEQ_T = 5, SEQ_I = 3, SEQ_H = 4 };
static const int32_t seq_lengths[SEQ_B] = {3, 5, 1, 4};

static void seq_meta(pd_run *r, int B, int T, int I, int H, const int32_t *lengths) {
    if (lengths) pd_meta_ints(r, "lengths", lengths, B);
    pd_meta(r, "sizes", "{\"B\": %d, \"T\": %d, \"I\": %d, \"H\": %d}", B, T, I, H);
}

/* LSTM over (B, T, I) with optional h0, c0 and lengths, either direction. */
static void lstm_case(pd_run *r, int B, int T, int I, int H, const int32_t *lengths, int reverse,
                      int with_state) {
    at_lstm layer;
    TRY(r, at_lstm_init(r->ctx, &layer, r->model, "", I, H, reverse, &r->init_rng));
    pd_randomise(r, layer.bias_ih, -0.5f, 0.5f);
    pd_randomise(r, layer.bias_hh, -0.5f, 0.5f);
    at_tensor *x = pd_input(r, "x", 3, (int[]){B, T, I}, -1.0f, 1.0f, 1);
    at_tensor *h0 = NULL, *c0 = NULL;
    if (with_state) {
        h0 = pd_input(r, "h0", 2, (int[]){B, H}, -0.5f, 0.5f, 1);
        c0 = pd_input(r, "c0", 2, (int[]){B, H}, -0.5f, 0.5f, 1);
    }
    at_tensor *y, *h_n, *c_n;
    TRY(r, at_lstm_forward(r->ctx, &layer, x, lengths, h0, c0, &y, &h_n, &c_n));
    pd_seed_extra(r, "h_n", h_n, 0);
    pd_seed_extra(r, "c_n", c_n, 0);
    pd_backward_from(r, "y", y);
    pd_put_grad(r, "x", x);
    if (with_state) {
        pd_put_grad(r, "h0", h0);
        pd_put_grad(r, "c0", c0);
    }
    pd_put_params(r);
    seq_meta(r, B, T, I, H, lengths);
}
static void case_lstm(pd_run *r) { lstm_case(r, SEQ_B, SEQ_T, SEQ_I, SEQ_H, seq_lengths, 0, 1); }
static void case_lstm_reverse(pd_run *r) {
    lstm_case(r, SEQ_B, SEQ_T, SEQ_I, SEQ_H, seq_lengths, 1, 1);
}
static void case_lstm_plain(pd_run *r) { lstm_case(r, SEQ_B, SEQ_T, SEQ_I, SEQ_H, NULL, 0, 0); }
/* Sizes where the matrix products leave the small kernel for OpenBLAS
 * (h W_hh^T with 8 rows: B transposed, few rows of C, work > 4096). */
static void case_lstm_large(pd_run *r) {
    static const int32_t lengths[8] = {7, 1, 4, 7, 2, 6, 3, 5};
    lstm_case(r, 8, 7, 40, 48, lengths, 0, 1);
}

/* GRU over (B, T, I) with h0 and lengths, either direction. */
static void gru_case(pd_run *r, int reverse) {
    const int B = SEQ_B, T = SEQ_T, I = SEQ_I, H = SEQ_H;
    at_gru layer;
    TRY(r, at_gru_init(r->ctx, &layer, r->model, "", I, H, reverse, &r->init_rng));
    pd_randomise(r, layer.bias_ih, -0.5f, 0.5f);
    pd_randomise(r, layer.bias_hh, -0.5f, 0.5f);
    at_tensor *x = pd_input(r, "x", 3, (int[]){B, T, I}, -1.0f, 1.0f, 1);
    at_tensor *h0 = pd_input(r, "h0", 2, (int[]){B, H}, -0.5f, 0.5f, 1);
    at_tensor *y, *h_n;
    TRY(r, at_gru_forward(r->ctx, &layer, x, seq_lengths, h0, &y, &h_n));
    pd_seed_extra(r, "h_n", h_n, 0);
    pd_backward_from(r, "y", y);
    pd_put_grad(r, "x", x);
    pd_put_grad(r, "h0", h0);
    pd_put_params(r);
    seq_meta(r, B, T, I, H, seq_lengths);
}
static void case_gru(pd_run *r) { gru_case(r, 0); }
static void case_gru_reverse(pd_run *r) { gru_case(r, 1); }

/* One GRU step: x (B, I), h (B, H). */
static void case_gru_cell(pd_run *r) {
    const int B = 3, I = 4, H = 5;
    at_gru layer;
    TRY(r, at_gru_init(r->ctx, &layer, r->model, "", I, H, 0, &r->init_rng));
    pd_randomise(r, layer.bias_ih, -0.5f, 0.5f);
    pd_randomise(r, layer.bias_hh, -0.5f, 0.5f);
    at_tensor *x = pd_input(r, "x", 2, (int[]){B, I}, -1.0f, 1.0f, 1);
    at_tensor *h = pd_input(r, "h", 2, (int[]){B, H}, -0.5f, 0.5f, 1);
    at_tensor *h_out;
    TRY(r, at_gru_cell(r->ctx, &layer, x, h, &h_out));
    pd_backward_from(r, "h_out", h_out);
    pd_put_grad(r, "x", x);
    pd_put_grad(r, "h", h);
    pd_put_params(r);
    pd_meta(r, "sizes", "{\"B\": %d, \"I\": %d, \"H\": %d}", B, I, H);
}

/* One LSTM step: x (B, I), h, c (B, H). */
static void case_lstm_cell(pd_run *r) {
    const int B = 3, I = 4, H = 5;
    at_lstm layer;
    TRY(r, at_lstm_init(r->ctx, &layer, r->model, "", I, H, 0, &r->init_rng));
    pd_randomise(r, layer.bias_ih, -0.5f, 0.5f);
    pd_randomise(r, layer.bias_hh, -0.5f, 0.5f);
    at_tensor *x = pd_input(r, "x", 2, (int[]){B, I}, -1.0f, 1.0f, 1);
    at_tensor *h = pd_input(r, "h", 2, (int[]){B, H}, -0.5f, 0.5f, 1);
    at_tensor *c = pd_input(r, "c", 2, (int[]){B, H}, -0.5f, 0.5f, 1);
    at_tensor *h_out, *c_out;
    TRY(r, at_lstm_cell(r->ctx, &layer, x, h, c, &h_out, &c_out));
    pd_seed_extra(r, "c_out", c_out, 0);
    pd_backward_from(r, "h_out", h_out);
    pd_put_grad(r, "x", x);
    pd_put_grad(r, "h", h);
    pd_put_grad(r, "c", c);
    pd_put_params(r);
    pd_meta(r, "sizes", "{\"B\": %d, \"I\": %d, \"H\": %d}", B, I, H);
}

/* Bidirectional LSTM with lengths: y (B, T, 2H), h_n (2, B, H). */
static void case_bilstm(pd_run *r) {
    enum { B = 4, T = 6, I = 3, H = 4 };
    static const int32_t lengths[B] = {6, 2, 1, 4};
    at_bilstm layer;
    TRY(r, at_bilstm_init(r->ctx, &layer, r->model, "", I, H, &r->init_rng));
    pd_randomise(r, layer.fwd.bias_ih, -0.5f, 0.5f);
    pd_randomise(r, layer.fwd.bias_hh, -0.5f, 0.5f);
    pd_randomise(r, layer.bwd.bias_ih, -0.5f, 0.5f);
    pd_randomise(r, layer.bwd.bias_hh, -0.5f, 0.5f);
    at_tensor *x = pd_input(r, "x", 3, (int[]){B, T, I}, -1.0f, 1.0f, 1);
    at_tensor *y, *h_n;
    TRY(r, at_bilstm_forward(r->ctx, &layer, x, lengths, &y, &h_n));
    pd_seed_extra(r, "h_n", h_n, 0);
    pd_backward_from(r, "y", y);
    pd_put_grad(r, "x", x);
    pd_put_params(r);
    pd_meta_ints(r, "lengths", lengths, B);
    pd_meta(r, "sizes", "{\"B\": %d, \"T\": %d, \"I\": %d, \"H\": %d}", B, T, I, H);
}

/* Cross-entropy of logits (rows, C) against targets, mean over kept rows. */
static void ce_case(pd_run *r, int ndim, const int *shape, const int32_t *targets, int ignore_index,
                    float label_smoothing) {
    int rows = 1, C = shape[ndim - 1];
    for (int i = 0; i < ndim - 1; i++) rows *= shape[i];
    at_tensor *logits = pd_input(r, "logits", ndim, shape, -3.0f, 3.0f, 1);
    at_tensor *loss;
    TRY(r, at_cross_entropy(r->ctx, &loss, logits, targets, ignore_index, label_smoothing));
    pd_backward_loss(r, loss);
    pd_put_grad(r, "logits", logits);
    pd_meta_ints(r, "targets", targets, rows);
    pd_meta(r, "ignore_index", "%d", ignore_index);
    pd_meta(r, "label_smoothing", "%.9g", (double)label_smoothing);
    pd_meta(r, "sizes", "{\"rows\": %d, \"C\": %d}", rows, C);
}

/* Padded sequences (B, T, C): target 0 is the padding id and is ignored. */
static void case_ce_ignore(pd_run *r) {
    enum { B = 3, T = 5, C = 6 };
    static const int lengths[B] = {5, 2, 3};
    int32_t targets[B * T];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            targets[b * T + t] = t < lengths[b] ? 1 + (int32_t)at_rng_below(&r->data_rng, C - 1) : 0;
    ce_case(r, 3, (int[]){B, T, C}, targets, 0, 0.0f);
}

/* Label smoothing, nothing ignored. */
static void case_ce_smooth(pd_run *r) {
    enum { N = 8, C = 5 };
    int32_t targets[N];
    for (int i = 0; i < N; i++) targets[i] = (int32_t)at_rng_below(&r->data_rng, C);
    ce_case(r, 2, (int[]){N, C}, targets, -100, 0.1f);
}

/* Label smoothing and ignored rows together (ignore_index -100). */
static void case_ce_smooth_ignore(pd_run *r) {
    enum { N = 10, C = 7 };
    int32_t targets[N];
    for (int i = 0; i < N; i++) targets[i] = (int32_t)at_rng_below(&r->data_rng, C);
    targets[2] = targets[3] = targets[9] = -100;
    ce_case(r, 2, (int[]){N, C}, targets, -100, 0.2f);
}

/* Every row ignored: the contract says the loss is 0, not NaN. */
static void case_ce_all_ignored(pd_run *r) {
    enum { N = 4, C = 3 };
    const int32_t targets[N] = {-1, -1, -1, -1};
    ce_case(r, 2, (int[]){N, C}, targets, -1, 0.1f);
}

/* Softmax or log-softmax of scores (B, Tq, Tk) under a mask:
 * kind 0 none, 1 a padding mask (B, Tk) with one batch row fully masked,
 * 2 a full mask (B*Tq, Tk) with one fully masked and one all-kept row. */
static void softmax_case(pd_run *r, int log, int kind) {
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
    at_tensor *x = pd_input(r, "x", 3, (int[]){B, TQ, TK}, -3.0f, 3.0f, 1);
    at_tensor *y;
    const uint8_t *m = kind ? mask : NULL;
    if (log)
        TRY(r, at_log_softmax(r->ctx, &y, x, m, mask_rows));
    else
        TRY(r, at_softmax(r->ctx, &y, x, m, mask_rows));
    pd_backward_from(r, "y", y);
    pd_put_grad(r, "x", x);
    if (kind) pd_meta_mask(r, "mask", mask, mask_rows * TK);
    pd_meta(r, "mask_rows", "%d", mask_rows);
    pd_meta(r, "sizes", "{\"B\": %d, \"Tq\": %d, \"Tk\": %d}", B, TQ, TK);
}
static void case_softmax(pd_run *r) { softmax_case(r, 0, 0); }
static void case_softmax_mask_pad(pd_run *r) { softmax_case(r, 0, 1); }
static void case_softmax_mask_full(pd_run *r) { softmax_case(r, 0, 2); }
static void case_log_softmax(pd_run *r) { softmax_case(r, 1, 0); }
static void case_log_softmax_mask_pad(pd_run *r) { softmax_case(r, 1, 1); }
static void case_log_softmax_mask_full(pd_run *r) { softmax_case(r, 1, 2); }

/* Batched matmul; a and b are stored as given (already transposed when
 * trans_a / trans_b say so). */
static void matmul_case(pd_run *r, int a_ndim, const int *a_shape, int b_ndim, const int *b_shape,
                        int trans_a, int trans_b) {
    at_tensor *a = pd_input(r, "a", a_ndim, a_shape, -1.0f, 1.0f, 1);
    at_tensor *b = pd_input(r, "b", b_ndim, b_shape, -1.0f, 1.0f, 1);
    at_tensor *y;
    TRY(r, at_matmul(r->ctx, &y, a, b, trans_a, trans_b));
    pd_backward_from(r, "y", y);
    pd_put_grad(r, "a", a);
    pd_put_grad(r, "b", b);
    pd_meta(r, "trans_a", "%d", trans_a);
    pd_meta(r, "trans_b", "%d", trans_b);
    pd_meta(r, "sizes", "{}");
}
/* (3, 4, 5) @ (3, 5, 6) */
static void case_matmul(pd_run *r) {
    matmul_case(r, 3, (int[]){3, 4, 5}, 3, (int[]){3, 5, 6}, 0, 0);
}
/* (3, 5, 4)^T @ (3, 6, 5)^T: both transposed */
static void case_matmul_trans(pd_run *r) {
    matmul_case(r, 3, (int[]){3, 5, 4}, 3, (int[]){3, 6, 5}, 1, 1);
}
/* (2, 3, 4, 5) @ (6, 5)^T: a 2-D b shared by every batch */
static void case_matmul_shared(pd_run *r) {
    matmul_case(r, 4, (int[]){2, 3, 4, 5}, 2, (int[]){6, 5}, 0, 1);
}
/* (2, 70, 130) @ (2, 130, 40): the blocked kernel with K beyond one panel
 * (KC = 128) and ragged edges in M (MR = 4) and N (NR = 32) */
static void case_matmul_large(pd_run *r) {
    matmul_case(r, 3, (int[]){2, 70, 130}, 3, (int[]){2, 130, 40}, 0, 0);
}
/* (3, 20, 64) @ (3, 48, 64)^T: few rows with b transposed go to OpenBLAS */
static void case_matmul_blas(pd_run *r) {
    matmul_case(r, 3, (int[]){3, 20, 64}, 3, (int[]){3, 48, 64}, 0, 1);
}

static const pd_case cases[] = {
    {"dense", case_dense, 0, NULL},
    {"dense_nobias", case_dense_nobias, 0, NULL},
    {"embedding", case_embedding, 0, NULL},
    {"layernorm", case_layernorm, 0, NULL},
    {"layer_norm_op", case_layer_norm_op, 0, NULL},
    {"layer_norm_op_plain", case_layer_norm_op_plain, 0, NULL},
    {"lstm", case_lstm, 0, NULL},
    {"lstm_reverse", case_lstm_reverse, 0, NULL},
    {"lstm_plain", case_lstm_plain, 0, NULL},
    {"lstm_large", case_lstm_large, 0, NULL},
    {"gru", case_gru, 0, NULL},
    {"gru_reverse", case_gru_reverse, 0, NULL},
    {"gru_cell", case_gru_cell, 0, NULL},
    {"lstm_cell", case_lstm_cell, 0, NULL},
    {"bilstm", case_bilstm, 0, NULL},
    {"ce_ignore", case_ce_ignore, 0, NULL},
    {"ce_smooth", case_ce_smooth, 0, NULL},
    {"ce_smooth_ignore", case_ce_smooth_ignore, 0, NULL},
    {"ce_all_ignored", case_ce_all_ignored, 0, NULL},
    {"softmax", case_softmax, 0, NULL},
    {"softmax_mask_pad", case_softmax_mask_pad, 0, NULL},
    {"softmax_mask_full", case_softmax_mask_full, 0, NULL},
    {"log_softmax", case_log_softmax, 0, NULL},
    {"log_softmax_mask_pad", case_log_softmax_mask_pad, 0, NULL},
    {"log_softmax_mask_full", case_log_softmax_mask_full, 0, NULL},
    {"matmul", case_matmul, 0, NULL},
    {"matmul_trans", case_matmul_trans, 0, NULL},
    {"matmul_shared", case_matmul_shared, 0, NULL},
    {"matmul_large", case_matmul_large, 0, NULL},
    {"matmul_blas", case_matmul_blas, 0, NULL},
};
int main(int argc, char **argv) {
    static const pd_tool tool = {
        .name = "parity_tool",
        .cases = cases,
        .n_cases = (int)(sizeof cases / sizeof cases[0]),
        .description =
            "Runs one attend computation forward and backward and saves inputs, outputs,\n"
            "output-gradient seeds, parameters and gradients in one safetensors file.\n",
        .seed = 20240611ull,
        .data_xor = 0x5eed5eed5eedull,
    };
    return pd_main(argc, argv, &tool);
}
