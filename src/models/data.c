/*
 * data.c - text pairs as the model sees them: every string encoded once
 * into vocabulary ids, padded batches cut from them, and batch orders that
 * put pairs of similar length together.
 *
 * A batch is source-major for the encoder, (B, Tx), and time-major for the
 * decoder, (Ty, B), so that step t's ids are one contiguous row:
 *     target_in  = START y_1 ... y_n  PAD ...     (the teacher's input)
 *     target_out = y_1   ...   y_n END PAD ...    (what is scored)
 */
#include "models.h"
#include "../train/order.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void at_seq2seq_data_clear(at_seq2seq_data *d) {
    if (!d) return;
    free(d->ids);
    free(d->source_start);
    free(d->target_start);
    free(d->source_len);
    free(d->target_len);
    *d = (at_seq2seq_data){0};
}

static at_status data_alloc(at_ctx *ctx, at_seq2seq_data *d, size_t count, size_t ids) {
    d->count = count;
    d->ids = malloc((ids ? ids : 1) * sizeof *d->ids);
    d->source_start = malloc((count ? count : 1) * sizeof(size_t));
    d->target_start = malloc((count ? count : 1) * sizeof(size_t));
    d->source_len = malloc((count ? count : 1) * sizeof(int32_t));
    d->target_len = malloc((count ? count : 1) * sizeof(int32_t));
    if (d->ids && d->source_start && d->target_start && d->source_len && d->target_len)
        return AT_OK;
    at_seq2seq_data_clear(d);
    return at_ctx_fail(ctx, AT_ERR_MEMORY, "seq2seq data: out of memory");
}

/* Encode one text into ids[0, capacity); names the pair on failure. */
static at_status encode_text(at_ctx *ctx, const at_vocab *vocab, const char *text, int32_t *ids,
                             int capacity, int *length, size_t pair, const char *side) {
    *length = 0;
    if (at_vocab_encode(ctx, vocab, text, ids, capacity, length) != AT_OK) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "pair %zu: %s", pair + 1, side);
        return ati_rethrow(ctx, AT_ERR_ARGUMENT, prefix);
    }
    if (*length == 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "pair %zu: %s is empty", pair + 1, side);
    return AT_OK;
}

at_status at_seq2seq_data_build(at_ctx *ctx, const at_seq2seq *m, const at_pairs *pairs,
                                at_seq2seq_data *out) {
    if (!m || !pairs || !out)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq data: NULL argument");
    const at_seq2seq_config *c = &m->config;
    size_t bytes = 0;
    for (size_t i = 0; i < pairs->count; i++) /* units <= bytes */
        bytes += strlen(pairs->source[i]) + strlen(pairs->target[i]);
    AT_TRY(data_alloc(ctx, out, pairs->count, bytes));
    size_t used = 0;
    for (size_t i = 0; i < pairs->count; i++) {
        int ns = 0, nt = 0;
        at_status s = encode_text(ctx, m->source_vocab, pairs->source[i], out->ids + used,
                                  c->max_source_len, &ns, i, "source");
        out->source_start[i] = used;
        used += (size_t)ns;
        if (s == AT_OK)
            s = encode_text(ctx, m->target_vocab, pairs->target[i], out->ids + used,
                            c->max_target_len - 1, &nt, i, "target");
        if (s != AT_OK) {
            at_seq2seq_data_clear(out);
            return s;
        }
        out->target_start[i] = used;
        used += (size_t)nt;
        out->source_len[i] = ns;
        out->target_len[i] = nt;
    }
    return AT_OK;
}

/* -------------------------------------------------------------- batches */

void at_seq2seq_batch_free(at_seq2seq_batch *b) {
    if (!b) return;
    free(b->source);
    free(b->lengths);
    free(b->source_mask);
    free(b->target_in);
    free(b->target_out);
    *b = (at_seq2seq_batch){0};
}

at_status at_seq2seq_batch_init(at_ctx *ctx, const at_seq2seq *m, int max_batch,
                                at_seq2seq_batch *b) {
    if (!m || !b || max_batch <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq batch: NULL model or batch size %d",
                           max_batch);
    size_t nx = (size_t)max_batch * (size_t)m->config.max_source_len;
    size_t ny = (size_t)max_batch * (size_t)m->config.max_target_len;
    *b = (at_seq2seq_batch){.max_batch = max_batch};
    b->source = malloc(nx * sizeof *b->source);
    b->lengths = malloc((size_t)max_batch * sizeof *b->lengths);
    b->source_mask = malloc(nx);
    b->target_in = malloc(ny * sizeof *b->target_in);
    b->target_out = malloc(ny * sizeof *b->target_out);
    if (b->source && b->lengths && b->source_mask && b->target_in && b->target_out) return AT_OK;
    at_seq2seq_batch_free(b);
    return at_ctx_fail(ctx, AT_ERR_MEMORY, "seq2seq batch: out of memory");
}

at_status at_seq2seq_batch_fill(at_ctx *ctx, at_seq2seq_batch *b, const at_seq2seq_data *d,
                                const size_t *indices, int n) {
    if (!b || !d || !indices || n <= 0 || n > b->max_batch)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq batch: %d rows for a batch of %d", n,
                           b ? b->max_batch : 0);
    int Tx = 1, Ty = 1;
    for (int i = 0; i < n; i++) {
        if (indices[i] >= d->count)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq batch: row %zu of %zu", indices[i],
                               d->count);
        if (d->source_len[indices[i]] > Tx) Tx = d->source_len[indices[i]];
        if (d->target_len[indices[i]] + 1 > Ty) Ty = d->target_len[indices[i]] + 1;
    }
    b->batch = n, b->source_len = Tx, b->target_len = Ty;
    memset(b->source, 0, (size_t)n * Tx * sizeof *b->source);
    memset(b->source_mask, 0, (size_t)n * Tx);
    for (int i = 0; i < n; i++) {
        size_t k = indices[i];
        const int32_t *src = d->ids + d->source_start[k], *tgt = d->ids + d->target_start[k];
        int ns = d->source_len[k], nt = d->target_len[k];
        b->lengths[i] = ns;
        memcpy(b->source + (size_t)i * Tx, src, (size_t)ns * sizeof *src);
        memset(b->source_mask + (size_t)i * Tx, 1, (size_t)ns);
        for (int t = 0; t < Ty; t++) {
            int32_t out = t < nt ? tgt[t] : t == nt ? AT_TOKEN_END : AT_TOKEN_PAD;
            int32_t in = t == 0 ? AT_TOKEN_START : t <= nt ? tgt[t - 1] : AT_TOKEN_PAD;
            b->target_out[(size_t)t * n + i] = out;
            b->target_in[(size_t)t * n + i] = in;
        }
    }
    return AT_OK;
}

/* -------------------------------------------------------------- buckets */

static int source_length(void *self, size_t index) {
    const at_seq2seq_data *d = self;
    return d->source_len[index];
}

void at_seq2seq_bucket_order(const at_seq2seq_data *d, int batch_size, int pool, at_rng *rng,
                             size_t *order) {
    order_buckets(d->count, source_length, (void *)d, batch_size, pool, rng, order);
}
