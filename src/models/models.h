/*
 * models.h - what the files of src/models share and callers never see.
 *
 * The sequence-to-sequence model is split by job:
 *   config.c      the configuration: defaults, names, checks, JSON.
 *   seq2seq.c     the model's parameters, the encoder, the loss.
 *   decoders.c    one decoder step, for the seed and the luong decoders
 *                 and every attention family; used by training and decoding.
 *   greedy.c      greedy decoding of a batch, and one string translated.
 *   beam.c        beam search of a batch (width 1 = greedy).
 *   explain.c     every number of one greedy decoder step, for learners.
 *   checkpoint.c  save and load, configuration and vocabularies included.
 *   data.c        data sets encoded once, padded batches, length buckets.
 *   trainer.c     one training step and the evaluation metrics.
 *
 * A decoder step reads what the encoder made once per sequence (enc_out)
 * and carries its own state from step to step (dec_state).
 */
#ifndef ATTEND_MODELS_H
#define ATTEND_MODELS_H

#include "attend.h"
#include "internal.h"

struct at_seq2seq {
    at_seq2seq_config config;
    at_vocab *source_vocab, *target_vocab;
    int source_vocab_size, target_vocab_size; /* Vs, Vt */
    at_params *params;
    at_embedding source_embed; /* (Vs, E) */
    at_embedding target_embed; /* (Vt, E); unused by the seed decoder fed
                                  its own softmax                          */
    at_bilstm encoder[AT_SEQ2SEQ_MAX_ENCODER_LAYERS]; /* [0]: E -> 2N, the
                                  others 2N -> 2N; encoder_layers of them  */
    /* seed decoder */
    at_attention_decoder seed;
    /* luong decoder */
    at_dense init; /* [h_fwd; h_bwd] (2N) -> S, tanh           */
    at_gru gru;    /* E + S -> S                                */
    at_lstm lstm;
    at_dense W_c;         /* [c; h] (2N + S) -> S, no bias, tanh       */
    at_dense W_s;         /* S -> Vt                                  */
    at_additive additive; /* additive, forward                        */
    at_luong luong;       /* dot, general, concat, location           */
    at_luong_local local; /* local-m, local-p                         */
    at_monotonic monotonic;
    at_multi_head multi_head;
};

/* What the encoder made, once per sequence. */
typedef struct enc_out {
    int B, Tx;
    at_tensor *annotations;       /* (B, Tx, 2N)                                */
    at_tensor *keys_proj;         /* the family's precomputed keys, or NULL     */
    at_tensor *k_heads, *v_heads; /* multi-head (B, H, Tx, 2N/H)            */
    const int32_t *lengths;       /* (B)                                        */
    at_attn_mask mask;            /* padding (B, Tx), rows = B                  */
} enc_out;

/* What a decoder carries from step t-1 to step t. */
typedef struct dec_state {
    at_tensor *s;       /* (B, S) state                                    */
    at_tensor *c;       /* (B, S) LSTM cell, or NULL                       */
    at_tensor *h_tilde; /* (B, S) luong input feeding                      */
    at_tensor *y_soft;  /* (B, Vt) seed fed its own softmax                */
    at_tensor *alpha;   /* (B, Tx) monotonic / forward: previous α, or NULL */
    int32_t *positions; /* (B) hard monotonic positions (decoding)         */
    int hard;           /* 1 when decoding (monotonic goes hard)           */
} dec_state;

/* seq2seq.c. s2s_create: at_seq2seq_create, or for a load (check not
 * NULL) a model whose every parameter passes check(check_user, name,
 * shape) before it is allocated, and is then left zero (uninitialised:
 * the file fills it). */
at_status s2s_create(at_ctx *ctx, at_seq2seq **out, const at_seq2seq_config *config,
                     at_vocab *source_vocab, at_vocab *target_vocab, ati_params_check_fn check,
                     void *check_user);
at_status s2s_encode(at_ctx *ctx, const at_seq2seq *m, const at_seq2seq_batch *batch, enc_out *enc,
                     dec_state *state);
/* decoders.c: prev (B) the previous output ids (teacher or greedy), t the
 * step. -> logits (B, Vt); weights (B, heads, Tx) if weights != NULL. */
at_status s2s_decoder_step(at_ctx *ctx, const at_seq2seq *m, const enc_out *enc, dec_state *state,
                           const int32_t *prev, int t, at_tensor **logits, at_tensor **weights);
/* greedy.c: the first index of the largest of n values (greedy's pick). */
int32_t s2s_argmax(const float *row, int n);
/* greedy.c: b (made by at_seq2seq_batch_init for 1) = the one string
 * text; empty, invalid or too long text is an AT_ERR_ARGUMENT. */
at_status s2s_single_batch(at_ctx *ctx, const at_seq2seq *m, const char *text,
                           at_seq2seq_batch *b);
/* config.c */
/* Shard `shard` of `shards` of an evaluation: the batches k (of the whole
 * evaluation's batches, in its order) with k % shards == shard, so every
 * example is scored in the batch it has in one process's evaluation.
 * at_seq2seq_evaluate and at_seq2seq_evaluate_references are shard 0 of 1. */
at_status s2s_evaluate_shard(at_ctx *ctx, const at_seq2seq *m, const at_seq2seq_data *d,
                             int batch_size, int shard, int shards, at_seq2seq_score *score,
                             uint8_t *correct);
at_status s2s_references_shard(at_ctx *ctx, const at_seq2seq *m, const at_pairs *pairs,
                               const at_beam_options *beam, int batch_size, int shard,
                               int shards, at_wer *score, char **outputs);
at_status s2s_config_check(at_ctx *ctx, const at_seq2seq_config *c);
at_status s2s_config_to_json(at_ctx *ctx, const at_seq2seq_config *c, char **out);
at_status s2s_config_from_json(at_ctx *ctx, const char *text, at_seq2seq_config *c);

#endif
