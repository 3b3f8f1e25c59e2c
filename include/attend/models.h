/*
 * attend/models.h - models: the sequence-to-sequence translator with any
 * attention family, and its task for the trainer (libattend).
 *
 * Part of the public contract of libattend; include <attend.h> for all of
 * it. The conventions (errors, shapes, the one mask convention, memory,
 * gradients) are written once, at the top of attend/core.h.
 */
#ifndef ATTEND_API_MODELS_H
#define ATTEND_API_MODELS_H

#include "attend/core.h"
#include "attend/attention.h"
#include "attend/text.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ models
 * The date translator's model, usable on any task of text pairs: a
 * sequence-to-sequence network with attention. Each side reads characters
 * or whitespace-separated tokens (its vocabulary's kind), e.g. characters
 * in and phones out for grapheme-to-phoneme.
 *
 *   source units -> embedding (E) -> BiLSTM encoder (N per direction,
 *   lengths masked; encoder_layers of them stacked) -> annotations h
 *   (B, Tx, 2N) -> a decoder, one output unit per step until END or
 *   max_target_len:
 *
 *   seed   the AttentionDecoder of "Attention in Keras" (family 2, its own
 *          additive attention on s_{t-1}). Options: y_t from s_t (default)
 *          or s_{t-1} (the original), and what y_{t-1} is: an embedding of
 *          the previous target token (teacher forcing, default: it trains
 *          better, see docs/models.md) or the model's own previous softmax
 *          (the original).
 *   luong  Luong et al.'s decoder with input feeding: a GRU or LSTM cell on
 *          x_t = [embed(y_{t-1}); h̃_{t-1}], attention of the CURRENT state
 *          h_t over h, h̃_t = tanh(W_c [c_t; h_t]), logits = W_s h̃_t + b_s.
 *          Its attention is any family below.
 *
 * Padding is masked in the encoder, in every attention and in the loss
 * (PAD targets are ignored). The output length is independent of the input
 * length. Ids are those of at_vocab (PAD 0, UNK 1, START 2, END 3); the
 * source and the target each have their own vocabulary. A checkpoint holds
 * the configuration and both vocabularies in __metadata__, so a saved
 * model is everything at_seq2seq_load needs. */
typedef enum at_decoder_kind { AT_DECODER_SEED, AT_DECODER_LUONG } at_decoder_kind;

typedef enum at_attention_kind {
    AT_ATTENTION_ADDITIVE,       /* Bahdanau                                */
    AT_ATTENTION_DOT,            /* Luong dot (decoder = 2 x encoder)        */
    AT_ATTENTION_GENERAL,        /* Luong general                           */
    AT_ATTENTION_CONCAT,         /* Luong concat                            */
    AT_ATTENTION_LOCATION,       /* Luong location (max_source_len weights) */
    AT_ATTENTION_LOCAL_M,        /* Luong local, p_t = t (general score)    */
    AT_ATTENTION_LOCAL_P,        /* Luong local, predicted p_t              */
    AT_ATTENTION_MONOTONIC,      /* Raffel: soft in training, hard decoding */
    AT_ATTENTION_FORWARD,        /* Zhang's forward attention on additive   */
    AT_ATTENTION_MULTIPLICATIVE, /* scaled dot (decoder = 2 x encoder)      */
    AT_ATTENTION_MULTI_HEAD,     /* multi-head (decoder = 2 x encoder)      */
    AT_ATTENTION_KINDS
} at_attention_kind;

/* "additive", "dot", ..., "local-m", "multi-head"; NULL if out of range. */
AT_API const char *at_attention_kind_name(at_attention_kind kind);
/* The kind named `name` (as above), or AT_ERR_ARGUMENT listing the names. */
AT_API at_status at_attention_kind_parse(at_ctx *ctx, const char *name, at_attention_kind *out);

typedef enum at_cell_kind { AT_CELL_GRU, AT_CELL_LSTM } at_cell_kind;

typedef struct at_seq2seq_config {
    at_decoder_kind decoder;
    at_attention_kind attention; /* luong decoder only; seed is additive */
    at_cell_kind cell;           /* luong decoder only                   */
    int seed_teacher_forcing;    /* seed: 1 embed(y_{t-1}), 0 own softmax */
    int seed_output_from_previous_state; /* seed: 1 = the original's s_{t-1} */
    int embed_size;              /* E, source and target embeddings      */
    int encoder_size;            /* N, per direction                     */
    int encoder_layers;          /* L stacked BiLSTMs, 1 .. 8 (default 1) */
    float dropout;               /* p, between encoder layers (default 0) */
    float output_dropout;        /* q, luong: on h~_t (default 0)         */
    int decoder_size;            /* S                                    */
    int attn_size;               /* A, additive / concat / monotonic ... */
    int heads;                   /* multi-head                           */
    int window;                  /* local: D                             */
    int max_source_len;          /* longest accepted source, units       */
    int max_target_len;          /* decoding stops here (END included)   */
    uint64_t seed;               /* parameter initialisation             */
} at_seq2seq_config;

/* The deeper encoder (encoder_layers L > 1), as PyTorch's
 * nn.LSTM(E, N, num_layers=L, bidirectional=True, dropout=p):
 *     h^1 = BiLSTM_1(embed(source))                 (B, Tx, 2N)
 *     h^l = BiLSTM_l(dropout_p(h^{l-1}))            (B, Tx, 2N), l = 2 .. L
 * and the annotations are the top layer's h^L. Layer l > 1 reads the
 * 2N-wide output of layer l - 1. Parameters: layer 1 keeps the one-layer
 * model's names (encoder.weight_ih_l0, encoder.weight_ih_l0_reverse, ...),
 * layer l is encoder.weight_ih_l{l-1}[_reverse] etc., PyTorch's names, so
 * a one-layer checkpoint from before encoder_layers existed still loads.
 * The decoder starts from the TOP layer: luong's s_0 reads the top layer's
 * last forward and first backward states, the seed's s_0 its h_1.
 *
 * dropout: inverted dropout (at_dropout) with drop probability p on the
 * input of every encoder layer after the first, i.e. between layers, and
 * nowhere else: not on the embeddings, not on the top layer's output, not
 * in the decoder (nn.LSTM's `dropout`). It is applied only while the
 * context is in training mode (at_ctx_set_training; the trainer and
 * at_seq2seq_train_step switch it on for the loss) with masks drawn from
 * the context's generator; evaluation and decoding never drop anything.
 * p must be 0 when L = 1 (there is no "between"): a dropout that would do
 * nothing is refused rather than ignored.
 *
 * output_dropout q (luong decoder only; the seed decoder refuses q > 0):
 * inverted dropout on the attentional vector of every step,
 *     d_t = dropout_q(h~_t)        logits_t = W_s d_t
 * and d_t, not h~_t, is fed to the next step (input feeding), as
 * OpenNMT's decoder dropout. Like p it is drawn only in training mode.
 *
 * The defaults: the luong decoder with additive attention, one encoder
 * layer, no dropout, sizes for the date translator (see docs/models.md),
 * max lengths 0 (set them). */
#define AT_SEQ2SEQ_MAX_ENCODER_LAYERS 8
AT_API void at_seq2seq_config_default(at_seq2seq_config *config);

typedef struct at_seq2seq at_seq2seq;

/* A new model with freshly initialised parameters. It takes ownership of
 * both vocabularies (freed by at_seq2seq_free, also on failure). An
 * impossible configuration is an AT_ERR_ARGUMENT naming the field. */
AT_API at_status at_seq2seq_create(at_ctx *ctx, at_seq2seq **out, const at_seq2seq_config *config,
                            at_vocab *source_vocab, at_vocab *target_vocab);
AT_API void at_seq2seq_free(at_seq2seq *model);
/* A new model equal to `model`: the same configuration, vocabularies and
 * parameter values, sharing nothing with it (e.g. a replica for
 * at_train_replicas). */
AT_API at_status at_seq2seq_copy(at_ctx *ctx, at_seq2seq **out, const at_seq2seq *model);
AT_API const at_seq2seq_config *at_seq2seq_get_config(const at_seq2seq *model);
AT_API at_params *at_seq2seq_params(const at_seq2seq *model);
AT_API const at_vocab *at_seq2seq_source_vocab(const at_seq2seq *model);
AT_API const at_vocab *at_seq2seq_target_vocab(const at_seq2seq *model);
/* Attention heads of the weights the model hands back (1 but multi-head). */
AT_API int at_seq2seq_heads(const at_seq2seq *model);

/* Save parameters + "attend.model" (the configuration as JSON) +
 * "attend.source_vocab" / "attend.target_vocab", plus extra (may be NULL;
 * e.g. training state), atomically. Load makes the model from the file
 * alone; a missing, truncated or foreign file is an AT_ERR_IO or
 * AT_ERR_FORMAT naming the path. The configuration is read strictly: an
 * unknown or missing field, a word that is not one of the field's words,
 * a key twice, or a number that is not an integer in range is an
 * AT_ERR_FORMAT naming the field. Only "encoder_layers" (an integer) and
 * "dropout" (a number) may be absent, as in files written before they
 * existed: they read as 1 and 0. Each parameter the configuration implies
 * is compared with the file's tensor of that name before it is allocated
 * (AT_ERR_FORMAT if missing, AT_ERR_SHAPE naming both shapes), the file
 * may hold no other tensor (AT_ERR_FORMAT), and the loaded model is never
 * initialised randomly: the file's values are its values. meta_out: NULL,
 * or an empty at_metadata that receives every metadata entry. */
AT_API at_status at_seq2seq_save(at_ctx *ctx, const at_seq2seq *model, const char *path,
                          const at_metadata *extra);
AT_API at_status at_seq2seq_load(at_ctx *ctx, at_seq2seq **out, const char *path,
                          at_metadata *meta_out);
/* Only the configuration of a checkpoint at_seq2seq_save wrote, from its
 * metadata (the parameters are not read): e.g. to list models by decoder
 * and attention without loading them. A file that is not a seq2seq model,
 * or whose configuration does not read (as at_seq2seq_load reads it), is
 * an AT_ERR_FORMAT naming the path. */
AT_API at_status at_seq2seq_read_config(at_ctx *ctx, const char *path, at_seq2seq_config *out);

/* A data set encoded once for a model: ids of every source and target. A
 * source longer than max_source_len or a target longer than
 * max_target_len - 1 is an AT_ERR_ARGUMENT naming the pair. */
typedef struct at_seq2seq_data {
    size_t count;
    int32_t *ids;          /* all sources then all targets, concatenated */
    size_t *source_start;  /* (count) offset of pair i's source in ids    */
    size_t *target_start;  /* (count)                                     */
    int32_t *source_len;   /* (count) units (characters or tokens)        */
    int32_t *target_len;   /* (count) units, END excluded                 */
} at_seq2seq_data;
AT_API at_status at_seq2seq_data_build(at_ctx *ctx, const at_seq2seq *model, const at_pairs *pairs,
                                at_seq2seq_data *out);
AT_API void at_seq2seq_data_clear(at_seq2seq_data *data);

/* A padded batch. Tx = longest source of the batch, Ty = longest target + 1
 * (END). Buffers are sized once for max_batch and the model's limits. */
typedef struct at_seq2seq_batch {
    int batch, source_len, target_len; /* B, Tx, Ty                       */
    int max_batch;
    int32_t *source;      /* (B, Tx) PAD after each length                 */
    int32_t *lengths;     /* (B)                                           */
    uint8_t *source_mask; /* (B, Tx) 1 = a real unit (not padding)         */
    int32_t *target_in;   /* (Ty, B) START, then the target (teacher input)  */
    int32_t *target_out;  /* (Ty, B) the target, END, then PAD             */
} at_seq2seq_batch;
AT_API at_status at_seq2seq_batch_init(at_ctx *ctx, const at_seq2seq *model, int max_batch,
                                at_seq2seq_batch *batch);
AT_API void at_seq2seq_batch_free(at_seq2seq_batch *batch);
/* Fill from data rows indices[0..n) (n <= max_batch). */
AT_API at_status at_seq2seq_batch_fill(at_ctx *ctx, at_seq2seq_batch *batch,
                                const at_seq2seq_data *data, const size_t *indices, int n);

/* Mean cross-entropy of the batch's targets (PAD ignored), recorded on the
 * tape when gradients are on. */
AT_API at_status at_seq2seq_loss(at_ctx *ctx, const at_seq2seq *model, const at_seq2seq_batch *batch,
                          at_tensor **loss);
/* Greedy decoding of a batch (inference: call with gradients off and the
 * context out of training mode, its default; in training mode the encoder's
 * dropout would apply).
 * ids (B, max_target_len): output ids, END included, PAD after it.
 * weights NULL or (B, heads, max_target_len, Tx): attention per step. */
AT_API at_status at_seq2seq_decode(at_ctx *ctx, const at_seq2seq *model, const at_seq2seq_batch *batch,
                            int32_t *ids, float *weights);

/* Beam search (src/models/beam.c): keep the `width` best partial outputs
 * of each source; an output ends at END. Hypotheses are ranked by
 * score / length^length_penalty, where score is the sum of the
 * log-probabilities of the output's units and length counts them, END
 * included (0 = the raw sum, which favours short outputs; 1 = per unit).
 * A source is done when `width` hypotheses have ended, or at
 * max_target_len; the best ended hypothesis wins, and only when none
 * ended does the best unfinished one. Width 1 is greedy decoding: the same
 * ids as at_seq2seq_decode, and the same weights up to each row's END
 * (greedy keeps writing a finished row's attention while others go on). */
#define AT_BEAM_MAX_WIDTH 64
typedef struct at_beam_options {
    int width;            /* K, 1..AT_BEAM_MAX_WIDTH; default 1 (greedy) */
    float length_penalty; /* α in [0, 4]; default 1                       */
} at_beam_options;
AT_API void at_beam_options_default(at_beam_options *options);
/* Beam search of a batch (inference: call with gradients off and out of
 * training mode, as at_seq2seq_decode). ids (B,
 * max_target_len) and weights NULL or (B, heads, max_target_len, Tx) as for
 * at_seq2seq_decode, of each source's best hypothesis; scores NULL or (B):
 * its sum of log-probabilities (END included). A width or penalty out of
 * range is an AT_ERR_ARGUMENT. Memory: about width x what greedy decoding
 * takes, in the context's arena. */
AT_API at_status at_seq2seq_beam_search(at_ctx *ctx, const at_seq2seq *model,
                                        const at_seq2seq_batch *batch,
                                        const at_beam_options *options, int32_t *ids,
                                        float *weights, float *scores);

/* One string translated, with its attention. */
typedef struct at_translation {
    char *text;          /* the output, UTF-8 (malloc'd); tokens are
                            joined by single spaces                       */
    int source_len;      /* Tx: units (characters or tokens) of the input  */
    int target_len;      /* Ty: units of the output (END excluded)         */
    int heads;           /* 1, or H for multi-head                         */
    float *weights;      /* (heads, Ty, Tx): row t = output unit t         */
    float score;         /* sum of the log-probabilities of the output's
                            units, END included (if it ended)             */
} at_translation;
/* Empty text (for a token source: no token), invalid UTF-8, a token over
 * AT_VOCAB_MAX_TOKEN_BYTES or more than max_source_len units is an
 * AT_ERR_ARGUMENT saying which; unseen units become UNK. Runs with
 * gradients off and out of training mode (no dropout; restores both
 * settings) and resets the context. */
AT_API at_status at_seq2seq_translate(at_ctx *ctx, const at_seq2seq *model, const char *text,
                               at_translation *out);
/* The same with beam search (options NULL = greedy); the weights are the
 * chosen hypothesis's. */
AT_API at_status at_seq2seq_translate_beam(at_ctx *ctx, const at_seq2seq *model, const char *text,
                                           const at_beam_options *options, at_translation *out);
AT_API void at_translation_clear(at_translation *translation);

/* Explain one step (src/models/explain.c): every number of the decoder
 * step that wrote output unit K of the greedy translation of `text`, so a
 * learner can read the equations (docs/explain.md) with the real numbers.
 * The numbers are float32 copies of what the model's own step computed
 * (the step runs with a recorder attached; nothing is recomputed), each
 * malloc'd; at_step_explanation_clear frees them. Names and shapes, with
 * Tx source units, H heads (1 but multi-head), 2N the encoder width, Dv
 * the width of what α weighs (2N; multi-head: 2N/H), S the decoder size,
 * I the decoder's input width, Vt the target vocabulary:
 *
 * Both decoders
 *   annotations (Tx, 2N)   h_j, the encoder states
 *   scores      (H, Tx)    the family's score e_j before its normalisation
 *                          (-inf where a key is hidden or, monotonic, was
 *                          not scanned)
 *   weights     (H, Tx)    α_j: row K of at_seq2seq_translate's weights
 *   values      (H, Tx, Dv) v_j, what α weighs: h_j; multi-head: each
 *                          head's V_h h_j + b_V (its in_proj rows)
 *   head_context (H, Dv)   Σ_j α_hj v_hj (== context when H = 1)
 *   contributions (H, Tx)  input j's share of the head's context along
 *                          its direction: (α_hj v_hj)·ĉ_h, ĉ_h = c_h/‖c_h‖
 *                          (0 when c_h = 0). They sum over j to ‖c_h‖;
 *                          a negative one pulls against c_h. This is the
 *                          honest "top contributing inputs": α_j alone
 *                          ignores how long h_j is and where it points.
 *   context     (2N)       c_t; multi-head: W_O [c_1 ... c_H] + b_O
 *   input       (I)        seed: y_{t-1} (I = E, the embedding of the
 *                          previous unit, or Vt, its own softmax);
 *                          luong: x_t = [embed(y_{t-1}); h̃_{t-1}] (E + S)
 *   state_prev, state (S)  s_{t-1} and s_t (luong: h_{t-1}, h_t)
 *   logits, probabilities (Vt)  and the top 5 of them in `top`
 * Seed decoder (NULL for luong)
 *   reset, update, proposal (S)  r_t, z_t and s̃_t of its eqs. 4-7
 * Luong decoder (NULL for seed)
 *   attentional (S)        h̃_t = tanh(W_c [c_t; h_t])
 *   memory_prev, memory (S)  the LSTM's cell c_{t-1}, c_t (NULL for GRU)
 * Families
 *   local-m/-p: position = p_t; window (Tx) 1 for s in W_t, else 0;
 *               align (Tx) the softmax inside the window (local-p's
 *               weights are align · exp(−(s − p_t)²/(2σ²)), σ = D/2)
 *   monotonic:  decoding is hard: from previous_position (included) the
 *               scan stops at the first j with p_choose_j = σ(e_j) >= 0.5;
 *               position = that j, or -1 when none (then α = 0 and c = 0);
 *               p_choose (Tx) is 0 before previous_position
 *   forward:    prior (Tx) α̂_{t-1}, base (Tx) y_t the additive softmax;
 *               α̂_t = (α̂_{t-1}(n) + α̂_{t-1}(n-1)) y_t(n), renormalised
 *   other fields of a family not in use are NULL (position 0).
 *
 * step K counts from 0; K = Ty (the output's length) is the step that
 * wrote END, when the output ended. A K outside that range, empty text,
 * invalid UTF-8 or a text too long is an AT_ERR_ARGUMENT saying which.
 * Runs with gradients off and out of training mode (restored after) and
 * resets the context, as at_seq2seq_translate. */
#define AT_EXPLAIN_TOP 5
#define AT_EXPLAIN_UNIT_BYTES (AT_VOCAB_MAX_TOKEN_BYTES + 1)
typedef struct at_explain_choice {
    int32_t id;                        /* a target id                      */
    float probability;                 /* softmax(logits)[id]              */
    char unit[AT_EXPLAIN_UNIT_BYTES];  /* its text, "<END>" for END        */
} at_explain_choice;
typedef struct at_step_explanation {
    char *output;         /* the whole greedy translation (as translate's) */
    int step;             /* K                                            */
    int source_len;       /* Tx                                           */
    int target_len;       /* Ty, END excluded                              */
    char **source_units;  /* (Tx) the input's units as text (one block)    */
    at_explain_choice previous; /* y_{t-1}: "<START>" at K = 0 (its
                                   probability is not this step's: 0)    */
    at_explain_choice chosen;   /* the argmax: output unit K, or END       */
    at_decoder_kind decoder;
    at_attention_kind attention; /* the luong decoder's; seed: additive  */
    at_cell_kind cell;           /* luong only                          */
    int heads, annotation_size, value_size, state_size, input_size, vocab_size;
    float *annotations, *scores, *weights, *values, *head_context, *contributions, *context;
    float *input, *state_prev, *state, *logits, *probabilities;
    float *reset, *update, *proposal;       /* seed                       */
    float *attentional, *memory_prev, *memory; /* luong                   */
    float position, previous_position;      /* local, monotonic           */
    float *window, *align, *p_choose, *prior, *base;
    int top_count;                          /* min(5, Vt)                 */
    at_explain_choice top[AT_EXPLAIN_TOP];  /* most probable first        */
} at_step_explanation;
AT_API at_status at_seq2seq_explain_step(at_ctx *ctx, const at_seq2seq *model, const char *text,
                                         int step, at_step_explanation *out);
AT_API void at_step_explanation_clear(at_step_explanation *explanation);

/* Training and evaluation (src/models/trainer.c). One step: reset the
 * context, zero gradients, loss in training mode (dropout on; the setting
 * is restored after), backward, clip to clip_norm (0 = none), optimiser
 * step. *loss_out gets the loss. */
AT_API at_status at_seq2seq_train_step(at_ctx *ctx, at_seq2seq *model, at_optim *optim,
                                const at_seq2seq_batch *batch, float clip_norm,
                                float *loss_out);

/* Whole-sequence exact match (the output up to END equals the target, END
 * included; padding never counts) and per-unit accuracy (target positions,
 * END included, where the output has the same id; "chars" are units:
 * characters or tokens, as the target vocabulary reads them). */
typedef struct at_seq2seq_score {
    long pairs, exact;
    long chars, chars_correct;
} at_seq2seq_score;
/* Greedy decoding of every pair, batch_size at a time, sorted by length,
 * with gradients off and out of training mode (both restored after).
 * correct: NULL or (count) bytes, 1 where the pair is matched exactly. */
AT_API at_status at_seq2seq_evaluate(at_ctx *ctx, const at_seq2seq *model, const at_seq2seq_data *data,
                              int batch_size, at_seq2seq_score *score, uint8_t *correct);

/* Scoring against several references (src/models/references.c): pairs
 * that share a source on consecutive lines are one item whose targets are
 * its references (a word's pronunciations). Each item's source is decoded
 * once (beam NULL = greedy), batch_size at a time in length order, and
 * scored by at_wer_add: WER counts the items whose output equals none of
 * the references, PER the edit distance to the closest one over its
 * length. outputs: NULL, or room for at_pairs_count_sources(pairs) strings
 * that receive each item's output (malloc'd, the caller frees them; all
 * NULL after an error). A source with no unit or more than max_source_len
 * is an AT_ERR_ARGUMENT naming it; unseen units become UNK. */
AT_API at_status at_seq2seq_evaluate_references(at_ctx *ctx, const at_seq2seq *model,
                                                const at_pairs *pairs,
                                                const at_beam_options *beam, int batch_size,
                                                at_wer *score, char **outputs);

/* Batches that group pairs of similar source length (less padding): the
 * data is shuffled, cut into chunks of `pool` batches, each chunk sorted
 * by length and cut into batches, and the batch order shuffled. order gets
 * data->count indices; batch k is order[k*batch_size ...]. */
AT_API void at_seq2seq_bucket_order(const at_seq2seq_data *data, int batch_size, int pool,
                             at_rng *rng, size_t *order);

/* The date translator as an at_trainable: data encoded once, padded
 * batches in length buckets, the mean cross-entropy, and greedy decoding of
 * the validation pairs for the metrics "exact" (whole outputs) and "char"
 * (per target unit: character or token). The task borrows the model; valid
 * must not be empty. */
/* A new model for these pairs: both vocabularies from the training pairs,
 * of the kinds given (characters or tokens, on either side; the date
 * translator reads and writes characters), max_source_len = the longest
 * source of train and valid, in its units, + 16 (room for longer inputs at
 * translation time), max_target_len = the longest target + 2 (END, and one
 * spare); the other fields from config. */
AT_API at_status at_seq2seq_create_for_pairs(at_ctx *ctx, at_seq2seq **out,
                                      const at_seq2seq_config *config, const at_pairs *train,
                                      const at_pairs *valid, at_vocab_kind source_kind,
                                      at_vocab_kind target_kind);
typedef struct at_seq2seq_task at_seq2seq_task;
AT_API at_status at_seq2seq_task_create(at_ctx *ctx, at_seq2seq_task **out, at_seq2seq *model,
                                 const at_pairs *train, const at_pairs *valid, int max_batch);
AT_API void at_seq2seq_task_free(at_seq2seq_task *task);
AT_API const at_trainable *at_seq2seq_task_trainable(const at_seq2seq_task *task);
/* What the task's evaluation reports (greedy decoding of the validation
 * pairs): AT_TASK_EXACT (the default) "exact" and "char" (higher is
 * better), or AT_TASK_WORD_ERRORS "wer" and "per" of
 * at_seq2seq_evaluate_references (lower is better; a source's references
 * on consecutive lines). With word errors, give the trainer
 * best_metric "wer" and lower_is_better 1, or it keeps the worst model. */
typedef enum at_task_metrics { AT_TASK_EXACT, AT_TASK_WORD_ERRORS } at_task_metrics;
AT_API void at_seq2seq_task_set_metrics(at_seq2seq_task *task, at_task_metrics metrics);

/* The training recipe of `attend train`, shared by every front end that
 * trains a seq2seq model (the CLI, the lab's server, Python's attend.train)
 * so that the same options give the same weights through each: Adam with
 * `warmup` steps of linear warm-up, then cosine decay from lr to final_lr,
 * gradient-norm clipping, an evaluation every eval_every steps. seed also
 * draws the generated dates and initialises the model (the caller passes
 * it on). The defaults, from at_seq2seq_recipe_default, are the date
 * translator's (docs/models.md). */
typedef struct at_seq2seq_recipe {
    long steps;       /* optimisation steps (3000)                          */
    long epochs;      /* if > 0: passes over the data instead (0)           */
    long batch;       /* examples a step (128)                              */
    long warmup;      /* steps of linear warm-up (200)                      */
    long eval_every;  /* steps between evaluations (500)                    */
    long save_every;  /* steps between last.* saves (0: evaluations only)   */
    long seed;        /* data order, generated data, initialisation (1)     */
    double lr;        /* Adam's peak learning rate (0.004)                  */
    double final_lr;  /* where the cosine ends; < 0 (default): lr / 100     */
    double clip;      /* gradient-norm clip; 0 = none (1)                   */
    double minutes;   /* training-time budget; 0 = none (0)                 */
} at_seq2seq_recipe;
AT_API void at_seq2seq_recipe_default(at_seq2seq_recipe *recipe);
/* at_trainer_options_default, then the recipe's steps, epochs, batch,
 * seed, optimiser, schedule, clip, evaluation and save intervals and time
 * budget. out_dir, the best metric, resume, data_id, extra, stop and
 * progress stay the caller's. */
AT_API void at_seq2seq_recipe_trainer_options(const at_seq2seq_recipe *recipe,
                                              at_trainer_options *opts);

#ifdef __cplusplus
}
#endif
#endif /* ATTEND_API_MODELS_H */
