/*
 * test_explain.c - "explain one step" (at_seq2seq_explain_step) hands back
 * the numbers that really made the step: for tiny models of every decoder
 * and attention family, at every step of the greedy translation,
 *   - α is row K of at_seq2seq_translate's attention, and the top-1 unit is
 *     output unit K (END at K = Ty);
 *   - the context is Σ_j α_j v_j of the returned α and encoder states (and
 *     multi-head's W_O [c_1 .. c_H] + b_O), the contributions sum to ‖c‖;
 *   - the scores give α (softmax; local-p's window and Gaussian), and the
 *     scores themselves follow from the model's parameters (additive,
 *     general, multi-head, local-p);
 *   - the seed's r, z, s̃, s_t and logits, and luong's GRU state, h̃_t and
 *     logits follow from the returned intermediates and the parameters;
 *   - step K starts from the state step K - 1 ended in;
 * and bad input (K out of range, empty text, invalid UTF-8) is refused.
 * Recomputations are in double; tolerance 1e-5 (+ 1e-5 relative).
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const sources[] = {"ab c", "cab", "b", "aacb", "ca", "bbbac"};
static const char *const targets[] = {"xy", "yxxyx", "xyyx", "y", "xxx", "yx"};
enum { PAIRS = 6 };
static const double TOL = 1e-5;

/* ------------------------------------------------------------ helpers */

static const at_tensor *param(const at_seq2seq *m, const char *name) {
    at_params *p = at_seq2seq_params(m);
    const at_tensor *t = at_params_find(p, name);
    if (t) return t;
    fprintf(stderr, "FAIL: no parameter '%s'; the model has:", name);
    for (int i = 0; i < at_params_count(p); i++)
        fprintf(stderr, " %s", at_params_get(p, i)->name ? at_params_get(p, i)->name : "?");
    fprintf(stderr, "\n");
    exit(1);
}

/* out (rows) += W (rows, ld)[:, offset : offset + n] x (n) */
static void add_matvec(double *out, const at_tensor *W, int offset, const float *x, int n) {
    int rows = W->shape[0], ld = W->shape[1];
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < n; c++)
            out[r] += (double)W->data[(size_t)r * ld + offset + c] * x[c];
}

static void set_bias(double *out, const at_tensor *b, int offset, int n) {
    for (int i = 0; i < n; i++) out[i] = b ? b->data[offset + i] : 0.0;
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* softmax over the kept j (keep NULL = all); nothing kept: zeros */
static void softmax_kept(const float *e, const float *keep, int n, double *out) {
    double top = -INFINITY, sum = 0.0;
    for (int j = 0; j < n; j++)
        if (!keep || keep[j] > 0.0f) top = e[j] > top ? e[j] : top;
    for (int j = 0; j < n; j++) {
        out[j] = (!keep || keep[j] > 0.0f) && top > -INFINITY ? exp(e[j] - top) : 0.0;
        sum += out[j];
    }
    for (int j = 0; j < n; j++) out[j] = sum > 0.0 ? out[j] / sum : 0.0;
}

static int close_d(const char *what, const float *got, const double *want, size_t n) {
    return check_close_to_double(what, got, want, n, TOL, TOL);
}

/* ------------------------------------------------------------- models */

static at_seq2seq *tiny_model(at_ctx *ctx, at_decoder_kind decoder, at_attention_kind attention,
                              at_cell_kind cell, int teacher) {
    at_seq2seq_config c;
    at_seq2seq_config_default(&c);
    c.decoder = decoder, c.attention = attention, c.cell = cell;
    c.seed_teacher_forcing = teacher;
    c.embed_size = 3, c.encoder_size = 4, c.decoder_size = 8, c.attn_size = 5, c.heads = 2;
    c.window = 2, c.seed = 7, c.max_source_len = 8, c.max_target_len = 7;
    at_vocab *src = NULL, *tgt = NULL;
    CHECK_OK(ctx, at_vocab_build(ctx, &src, PAIRS, sources));
    CHECK_OK(ctx, at_vocab_build(ctx, &tgt, PAIRS, targets));
    at_seq2seq *m = NULL;
    CHECK_OK(ctx, at_seq2seq_create(ctx, &m, &c, src, tgt));
    if (!m) exit(1);
    at_rng rng;
    at_rng_seed(&rng, 11);
    test_jitter_params(at_seq2seq_params(m), &rng, 0.6f); // biases and gates off zero
    // PAD, UNK and START are no units of the output's text: never chosen
    at_tensor *b = at_params_find(at_seq2seq_params(m),
                                  decoder == AT_DECODER_SEED ? "decoder.b_o" : "decoder.W_s.bias");
    for (int id = AT_TOKEN_PAD; id < AT_TOKEN_END; id++) b->data[id] = -30.0f;
    return m;
}

/* ------------------------------------------------------ the attention */

/* α from the scores, as the family normalises them. */
static void check_weights_from_scores(const at_seq2seq *m, const at_step_explanation *x) {
    const at_seq2seq_config *c = at_seq2seq_get_config(m);
    int H = x->heads, Tx = x->source_len;
    double *want = calloc((size_t)H * Tx, sizeof(double));
    if (c->decoder == AT_DECODER_SEED || c->attention == AT_ATTENTION_LOCAL_M ||
        c->attention == AT_ATTENTION_LOCAL_P || c->attention == AT_ATTENTION_MONOTONIC ||
        c->attention == AT_ATTENTION_FORWARD) {
        if (c->decoder == AT_DECODER_SEED) {
            softmax_kept(x->scores, NULL, Tx, want);
        } else if (c->attention == AT_ATTENTION_MONOTONIC) { // first p >= 0.5 from the start
            for (int j = (int)x->previous_position; j < Tx; j++)
                if (x->p_choose[j] >= 0.5f) {
                    want[j] = 1.0;
                    break;
                }
        } else if (c->attention == AT_ATTENTION_FORWARD) { // (α̂(n) + α̂(n-1)) y(n), renormalised
            double sum = 0.0;
            for (int n = 0; n < Tx; n++) {
                want[n] = (x->prior[n] + (n ? x->prior[n - 1] : 0.0f)) * x->base[n];
                sum += want[n];
            }
            for (int n = 0; n < Tx; n++) want[n] = sum > 0.0 ? want[n] / sum : 0.0;
            double *y = calloc((size_t)Tx, sizeof(double));
            softmax_kept(x->scores, NULL, Tx, y);
            close_d("forward: base = softmax(scores)", x->base, y, (size_t)Tx);
            free(y);
        } else { // local: softmax in the window, local-p times the Gaussian
            softmax_kept(x->scores, x->window, Tx, want);
            close_d("local: align", x->align, want, (size_t)Tx);
            double sigma = 0.5 * c->window;
            for (int s = 0; c->attention == AT_ATTENTION_LOCAL_P && s < Tx; s++)
                want[s] *= exp(-(s - x->position) * (s - x->position) / (2 * sigma * sigma));
        }
    } else {
        for (int h = 0; h < H; h++)
            softmax_kept(x->scores + (size_t)h * Tx, NULL, Tx, want + (size_t)h * Tx);
    }
    close_d("weights from the scores", x->weights, want, (size_t)H * Tx);
    free(want);
}

/* The query the family scores: s_{t-1} for the seed, h_t for luong. */
static const float *query_of(const at_seq2seq *m, const at_step_explanation *x) {
    return at_seq2seq_get_config(m)->decoder == AT_DECODER_SEED ? x->state_prev : x->state;
}

/* e_j = v_aᵀ tanh(W_a q + U_a h_j + b_a) */
static void additive_scores(const at_seq2seq *m, const char *prefix, const at_step_explanation *x,
                            double *e) {
    char name[64];
    snprintf(name, sizeof name, "%s.W_a", prefix);
    const at_tensor *W_a = param(m, name);
    snprintf(name, sizeof name, "%s.U_a", prefix);
    const at_tensor *U_a = param(m, name);
    snprintf(name, sizeof name, "%s.b_a", prefix);
    const at_tensor *b_a = param(m, name);
    snprintf(name, sizeof name, "%s.v_a", prefix);
    const at_tensor *v_a = param(m, name);
    int A = W_a->shape[0], Dq = W_a->shape[1], K = x->annotation_size;
    double *pre = malloc((size_t)A * sizeof(double));
    for (int j = 0; j < x->source_len; j++) {
        set_bias(pre, b_a, 0, A);
        add_matvec(pre, W_a, 0, query_of(m, x), Dq);
        add_matvec(pre, U_a, 0, x->annotations + (size_t)j * K, K);
        e[j] = 0.0;
        for (int a = 0; a < A; a++) e[j] += v_a->data[a] * tanh(pre[a]);
    }
    free(pre);
}

/* general: e_j = h_tᵀ W_a h_j */
static void general_scores(const at_seq2seq *m, const at_step_explanation *x, double *e) {
    const at_tensor *W_a = param(m, "attention.W_a"); // (S, 2N)
    int S = x->state_size, K = x->annotation_size;
    double *wh = malloc((size_t)S * sizeof(double));
    for (int j = 0; j < x->source_len; j++) {
        set_bias(wh, NULL, 0, S);
        add_matvec(wh, W_a, 0, x->annotations + (size_t)j * K, K);
        e[j] = 0.0;
        for (int i = 0; i < S; i++) e[j] += x->state[i] * wh[i];
    }
    free(wh);
}

/* multi-head: Q, K, V = in_proj [W_Q; W_K; W_V] h + b; e_hj = Q_h·K_hj/√dh;
 * values V_hj; context = W_O [c_1 .. c_H] + b_O */
static void check_multi_head(const at_seq2seq *m, const at_step_explanation *x) {
    const at_tensor *W = param(m, "attention.in_proj_weight"), *b = param(m, "attention.in_proj_bias");
    const at_tensor *W_O = param(m, "attention.out_proj.weight");
    const at_tensor *b_O = param(m, "attention.out_proj.bias");
    int E = x->annotation_size, H = x->heads, dh = E / H, Tx = x->source_len;
    double *q = malloc((size_t)E * sizeof(double)), *kv = malloc((size_t)E * sizeof(double));
    double *e = calloc((size_t)H * Tx, sizeof(double));
    double *v = calloc((size_t)H * Tx * dh, sizeof(double));
    // q = W_Q h_t + b_Q: rows 0 .. E of in_proj
    for (int i = 0; i < E; i++) {
        q[i] = b->data[i];
        for (int c = 0; c < E; c++) q[i] += (double)W->data[(size_t)i * E + c] * x->state[c];
    }
    for (int j = 0; j < Tx; j++) {
        const float *h = x->annotations + (size_t)j * E;
        for (int part = 1; part <= 2; part++) { // K, then V
            for (int i = 0; i < E; i++) {
                int row = part * E + i;
                kv[i] = b->data[row];
                for (int c = 0; c < E; c++) kv[i] += (double)W->data[(size_t)row * E + c] * h[c];
            }
            for (int hd = 0; hd < H; hd++)
                for (int k = 0; k < dh; k++) {
                    if (part == 1)
                        e[(size_t)hd * Tx + j] += q[hd * dh + k] * kv[hd * dh + k] / sqrt(dh);
                    else
                        v[((size_t)hd * Tx + j) * dh + k] = kv[hd * dh + k];
                }
        }
    }
    close_d("multi-head: scores from the parameters", x->scores, e, (size_t)H * Tx);
    close_d("multi-head: values V_h h_j + b_V", x->values, v, (size_t)H * Tx * dh);
    double *ctx_want = malloc((size_t)E * sizeof(double));
    set_bias(ctx_want, b_O, 0, E);
    add_matvec(ctx_want, W_O, 0, x->head_context, E); // the heads side by side
    close_d("multi-head: context = W_O [c_1 .. c_H] + b_O", x->context, ctx_want, (size_t)E);
    free(q), free(kv), free(e), free(v), free(ctx_want);
}

/* local-p: p_t = S σ(v_pᵀ tanh(W_p h_t)); W_t = { s < S : |s − p_t| <= D } */
static void check_local_p(const at_seq2seq *m, const at_step_explanation *x) {
    const at_tensor *W_p = param(m, "attention.W_p"), *v_p = param(m, "attention.v_p");
    int P = W_p->shape[0], Tx = x->source_len;
    double *pre = calloc((size_t)P, sizeof(double)), u = 0.0;
    add_matvec(pre, W_p, 0, x->state, x->state_size);
    for (int k = 0; k < P; k++) u += v_p->data[k] * tanh(pre[k]);
    double p = Tx * sigmoid(u);
    close_d("local-p: p_t", &x->position, &p, 1);
    double *window = calloc((size_t)Tx, sizeof(double));
    for (int s = 0; s < Tx; s++) window[s] = fabs(s - x->position) <= at_seq2seq_get_config(m)->window;
    close_d("local-p: the window", x->window, window, (size_t)Tx);
    free(pre), free(window);
}

static void check_scores_from_parameters(const at_seq2seq *m, const at_step_explanation *x) {
    const at_seq2seq_config *c = at_seq2seq_get_config(m);
    int Tx = x->source_len;
    double *e = calloc((size_t)Tx, sizeof(double));
    if (c->decoder == AT_DECODER_SEED) {
        additive_scores(m, "decoder.attention", x, e);
        close_d("seed: scores from the parameters", x->scores, e, (size_t)Tx);
    } else if (c->attention == AT_ATTENTION_ADDITIVE) {
        additive_scores(m, "attention", x, e);
        close_d("additive: scores from the parameters", x->scores, e, (size_t)Tx);
    } else if (c->attention == AT_ATTENTION_GENERAL || c->attention == AT_ATTENTION_LOCAL_P) {
        general_scores(m, x, e);
        close_d("general: scores from the parameters", x->scores, e, (size_t)Tx);
        if (c->attention == AT_ATTENTION_LOCAL_P) check_local_p(m, x);
    } else if (c->attention == AT_ATTENTION_MULTI_HEAD) {
        check_multi_head(m, x);
    }
    free(e);
}

/* c_h = Σ_j α_hj v_hj; H = 1: v = h and c = c_1; Σ_j contributions = ‖c_h‖. */
static void check_context(const at_step_explanation *x) {
    int H = x->heads, Tx = x->source_len, Dv = x->value_size;
    double *c = calloc((size_t)H * Dv, sizeof(double));
    for (int h = 0; h < H; h++)
        for (int j = 0; j < Tx; j++)
            for (int k = 0; k < Dv; k++)
                c[(size_t)h * Dv + k] += (double)x->weights[(size_t)h * Tx + j] *
                                         x->values[((size_t)h * Tx + j) * Dv + k];
    close_d("context from α and the values", x->head_context, c, (size_t)H * Dv);
    if (H == 1) {
        check_close("values are the annotations", x->values, x->annotations, (size_t)Tx * Dv, 0, 0);
        check_close("context is the head's", x->context, x->head_context, (size_t)Dv, 0, 0);
    }
    for (int h = 0; h < H; h++) {
        double norm = 0.0, sum = 0.0;
        for (int k = 0; k < Dv; k++) norm += (double)x->head_context[(size_t)h * Dv + k] * x->head_context[(size_t)h * Dv + k];
        float got = 0.0f;
        for (int j = 0; j < Tx; j++) sum += x->contributions[(size_t)h * Tx + j];
        got = (float)sum;
        norm = sqrt(norm);
        close_d("contributions sum to ‖c‖", &got, &norm, 1);
    }
    free(c);
}

/* ----------------------------------------------------------- the cell */

/* r, z, s̃, s_t and the logits of the seed's eqs., from y, s_{t-1}, c. */
static void check_seed_cell(const at_seq2seq *m, const at_step_explanation *x) {
    int S = x->state_size, Y = x->input_size, K = x->annotation_size, V = x->vocab_size;
    const char *gate[3] = {"r", "z", "p"};
    double *pre[3];
    for (int g = 0; g < 3; g++) {
        char name[32];
        pre[g] = malloc((size_t)S * sizeof(double));
        snprintf(name, sizeof name, "decoder.b_%s", gate[g]);
        set_bias(pre[g], param(m, name), 0, S);
        snprintf(name, sizeof name, "decoder.W_%s", gate[g]);
        add_matvec(pre[g], param(m, name), 0, x->input, Y);
        snprintf(name, sizeof name, "decoder.C_%s", gate[g]);
        add_matvec(pre[g], param(m, name), 0, x->context, K);
    }
    add_matvec(pre[0], param(m, "decoder.U_r"), 0, x->state_prev, S);
    add_matvec(pre[1], param(m, "decoder.U_z"), 0, x->state_prev, S);
    float *rs = malloc((size_t)S * sizeof(float));
    double *r = malloc((size_t)S * sizeof(double)), *z = malloc((size_t)S * sizeof(double));
    double *cand = malloc((size_t)S * sizeof(double)), *s = malloc((size_t)S * sizeof(double));
    for (int i = 0; i < S; i++) {
        r[i] = sigmoid(pre[0][i]), z[i] = sigmoid(pre[1][i]);
        rs[i] = x->reset[i] * x->state_prev[i]; // r ∘ s_{t-1}, from the returned r
    }
    add_matvec(pre[2], param(m, "decoder.U_p"), 0, rs, S);
    for (int i = 0; i < S; i++) {
        cand[i] = tanh(pre[2][i]);
        s[i] = (1.0 - x->update[i]) * x->state_prev[i] + (double)x->update[i] * x->proposal[i];
    }
    close_d("seed: r = σ(W_r y + U_r s + C_r c + b_r)", x->reset, r, (size_t)S);
    close_d("seed: z = σ(W_z y + U_z s + C_z c + b_z)", x->update, z, (size_t)S);
    close_d("seed: s̃ = tanh(W_p y + U_p (r∘s) + C_p c + b_p)", x->proposal, cand, (size_t)S);
    close_d("seed: s_t = (1 − z)∘s + z∘s̃", x->state, s, (size_t)S);
    double *logits = malloc((size_t)V * sizeof(double));
    const at_seq2seq_config *c = at_seq2seq_get_config(m);
    set_bias(logits, param(m, "decoder.b_o"), 0, V);
    add_matvec(logits, param(m, "decoder.W_o"), 0, x->input, Y);
    add_matvec(logits, param(m, "decoder.U_o"), 0,
               c->seed_output_from_previous_state ? x->state_prev : x->state, S);
    add_matvec(logits, param(m, "decoder.C_o"), 0, x->context, K);
    close_d("seed: logits = W_o y + U_o s + C_o c + b_o", x->logits, logits, (size_t)V);
    for (int g = 0; g < 3; g++) free(pre[g]);
    free(rs), free(r), free(z), free(cand), free(s), free(logits);
}

/* luong: h_t = GRU(x_t, h_{t-1}) (PyTorch's r, z, n), h̃_t, logits. */
static void check_luong_cell(const at_seq2seq *m, const at_step_explanation *x) {
    int S = x->state_size, I = x->input_size, K = x->annotation_size, V = x->vocab_size;
    if (at_seq2seq_get_config(m)->cell == AT_CELL_GRU) {
        double *gi = malloc((size_t)3 * S * sizeof(double)), *gh = malloc((size_t)3 * S * sizeof(double));
        double *h = malloc((size_t)S * sizeof(double));
        set_bias(gi, param(m, "decoder.cell.bias_ih_l0"), 0, 3 * S);
        add_matvec(gi, param(m, "decoder.cell.weight_ih_l0"), 0, x->input, I);
        set_bias(gh, param(m, "decoder.cell.bias_hh_l0"), 0, 3 * S);
        add_matvec(gh, param(m, "decoder.cell.weight_hh_l0"), 0, x->state_prev, S);
        for (int i = 0; i < S; i++) {
            double r = sigmoid(gi[i] + gh[i]), z = sigmoid(gi[S + i] + gh[S + i]);
            double n = tanh(gi[2 * S + i] + r * gh[2 * S + i]);
            h[i] = (1.0 - z) * n + z * x->state_prev[i];
        }
        close_d("luong: h_t = GRU(x_t, h_{t-1})", x->state, h, (size_t)S);
        free(gi), free(gh), free(h);
    }
    double *ht = calloc((size_t)S, sizeof(double)), *logits = malloc((size_t)V * sizeof(double));
    const at_tensor *W_c = param(m, "decoder.W_c.weight"); // (S, 2N + S) on [c_t; h_t]
    add_matvec(ht, W_c, 0, x->context, K);
    add_matvec(ht, W_c, K, x->state, S);
    for (int i = 0; i < S; i++) ht[i] = tanh(ht[i]);
    close_d("luong: h̃_t = tanh(W_c [c_t; h_t])", x->attentional, ht, (size_t)S);
    set_bias(logits, param(m, "decoder.W_s.bias"), 0, V);
    add_matvec(logits, param(m, "decoder.W_s.weight"), 0, x->attentional, S);
    close_d("luong: logits = W_s h̃_t + b_s", x->logits, logits, (size_t)V);
    free(ht), free(logits);
}

/* The input: embed(y_{t-1}) (teacher forcing), the previous softmax
 * (seed without), and luong's h̃_{t-1}; the state where K - 1 left it. */
static void check_input(const at_seq2seq *m, const at_step_explanation *x,
                        const at_step_explanation *before) {
    const at_seq2seq_config *c = at_seq2seq_get_config(m);
    int S = x->state_size;
    if (c->decoder == AT_DECODER_LUONG || c->seed_teacher_forcing) {
        const at_tensor *emb = param(m, "target_embed.weight");
        int E = emb->shape[1];
        check_close("input: embed(y_{t-1})", x->input, emb->data + (size_t)x->previous.id * E,
                    (size_t)E, 0, 0);
    } else if (before) {
        check_close("input: the previous softmax", x->input, before->probabilities,
                    (size_t)x->vocab_size, 0, 0);
    }
    if (!before) return;
    check_close("s_{t-1} is the previous step's s_t", x->state_prev, before->state, (size_t)S, 0, 0);
    if (c->decoder == AT_DECODER_LUONG)
        check_close("input: h̃_{t-1}", x->input + c->embed_size, before->attentional, (size_t)S,
                    0, 0);
}

/* --------------------------------------------------------------- runs */

static void check_step(const at_seq2seq *m, const at_translation *tr, char **out_units,
                       const at_step_explanation *x, const at_step_explanation *before) {
    int H = x->heads, Tx = x->source_len, K = x->step;
    CHECK(x->source_len == tr->source_len && x->target_len == tr->target_len &&
              strcmp(x->output, tr->text) == 0,
          "explain's translation '%s' (%d, %d) is not translate's '%s' (%d, %d)", x->output,
          x->source_len, x->target_len, tr->text, tr->source_len, tr->target_len);
    if (K < tr->target_len) {
        for (int h = 0; h < H; h++)
            check_close("α = row K of translate's weights", x->weights + (size_t)h * Tx,
                        tr->weights + ((size_t)h * tr->target_len + K) * Tx, (size_t)Tx, 1e-6, 0);
        CHECK(strcmp(x->chosen.unit, out_units[K]) == 0, "step %d chose '%s', the output has '%s'",
              K, x->chosen.unit, out_units[K]);
    } else {
        CHECK(x->chosen.id == AT_TOKEN_END, "step %d = Ty chose '%s', not END", K, x->chosen.unit);
    }
    CHECK(K > 0 ? strcmp(x->previous.unit, out_units[K - 1]) == 0
                : x->previous.id == AT_TOKEN_START,
          "step %d was fed '%s'", K, x->previous.unit);
    CHECK(x->top[0].id == x->chosen.id, "top-1 '%s' is not the choice '%s'", x->top[0].unit,
          x->chosen.unit);
    for (int k = 1; k < x->top_count; k++)
        CHECK(x->top[k].probability <= x->top[k - 1].probability, "top %d is not sorted", k);
    double *p = malloc((size_t)x->vocab_size * sizeof(double));
    softmax_kept(x->logits, NULL, x->vocab_size, p);
    close_d("probabilities = softmax(logits)", x->probabilities, p, (size_t)x->vocab_size);
    free(p);
    check_context(x);
    check_weights_from_scores(m, x);
    check_scores_from_parameters(m, x);
    check_input(m, x, before);
    if (x->decoder == AT_DECODER_SEED)
        check_seed_cell(m, x);
    else
        check_luong_cell(m, x);
}

/* Every step of the translation of every source; then bad input. */
static void run_kind(const char *name, at_decoder_kind decoder, at_attention_kind attention,
                     at_cell_kind cell, int teacher) {
    at_ctx *ctx = test_new_ctx();
    at_seq2seq *m = tiny_model(ctx, decoder, attention, cell, teacher);
    int before_failures = test_failures;
    for (int i = 0; i < PAIRS; i++) {
        at_translation tr;
        CHECK_OK(ctx, at_seq2seq_translate(ctx, m, sources[i], &tr));
        char **units = NULL;
        int n = 0;
        CHECK_OK(ctx, at_vocab_split(ctx, at_seq2seq_target_vocab(m), tr.text, &units, &n));
        int ended = tr.target_len < at_seq2seq_get_config(m)->max_target_len;
        at_step_explanation x[2] = {{0}, {0}};
        for (int K = 0; K <= (ended ? tr.target_len : tr.target_len - 1); K++) {
            at_step_explanation *now = &x[K % 2], *prev = K ? &x[(K + 1) % 2] : NULL;
            at_step_explanation_clear(now);
            at_status s = at_seq2seq_explain_step(ctx, m, sources[i], K, now);
            CHECK(s == AT_OK, "%s: explain '%s' step %d: %s", name, sources[i], K, at_ctx_error(ctx));
            if (s == AT_OK) check_step(m, &tr, units, now, prev);
        }
        at_step_explanation_clear(&x[0]);
        at_step_explanation_clear(&x[1]);
        free(units);
        at_translation_clear(&tr);
    }
    if (test_failures != before_failures) fprintf(stderr, "  (in %s)\n", name);

    at_step_explanation x;
    at_translation tr;
    CHECK_OK(ctx, at_seq2seq_translate(ctx, m, "cab", &tr));
    int ended = tr.target_len < at_seq2seq_get_config(m)->max_target_len;
    int bad_steps[2] = {-1, ended ? tr.target_len + 1 : tr.target_len};
    for (int k = 0; k < 2; k++) {
        CHECK_STATUS(ctx, at_seq2seq_explain_step(ctx, m, "cab", bad_steps[k], &x), AT_ERR_ARGUMENT);
        CHECK(strstr(at_ctx_error(ctx), "step") && strstr(at_ctx_error(ctx), "out of range"),
              "%s: step %d: '%s' does not name the step", name, bad_steps[k], at_ctx_error(ctx));
        CHECK(x.scores == NULL && x.output == NULL, "a refused step left numbers behind");
    }
    CHECK_STATUS(ctx, at_seq2seq_explain_step(ctx, m, "", 0, &x), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "empty") != NULL, "empty text: '%s'", at_ctx_error(ctx));
    CHECK_STATUS(ctx, at_seq2seq_explain_step(ctx, m, "ab\xff", 0, &x), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "UTF-8") != NULL, "invalid UTF-8: '%s'", at_ctx_error(ctx));
    at_translation_clear(&tr);
    at_seq2seq_free(m);
    at_ctx_free(ctx);
}

static void seed_teacher(void) { run_kind("seed", AT_DECODER_SEED, AT_ATTENTION_ADDITIVE, AT_CELL_GRU, 1); }
static void seed_own_softmax(void) {
    run_kind("seed fed its softmax", AT_DECODER_SEED, AT_ATTENTION_ADDITIVE, AT_CELL_GRU, 0);
}
static void luong_additive(void) {
    run_kind("luong additive", AT_DECODER_LUONG, AT_ATTENTION_ADDITIVE, AT_CELL_GRU, 1);
}
static void luong_general(void) {
    run_kind("luong general", AT_DECODER_LUONG, AT_ATTENTION_GENERAL, AT_CELL_GRU, 1);
}
static void luong_multi_head(void) {
    run_kind("luong multi-head", AT_DECODER_LUONG, AT_ATTENTION_MULTI_HEAD, AT_CELL_GRU, 1);
}
static void luong_local_p(void) {
    run_kind("luong local-p", AT_DECODER_LUONG, AT_ATTENTION_LOCAL_P, AT_CELL_GRU, 1);
}
/* The other families: α, context, h̃_t, logits and the choice. */
static void luong_other_families(void) {
    const at_attention_kind kinds[] = {AT_ATTENTION_DOT,       AT_ATTENTION_CONCAT,
                                       AT_ATTENTION_LOCATION,  AT_ATTENTION_LOCAL_M,
                                       AT_ATTENTION_MONOTONIC, AT_ATTENTION_FORWARD,
                                       AT_ATTENTION_MULTIPLICATIVE};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        run_kind(at_attention_kind_name(kinds[k]), AT_DECODER_LUONG, kinds[k], AT_CELL_GRU, 1);
    run_kind("luong additive LSTM", AT_DECODER_LUONG, AT_ATTENTION_ADDITIVE, AT_CELL_LSTM, 1);
}

int main(int argc, char **argv) {
    static const test_case cases[] = {
        {"seed", seed_teacher, 0},
        {"seed_own_softmax", seed_own_softmax, 0},
        {"luong_additive", luong_additive, 0},
        {"luong_general", luong_general, 0},
        {"luong_multi_head", luong_multi_head, 0},
        {"luong_local_p", luong_local_p, 0},
        {"luong_other_families", luong_other_families, 0},
    };
    return test_run_cases(argc, argv, cases, sizeof cases / sizeof cases[0], "explain");
}
