/*
 * lm.h - what the files of src/lm share and callers never see.
 *
 * The language models are split by job:
 *   config.c       the configuration: defaults, names, checks, JSON.
 *   model.c        create, free, save, load; the forward pass and the loss
 *                  dispatch to the kind's file below.
 *   transformer.c  the GPT-style Transformer (multi-head self-attention).
 *   daniluk.c      Daniluk et al.'s LSTM language models: lstm, attention,
 *                  kv, kvp, ngram (key-value attention).
 *   text.c         the text file, its split, the vocabulary, encoding.
 *   evaluate.c     nats per character of a text; the trainer's task.
 *   generate.c     sampling, and the attention of a passage.
 */
#ifndef ATTEND_LM_INTERNAL_H
#define ATTEND_LM_INTERNAL_H

#include "attend.h"
#include "internal.h"

/* One pre-LayerNorm Transformer block. */
typedef struct lm_block {
    at_layernorm ln1;   /* blocks.i.ln1.weight (D), .bias (D)             */
    at_multi_head attn; /* blocks.i.attn.in_proj_weight (3D, D), ...       */
    at_layernorm ln2;   /* blocks.i.ln2                                   */
    at_dense fc;        /* blocks.i.mlp.fc.weight (4D, D), .bias (4D)      */
    at_dense proj;      /* blocks.i.mlp.proj.weight (D, 4D), .bias (D)     */
} lm_block;

struct at_lm {
    at_lm_config config;
    at_vocab *vocab;
    int V;              /* at_vocab_size(vocab)                           */
    at_params *params;
    /* transformer */
    at_embedding tok_embed; /* tok_embed.weight (V, D); LSTM kinds: (V, E) */
    at_embedding pos_embed; /* pos_embed.weight (context, D)               */
    lm_block blocks[AT_LM_MAX_LAYERS];
    at_layernorm ln_f;      /* ln_f                                       */
    at_dense head;          /* head.weight (V, D), head.bias (V)           */
    /* LSTM kinds (daniluk.c) */
    at_lstm lstm;           /* lstm.weight_ih_l0 ... (PyTorch's names)     */
    at_key_value kv;        /* attention, kv, kvp: attn.W_Y ...            */
    at_dense ngram;         /* ngram: W_N ((N-1)k -> k), tanh              */
    at_dense out;           /* LSTM kinds: out.weight (V, k), out.bias (V) */
};

/* Each kind's file. _init adds and initialises the kind's parameters
 * (rng NULL: all zero, for a load). _forward: ids (B, T) -> logits
 * (B, T, V); weights NULL or at_lm_attention_size(m, B, T) floats (see
 * at_lm_logits). The caller (model.c) has checked ids and T. */
at_status lm_transformer_init(at_ctx *ctx, at_lm *m, at_rng *rng);
at_status lm_transformer_forward(at_ctx *ctx, const at_lm *m, const int32_t *ids, int B, int T,
                                 at_tensor **logits, float *weights);
/* The last position's logits only, (B, 1, V) (transformer.c). */
at_status lm_transformer_forward_last(at_ctx *ctx, const at_lm *m, const int32_t *ids, int B,
                                      int T, at_tensor **logits);
/* The next character's logits after ids (T of them, checked as
 * at_lm_logits does): *row points at V floats in the context's arena,
 * valid until its next reset. The transformer computes the last position
 * alone; the LSTM kinds run every position and point at the last row. */
at_status lm_next_logits(at_ctx *ctx, const at_lm *m, const int32_t *ids, int T,
                         const float **row);
at_status lm_daniluk_init(at_ctx *ctx, at_lm *m, at_rng *rng);
at_status lm_daniluk_forward(at_ctx *ctx, const at_lm *m, const int32_t *ids, int B, int T,
                             at_tensor **logits, float *weights);

/* config.c */
at_status lm_config_check(at_ctx *ctx, const at_lm_config *c);
at_status lm_config_to_json(at_ctx *ctx, const at_lm_config *c, char **out);
at_status lm_config_from_json(at_ctx *ctx, const char *text, at_lm_config *c);

#endif
