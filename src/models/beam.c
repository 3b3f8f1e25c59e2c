/*
 * beam.c - beam search: keep the K most likely partial outputs of each
 * source instead of the single most likely one.
 *
 * Greedy decoding commits to the best unit at every step; a unit that looks
 * second best now may start the best whole output. Beam search keeps, for
 * every source, K hypotheses y_1..y_t with their scores
 *
 *     score(y_1..y_t) = Σ_{s<=t} log p(y_s | y_<s, x)      (a sum of log-probs)
 *
 * and at each step extends each by every unit, keeping the K best
 * extensions. An extension by END is finished: it leaves the beam for the
 * source's list of finished hypotheses. A source is done when K hypotheses
 * have finished (or at max_target_len, where the live ones count too). The
 * output is the finished hypothesis with the best normalised score
 *
 *     score / length^α         length = units, END included; α = 0: the raw
 *                              sum (favours short outputs), α = 1: per unit
 *
 * Layout. The B sources of a batch become B*K decoder rows, row b*K + j is
 * hypothesis j of source b. The encoder runs on the repeated rows, so every
 * attention family's per-sequence tensors line up with the rows; after each
 * step the decoder state is re-gathered so that row r continues the
 * hypothesis it was chosen to extend. The history (unit and parent row per
 * step) is kept, and traced back from the winner at the end, with the
 * attention each step used, so the figures show the chosen hypothesis.
 *
 * With K = 1 this is greedy decoding: the best unit is taken at every step,
 * and the output ends at the first END (tests/test_beam.c checks equality).
 */
#include "models.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void at_beam_options_default(at_beam_options *o) {
    *o = (at_beam_options){.width = 1, .length_penalty = 1.0f};
}

/* ------------------------------------------------------------ the state */

/* out (n, ...) = rows[i] of t (R, ...) for i < n: the decoder state follows
 * its hypotheses. Inference only: no tape entry. */
static at_status gather_rows(at_ctx *ctx, at_tensor **out, const at_tensor *t, const int32_t *rows,
                             int n) {
    if (!t) {
        *out = NULL;
        return AT_OK;
    }
    size_t row = t->size / (size_t)t->shape[0];
    int shape[AT_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    shape[0] = n;
    AT_TRY(at_tensor_new(ctx, out, t->ndim, shape));
    for (int i = 0; i < n; i++)
        memcpy((*out)->data + (size_t)i * row, t->data + (size_t)rows[i] * row,
               row * sizeof(float));
    return AT_OK;
}

static at_status follow_parents(at_ctx *ctx, dec_state *state, const int32_t *parent, int rows) {
    AT_TRY(gather_rows(ctx, &state->s, state->s, parent, rows));
    AT_TRY(gather_rows(ctx, &state->c, state->c, parent, rows));
    AT_TRY(gather_rows(ctx, &state->h_tilde, state->h_tilde, parent, rows));
    AT_TRY(gather_rows(ctx, &state->y_soft, state->y_soft, parent, rows));
    AT_TRY(gather_rows(ctx, &state->alpha, state->alpha, parent, rows));
    if (state->positions) {
        int32_t *moved;
        AT_TRY(ati_scratch(ctx, (void **)&moved, (size_t)rows * sizeof *moved));
        for (int r = 0; r < rows; r++)
            moved[r] = state->positions[parent[r]];
        state->positions = moved;
    }
    return AT_OK;
}

/* The batch with every source row repeated K times (rows b*K + j). */
static at_status repeat_sources(at_ctx *ctx, const at_seq2seq_batch *in, int K,
                                at_seq2seq_batch *out) {
    int B = in->batch, Tx = in->source_len, R = B * K;
    *out = (at_seq2seq_batch){.batch = R, .source_len = Tx, .target_len = 1, .max_batch = R};
    AT_TRY(ati_scratch(ctx, (void **)&out->source, (size_t)R * Tx * sizeof *out->source));
    AT_TRY(ati_scratch(ctx, (void **)&out->lengths, (size_t)R * sizeof *out->lengths));
    AT_TRY(ati_scratch(ctx, (void **)&out->source_mask, (size_t)R * Tx));
    for (int r = 0; r < R; r++) {
        int b = r / K;
        memcpy(out->source + (size_t)r * Tx, in->source + (size_t)b * Tx, Tx * sizeof(int32_t));
        memcpy(out->source_mask + (size_t)r * Tx, in->source_mask + (size_t)b * Tx, (size_t)Tx);
        out->lengths[r] = in->lengths[b];
    }
    return AT_OK;
}

/* ------------------------------------------------------- the bookkeeping */

typedef struct candidate {
    double score; /* raw sum of log-probs after the extension */
    int row;      /* the hypothesis (decoder row) it extends  */
    int32_t unit; /* the unit appended                        */
} candidate;

typedef struct finished {
    double score, ranked; /* raw sum; score / length^α        */
    int step, row;        /* END was chosen at `step` by `row` */
} finished;

typedef struct beam {
    int B, K, R, V, Ty, Tx, H;
    float alpha;
    double *score;      /* (R) raw score of each live row; -INF = empty */
    double *log_probs;  /* (R, V) this step's log p                     */
    int32_t *unit;      /* (Ty, R) unit chosen for row r at step t       */
    int32_t *parent;    /* (Ty, R) the row (at step t) it extends        */
    float *attention;   /* (Ty, R, H, Tx) α of row r at step t, or NULL  */
    finished *done;     /* (B, K) finished hypotheses of each source     */
    int *done_count;    /* (B)                                          */
    candidate *pool;    /* (2K) best extensions of one source            */
} beam;

static double ranked_score(const beam *bm, double score, int length) {
    return bm->alpha == 0.0f ? score : score / pow((double)length, (double)bm->alpha);
}

static at_status beam_init(at_ctx *ctx, beam *bm, const at_seq2seq *m, int B, int K, int Tx,
                           float alpha, int keep_attention) {
    *bm = (beam){.B = B, .K = K, .R = B * K, .V = m->target_vocab_size,
                 .Ty = m->config.max_target_len, .Tx = Tx, .H = at_seq2seq_heads(m),
                 .alpha = alpha};
    size_t R = (size_t)bm->R, Ty = (size_t)bm->Ty;
    AT_TRY(ati_scratch(ctx, (void **)&bm->score, R * sizeof *bm->score));
    AT_TRY(ati_scratch(ctx, (void **)&bm->log_probs, R * bm->V * sizeof *bm->log_probs));
    AT_TRY(ati_scratch(ctx, (void **)&bm->unit, Ty * R * sizeof *bm->unit));
    AT_TRY(ati_scratch(ctx, (void **)&bm->parent, Ty * R * sizeof *bm->parent));
    if (keep_attention)
        AT_TRY(ati_scratch_zero(ctx, (void **)&bm->attention,
                                Ty * R * bm->H * (size_t)Tx * sizeof(float)));
    AT_TRY(ati_scratch(ctx, (void **)&bm->done, (size_t)B * K * sizeof *bm->done));
    AT_TRY(ati_scratch_zero(ctx, (void **)&bm->done_count, (size_t)B * sizeof(int)));
    AT_TRY(ati_scratch(ctx, (void **)&bm->pool, (size_t)2 * K * sizeof *bm->pool));
    for (int r = 0; r < bm->R; r++) /* one live hypothesis per source: START */
        bm->score[r] = r % K == 0 ? 0.0 : -INFINITY;
    return AT_OK;
}

/* log_probs (R, V) = log softmax(logits), max-subtracted, in double. */
static void log_softmax_rows(beam *bm, const float *logits) {
    for (int r = 0; r < bm->R; r++) {
        const float *x = logits + (size_t)r * bm->V;
        double *out = bm->log_probs + (size_t)r * bm->V, max = x[0], sum = 0.0;
        for (int v = 1; v < bm->V; v++)
            if (x[v] > max) max = x[v];
        for (int v = 0; v < bm->V; v++)
            sum += exp((double)x[v] - max);
        double log_z = max + log(sum);
        for (int v = 0; v < bm->V; v++)
            out[v] = (double)x[v] - log_z;
    }
}

/* Insert c into the pool (n of cap entries, best first). Equal scores keep
 * the earlier candidate first, so K = 1 takes the first maximum as greedy
 * decoding's argmax does. */
static void pool_offer(candidate *pool, int *n, int cap, candidate c) {
    if (*n == cap && !(c.score > pool[cap - 1].score)) return;
    int i = *n < cap ? (*n)++ : cap - 1;
    while (i > 0 && c.score > pool[i - 1].score) {
        pool[i] = pool[i - 1];
        i--;
    }
    pool[i] = c;
}

/* The 2K best extensions of source b's live rows: at most K of them are
 * END (one per row), so at least K others are left to fill the beam. */
static int best_extensions(beam *bm, int b) {
    int n = 0, cap = 2 * bm->K;
    for (int j = 0; j < bm->K; j++) {
        int r = b * bm->K + j;
        if (bm->score[r] == -INFINITY) continue;
        const double *lp = bm->log_probs + (size_t)r * bm->V;
        for (int v = 0; v < bm->V; v++)
            pool_offer(bm->pool, &n, cap, (candidate){bm->score[r] + lp[v], r, v});
    }
    return n;
}

/* One step for source b: END extensions finish, the others refill the
 * source's K rows; parent/unit of step t record where each row came from.
 * new_score (R) receives the rows' scores for step t + 1. */
static void advance_source(beam *bm, int b, int t, double *new_score) {
    int n = best_extensions(bm, b), filled = 0, K = bm->K;
    int32_t *unit = bm->unit + (size_t)t * bm->R, *parent = bm->parent + (size_t)t * bm->R;
    for (int i = 0; i < n && filled < K && bm->done_count[b] < K; i++) {
        candidate c = bm->pool[i];
        if (c.unit == AT_TOKEN_END) {
            bm->done[(size_t)b * K + bm->done_count[b]++] =
                (finished){c.score, ranked_score(bm, c.score, t + 1), t, c.row};
            continue;
        }
        int r = b * K + filled++;
        unit[r] = c.unit, parent[r] = c.row, new_score[r] = c.score;
    }
    if (bm->done_count[b] >= K) filled = 0; /* done: no live rows left */
    for (int j = filled; j < K; j++) {
        int r = b * K + j;
        unit[r] = AT_TOKEN_PAD, parent[r] = b * K, new_score[r] = -INFINITY;
    }
}

/* Copy α_t (R, H, Tx) into the history at step t. */
static void keep_attention(beam *bm, const at_tensor *w, int t) {
    if (!bm->attention || !w) return;
    size_t n = (size_t)bm->R * bm->H * bm->Tx;
    memcpy(bm->attention + (size_t)t * n, w->data, n * sizeof(float));
}

/* ------------------------------------------------------------ the winner */

/* The best hypothesis of source b: a finished one by ranked score, or if
 * none finished, the best live one at max_target_len. *step = the step of
 * its last unit, *row = the row that chose it, *with_end = 1 if it is END. */
static double pick_winner(const beam *bm, int b, int *step, int *row, int *with_end) {
    double best = -INFINITY, raw = -INFINITY;
    *step = -1, *row = b * bm->K, *with_end = 0;
    for (int i = 0; i < bm->done_count[b]; i++) {
        const finished *f = &bm->done[(size_t)b * bm->K + i];
        if (f->ranked > best) best = f->ranked, raw = f->score, *step = f->step, *row = f->row,
                              *with_end = 1;
    }
    if (*with_end) return raw;
    for (int j = 0; j < bm->K; j++) { /* ran out of steps: live rows at Ty */
        int r = b * bm->K + j;
        double ranked = ranked_score(bm, bm->score[r], bm->Ty);
        if (bm->score[r] > -INFINITY && ranked > best)
            best = ranked, raw = bm->score[r], *row = r, *step = bm->Ty - 1;
    }
    return raw;
}

/* ids (Ty) and weights (H, Ty, Tx) of source b's winner, traced back. */
static float trace_back(const beam *bm, int b, int32_t *ids, float *weights) {
    int step, row, with_end;
    double score = pick_winner(bm, b, &step, &row, &with_end);
    size_t per_step = (size_t)bm->R * bm->H * bm->Tx, per_row = (size_t)bm->H * bm->Tx;
    for (int t = 0; t < bm->Ty; t++)
        ids[t] = AT_TOKEN_PAD;
    /* The last unit: END chosen by `row` at `step`, or the unit that made
     * the live `row` at the final step. */
    int r = row;
    for (int t = step; t >= 0; t--) {
        int at = r; /* the row that ran step t */
        if (t == step && with_end) {
            ids[t] = AT_TOKEN_END;
        } else {
            ids[t] = bm->unit[(size_t)t * bm->R + r];
            at = bm->parent[(size_t)t * bm->R + r];
        }
        if (weights && bm->attention)
            for (int h = 0; h < bm->H; h++)
                memcpy(weights + ((size_t)h * bm->Ty + t) * bm->Tx,
                       bm->attention + t * per_step + (size_t)at * per_row + (size_t)h * bm->Tx,
                       (size_t)bm->Tx * sizeof(float));
        r = at;
    }
    return (float)score;
}

/* ---------------------------------------------------------------- search */

static int all_done(const beam *bm) {
    for (int b = 0; b < bm->B; b++)
        if (bm->done_count[b] < bm->K) return 0;
    return 1;
}

static at_status check_beam_args(at_ctx *ctx, const at_seq2seq *m, const at_seq2seq_batch *batch,
                                 const at_beam_options *o, const int32_t *ids) {
    if (!m || !batch || !o || !ids)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "beam search: NULL argument");
    if (o->width < 1 || o->width > AT_BEAM_MAX_WIDTH)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "beam search: width %d is not in 1..%d",
                           o->width, AT_BEAM_MAX_WIDTH);
    if (!(o->length_penalty >= 0.0f && o->length_penalty <= 4.0f))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "beam search: length penalty %g is not in [0, 4]",
                           (double)o->length_penalty);
    if (batch->batch <= 0 || batch->source_len <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "beam search: empty batch");
    return AT_OK;
}

at_status at_seq2seq_beam_search(at_ctx *ctx, const at_seq2seq *m, const at_seq2seq_batch *batch,
                                 const at_beam_options *o, int32_t *ids, float *weights,
                                 float *scores) {
    AT_TRY(check_beam_args(ctx, m, batch, o, ids));
    int B = batch->batch, K = o->width, Tx = batch->source_len;
    at_seq2seq_batch rows;
    AT_TRY(repeat_sources(ctx, batch, K, &rows));
    beam bm;
    AT_TRY(beam_init(ctx, &bm, m, B, K, Tx, o->length_penalty, weights != NULL));
    enc_out enc;
    dec_state state;
    AT_TRY(s2s_encode(ctx, m, &rows, &enc, &state));
    state.hard = 1;
    int32_t *prev;
    double *new_score;
    AT_TRY(ati_scratch_zero(ctx, (void **)&state.positions, (size_t)bm.R * sizeof(int32_t)));
    AT_TRY(ati_scratch(ctx, (void **)&prev, (size_t)bm.R * sizeof *prev));
    AT_TRY(ati_scratch(ctx, (void **)&new_score, (size_t)bm.R * sizeof *new_score));
    for (int r = 0; r < bm.R; r++)
        prev[r] = AT_TOKEN_START;
    for (int t = 0; t < bm.Ty && !all_done(&bm); t++) {
        at_tensor *logits, *w = NULL;
        AT_TRY(s2s_decoder_step(ctx, m, &enc, &state, prev, t, &logits, weights ? &w : NULL));
        log_softmax_rows(&bm, logits->data);
        keep_attention(&bm, w, t);
        for (int b = 0; b < B; b++)
            advance_source(&bm, b, t, new_score);
        memcpy(bm.score, new_score, (size_t)bm.R * sizeof *new_score);
        const int32_t *parent = bm.parent + (size_t)t * bm.R;
        memcpy(prev, bm.unit + (size_t)t * bm.R, (size_t)bm.R * sizeof *prev);
        AT_TRY(follow_parents(ctx, &state, parent, bm.R));
    }
    int H = bm.H, Ty = bm.Ty;
    if (weights) memset(weights, 0, (size_t)B * H * Ty * Tx * sizeof(float));
    for (int b = 0; b < B; b++) {
        float s = trace_back(&bm, b, ids + (size_t)b * Ty,
                             weights ? weights + (size_t)b * H * Ty * Tx : NULL);
        if (scores) scores[b] = s;
    }
    return AT_OK;
}
