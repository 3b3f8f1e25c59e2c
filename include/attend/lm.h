/*
 * attend/lm.h - character language models: a GPT-style Transformer and
 * Daniluk et al.'s LSTM language models with attention over their own
 * recent outputs (libattend, src/lm/).
 *
 * Part of the public contract of libattend; include <attend.h> for all of
 * it. The conventions (errors, shapes, the one mask convention, memory,
 * gradients) are written once, at the top of attend/core.h.
 *
 * A language model reads characters x_1 .. x_T and gives, at every
 * position t, a distribution over the next character x_{t+1}. Trained on a
 * book it is measured in nats per character (the mean cross-entropy of the
 * validation text) or bits per character (nats / ln 2).
 *
 * The six kinds (docs/language-models.md):
 *   transformer  token + position embeddings -> N pre-LayerNorm blocks
 *                  h = h + Dropout(MHA_causal(LN1(h)))
 *                  h = h + Dropout(W2 GELU(W1 LN2(h)))      (W1: 4D x D)
 *                -> LN_f -> logits = h W_outᵀ + b_out.
 *                The attention is the library's multi-head family
 *                (at_multi_head, causal mask); nothing else attends.
 *   lstm         embedding -> LSTM -> logits (Daniluk's baseline).
 *   attention    LSTM outputs h_t; attention of h_t over its previous L
 *                outputs (at_key_value with keys = values = x = h):
 *                  h*_t = tanh(W_r r_t + W_x h_t), logits from h*_t.
 *   kv           the LSTM output split in two, [k_t; v_t]: keys k, values
 *                v, x = v_t (Daniluk's key-value).
 *   kvp          split in three, [k_t; v_t; p_t]: x = p_t (key-value-
 *                predict).
 *   ngram        the N-gram RNN baseline: the output split into N-1 parts,
 *                h*_t = tanh(W_N [h¹_t; h²_{t-1}; ...; h^{N-1}_{t-N+2}]).
 * For the LSTM kinds `width` is the size k of one part: the LSTM is k
 * wide (lstm, attention), 2k (kv), 3k (kvp) or (N-1)k (ngram).
 *
 * Ids are those of the model's character vocabulary (at_vocab, chars
 * kind, built from the training text; PAD 0, UNK 1, START 2 and END 3 are
 * never targets in training text, and a character the training text never
 * had reads as UNK).
 */
#ifndef ATTEND_API_LM_H
#define ATTEND_API_LM_H

#include "attend/core.h"
#include "attend/text.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum at_lm_kind {
    AT_LM_TRANSFORMER,
    AT_LM_LSTM,
    AT_LM_ATTENTION,
    AT_LM_KV,
    AT_LM_KVP,
    AT_LM_NGRAM,
    AT_LM_KINDS
} at_lm_kind;
/* "transformer", "lstm", "attention", "kv", "kvp", "ngram"; NULL if out of range. */
AT_API const char *at_lm_kind_name(at_lm_kind kind);
/* The kind named `name`, or AT_ERR_ARGUMENT listing the names. */
AT_API at_status at_lm_kind_parse(at_ctx *ctx, const char *name, at_lm_kind *out);

#define AT_LM_MAX_LAYERS 16
#define AT_LM_MAX_CONTEXT 4096

typedef struct at_lm_config {
    at_lm_kind kind;
    int context;   /* T: the longest input the model reads. transformer:
                      its positions (block size); LSTM kinds: the length
                      of the training windows (truncated BPTT) and of the
                      window generation conditions on. 1 .. AT_LM_MAX_CONTEXT */
    int layers;    /* transformer blocks, 1 .. AT_LM_MAX_LAYERS; LSTM kinds: 1 */
    int heads;     /* transformer: H, divides width; LSTM kinds: 1      */
    int width;     /* transformer: D (d_model); LSTM kinds: k (see above) */
    int embed;     /* LSTM kinds: the character embedding size; transformer: 0 (= width) */
    int memory;    /* attention, kv, kvp: L, the outputs attended over;
                      ngram: N - 1 (2 .. 16); others 0                   */
    float dropout; /* p in [0, 0.9): transformer: on the embeddings, on
                      the attention's output and on the MLP's output
                      (GPT-2's places; the attention weights themselves
                      are not dropped); LSTM kinds: on the LSTM's output.
                      Only in training mode.                             */
    uint64_t seed; /* parameter initialisation                          */
} at_lm_config;

/* The defaults of `kind`: transformer 4 layers x 4 heads x 128 wide,
 * context 64, dropout 0 (nanoGPT's laptop recipe); LSTM kinds width 128,
 * embed 64, context 100, memory 5 (ngram: N = 4, memory 3). */
AT_API void at_lm_config_default(at_lm_config *config, at_lm_kind kind);

typedef struct at_lm at_lm;

/* A new model with freshly initialised parameters. It takes ownership of
 * vocab (chars kind; freed by at_lm_free, also on failure). An impossible
 * configuration is an AT_ERR_ARGUMENT naming the field. */
AT_API at_status at_lm_create(at_ctx *ctx, at_lm **out, const at_lm_config *config, at_vocab *vocab);
AT_API void at_lm_free(at_lm *model);
/* A new model equal to `model`: the same configuration, vocabularies and
 * parameter values, sharing nothing with it (e.g. a replica for
 * at_train_replicas). */
AT_API at_status at_lm_copy(at_ctx *ctx, at_lm **out, const at_lm *model);
AT_API const at_lm_config *at_lm_get_config(const at_lm *model);
AT_API at_params *at_lm_params(const at_lm *model);
AT_API const at_vocab *at_lm_vocab(const at_lm *model);

/* Save the parameters + "attend.lm" (the configuration as JSON) +
 * "attend.vocab", plus extra (may be NULL), atomically. Load makes the
 * model from the file alone; a missing, truncated or foreign file, a
 * configuration that is not exactly the fields above with values in range,
 * or a parameter missing, extra or of the wrong shape is an AT_ERR_FORMAT
 * (AT_ERR_SHAPE) naming the path and the problem. meta_out: NULL, or an
 * empty at_metadata that receives every metadata entry. */
AT_API at_status at_lm_save(at_ctx *ctx, const at_lm *model, const char *path,
                            const at_metadata *extra);
AT_API at_status at_lm_load(at_ctx *ctx, at_lm **out, const char *path, at_metadata *meta_out);

/* The forward pass. ids (B, T) with 1 <= T <= context -> logits (B, T, V):
 * row t predicts the character after ids[t] from ids[0 .. t] alone
 * (causal: a later id never changes an earlier row). Ids outside the
 * vocabulary, or T out of range, are an AT_ERR_ARGUMENT.
 * weights: NULL, or room for at_lm_attention_size(model, B, T) floats that
 * receive the attention: transformer (layers, B, H, T, T), every layer and
 * head, row t over keys 0..t; attention/kv/kvp (1, B, 1, T, T), row t over
 * its window t-L .. t-1 (zero elsewhere; row 0 is all zero); lstm and
 * ngram have none (size 0; pass NULL). Recorded on the tape when gradients
 * are on; dropout applies in training mode. */
AT_API at_status at_lm_logits(at_ctx *ctx, const at_lm *model, const int32_t *ids, int B, int T,
                              at_tensor **logits, float *weights);
AT_API size_t at_lm_attention_size(const at_lm *model, int B, int T);
/* Mean cross-entropy (nats) of predicting windows[b][1 .. T] from
 * windows[b][0 .. T-1]: windows (B, T + 1) ids, B rows. (1), on the tape. */
AT_API at_status at_lm_loss(at_ctx *ctx, const at_lm *model, const int32_t *windows, int B, int T,
                            at_tensor **loss);

/* ------------------------------------------------------------------ text
 * A text file for a language model: the whole file (at most 1 GB), valid
 * UTF-8 (else AT_ERR_FORMAT naming the byte offset), at least 2
 * characters (an empty file is an AT_ERR_FORMAT saying so). The split is
 * contiguous: the first (100 - valid_percent)% of the characters train,
 * the rest validates (nanoGPT's convention; valid_percent 1 .. 50). */
typedef struct at_lm_text {
    char *text;          /* the file, NUL-terminated (malloc'd)           */
    size_t bytes;        /* its length in bytes                          */
    size_t chars;        /* code points                                  */
    size_t split_byte;   /* validation starts here (a code point boundary) */
    size_t train_chars, valid_chars;
} at_lm_text;
AT_API at_status at_lm_text_read(at_ctx *ctx, const char *path, int valid_percent, at_lm_text *out);
AT_API void at_lm_text_clear(at_lm_text *text);
/* The character vocabulary of the training part (chars kind). */
AT_API at_status at_lm_text_vocab(at_ctx *ctx, const at_lm_text *text, at_vocab **out);
/* Ids of text[0 .. bytes) (valid UTF-8), one per character, in a malloc'd
 * array; *unknown counts the characters the vocabulary lacks (they read as
 * UNK). */
AT_API at_status at_lm_encode(at_ctx *ctx, const at_vocab *vocab, const char *text, size_t bytes,
                              int32_t **ids, size_t *n, size_t *unknown);

/* A book ready to train on: read and split as at_lm_text_read says (the
 * last valid_percent% validates), both parts encoded with vocab (normally
 * the model's); unknown counts the characters of either part the
 * vocabulary lacks (they read as UNK). Clear with at_lm_data_clear. */
#define AT_LM_VALID_PERCENT 10 /* the split `attend lm` uses */
typedef struct at_lm_data {
    at_lm_text text;
    int32_t *train, *valid; /* (train_len), (valid_len) ids (malloc'd) */
    size_t train_len, valid_len, unknown;
} at_lm_data;
AT_API at_status at_lm_data_read(at_ctx *ctx, const char *path, int valid_percent,
                                 const at_vocab *vocab, at_lm_data *out);
AT_API void at_lm_data_clear(at_lm_data *data);

/* ------------------------------------------------------- evaluation, task
 * Nats per character of predicting ids[1 .. n) with the model: the text is
 * cut into consecutive windows of `context` characters (each window's
 * first character is read, not predicted, as in training), scored batch
 * windows at a time with gradients off and out of training mode (both
 * restored). max_chars > 0 scores only the first max_chars characters (a
 * quick estimate during training). *predicted gets the count scored. */
AT_API at_status at_lm_evaluate(at_ctx *ctx, const at_lm *model, const int32_t *ids, size_t n,
                                int batch, size_t max_chars, double *nats, size_t *predicted);

/* The model as an at_trainable: example i is the window of context + 1
 * ids starting at train[i] (every start, so an epoch sees each character
 * `context` times); evaluation reports "nats" and "bpc" of at_lm_evaluate
 * on valid (give the trainer best_metric "nats", lower_is_better 1). The
 * task borrows the model and both arrays; eval_chars as max_chars above. */
typedef struct at_lm_task at_lm_task;
AT_API at_status at_lm_task_create(at_ctx *ctx, at_lm_task **out, at_lm *model,
                                   const int32_t *train, size_t train_len, const int32_t *valid,
                                   size_t valid_len, int eval_batch, size_t eval_chars);
AT_API void at_lm_task_free(at_lm_task *task);
AT_API const at_trainable *at_lm_task_trainable(const at_lm_task *task);

/* The training recipe of `attend lm train`, shared by every front end:
 * Adam (beta2 0.99) warmed up linearly over `warmup` steps, then a cosine
 * decay to lr / 10; gradients clipped to norm 1; validation every
 * eval_every steps, the best model by "nats" (lower is better); minutes >
 * 0 also stops training after that long. The defaults, from
 * at_lm_recipe_default, are the CLI's: 2000 steps of batch 64, lr 0.001,
 * warm-up 100, validation every 500, seed 1. */
typedef struct at_lm_recipe {
    long steps, batch, warmup, eval_every, save_every;
    long seed;
    double lr, minutes;
} at_lm_recipe;
AT_API void at_lm_recipe_default(at_lm_recipe *recipe);
/* at_trainer_options_default, then the recipe's schedule, optimiser,
 * clipping, evaluation and budget; the caller adds out_dir, resume,
 * data_id, progress, stop and reducer. */
AT_API void at_lm_recipe_trainer_options(const at_lm_recipe *recipe, at_trainer_options *t);

/* ------------------------------------------------------------ generation
 * Sampling, one character at a time, conditioned on the last `context`
 * characters (the prompt, then what was drawn): logits / temperature,
 * only the top_k largest kept (0 = all), a softmax, one draw from a
 * generator seeded with seed, so the same seed gives the same text.
 * temperature 0 takes the most likely character (greedy). PAD, UNK,
 * START and END are never drawn. The prompt must be non-empty valid UTF-8
 * made of characters the vocabulary has (else AT_ERR_ARGUMENT naming the
 * first unseen character and its position). *out gets prompt + length
 * characters (malloc'd). */
typedef struct at_lm_sample_options {
    int length;        /* characters to draw, 0 .. 1,000,000; default 200 */
    float temperature; /* >= 0, default 1                                 */
    int top_k;         /* 0 .. V; default 0                               */
    uint64_t seed;     /* default 1                                       */
} at_lm_sample_options;
AT_API void at_lm_sample_options_default(at_lm_sample_options *options);
AT_API at_status at_lm_generate(at_ctx *ctx, const at_lm *model, const char *prompt,
                                const at_lm_sample_options *options, char **out);

/* The distribution of the character after prompt (non-empty valid UTF-8,
 * every character in the vocabulary; else AT_ERR_ARGUMENT as above), read
 * from its last `context` characters with gradients off and out of
 * training mode (both restored; the context's arena is reset): probs gets
 * V = at_vocab_size(at_lm_vocab(model)) values, PAD, UNK, START and END 0
 * and the others the softmax of their logits, summing to 1: what
 * at_lm_generate draws from at temperature 1 and top_k 0, whose argmax is
 * the greedy next character. */
AT_API at_status at_lm_next(at_ctx *ctx, const at_lm *model, const char *prompt, float *probs);

/* The attention of the model on one passage (valid UTF-8, 1 .. context
 * characters, every one in the vocabulary): weights (layers, heads, T, T)
 * as at_lm_logits gives for B = 1, malloc'd, and the passage's characters
 * as labels. lstm and ngram have no attention: AT_ERR_ARGUMENT. */
typedef struct at_lm_attention {
    int layers, heads, length; /* L, H, T                                */
    float *weights;            /* (L, H, T, T)                           */
    char **labels;             /* T strings, one block (free(labels[0]'s
                                  owner) via at_lm_attention_clear)        */
} at_lm_attention;
AT_API at_status at_lm_attention_of(at_ctx *ctx, const at_lm *model, const char *passage,
                                    at_lm_attention *out);
AT_API void at_lm_attention_clear(at_lm_attention *attention);

/* Daniluk et al.'s attention span: mass[d-1] = the mean weight the model
 * puts on its output d steps back, d = 1 .. L (memory), over every row of
 * ids' consecutive windows of `context` characters that sees a whole
 * window (rows L .. context-1), so the L values sum to 1. Only the
 * attention, kv and kvp models (else AT_ERR_ARGUMENT); context must exceed
 * L and n reach context. max_chars > 0 reads only that many ids. */
AT_API at_status at_lm_attention_span(at_ctx *ctx, const at_lm *model, const int32_t *ids,
                                      size_t n, size_t max_chars, double *mass);

#ifdef __cplusplus
}
#endif
#endif /* ATTEND_API_LM_H */
