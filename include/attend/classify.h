/*
 * attend/classify.h - document classification with static attention: a
 * Hierarchical Attention Network (Yang et al. 2016) and its flat variant
 * (libattend, src/classify/).
 *
 * Part of the public contract of libattend; include <attend.h> for all of
 * it. The conventions (errors, shapes, the one mask convention, memory,
 * gradients) are written once, at the top of attend/core.h.
 *
 * A document is cut into sentences of words (at_classify_tokenize). The
 * HAN reads it bottom up:
 *   words     e_it = E[w_it]                              (S, W, E)
 *             h_it = BiGRU_word(e_i·)_t                   (S, W, 2H)
 *             s_i  = static attention over t of h_i·      (S, 2H)
 *   sentences g_i  = BiGRU_sentence(s)_i                  (S, 2H)
 *             v    = static attention over i of g         (2H)
 *   classes   p    = softmax(W_c v + b_c)                 (C)
 * The flat variant has no sentence level: one BiGRU and one static
 * attention over all the words of the document, v = Σ_t α_t h_t.
 * Either static form can be chosen at each level (attend/attention.h):
 * HAN's context vector (at_han_attention: one distribution over the
 * steps) or the seed's per-feature layer (at_feature_attention: one
 * distribution per feature; its word weight, for figures and the top
 * words, is the mean over the features, which also sums to 1).
 *
 * Classes are named by strings (e.g. "ham", "spam"); the model keeps them
 * in the order of first appearance in the training documents.
 */
#ifndef ATTEND_API_CLASSIFY_H
#define ATTEND_API_CLASSIFY_H

#include "attend/core.h"
#include "attend/text.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------- documents
 * Labelled texts: a corpus, a TSV file, or a split of either. Every
 * string is a malloc'd UTF-8 copy owned by the set. group is a finer
 * label kept for reporting (e.g. "easy_ham", "hard_ham", "spam"; "" if
 * none); id names the document in reports (e.g. its file name; "" if
 * none). */
#define AT_CLASSIFY_MAX_CLASSES 64
#define AT_CLASSIFY_MAX_TEXT_BYTES (10u << 20) /* longest text, 10 MB */

typedef struct at_class_docs {
    size_t count;
    char **labels, **texts, **groups, **ids;
} at_class_docs;
/* Append a copy. An empty label, a label with whitespace or U+FEFF, invalid UTF-8
 * in any field, or a text of more than AT_CLASSIFY_MAX_TEXT_BYTES is an
 * AT_ERR_ARGUMENT naming the problem. group and id may be NULL (""). */
AT_API at_status at_class_docs_add(at_ctx *ctx, at_class_docs *docs, const char *label,
                                   const char *text, const char *group, const char *id);
AT_API void at_class_docs_clear(at_class_docs *docs); /* frees all; leaves {0} */
/* A TSV file, one document a line: label TAB text [TAB group]. The text
 * may hold the escapes \n, \r, \t and \\ (a newline, a carriage return,
 * a tab and a backslash; a newline ends a paragraph, which ends a
 * sentence). A UTF-8 byte order mark and CRLF line ends are accepted;
 * empty lines are skipped. ids become "FILE:LINE". A line without a tab,
 * with a third tab, an empty label or text, a label with whitespace, a
 * group with a carriage return, another backslash escape, invalid UTF-8,
 * a NUL byte or a file with no document is an AT_ERR_FORMAT naming the
 * file and the line; out must be empty and stays empty on any error. */
AT_API at_status at_class_docs_read_tsv(at_ctx *ctx, const char *path, at_class_docs *out);
/* Write docs as above (texts escaped; the group column only if some doc
 * has a group), atomically. A document that could not be read back (an
 * empty text, a group holding a tab or line break) is an AT_ERR_ARGUMENT
 * naming it, and nothing is written. */
AT_API at_status at_class_docs_write_tsv(at_ctx *ctx, const char *path, const at_class_docs *docs);
/* A fingerprint of the labels and texts, for the trainer's data_id. */
AT_API uint64_t at_class_docs_fingerprint(const at_class_docs *docs);

/* ------------------------------------------------------------ tokenizing
 * The one tokenizer of training, evaluation and prediction (so a word the
 * model saw is the same word later):
 *   - words are maximal runs of letters, digits and apostrophes inside a
 *     word (ASCII letters lower-cased; any non-ASCII code point counts as
 *     a letter); each of ! ? $ % is a word of its own; every other
 *     character separates words;
 *   - a sentence ends at . ! or ? followed by ASCII whitespace or the
 *     end (a ! or ? being the sentence's last word), at a blank line (two
 *     newlines with only spaces, tabs or CRs between), and after max_words
 *     words (the rest of a long sentence starts a new one);
 *   - at most max_sentences sentences are kept (the rest of the document
 *     is dropped); empty sentences are never made.
 * A word longer than 64 bytes keeps the whole code points that fit in
 * its first 64 bytes (all 64 for ASCII), so it stays valid UTF-8. */
typedef struct at_doc_tokens {
    int sentences;   /* S >= 0 (0: the text had no word)              */
    int *lengths;    /* (S) words per sentence, each >= 1             */
    int words;       /* sum of lengths                                */
    char **word;     /* (words) NUL-terminated, sentence after sentence */
} at_doc_tokens;
/* Invalid UTF-8 is an AT_ERR_ARGUMENT naming the byte offset, as is
 * max_sentences or max_words < 1; out is then empty ({0}). */
AT_API at_status at_classify_tokenize(at_ctx *ctx, const char *text, int max_sentences,
                                      int max_words, at_doc_tokens *out);
AT_API void at_doc_tokens_clear(at_doc_tokens *tokens);

/* ---------------------------------------------------------------- model */
typedef enum at_classify_kind { AT_CLASSIFY_HAN, AT_CLASSIFY_FLAT } at_classify_kind;
/* "han" or "flat"; NULL if out of range. */
AT_API const char *at_classify_kind_name(at_classify_kind kind);
AT_API at_status at_classify_kind_parse(at_ctx *ctx, const char *name, at_classify_kind *out);

typedef enum at_static_form { AT_STATIC_CONTEXT, AT_STATIC_FEATURE } at_static_form;
/* "context" (HAN's u_w) or "feature" (the seed's per-feature layer). */
AT_API const char *at_static_form_name(at_static_form form);
AT_API at_status at_static_form_parse(at_ctx *ctx, const char *name, at_static_form *out);

typedef struct at_classify_config {
    at_classify_kind kind;
    at_static_form word_form;     /* the static attention over words      */
    at_static_form sentence_form; /* over sentences (han only)            */
    int embed;          /* E, word embedding size, 1 .. 1024 (default 100)  */
    int hidden;         /* H, each GRU direction, 1 .. 1024 (default 50)    */
    int attn;           /* A, the context-vector form's size (default 100) */
    int max_sentences;  /* S_max, 1 .. 1000 (default 30)                    */
    int max_words;      /* W_max words a sentence, 1 .. 1000 (default 40);
                           flat reads at most S_max * W_max words          */
    int min_count;      /* a word enters the vocabulary if it occurs this
                           often in the training texts (default 2)       */
    int max_vocab;      /* and is among the max_vocab most frequent
                           (ties by bytes; default 30000)               */
    float dropout;      /* p in [0, 0.9) on the embeddings and on the
                           document vector, training mode only (default 0.2) */
    uint64_t seed;      /* parameter initialisation                       */
    float threshold;    /* two classes only: the prediction is class 1 when
                           p(class 1) > threshold; 0 (the default) = the
                           class of the larger probability. In [0, 1);
                           at_classifier_choose_threshold sets it from a
                           development set. */
} at_classify_config;
AT_API void at_classify_config_default(at_classify_config *config, at_classify_kind kind);

typedef struct at_classifier at_classifier;

/* A new model whose word vocabulary and classes come from the training
 * documents (config->min_count and max_vocab; words never kept read as
 * UNK). Fewer than 2 classes, more than AT_CLASSIFY_MAX_CLASSES, or an
 * impossible configuration is an AT_ERR_ARGUMENT naming the field. */
AT_API at_status at_classifier_create(at_ctx *ctx, at_classifier **out,
                                      const at_classify_config *config,
                                      const at_class_docs *train);
AT_API void at_classifier_free(at_classifier *model);
/* A new model equal to `model`: the same configuration, vocabularies and
 * parameter values, sharing nothing with it (e.g. a replica for
 * at_train_replicas). */
AT_API at_status at_classifier_copy(at_ctx *ctx, at_classifier **out,
                                    const at_classifier *model);
AT_API const at_classify_config *at_classifier_get_config(const at_classifier *model);
AT_API at_params *at_classifier_params(const at_classifier *model);
AT_API const at_vocab *at_classifier_vocab(const at_classifier *model); /* tokens kind */
AT_API int at_classifier_classes(const at_classifier *model);
AT_API const char *at_classifier_class_name(const at_classifier *model, int index);
/* The index of a class name, or -1. */
AT_API int at_classifier_class_index(const at_classifier *model, const char *name);

/* Pretrained word vectors into the word embedding, as the HAN paper starts
 * from word2vec: path is word2vec's text format ("COUNT DIM", then COUNT
 * lines "WORD X_1 .. X_DIM"; `fasttext skipgram` writes it). Row id of
 * embed.weight (V, E) becomes the vector of vocabulary token id; words the
 * model does not know are skipped and rows the file lacks keep their
 * values. *found (may be NULL) gets the number of rows set. DIM other than
 * E is an AT_ERR_SHAPE; a malformed file (header, a line of too few or too
 * many values, a value that is not a finite float, invalid UTF-8, a word
 * twice, fewer or more lines than COUNT) an AT_ERR_FORMAT "PATH:LINE:
 * what". On any error the embedding is unchanged. */
AT_API at_status at_classifier_load_vectors(at_ctx *ctx, at_classifier *model, const char *path,
                                            size_t *found);

/* Save the parameters + "attend.classify" (the configuration as JSON) +
 * "attend.vocab" + "attend.classes", plus extra (may be NULL; its keys
 * that are the model's own are written afresh, so the metadata a load
 * returned can be passed back to keep the rest, e.g. the trainer's),
 * atomically. Load makes the model from the file alone; anything missing,
 * foreign, out of range or of the wrong shape is an AT_ERR_FORMAT
 * (AT_ERR_SHAPE) naming the path and the problem. */
AT_API at_status at_classifier_save(at_ctx *ctx, const at_classifier *model, const char *path,
                                    const at_metadata *extra);
AT_API at_status at_classifier_load(at_ctx *ctx, at_classifier **out, const char *path,
                                    at_metadata *meta_out);

/* The mean cross-entropy of docs->labels[indices[i]] given the texts, on
 * the tape: (1). A label the model has no class for is an AT_ERR_ARGUMENT
 * naming it. n >= 1 documents; the batch is padded to its longest
 * sentence and its most sentences (masked, never attended). */
AT_API at_status at_classifier_loss(at_ctx *ctx, const at_classifier *model,
                                    const at_class_docs *docs, const size_t *indices, int n,
                                    at_tensor **loss);

/* The decision threshold (at_classify_config.threshold) of a model of two
 * classes that scores best on docs: every threshold between two
 * documents' p(class 1) is a candidate, the accuracy on docs is counted for
 * each, and among the best ones the candidate interval nearest 0.5 wins,
 * at its middle; if that interval holds 0.5, the threshold is 0 (the
 * larger probability, unchanged behaviour). The model's threshold is set;
 * *accuracy_before (at the model's threshold on entry) and
 * *accuracy_after, each may be NULL. A model of other than two classes is
 * an AT_ERR_ARGUMENT; so are no documents and a label the model lacks. */
AT_API at_status at_classifier_choose_threshold(at_ctx *ctx, at_classifier *model,
                                                const at_class_docs *docs, int batch,
                                                double *accuracy_before, double *accuracy_after);

/* One document's prediction with its attention (gradients off, not in
 * training mode). */
typedef struct at_classification {
    int label;                /* the decision: argmax of probs, or with two
                                 classes and a threshold t, p_1 > t        */
    int classes;              /* C                                         */
    float *probs;             /* (C)                                       */
    at_doc_tokens tokens;     /* the words the model read                  */
    float *word_weights;      /* (tokens.words) within each sentence: each
                                 sentence's weights sum to 1 (flat: the one
                                 distribution over all words sums to 1)    */
    float *sentence_weights;  /* (tokens.sentences) sum to 1 (flat: NULL)   */
    float *doc_weights;       /* (tokens.words) each word's share of the
                                 document: word weight x its sentence's
                                 weight (flat: the word weight); sums to 1 */
    int unknown;              /* words read as UNK                         */
} at_classification;
/* A text with no word is read as one sentence of one UNK word (tokens
 * then has 0 sentences and the weight arrays are NULL). The context's
 * arena is reset (before and after), as at_classifier_evaluate does. */
AT_API at_status at_classifier_predict(at_ctx *ctx, const at_classifier *model, const char *text,
                                       at_classification *out);
AT_API void at_classification_clear(at_classification *c);

/* ----------------------------------------------------------- evaluation
 * Scores on labelled documents (gradients off, not in training mode; both
 * restored; the context's arena is reset), batch documents at a time; no
 * document is an AT_ERR_ARGUMENT. positive: the class whose precision, recall
 * and F1 are reported (e.g. "spam"; NULL = the model's class 1). A label
 * the model has no class for is an AT_ERR_ARGUMENT naming the label and
 * the document's id. predicted: NULL, or room for docs->count class
 * indices; probs: NULL or (docs->count, C). */
#define AT_CLASSIFY_MAX_GROUPS 16
typedef struct at_classify_score {
    size_t count, correct;
    double accuracy, loss;                 /* loss: mean cross-entropy   */
    double precision, recall, f1;          /* of the positive class      */
    size_t confusion[AT_CLASSIFY_MAX_CLASSES][AT_CLASSIFY_MAX_CLASSES]; /* [true][predicted] */
    int groups;                            /* distinct non-empty groups,
                                              the first 16 in order of
                                              appearance (names cut to 31
                                              bytes); others not counted */
    char group_name[AT_CLASSIFY_MAX_GROUPS][32];
    size_t group_count[AT_CLASSIFY_MAX_GROUPS], group_correct[AT_CLASSIFY_MAX_GROUPS];
} at_classify_score;
AT_API at_status at_classifier_evaluate(at_ctx *ctx, const at_classifier *model,
                                        const at_class_docs *docs, int batch,
                                        const char *positive, at_classify_score *score,
                                        int *predicted, float *probs);

/* The model as an at_trainable on train; evaluation on valid reports
 * "accuracy", "f1" (of positive) and "loss" (give the trainer best_metric
 * "accuracy"). valid may be NULL: no evaluation (the trainer then keeps
 * the last model as the best). An empty set is an AT_ERR_ARGUMENT. The
 * task borrows the model and both sets. */
typedef struct at_classify_task at_classify_task;
AT_API at_status at_classify_task_create(at_ctx *ctx, at_classify_task **out,
                                         at_classifier *model, const at_class_docs *train,
                                         const at_class_docs *valid, const char *positive,
                                         int eval_batch);
AT_API void at_classify_task_free(at_classify_task *task);
AT_API const at_trainable *at_classify_task_trainable(const at_classify_task *task);

/* ------------------------------------------------------------ top words
 * What a class's decisions rested on: each word's document weight
 * (at_classification.doc_weights) summed over many documents, per class.
 * totals is (C, V) doubles, zeroed by the caller, V =
 * at_vocab_size(at_classifier_vocab(model)); a word is counted under its
 * vocabulary id (words the model does not know together under UNK). */
AT_API at_status at_classification_add_weights(at_ctx *ctx, const at_classifier *model,
                                               const at_classification *c, int cls,
                                               double *totals);
/* The k ids of class cls with the largest totals, largest first (ties by
 * id), and their totals; *n gets min(k, ids with a total > 0). */
AT_API at_status at_classifier_top_words(at_ctx *ctx, const at_classifier *model,
                                         const double *totals, int cls, int k, int32_t *ids,
                                         double *values, int *n);

#ifdef __cplusplus
}
#endif
#endif /* ATTEND_API_CLASSIFY_H */
