/*
 * explain_json.c - one decoder step's explanation (at_seq2seq_explain_step)
 * as words and JSON, shared by `attend explain` (cli/explain.c: the
 * terminal and --json) and the lab's POST /api/explain (cli/serve_api.c),
 * so the command and the page show the same equations and the same
 * numbers. Every equation's text is written here once (explain_equations):
 * the terminal prints them and the JSON carries them for the page. The
 * JSON's shape is written in docs/explain.md.
 */
#include "explain_json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ equations */

/* The score's equation of x's family, as docs/mechanisms writes it. */
static const char *explain_score_equation(const at_step_explanation *x) {
    if (x->decoder == AT_DECODER_SEED) return "e_j = v_aᵀ tanh(W_a s_{t−1} + U_a h_j + b_a)";
    switch (x->attention) {
    case AT_ATTENTION_ADDITIVE: return "e_j = v_aᵀ tanh(W_a h_t + U_a h_j + b_a)";
    case AT_ATTENTION_DOT: return "e_j = h_tᵀ h_j";
    case AT_ATTENTION_GENERAL: return "e_j = h_tᵀ W_a h_j";
    case AT_ATTENTION_CONCAT: return "e_j = v_aᵀ tanh(W_a [h_t; h_j])";
    case AT_ATTENTION_LOCATION: return "e = W_a h_t (one score per position j)";
    case AT_ATTENTION_LOCAL_M: return "p_t = t;  e_j = h_tᵀ W_a h_j";
    case AT_ATTENTION_LOCAL_P: return "p_t = S σ(v_pᵀ tanh(W_p h_t));  e_j = h_tᵀ W_a h_j";
    case AT_ATTENTION_MONOTONIC: return "e_j = g v̂ᵀ tanh(W_a h_t + U_a h_j + b_a) + r;  p_j = σ(e_j)";
    case AT_ATTENTION_FORWARD: return "e_j = v_aᵀ tanh(W_a h_t + U_a h_j + b_a);  y_t = softmax(e)";
    case AT_ATTENTION_MULTIPLICATIVE: return "e_j = h_tᵀ h_j / √(2N)";
    case AT_ATTENTION_MULTI_HEAD: return "e_hj = (W_Q h_t + b_Q)_hᵀ (W_K h_j + b_K)_h / √(E/H)";
    default: return "?";
    }
}

static const char *explain_weight_equation(const at_step_explanation *x) {
    if (x->decoder == AT_DECODER_SEED) return "α_j = softmax_j(e_j)";
    switch (x->attention) {
    case AT_ATTENTION_LOCAL_M: return "α_j = softmax of e over the window |j − p_t| <= D";
    case AT_ATTENTION_LOCAL_P:
        return "α_j = softmax of e over the window |j − p_t| <= D, times exp(−(j − p_t)²/(2σ²)), "
               "σ = D/2";
    case AT_ATTENTION_MONOTONIC:
        return "α = one-hot at the first j >= the previous position with p_j >= 0.5 (decoding is "
               "hard)";
    case AT_ATTENTION_FORWARD:
        return "α̂_t(j) = (α̂_{t−1}(j) + α̂_{t−1}(j−1)) y_t(j), renormalised";
    case AT_ATTENTION_MULTI_HEAD: return "α_hj = softmax_j(e_hj), one distribution per head";
    default: return "α_j = softmax_j(e_j)";
    }
}

/* ---------------------------------------------------------------- JSON */

/* A float32 as the shortest text that reads back the same (%.9g); a
 * non-finite number (a hidden key's -inf score) as null. */
static json_object *number(float v) {
    if (!isfinite(v)) return NULL;
    char text[32];
    snprintf(text, sizeof text, "%.9g", (double)v);
    return json_object_new_double_s((double)v, text);
}

static json_object *vector(const float *v, int n) {
    json_object *a = json_object_new_array_ext(n);
    for (int i = 0; i < n; i++) json_object_array_add(a, number(v[i]));
    return a;
}

static json_object *matrix(const float *v, int rows, int cols) {
    json_object *a = json_object_new_array_ext(rows);
    for (int r = 0; r < rows; r++) json_object_array_add(a, vector(v + (size_t)r * cols, cols));
    return a;
}

static json_object *choice(const at_explain_choice *c, int with_probability) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_int(c->id));
    json_object_object_add(o, "unit", json_object_new_string(c->unit));
    if (with_probability) json_object_object_add(o, "probability", number(c->probability));
    return o;
}

static void add_vector(json_object *o, const char *key, const float *v, int n) {
    if (v) json_object_object_add(o, key, vector(v, n));
}

static json_object *model_json(const at_step_explanation *x) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "decoder",
                           json_object_new_string(x->decoder == AT_DECODER_SEED ? "seed" : "luong"));
    json_object_object_add(o, "attention",
                           json_object_new_string(at_attention_kind_name(x->attention)));
    json_object_object_add(o, "cell",
                           x->decoder == AT_DECODER_SEED
                               ? NULL
                               : json_object_new_string(x->cell == AT_CELL_LSTM ? "lstm" : "gru"));
    const struct { const char *key; int value; } sizes[] = {
        {"heads", x->heads},           {"annotation_size", x->annotation_size},
        {"value_size", x->value_size}, {"state_size", x->state_size},
        {"input_size", x->input_size}, {"vocab_size", x->vocab_size}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        json_object_object_add(o, sizes[i].key, json_object_new_int(sizes[i].value));
    return o;
}

/* local's, monotonic's and forward's own numbers, or NULL. */
static json_object *family_json(const at_step_explanation *x) {
    json_object *o = json_object_new_object();
    int Tx = x->source_len;
    if (x->window) {
        int lo = -1, hi = -1;
        for (int j = 0; j < Tx; j++)
            if (x->window[j] > 0.0f) hi = j, lo = lo < 0 ? j : lo;
        json_object_object_add(o, "p_t", number(x->position));
        json_object *w = json_object_new_array();
        json_object_array_add(w, json_object_new_int(lo));
        json_object_array_add(w, json_object_new_int(hi));
        json_object_object_add(o, "window", lo < 0 ? NULL : w);
        if (lo < 0) json_object_put(w);
        add_vector(o, "in_window", x->window, Tx);
        add_vector(o, "align", x->align, Tx);
    } else if (x->p_choose) {
        json_object_object_add(o, "previous_position", json_object_new_int((int)x->previous_position));
        json_object_object_add(o, "position", json_object_new_int((int)x->position));
        add_vector(o, "p_choose", x->p_choose, Tx);
    } else if (x->prior) {
        add_vector(o, "prior", x->prior, Tx);
        add_vector(o, "base", x->base, Tx);
    } else {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* Every equation of x's step, in the order a reader follows them. */
int explain_equations(const at_step_explanation *x, explain_equation out[EXPLAIN_MAX_EQUATIONS]) {
    int n = 0;
    if (x->decoder == AT_DECODER_LUONG)
        out[n++] = (explain_equation){"state", x->cell == AT_CELL_LSTM
                                                   ? "x_t = [embed(y_{t−1}); h̃_{t−1}]    h_t = LSTM(x_t, h_{t−1})"
                                                   : "x_t = [embed(y_{t−1}); h̃_{t−1}]    h_t = GRU(x_t, h_{t−1})"};
    out[n++] = (explain_equation){"score", explain_score_equation(x)};
    out[n++] = (explain_equation){"weights", explain_weight_equation(x)};
    out[n++] = (explain_equation){"contribution", "contribution_j = (α_j v_j)·c/‖c‖: input j's "
                                                  "share of the context along c; they sum to ‖c‖"};
    out[n++] = (explain_equation){"context", x->heads > 1 ? "c_h = Σ_j α_hj V_h h_j  (each head)    "
                                                            "c_t = W_O [c_1 … c_H] + b_O"
                                                          : "c_t = Σ_j α_j h_j"};
    if (x->decoder == AT_DECODER_SEED) {
        out[n++] = (explain_equation){"reset", "r_t = σ(W_r y_{t−1} + U_r s_{t−1} + C_r c_t + b_r)"
                                               "      reset gate"};
        out[n++] = (explain_equation){"update", "z_t = σ(W_z y_{t−1} + U_z s_{t−1} + C_z c_t + b_z)"
                                                "      update gate"};
        out[n++] = (explain_equation){"proposal", "s̃_t = tanh(W_p y_{t−1} + U_p (r_t ∘ s_{t−1}) + "
                                                  "C_p c_t + b_p)      proposal"};
        out[n++] = (explain_equation){"next_state", "s_t = (1 − z_t) ∘ s_{t−1} + z_t ∘ s̃_t"};
        out[n++] = (explain_equation){"output", "logits_t = W_o y_{t−1} + U_o s_t + C_o c_t + b_o,"
                                                "    p = softmax(logits_t)"};
    } else {
        out[n++] = (explain_equation){"attentional", "h̃_t = tanh(W_c [c_t; h_t])"};
        out[n++] = (explain_equation){"output", "logits_t = W_s h̃_t + b_s,    p = softmax(logits_t)"};
    }
    return n;
}

/* The equation called name among x's, or "" (never for a name above). */
const char *explain_equation_text(const at_step_explanation *x, const char *name) {
    explain_equation all[EXPLAIN_MAX_EQUATIONS];
    int n = explain_equations(x, all);
    for (int i = 0; i < n; i++)
        if (!strcmp(all[i].name, name)) return all[i].text;
    return "";
}

json_object *explain_json(const char *text, const at_step_explanation *x) {
    int H = x->heads, Tx = x->source_len, S = x->state_size;
    json_object *o = json_object_new_object();
    if (!o) return NULL;
    json_object_object_add(o, "text", json_object_new_string(text));
    json_object_object_add(o, "output", json_object_new_string(x->output));
    json_object_object_add(o, "step", json_object_new_int(x->step));
    json_object_object_add(o, "target_len", json_object_new_int(x->target_len));
    json_object *units = json_object_new_array_ext(Tx);
    for (int j = 0; j < Tx; j++) json_object_array_add(units, json_object_new_string(x->source_units[j]));
    json_object_object_add(o, "source", units);
    json_object_object_add(o, "model", model_json(x));
    json_object *equations = json_object_new_object();
    explain_equation all[EXPLAIN_MAX_EQUATIONS];
    int n = explain_equations(x, all);
    for (int i = 0; equations && i < n; i++)
        json_object_object_add(equations, all[i].name, json_object_new_string(all[i].text));
    json_object_object_add(o, "equations", equations);
    json_object_object_add(o, "previous", choice(&x->previous, 0));
    json_object_object_add(o, "chosen", choice(&x->chosen, 1));
    json_object *top = json_object_new_array_ext(x->top_count);
    for (int k = 0; k < x->top_count; k++) json_object_array_add(top, choice(&x->top[k], 1));
    json_object_object_add(o, "top", top);
    json_object_object_add(o, "scores", matrix(x->scores, H, Tx));
    json_object_object_add(o, "weights", matrix(x->weights, H, Tx));
    json_object_object_add(o, "contributions", matrix(x->contributions, H, Tx));
    json_object_object_add(o, "context", vector(x->context, x->annotation_size));
    json_object_object_add(o, "head_context", matrix(x->head_context, H, x->value_size));
    json_object_object_add(o, "annotations", matrix(x->annotations, Tx, x->annotation_size));
    json_object *values = json_object_new_array_ext(H);
    for (int h = 0; h < H; h++)
        json_object_array_add(values, matrix(x->values + (size_t)h * Tx * x->value_size, Tx,
                                             x->value_size));
    json_object_object_add(o, "values", values);
    add_vector(o, "input", x->input, x->input_size);
    add_vector(o, "state_prev", x->state_prev, S);
    add_vector(o, "state", x->state, S);
    add_vector(o, "reset", x->reset, S);
    add_vector(o, "update", x->update, S);
    add_vector(o, "proposal", x->proposal, S);
    add_vector(o, "attentional", x->attentional, S);
    add_vector(o, "memory_prev", x->memory_prev, S);
    add_vector(o, "memory", x->memory, S);
    add_vector(o, "logits", x->logits, x->vocab_size);
    add_vector(o, "probabilities", x->probabilities, x->vocab_size);
    json_object *family = family_json(x);
    if (family) json_object_object_add(o, "family", family);
    return o;
}

