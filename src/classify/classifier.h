/*
 * classifier.h - what the files of src/classify share and callers never see.
 *
 * The document classifier is split by job:
 *   docs.c      the labelled documents (at_class_docs).
 *   tsv.c       documents from and to TSV files.
 *   tokenize.c  text -> sentences of words (the one tokenizer).
 *   config.c    the configuration: defaults, names, checks, JSON.
 *   model.c     create (vocabulary and classes from the training texts),
 *               free, getters, save, load.
 *   encode.c    tokens -> word ids, once per document, into a corpus the
 *               forward pass reads (cls_corpus).
 *   han.c       the forward pass: HAN and flat, a batch -> logits.
 *   evaluate.c  accuracy, P/R/F1, groups; the public loss.
 *   task.c      the model as the trainer's at_trainable.
 *   predict.c   one text's prediction with its attention.
 */
#ifndef ATTEND_CLASSIFY_INTERNAL_H
#define ATTEND_CLASSIFY_INTERNAL_H

#include "attend.h"
#include "internal.h"

struct at_classifier {
    at_classify_config config;
    at_vocab *vocab;      /* tokens kind                                  */
    int V;                /* at_vocab_size(vocab)                         */
    int classes;          /* C                                            */
    char **class_names;   /* (C) malloc'd                                 */
    at_params *params;
    at_embedding embed;   /* embed.weight (V, E)                          */
    at_gru word_fwd;      /* word_gru.weight_ih_l0 (3H, E) ...            */
    at_gru word_bwd;      /* word_gru.weight_ih_l0_reverse ...            */
    at_han_attention word_context;     /* word_attn.W (A, 2H), .b, .u_w    */
    at_feature_attention word_feature; /* word_attn.W (2H, 2H), .b        */
    at_gru sentence_fwd;  /* han only: sentence_gru.weight_ih_l0 (3H, 2H) */
    at_gru sentence_bwd;  /* sentence_gru.*_reverse                       */
    at_han_attention sentence_context;     /* sentence_attn.W ...          */
    at_feature_attention sentence_feature; /* sentence_attn.W ...          */
    at_dense out;         /* out.weight (C, 2H), out.bias (C)             */
};

/* config.c */
at_status cls_config_check(at_ctx *ctx, const at_classify_config *config);
at_status cls_config_to_json(at_ctx *ctx, const at_classify_config *config, char **out);
at_status cls_config_from_json(at_ctx *ctx, const char *text, at_classify_config *config);

/* ------------------------------------------------------------ encoding
 * A document as the forward pass reads it: S >= 1 sentences of word ids,
 * each sentence >= 1 word (a text with no word is one sentence of one
 * UNK). */
typedef struct cls_doc {
    int sentences;         /* S >= 1                                  */
    int words;             /* Σ lengths                               */
    const int32_t *lengths; /* (S)                                     */
    const int32_t *ids;    /* (words) sentence after sentence          */
} cls_doc;

/* Many documents encoded once: their ids and lengths in two pools. */
typedef struct cls_corpus {
    size_t count;
    cls_doc *docs;      /* (count), pointing into the pools            */
    int32_t *labels;    /* (count) class index, or NULL (no labels)    */
    int32_t *ids, *lengths;
    size_t unknown;     /* words read as UNK                           */
} cls_corpus;

/* The tokens of one text as ids; doc points into *ids_out and
 * *lengths_out (malloc'd, the caller frees both). */
at_status cls_encode_tokens(at_ctx *ctx, const at_classifier *m, const at_doc_tokens *tokens,
                            int32_t **ids_out, int32_t **lengths_out, cls_doc *doc,
                            int *unknown);
/* Tokenize and encode every text of docs (labels too, when with_labels:
 * a label the model lacks is an AT_ERR_ARGUMENT naming it and the
 * document's id). Only indices[0 .. n) if indices is not NULL. */
at_status cls_corpus_encode(at_ctx *ctx, const at_classifier *m, const at_class_docs *docs,
                            const size_t *indices, size_t n, int with_labels, cls_corpus *out);
void cls_corpus_clear(cls_corpus *corpus);

/* ------------------------------------------------------ forward pass
 * B documents -> logits (B, C), on the tape. attention: NULL, or it
 * receives the weight tensors and the layout they are padded to. */
typedef struct cls_attention {
    at_tensor *word;     /* han: (N, W) or (N, W, 2H); flat: (B, T) or (B, T, 2H) */
    at_tensor *sentence; /* han: (B, S) or (B, S, 2H); flat: NULL          */
    int rows, steps;     /* word's first two dims: N (han) or B (flat), W or T */
    int sentence_steps;  /* S_pad (han)                                   */
} cls_attention;
at_status cls_forward(at_ctx *ctx, const at_classifier *m, const cls_doc *const *docs, int B,
                      at_tensor **logits, cls_attention *attention);

/* The mean over the last dimension of a feature-form weight tensor, or
 * the tensor's own values for the context form: the weight of step i of
 * row r is out[r * steps + i]. */
float cls_step_weight(const at_tensor *weights, int row, int step);

/* Mean cross-entropy of docs[k] against labels[k] (k < n). */
at_status cls_loss(at_ctx *ctx, const at_classifier *m, const cls_doc *const *docs,
                   const int32_t *labels, int n, at_tensor **loss);

/* Scores of a whole encoded corpus with labels (gradients off, not in
 * training mode; both restored). groups may be NULL (docs->groups). */
at_status cls_score(at_ctx *ctx, const at_classifier *m, const cls_corpus *corpus,
                    char *const *groups, int batch, int positive, at_classify_score *score,
                    int *predicted, float *probs);
/* The same, split: cls_score_shard adds to score the documents of the
 * batches k with k % shards == shard (score->loss summed, not yet a mean;
 * score starts zeroed); cls_score_finish turns the sums, e.g. of every
 * shard, into the rates. cls_score is shard 0 of 1, finished. */
at_status cls_score_shard(at_ctx *ctx, const at_classifier *m, const cls_corpus *corpus,
                          char *const *groups, int batch, int shard, int shards,
                          at_classify_score *score, int *predicted, float *probs);
void cls_score_finish(at_classify_score *score, int classes, int positive);
/* The decision for probabilities p (C): with two classes and a threshold
 * t > 0, class 1 when p[1] > t; otherwise the first class of the largest
 * probability. Every prediction (evaluation, predict, the lab) makes it here. */
int cls_decide(const at_classifier *m, const float *p);
/* The positive class named (NULL = 1), or AT_ERR_ARGUMENT. */
at_status cls_positive(at_ctx *ctx, const at_classifier *m, const char *positive, int *out);

#endif
