/*
 * predict.c - one text's class and what the decision rested on.
 *
 * The text is tokenized as in training, read by the model with gradients
 * off and dropout off, and the attention of both levels is handed back
 * per word the model read:
 *     word_weights[t]     α_it, within its sentence i (flat: α_t over all)
 *     sentence_weights[i] α_i, over the sentences (flat: none)
 *     doc_weights[t]      α_i α_it, the word's share of the document
 *                         (flat: α_t), summing to 1 over the document
 * For the per-feature form a step has one weight per feature; the word's
 * weight is their mean (a mean of distributions is a distribution).
 */
#include "classifier.h"

#include <stdlib.h>
#include <string.h>

static at_status copy_weights(at_ctx *ctx, const at_classifier *m, const cls_attention *attn,
                              at_classification *out) {
    const at_doc_tokens *tok = &out->tokens;
    const int words = tok->words, S = tok->sentences, han = m->config.kind == AT_CLASSIFY_HAN;
    out->word_weights = malloc((size_t)words * sizeof(float));
    out->doc_weights = malloc((size_t)words * sizeof(float));
    out->sentence_weights = han ? malloc((size_t)S * sizeof(float)) : NULL;
    if (!out->word_weights || !out->doc_weights || (han && !out->sentence_weights))
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "classifier: out of memory");
    for (int i = 0, t = 0; i < S; i++) {
        float sentence = han ? cls_step_weight(attn->sentence, 0, i) : 1.0f;
        if (han) out->sentence_weights[i] = sentence;
        for (int j = 0; j < tok->lengths[i]; j++, t++) {
            // han: row i of the words, step j; flat: row 0, step t
            float word = han ? cls_step_weight(attn->word, i, j) : cls_step_weight(attn->word, 0, t);
            out->word_weights[t] = word;
            out->doc_weights[t] = word * sentence;
        }
    }
    return AT_OK;
}

static at_status run(at_ctx *ctx, const at_classifier *m, const cls_doc *doc,
                     at_classification *out) {
    at_tensor *logits, *p;
    cls_attention attn;
    at_ctx_reset(ctx);
    AT_TRY(cls_forward(ctx, m, &doc, 1, &logits, &attn));
    AT_TRY(at_softmax(ctx, &p, logits, NULL, 0)); // (1, C)
    out->classes = m->classes;
    out->probs = malloc((size_t)m->classes * sizeof *out->probs);
    if (!out->probs) return at_ctx_fail(ctx, AT_ERR_MEMORY, "classifier: out of memory");
    memcpy(out->probs, p->data, (size_t)m->classes * sizeof *out->probs);
    out->label = cls_decide(m, out->probs);
    if (out->tokens.sentences == 0) return AT_OK; // read as one UNK: nothing to weigh
    return copy_weights(ctx, m, &attn, out);
}

at_status at_classifier_predict(at_ctx *ctx, const at_classifier *m, const char *text,
                                at_classification *out) {
    if (!m || !text || !out)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classifier_predict: NULL argument");
    memset(out, 0, sizeof *out);
    AT_TRY(at_classify_tokenize(ctx, text, m->config.max_sentences, m->config.max_words,
                                &out->tokens));
    int32_t *ids = NULL, *lengths = NULL;
    cls_doc doc;
    at_status s = cls_encode_tokens(ctx, m, &out->tokens, &ids, &lengths, &doc, &out->unknown);
    if (s == AT_OK) {
        int grad = at_ctx_set_grad(ctx, 0), training = at_ctx_set_training(ctx, 0);
        s = run(ctx, m, &doc, out);
        at_ctx_reset(ctx);
        at_ctx_set_grad(ctx, grad);
        at_ctx_set_training(ctx, training);
    }
    free(ids);
    free(lengths);
    if (s != AT_OK) at_classification_clear(out);
    return s;
}

void at_classification_clear(at_classification *c) {
    if (!c) return;
    free(c->probs);
    free(c->word_weights);
    free(c->sentence_weights);
    free(c->doc_weights);
    at_doc_tokens_clear(&c->tokens);
    memset(c, 0, sizeof *c);
}
