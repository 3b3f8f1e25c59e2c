/*
 * han.c - the classifier's forward pass: a Hierarchical Attention Network
 * (Yang, Yang, Dyer, He, Smola and Hovy 2016, "Hierarchical Attention
 * Networks for Document Classification") and its flat variant.
 *
 * HAN, for a document of sentences i = 1..S of words t = 1..T_i:
 *
 *     x_it = E w_it                                   (N, W, E)  embeddings
 *     h_it = [GRU→(x_i·)_t ; GRU←(x_i·)_t]            (N, W, 2H) word encoder
 *     s_i  = Σ_t α_it h_it,  α_i· = static(h_i·)      (N, 2H)    word attention
 *     g_i  = [GRU→(s)_i ; GRU←(s)_i]                  (B, S, 2H) sentence encoder
 *     v    = Σ_i α_i g_i,    α = static(g)            (B, 2H)    sentence attention
 *     p    = softmax(W_c v + b_c)                     (B, C)
 *
 * where static() is either form of attend/attention.h: HAN's context
 * vector, u_it = tanh(W h_it + b), α_it = softmax_t(u_itᵀ u_w), or the
 * seed's per-feature layer, one distribution over t for each feature.
 * Dropout (training only) acts on x and on v.
 *
 * The flat variant reads all the words of a document as one sequence:
 *     h_t = [GRU→(x)_t ; GRU←(x)_t],  v = Σ_t α_t h_t,  p = softmax(W_c v + b_c).
 *
 * Batching. The words of every sentence of every document of the batch
 * are one GRU batch: N = Σ_b S_b rows of W = the longest sentence, with
 * lengths (packed sequences: a row's padding is never read, its outputs
 * are zero) and a padding mask for the word attention (1 = keep). The N
 * sentence vectors are gathered into (B, S, 2H), S = the most sentences
 * of a document, padding rows pointing at row 0 and masked (and the
 * sentence GRU's lengths stop before them), so a document's logits do not
 * depend on what it is batched with. Every sentence has >= 1 word and
 * every document >= 1 sentence (encode.c), as the GRU needs.
 */
#include "classifier.h"

#include <string.h>

/* The forward and reverse GRU over x (R, T, I) with lengths (R),
 * concatenated: (R, T, 2H). */
static at_status bigru(at_ctx *ctx, const at_gru *fwd, const at_gru *bwd, at_tensor *x,
                       const int32_t *lengths, at_tensor **h) {
    at_tensor *forward, *backward;
    AT_TRY(at_gru_forward(ctx, fwd, x, lengths, NULL, &forward, NULL));
    AT_TRY(at_gru_forward(ctx, bwd, x, lengths, NULL, &backward, NULL));
    return at_concat(ctx, h, 2, (at_tensor *const[]){forward, backward}, 2);
}

/* Static attention of the chosen form over h (R, T, D) with a padding
 * mask (R, T): out (R, D), weights (R, T) or (R, T, D) if asked. */
static at_status attend(at_ctx *ctx, at_static_form form, const at_han_attention *context,
                        const at_feature_attention *feature, at_tensor *h, const uint8_t *keep,
                        at_tensor **out, at_tensor **weights) {
    at_attn_mask mask = {.keep = keep, .rows = h->shape[0]};
    if (form == AT_STATIC_CONTEXT)
        return at_han_attention_forward(ctx, context, h, &mask, out, weights);
    return at_feature_attention_forward(ctx, feature, h, &mask, out, weights);
}

/* Rows of ids (R, T) (PAD beyond each row's length) and the mask. */
typedef struct padded {
    int rows, steps;
    int32_t *ids, *lengths; /* (R, T), (R) */
    uint8_t *keep;          /* (R, T)      */
} padded;

static at_status padded_new(at_ctx *ctx, int rows, int steps, padded *p) {
    size_t n = (size_t)rows * (size_t)steps;
    p->rows = rows, p->steps = steps;
    AT_TRY(ati_scratch_zero(ctx, (void **)&p->ids, n * sizeof *p->ids)); // PAD is 0
    AT_TRY(ati_scratch(ctx, (void **)&p->lengths, (size_t)rows * sizeof *p->lengths));
    return ati_scratch_zero(ctx, (void **)&p->keep, n);
}

static void padded_put(padded *p, int row, const int32_t *ids, int n) {
    memcpy(p->ids + (size_t)row * p->steps, ids, (size_t)n * sizeof *ids);
    memset(p->keep + (size_t)row * p->steps, 1, (size_t)n);
    p->lengths[row] = n;
}

/* Word encoder and attention over the rows of p: (R, 2H). */
static at_status read_words(at_ctx *ctx, const at_classifier *m, const padded *p,
                            at_tensor **out, at_tensor **weights) {
    at_tensor *x, *h;
    AT_TRY(at_embedding_forward(ctx, &m->embed, p->ids, 2, (const int[]){p->rows, p->steps}, &x));
    AT_TRY(at_dropout(ctx, &x, x, m->config.dropout)); // (R, T, E)
    AT_TRY(bigru(ctx, &m->word_fwd, &m->word_bwd, x, p->lengths, &h)); // (R, T, 2H)
    return attend(ctx, m->config.word_form, &m->word_context, &m->word_feature, h, p->keep, out,
                  weights);
}

/* HAN: the document vectors v (B, 2H). */
static at_status han_documents(at_ctx *ctx, const at_classifier *m, const cls_doc *const *docs,
                               int B, at_tensor **v, cls_attention *attn) {
    int N = 0, W = 1, S = 1;
    for (int b = 0; b < B; b++) {
        N += docs[b]->sentences;
        if (docs[b]->sentences > S) S = docs[b]->sentences;
        for (int i = 0; i < docs[b]->sentences; i++)
            if (docs[b]->lengths[i] > W) W = docs[b]->lengths[i];
    }
    padded words, sentences;
    AT_TRY(padded_new(ctx, N, W, &words));
    AT_TRY(padded_new(ctx, B, S, &sentences));
    for (int b = 0, row = 0; b < B; b++) {
        const int32_t *ids = docs[b]->ids;
        int32_t *index = sentences.ids + (size_t)b * S; // (S) rows of s; padding: row 0
        for (int i = 0; i < docs[b]->sentences; i++, row++) {
            padded_put(&words, row, ids, docs[b]->lengths[i]);
            ids += docs[b]->lengths[i];
            index[i] = row;
        }
        memset(sentences.keep + (size_t)b * S, 1, (size_t)docs[b]->sentences);
        sentences.lengths[b] = docs[b]->sentences;
    }
    at_tensor *s, *g_in, *g, *word_weights = NULL, *sentence_weights = NULL;
    AT_TRY(read_words(ctx, m, &words, &s, attn ? &word_weights : NULL)); // (N, 2H)
    AT_TRY(at_gather_rows(ctx, &g_in, s, sentences.ids, 2, (const int[]){B, S})); // (B, S, 2H)
    AT_TRY(bigru(ctx, &m->sentence_fwd, &m->sentence_bwd, g_in, sentences.lengths, &g));
    AT_TRY(attend(ctx, m->config.sentence_form, &m->sentence_context, &m->sentence_feature, g,
                  sentences.keep, v, attn ? &sentence_weights : NULL)); // (B, 2H)
    if (attn)
        *attn = (cls_attention){.word = word_weights, .sentence = sentence_weights, .rows = N,
                                .steps = W, .sentence_steps = S};
    return AT_OK;
}

/* Flat: every word of a document in one row; v (B, 2H). */
static at_status flat_documents(at_ctx *ctx, const at_classifier *m, const cls_doc *const *docs,
                                int B, at_tensor **v, cls_attention *attn) {
    int T = 1;
    for (int b = 0; b < B; b++)
        if (docs[b]->words > T) T = docs[b]->words;
    padded words;
    AT_TRY(padded_new(ctx, B, T, &words));
    for (int b = 0; b < B; b++) padded_put(&words, b, docs[b]->ids, docs[b]->words);
    at_tensor *word_weights = NULL;
    AT_TRY(read_words(ctx, m, &words, v, attn ? &word_weights : NULL)); // (B, 2H)
    if (attn) *attn = (cls_attention){.word = word_weights, .rows = B, .steps = T};
    return AT_OK;
}

at_status cls_forward(at_ctx *ctx, const at_classifier *m, const cls_doc *const *docs, int B,
                      at_tensor **logits, cls_attention *attn) {
    if (B < 1) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classifier: a batch of %d documents", B);
    at_tensor *v;
    if (m->config.kind == AT_CLASSIFY_HAN)
        AT_TRY(han_documents(ctx, m, docs, B, &v, attn));
    else
        AT_TRY(flat_documents(ctx, m, docs, B, &v, attn));
    AT_TRY(at_dropout(ctx, &v, v, m->config.dropout));
    return at_dense_forward(ctx, &m->out, v, logits); // (B, C)
}

float cls_step_weight(const at_tensor *weights, int row, int step) {
    const int T = weights->shape[1];
    if (weights->ndim == 2) return weights->data[(size_t)row * T + step];
    const int D = weights->shape[2]; // the feature form: the mean of its D distributions
    const float *w = weights->data + ((size_t)row * T + step) * D;
    double sum = 0;
    for (int f = 0; f < D; f++) sum += w[f];
    return (float)(sum / D);
}

at_status cls_loss(at_ctx *ctx, const at_classifier *m, const cls_doc *const *docs,
                   const int32_t *labels, int n, at_tensor **loss) {
    at_tensor *logits;
    AT_TRY(cls_forward(ctx, m, docs, n, &logits, NULL));
    return at_cross_entropy(ctx, loss, logits, labels, -1, 0.0f);
}
