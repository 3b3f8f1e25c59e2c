/*
 * references.c - scoring a model on sources with several right answers.
 *
 * A word can have several pronunciations ("EITHER": IY DH ER and AY DH ER).
 * Pairs that share a source on consecutive lines are one item with several
 * references. Each distinct source is decoded once (greedy or beam search)
 * and scored the way the G2P papers score:
 *
 *     WER  the share of items whose output equals none of the references
 *     PER  Σ edit distance to the closest reference
 *          / Σ length of that reference            (in output units)
 *
 * Sources are decoded in batches of similar length (less padding), and the
 * results are put back in the items' order.
 */
#include "models.h"

#include <stdlib.h>
#include <string.h>

typedef struct item {
    size_t first; /* the item's first pair          */
    int refs;     /* pairs that share its source    */
    int length;   /* source units, for the batching */
} item;

static int by_length(const void *a, const void *b) {
    const item *x = a, *y = b;
    if (x->length != y->length) return x->length < y->length ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* The items of pairs, in order; *n gets their number. */
static at_status list_items(at_ctx *ctx, const at_seq2seq *m, const at_pairs *pairs, item **out,
                            size_t *n) {
    *n = at_pairs_count_sources(pairs);
    *out = calloc(*n ? *n : 1, sizeof **out);
    if (!*out) return at_ctx_fail(ctx, AT_ERR_MEMORY, "evaluate: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < pairs->count; i++) {
        if (i > 0 && !strcmp(pairs->source[i], pairs->source[i - 1])) {
            (*out)[k - 1].refs++;
            continue;
        }
        size_t units = at_vocab_length(m->source_vocab, pairs->source[i]);
        if (units == 0 || units > (size_t)m->config.max_source_len)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "evaluate: source %zu ('%.40s') has %zu units; the model takes "
                               "1 to %d", i + 1, pairs->source[i], units,
                               m->config.max_source_len);
        (*out)[k++] = (item){.first = i, .refs = 1, .length = (int)units};
    }
    return AT_OK;
}

/* Rows 0..n) of b = the sources of items[0..n), padded. */
static at_status fill_sources(at_ctx *ctx, const at_seq2seq *m, const at_pairs *pairs,
                              const item *items, int n, at_seq2seq_batch *b) {
    int Tx = 1;
    for (int i = 0; i < n; i++)
        if (items[i].length > Tx) Tx = items[i].length;
    b->batch = n, b->source_len = Tx, b->target_len = 1;
    for (int i = 0; i < n; i++) {
        int32_t *row = b->source + (size_t)i * Tx;
        int len = 0;
        AT_TRY(at_vocab_encode(ctx, m->source_vocab, pairs->source[items[i].first], row, Tx, &len));
        for (int t = 0; t < Tx; t++) {
            if (t >= len) row[t] = AT_TOKEN_PAD;
            b->source_mask[(size_t)i * Tx + t] = t < len;
        }
        b->lengths[i] = len;
    }
    return AT_OK;
}

/* The text of ids (up to END) as a malloc'd string. */
static at_status output_text(at_ctx *ctx, const at_seq2seq *m, const int32_t *ids, char **out) {
    int Ty = m->config.max_target_len, n = 0;
    while (n < Ty && ids[n] != AT_TOKEN_END && ids[n] != AT_TOKEN_PAD)
        n++;
    size_t bytes = at_vocab_decode_size(m->target_vocab, n);
    *out = malloc(bytes);
    if (!*out) return at_ctx_fail(ctx, AT_ERR_MEMORY, "evaluate: out of memory");
    at_status s = at_vocab_decode(ctx, m->target_vocab, ids, n, *out, bytes);
    if (s != AT_OK) {
        free(*out);
        *out = NULL;
    }
    return s;
}

/* Decode items[0..n) and score each against its references; texts[i]
 * receives item i's output (malloc'd, the caller's). */
static at_status score_batch(at_ctx *ctx, const at_seq2seq *m, const at_pairs *pairs,
                             const item *items, int n, const at_beam_options *beam,
                             at_seq2seq_batch *b, int32_t *ids, at_wer *score, char **texts) {
    AT_TRY(fill_sources(ctx, m, pairs, items, n, b));
    AT_TRY(at_seq2seq_beam_search(ctx, m, b, beam, ids, NULL, NULL));
    for (int i = 0; i < n; i++) {
        AT_TRY(output_text(ctx, m, ids + (size_t)i * m->config.max_target_len, &texts[i]));
        AT_TRY(at_wer_add(ctx, score, texts[i],
                          (const char *const *)pairs->target + items[i].first, items[i].refs));
    }
    return AT_OK;
}

/* Where the item whose first pair is `first` is in items (first-pair order). */
static size_t item_index(const item *items, size_t n, size_t first) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (items[mid].first < first) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Score every item, batch_size at a time in length order: the shard's
 * batches (every shards-th, from the shard-th). */
static at_status score_items(at_ctx *ctx, const at_seq2seq *m, const at_pairs *pairs,
                             const item *items, item *sorted, size_t n,
                             const at_beam_options *beam, int batch_size, int shard, int shards,
                             at_seq2seq_batch *b, int32_t *ids, char **texts, at_wer *score,
                             char **outputs) {
    memcpy(sorted, items, n * sizeof *items);
    qsort(sorted, n, sizeof *sorted, by_length);
    size_t step = (size_t)batch_size * (size_t)shards;
    for (size_t i = (size_t)batch_size * (size_t)shard; i < n; i += step) {
        int rows = (int)(n - i < (size_t)batch_size ? n - i : (size_t)batch_size);
        at_ctx_reset(ctx);
        memset(texts, 0, (size_t)rows * sizeof *texts);
        at_status s = score_batch(ctx, m, pairs, sorted + i, rows, beam, b, ids, score, texts);
        for (int r = 0; r < rows; r++) {
            if (s == AT_OK && outputs)
                outputs[item_index(items, n, sorted[i + (size_t)r].first)] = texts[r];
            else
                free(texts[r]);
        }
        AT_TRY(s);
    }
    return AT_OK;
}

at_status at_seq2seq_evaluate_references(at_ctx *ctx, const at_seq2seq *m, const at_pairs *pairs,
                                         const at_beam_options *beam, int batch_size,
                                         at_wer *score, char **outputs) {
    return s2s_references_shard(ctx, m, pairs, beam, batch_size, 0, 1, score, outputs);
}

at_status s2s_references_shard(at_ctx *ctx, const at_seq2seq *m, const at_pairs *pairs,
                               const at_beam_options *beam, int batch_size, int shard,
                               int shards, at_wer *score, char **outputs) {
    if (!m || !pairs || !score || batch_size <= 0 || shards < 1 || shard < 0 || shard >= shards)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "evaluate: NULL argument or batch size %d",
                           batch_size);
    at_beam_options greedy;
    at_beam_options_default(&greedy);
    if (!beam) beam = &greedy;
    *score = (at_wer){0};
    size_t n = 0;
    item *items = NULL, *sorted = NULL;
    int32_t *ids = malloc((size_t)batch_size * m->config.max_target_len * sizeof *ids);
    at_seq2seq_batch b = {0};
    at_status s = ids ? AT_OK : at_ctx_fail(ctx, AT_ERR_MEMORY, "evaluate: out of memory");
    if (outputs) memset(outputs, 0, at_pairs_count_sources(pairs) * sizeof *outputs);
    if (s == AT_OK) s = list_items(ctx, m, pairs, &items, &n);
    if (s == AT_OK && !(sorted = malloc((n ? n : 1) * sizeof *sorted)))
        s = at_ctx_fail(ctx, AT_ERR_MEMORY, "evaluate: out of memory");
    if (s == AT_OK) s = at_seq2seq_batch_init(ctx, m, batch_size, &b);
    char **texts = s == AT_OK ? calloc((size_t)batch_size, sizeof *texts) : NULL;
    if (s == AT_OK && !texts) s = at_ctx_fail(ctx, AT_ERR_MEMORY, "evaluate: out of memory");
    int grad = at_ctx_set_grad(ctx, 0), training = at_ctx_set_training(ctx, 0);
    if (s == AT_OK)
        s = score_items(ctx, m, pairs, items, sorted, n, beam, batch_size, shard, shards, &b, ids,
                        texts, score, outputs);
    free(texts);
    at_ctx_set_grad(ctx, grad);
    at_ctx_set_training(ctx, training);
    at_ctx_reset(ctx);
    if (s != AT_OK && outputs)
        for (size_t i = 0; i < n; i++)
            free(outputs[i]), outputs[i] = NULL;
    at_seq2seq_batch_free(&b);
    free(ids);
    free(items);
    free(sorted);
    return s;
}
