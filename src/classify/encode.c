/*
 * encode.c - documents as word ids, made once and read many times.
 *
 * Training reads each document in every epoch; tokenizing and looking up
 * its words each time would cost more than the step itself. So a set of
 * documents is tokenized (tokenize.c) and encoded once, into two pools:
 *   ids      every word id of every document, sentence after sentence
 *   lengths  every sentence's word count
 * and a cls_doc per document points into them. A text with no word
 * becomes one sentence of one UNK: the forward pass never meets an empty
 * document or sentence (a GRU needs every length >= 1).
 */
#include "classifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The ids of tokens (or one UNK) into ids[0 ..), lengths into lengths. */
static void put_ids(const at_classifier *m, const at_doc_tokens *tokens, int32_t *ids,
                    int32_t *lengths, int *unknown) {
    *unknown = 0;
    if (tokens->sentences == 0) {
        ids[0] = AT_TOKEN_UNK;
        lengths[0] = 1;
        return;
    }
    for (int w = 0; w < tokens->words; w++) {
        ids[w] = at_vocab_token_id(m->vocab, tokens->word[w]);
        *unknown += ids[w] == AT_TOKEN_UNK;
    }
    for (int s = 0; s < tokens->sentences; s++) lengths[s] = tokens->lengths[s];
}

static int words_of(const at_doc_tokens *t) { return t->sentences ? t->words : 1; }
static int sentences_of(const at_doc_tokens *t) { return t->sentences ? t->sentences : 1; }

at_status cls_encode_tokens(at_ctx *ctx, const at_classifier *m, const at_doc_tokens *tokens,
                            int32_t **ids_out, int32_t **lengths_out, cls_doc *doc,
                            int *unknown) {
    int32_t *ids = malloc((size_t)words_of(tokens) * sizeof *ids);
    int32_t *lengths = malloc((size_t)sentences_of(tokens) * sizeof *lengths);
    if (!ids || !lengths) {
        free(ids);
        free(lengths);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "classifier: out of memory");
    }
    put_ids(m, tokens, ids, lengths, unknown);
    *doc = (cls_doc){sentences_of(tokens), words_of(tokens), lengths, ids};
    *ids_out = ids;
    *lengths_out = lengths;
    return AT_OK;
}

/* ------------------------------------------------------------- corpus */

typedef struct pools {
    size_t ids_used, ids_cap, lengths_used, lengths_cap;
} pools;

static int reserve(int32_t **pool, size_t *cap, size_t need) {
    if (need <= *cap) return 1;
    size_t cap2 = *cap ? *cap : 1024;
    while (cap2 < need) cap2 *= 2;
    int32_t *grown = realloc(*pool, cap2 * sizeof *grown);
    if (!grown) return 0;
    *pool = grown;
    *cap = cap2;
    return 1;
}

static at_status label_of(at_ctx *ctx, const at_classifier *m, const at_class_docs *docs,
                          size_t i, int32_t *out) {
    int c = at_classifier_class_index(m, docs->labels[i]);
    if (c < 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "document %zu (%s): the label '%.64s' is not one of the model's "
                           "classes",
                           i, docs->ids[i] && docs->ids[i][0] ? docs->ids[i] : "no id",
                           docs->labels[i]);
    *out = c;
    return AT_OK;
}

/* Tokenize docs->texts[i] and append it to the pools; where it starts in
 * them goes to at[0] (ids) and at[1] (lengths): the pools may still move. */
static at_status append(at_ctx *ctx, const at_classifier *m, const at_class_docs *docs, size_t i,
                        cls_corpus *c, pools *p, cls_doc *doc, size_t at[2]) {
    at_doc_tokens tokens;
    at_status s = at_classify_tokenize(ctx, docs->texts[i], m->config.max_sentences,
                                       m->config.max_words, &tokens);
    if (s != AT_OK) {
        char why[300];
        snprintf(why, sizeof why, "%s", at_ctx_error(ctx));
        return at_ctx_fail(ctx, s, "document %zu (%s): %s", i, docs->ids[i], why);
    }
    size_t W = (size_t)words_of(&tokens), S = (size_t)sentences_of(&tokens);
    if (!reserve(&c->ids, &p->ids_cap, p->ids_used + W) ||
        !reserve(&c->lengths, &p->lengths_cap, p->lengths_used + S)) {
        at_doc_tokens_clear(&tokens);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "classifier: out of memory");
    }
    int unknown;
    put_ids(m, &tokens, c->ids + p->ids_used, c->lengths + p->lengths_used, &unknown);
    c->unknown += (size_t)unknown;
    *doc = (cls_doc){(int)S, (int)W, NULL, NULL};
    at[0] = p->ids_used;
    at[1] = p->lengths_used;
    p->ids_used += W;
    p->lengths_used += S;
    at_doc_tokens_clear(&tokens);
    return AT_OK;
}

/* at: (n, 2) scratch for the documents' offsets into the pools. */
static at_status encode_all(at_ctx *ctx, const at_classifier *m, const at_class_docs *docs,
                            const size_t *indices, size_t n, int with_labels, cls_corpus *c,
                            size_t (*at)[2]) {
    pools p = {0};
    for (size_t k = 0; k < n; k++) {
        size_t i = indices ? indices[k] : k;
        if (i >= docs->count)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classifier: document %zu of %zu", i,
                               docs->count);
        if (with_labels) AT_TRY(label_of(ctx, m, docs, i, &c->labels[k]));
        AT_TRY(append(ctx, m, docs, i, c, &p, &c->docs[k], at[k]));
    }
    for (size_t k = 0; k < n; k++) { // the pools are final: offsets become pointers
        c->docs[k].ids = c->ids + at[k][0];
        c->docs[k].lengths = c->lengths + at[k][1];
    }
    return AT_OK;
}

at_status cls_corpus_encode(at_ctx *ctx, const at_classifier *m, const at_class_docs *docs,
                            const size_t *indices, size_t n, int with_labels, cls_corpus *out) {
    if (!m || !docs || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "encode: NULL argument");
    memset(out, 0, sizeof *out);
    out->count = n;
    out->docs = calloc(n ? n : 1, sizeof *out->docs);
    out->labels = with_labels ? calloc(n ? n : 1, sizeof *out->labels) : NULL;
    size_t(*at)[2] = malloc((n ? n : 1) * sizeof *at);
    if (!out->docs || (with_labels && !out->labels) || !at) {
        free(at);
        cls_corpus_clear(out);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "classifier: out of memory");
    }
    at_status s = encode_all(ctx, m, docs, indices, n, with_labels, out, at);
    free(at);
    if (s != AT_OK) cls_corpus_clear(out);
    return s;
}

void cls_corpus_clear(cls_corpus *c) {
    if (!c) return;
    free(c->docs);
    free(c->labels);
    free(c->ids);
    free(c->lengths);
    memset(c, 0, sizeof *c);
}
