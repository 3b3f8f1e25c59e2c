/*
 * explain.c - "explain one step": every number of the decoder step that
 * wrote output unit K, so the equations of docs/explain.md can be read with
 * the values the model really used.
 *
 * The idea: do not write a second decoder. The text is decoded greedily
 * by the model's own step (decoders.c), exactly as greedy decoding does,
 * up to step K. For step K alone a recorder (core/trace.c) is attached to
 * the context; the fused ops of that step copy what they compute and never
 * hand back (scores, the seed's gates, local attention's p_t and window,
 * each head's context) under a name. What the step does hand back (the
 * state, the weights, the logits) and what the encoder made (h_j, the
 * heads' values) are read directly. Everything is copied out in float32
 * with the shapes of attend/models.h, so the caller can check each
 * equation against the model's parameters (tests/test_explain.c does).
 *
 * Two numbers are derived here, not recorded, and say so in the header:
 *   probabilities = softmax(logits)   (max-subtracted)
 *   contributions_hj = (α_hj v_hj) · c_h / ‖c_h‖, whose sum over j is ‖c_h‖
 */
#include "models.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the run */

/* The greedy decoding of one string up to step K, K recorded. */
typedef struct step_run {
    enc_out enc;
    dec_state state;
    at_tensor *s_prev, *c_prev, *alpha_prev; /* the state step K started from */
    int position_prev;                       /* monotonic: where its scan starts */
    int32_t prev_id;                         /* y_{K-1}                         */
    at_tensor *logits, *weights;             /* step K's (1, Vt), (1, [H,] Tx)   */
    ati_trace trace;                         /* step K's insides                 */
} step_run;

/* Step t with the recorder attached; detached again whatever happens. */
static at_status recorded_step(at_ctx *ctx, const at_seq2seq *m, step_run *r, int t) {
    ati_trace *before = ati_trace_attach(ctx, &r->trace);
    at_status s = s2s_decoder_step(ctx, m, &r->enc, &r->state, &r->prev_id, t, &r->logits,
                                   &r->weights);
    ati_trace_attach(ctx, before);
    return s;
}

/* Steps 0 .. K-1 as greedy decoding takes them (each fed its argmax),
 * then step K recorded. */
static at_status run_to_step(at_ctx *ctx, const at_seq2seq *m, const at_seq2seq_batch *b, int K,
                             step_run *r) {
    AT_TRY(s2s_encode(ctx, m, b, &r->enc, &r->state));
    r->state.hard = 1; // decoding: monotonic attention goes hard, as in greedy.c
    AT_TRY(ati_scratch_zero(ctx, (void **)&r->state.positions, sizeof(int32_t)));
    r->prev_id = AT_TOKEN_START;
    for (int t = 0; t < K; t++) {
        at_tensor *logits, *w;
        AT_TRY(s2s_decoder_step(ctx, m, &r->enc, &r->state, &r->prev_id, t, &logits, &w));
        r->prev_id = s2s_argmax(logits->data, m->target_vocab_size);
    }
    r->s_prev = r->state.s, r->c_prev = r->state.c, r->alpha_prev = r->state.alpha;
    r->position_prev = r->state.positions[0];
    return recorded_step(ctx, m, r, K);
}

/* ---------------------------------------------------------- copying out */

static at_status copy_floats(at_ctx *ctx, float **dst, const float *src, size_t n) {
    *dst = malloc((n ? n : 1) * sizeof(float));
    if (!*dst) return at_ctx_fail(ctx, AT_ERR_MEMORY, "explain: out of memory");
    memcpy(*dst, src, n * sizeof(float));
    return AT_OK;
}

/* The recorded entry `name`, which must hold n numbers. */
static at_status copy_recorded(at_ctx *ctx, const ati_trace *trace, const char *name, size_t n,
                               float **dst) {
    const ati_trace_entry *e = ati_trace_get(trace, name);
    if (!e) return at_ctx_fail(ctx, AT_ERR_STATE, "explain: the step recorded no '%s'", name);
    if (e->size != n)
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "explain: '%s' holds %zu numbers, expected %zu",
                           name, e->size, n);
    return copy_floats(ctx, dst, e->data, n);
}

/* A target id as text: its unit, or <END>, <START>, <PAD>. */
static at_status choice_of(at_ctx *ctx, const at_vocab *vocab, int32_t id, float p,
                           at_explain_choice *out) {
    static const char *const special[] = {"<PAD>", "<UNK>", "<START>", "<END>"};
    out->id = id, out->probability = p;
    if (id == AT_TOKEN_PAD || id == AT_TOKEN_START || id == AT_TOKEN_END) {
        strcpy(out->unit, special[id]);
        return AT_OK;
    }
    return at_vocab_decode(ctx, vocab, &id, 1, out->unit, sizeof out->unit);
}

/* The AT_EXPLAIN_TOP most probable ids, most probable first (ties: the
 * lower id, as the argmax). */
static at_status top_choices(at_ctx *ctx, const at_seq2seq *m, at_step_explanation *x) {
    int V = x->vocab_size;
    x->top_count = V < AT_EXPLAIN_TOP ? V : AT_EXPLAIN_TOP;
    int taken[AT_EXPLAIN_TOP];
    for (int k = 0; k < x->top_count; k++) {
        int best = -1;
        for (int v = 0; v < V; v++) {
            int used = 0;
            for (int i = 0; i < k; i++) used |= taken[i] == v;
            if (!used && (best < 0 || x->probabilities[v] > x->probabilities[best])) best = v;
        }
        taken[k] = best;
        AT_TRY(choice_of(ctx, m->target_vocab, best, x->probabilities[best], &x->top[k]));
    }
    return AT_OK;
}

/* contributions (H, Tx): (α_hj v_hj) · c_h / ‖c_h‖, 0 when c_h = 0. */
static at_status contributions_of(at_ctx *ctx, at_step_explanation *x) {
    int H = x->heads, Tx = x->source_len, Dv = x->value_size;
    x->contributions = calloc((size_t)H * Tx, sizeof(float));
    if (!x->contributions) return at_ctx_fail(ctx, AT_ERR_MEMORY, "explain: out of memory");
    for (int h = 0; h < H; h++) {
        const float *c = x->head_context + (size_t)h * Dv;
        double norm = 0.0;
        for (int k = 0; k < Dv; k++) norm += (double)c[k] * c[k];
        if (norm == 0.0) continue;
        norm = sqrt(norm);
        for (int j = 0; j < Tx; j++) {
            const float *v = x->values + ((size_t)h * Tx + j) * Dv;
            double along = 0.0;
            for (int k = 0; k < Dv; k++) along += (double)v[k] * c[k];
            x->contributions[(size_t)h * Tx + j] =
                (float)(x->weights[(size_t)h * Tx + j] * along / norm);
        }
    }
    return AT_OK;
}

/* The attention's numbers, every family. */
static at_status fill_attention(at_ctx *ctx, const at_seq2seq *m, const step_run *r,
                                at_step_explanation *x) {
    size_t H = (size_t)x->heads, Tx = (size_t)x->source_len;
    int multi = m->config.decoder == AT_DECODER_LUONG &&
                m->config.attention == AT_ATTENTION_MULTI_HEAD;
    AT_TRY(copy_floats(ctx, &x->annotations, r->enc.annotations->data, Tx * x->annotation_size));
    AT_TRY(copy_recorded(ctx, &r->trace, "scores", H * Tx, &x->scores));
    AT_TRY(copy_floats(ctx, &x->weights, r->weights->data, H * Tx));
    AT_TRY(copy_recorded(ctx, &r->trace, "context", (size_t)x->annotation_size, &x->context));
    if (multi) {
        AT_TRY(copy_floats(ctx, &x->values, r->enc.v_heads->data, H * Tx * x->value_size));
        AT_TRY(copy_recorded(ctx, &r->trace, "head_context", H * x->value_size, &x->head_context));
    } else {
        AT_TRY(copy_floats(ctx, &x->values, x->annotations, Tx * x->value_size));
        AT_TRY(copy_floats(ctx, &x->head_context, x->context, (size_t)x->value_size));
    }
    return contributions_of(ctx, x);
}

/* What only some families compute: local's p_t and window, monotonic's
 * scan, forward's prior and base. */
static at_status fill_family(at_ctx *ctx, const at_seq2seq *m, const step_run *r,
                             at_step_explanation *x) {
    size_t Tx = (size_t)x->source_len;
    if (m->config.decoder != AT_DECODER_LUONG) return AT_OK;
    switch (m->config.attention) {
    case AT_ATTENTION_LOCAL_M:
    case AT_ATTENTION_LOCAL_P:
        x->position = ati_trace_get(&r->trace, "p_t") ? ati_trace_get(&r->trace, "p_t")->data[0]
                                                       : 0.0f;
        AT_TRY(copy_recorded(ctx, &r->trace, "window", Tx, &x->window));
        return copy_recorded(ctx, &r->trace, "align", Tx, &x->align);
    case AT_ATTENTION_MONOTONIC:
        x->previous_position = (float)r->position_prev;
        x->position = -1.0f; // no stop: α = 0, c = 0, the position is kept
        for (size_t j = 0; j < Tx; j++)
            if (x->weights[j] > 0.0f) x->position = (float)j;
        return copy_recorded(ctx, &r->trace, "p_choose", Tx, &x->p_choose);
    case AT_ATTENTION_FORWARD:
        if (r->alpha_prev) {
            AT_TRY(copy_floats(ctx, &x->prior, r->alpha_prev->data, Tx));
        } else { // α̂_0: δ at the first position
            x->prior = calloc(Tx, sizeof(float));
            if (!x->prior) return at_ctx_fail(ctx, AT_ERR_MEMORY, "explain: out of memory");
            x->prior[0] = 1.0f;
        }
        return copy_recorded(ctx, &r->trace, "base", Tx, &x->base);
    default:
        return AT_OK;
    }
}

/* The cell's numbers and the readout. */
static at_status fill_cell(at_ctx *ctx, const at_seq2seq *m, const step_run *r,
                           at_step_explanation *x) {
    size_t S = (size_t)x->state_size, V = (size_t)x->vocab_size;
    AT_TRY(copy_recorded(ctx, &r->trace, "input", (size_t)x->input_size, &x->input));
    AT_TRY(copy_floats(ctx, &x->state_prev, r->s_prev->data, S));
    AT_TRY(copy_floats(ctx, &x->state, r->state.s->data, S));
    if (m->config.decoder == AT_DECODER_SEED) {
        AT_TRY(copy_recorded(ctx, &r->trace, "reset", S, &x->reset));
        AT_TRY(copy_recorded(ctx, &r->trace, "update", S, &x->update));
        AT_TRY(copy_recorded(ctx, &r->trace, "proposal", S, &x->proposal));
    } else {
        AT_TRY(copy_recorded(ctx, &r->trace, "attentional", S, &x->attentional));
        if (m->config.cell == AT_CELL_LSTM) {
            AT_TRY(copy_floats(ctx, &x->memory_prev, r->c_prev->data, S));
            AT_TRY(copy_floats(ctx, &x->memory, r->state.c->data, S));
        }
    }
    AT_TRY(copy_floats(ctx, &x->logits, r->logits->data, V));
    x->probabilities = malloc(V * sizeof(float));
    if (!x->probabilities) return at_ctx_fail(ctx, AT_ERR_MEMORY, "explain: out of memory");
    ati_softmax_row(x->probabilities, x->logits, NULL, (int)V);
    return top_choices(ctx, m, x);
}

/* The sizes of the model, and the step's ids. */
static at_status fill_header(at_ctx *ctx, const at_seq2seq *m, const step_run *r,
                             at_step_explanation *x) {
    const at_seq2seq_config *c = &m->config;
    x->decoder = c->decoder;
    x->attention = c->decoder == AT_DECODER_SEED ? AT_ATTENTION_ADDITIVE : c->attention;
    x->cell = c->cell;
    x->heads = at_seq2seq_heads(m);
    x->annotation_size = 2 * c->encoder_size;
    x->value_size = x->annotation_size / x->heads;
    x->state_size = c->decoder_size;
    x->vocab_size = m->target_vocab_size;
    if (c->decoder == AT_DECODER_SEED)
        x->input_size = c->seed_teacher_forcing ? c->embed_size : m->target_vocab_size;
    else
        x->input_size = c->embed_size + c->decoder_size;
    int32_t chosen = s2s_argmax(r->logits->data, x->vocab_size);
    AT_TRY(choice_of(ctx, m->target_vocab, r->prev_id, 0.0f, &x->previous));
    return choice_of(ctx, m->target_vocab, chosen, 0.0f, &x->chosen); // its p: fill_cell
}

/* ----------------------------------------------------------------- call */

void at_step_explanation_clear(at_step_explanation *x) {
    if (!x) return;
    float *arrays[] = {x->annotations, x->scores,   x->weights,       x->values,
                       x->head_context, x->contributions, x->context, x->input,
                       x->state_prev,  x->state,    x->logits,        x->probabilities,
                       x->reset,       x->update,   x->proposal,      x->attentional,
                       x->memory_prev,   x->memory,   x->window,        x->align,
                       x->p_choose,    x->prior,    x->base};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) free(arrays[i]);
    free(x->output);
    free(x->source_units);
    *x = (at_step_explanation){0};
}

/* K must name a step the greedy decoding took: 0 .. Ty-1, or Ty when
 * that step wrote END. */
static at_status check_step(at_ctx *ctx, const at_seq2seq *m, const at_translation *tr, int K) {
    int ended = tr->target_len < m->config.max_target_len;
    int last = ended ? tr->target_len : tr->target_len - 1;
    if (K >= 0 && K <= last) return AT_OK;
    return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                       "step %d is out of range: the translation \"%s\" has %d units, so the "
                       "steps are 0 .. %d%s",
                       K, tr->text, tr->target_len, last,
                       ended ? " (the last one wrote END)" : "");
}

static at_status explain(at_ctx *ctx, const at_seq2seq *m, const char *text, int K,
                         at_seq2seq_batch *b, at_step_explanation *x) {
    at_translation tr;
    AT_TRY(at_seq2seq_translate(ctx, m, text, &tr));
    at_status s = check_step(ctx, m, &tr, K);
    x->output = tr.text, tr.text = NULL;
    x->source_len = tr.source_len, x->target_len = tr.target_len, x->step = K;
    at_translation_clear(&tr);
    if (s != AT_OK) return s;
    int units = 0;
    AT_TRY(at_vocab_split(ctx, m->source_vocab, text, &x->source_units, &units));
    if (units != x->source_len)
        return at_ctx_fail(ctx, AT_ERR_STATE, "explain: %d units in the text, %d translated",
                           units, x->source_len);
    step_run *r;
    AT_TRY(ati_scratch_zero(ctx, (void **)&r, sizeof *r));
    AT_TRY(s2s_single_batch(ctx, m, text, b));
    AT_TRY(run_to_step(ctx, m, b, K, r));
    AT_TRY(fill_header(ctx, m, r, x));
    AT_TRY(fill_attention(ctx, m, r, x));
    AT_TRY(fill_family(ctx, m, r, x));
    AT_TRY(fill_cell(ctx, m, r, x));
    x->chosen.probability = x->probabilities[x->chosen.id];
    return AT_OK;
}

at_status at_seq2seq_explain_step(at_ctx *ctx, const at_seq2seq *m, const char *text, int step,
                                  at_step_explanation *out) {
    if (!m || !text || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "explain: NULL argument");
    *out = (at_step_explanation){0};
    at_seq2seq_batch b;
    AT_TRY(at_seq2seq_batch_init(ctx, m, 1, &b));
    int grad = at_ctx_set_grad(ctx, 0), training = at_ctx_set_training(ctx, 0);
    at_ctx_reset(ctx);
    at_status s = explain(ctx, m, text, step, &b, out);
    at_ctx_set_grad(ctx, grad);
    at_ctx_set_training(ctx, training);
    at_ctx_reset(ctx);
    at_seq2seq_batch_free(&b);
    if (s != AT_OK) at_step_explanation_clear(out);
    return s;
}
