/*
 * attend/attention.h - the ten attention families (libattend).
 *
 * Part of the public contract of libattend; include <attend.h> for all of
 * it. The conventions (errors, shapes, the one mask convention, memory,
 * gradients) are written once, at the top of attend/core.h.
 */
#ifndef ATTEND_API_ATTENTION_H
#define ATTEND_API_ATTENTION_H

#include "attend/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --------------------------------------------------------------- attention
 * Every family of docs/mechanisms/ has one source file in src/attention/
 * named after it. Common rules:
 *
 * Shapes. queries (B, Tq, Dq), keys (B, Tk, Dk), values (B, Tk, Dv),
 *   context (B, Tq, Dv), weights (B, Tq, Tk). Tq and Tk are independent.
 *   A decoder step may pass queries (B, Dq): it is read as Tq = 1 and gives
 *   context (B, Dv) and weights (B, Tk).
 * Weights. Every family hands back its normalised attention α - the
 *   distribution a user looks at - through `weights` (per head for
 *   multi-head). Pass weights = NULL when you do not want it: then no
 *   (Tq, Tk) buffer is kept that the backward pass does not itself need
 *   (the fused dot kernel stays linear in memory).
 *   When gradients are on and an input or parameter requires one, the
 *   weights are part of the recorded computation like the context: a loss
 *   term on them (an entropy penalty, a supervised alignment) sends its
 *   gradient through the softmax into the scores, and so into queries,
 *   keys and the parameters, in every family. Masked positions and fully
 *   masked rows have weight 0 and pass no gradient. The one exception is
 *   at_monotonic_attend_hard, which is for decoding and records nothing.
 * Masks. THE ONE MASK CONVENTION (top of this file) applied to the scores
 *   viewed as rows of Tk: 1 = keep. A padding mask is (B, Tk) with rows = B;
 *   a full mask has one row per score row (B*Tq rows, or B*H*Tq for
 *   multi-head scores (B, H, Tq, Tk)). causal = 1 also drops key j for
 *   query i when j > i + (Tk - Tq), so with Tq == Tk query i sees keys
 *   0..i, and the last query always sees every key. A query that sees no
 *   key gets zero weights, zero context and zero gradient, never NaN.
 * Precomputation. What does not change per decoder step is computed once
 *   per sequence by a family's _project_keys (e.g. Bahdanau's U_a h_j + b_a),
 *   and the result is passed to every step.
 * Parameter names. PREFIX.W_a etc., the symbols of the paper's equations
 *   (multi-head: PyTorch's). docs/mechanisms/ has one table per family:
 *   attend's name, the paper's symbol, the PyTorch equivalent.
 * Initialisation. Every _init draws from rng; rng == NULL leaves every
 *   parameter zero (see layers above), to load foreign weights into. */

typedef struct at_attn_mask {
    const uint8_t *keep; /* NULL, or `rows` rows of Tk bytes, 1 = keep */
    int rows;            /* B (padding) or one per score row (full)     */
    int causal;          /* 1 = also hide later keys, see above        */
} at_attn_mask;

/* 1. Additive (Bahdanau et al. 2015), "concat" in Luong's terms:
 *   e_tj = v_aᵀ tanh(W_a q_t + U_a k_j + b_a)   α_t = softmax_j(e_t)
 *   c_t = Σ_j α_tj v_j                                                  */
typedef struct at_additive {
    at_tensor *W_a; /* (A, Dq) */
    at_tensor *U_a; /* (A, Dk) */
    at_tensor *b_a; /* (A)     */
    at_tensor *v_a; /* (A)     */
    int query_size, key_size, attn_size;
} at_additive;
AT_API at_status at_additive_init(at_ctx *ctx, at_additive *layer, at_params *params,
                           const char *prefix, int query_size, int key_size, int attn_size,
                           at_rng *rng);
/* keys (B, Tk, Dk) -> keys_proj (B, Tk, A) = U_a k_j + b_a, once per sequence. */
AT_API at_status at_additive_project_keys(at_ctx *ctx, const at_additive *layer, at_tensor *keys,
                                   at_tensor **keys_proj);
/* The weights carry gradients (a loss on them reaches every input and
 * parameter), as the context does. */
AT_API at_status at_additive_attend(at_ctx *ctx, const at_additive *layer, at_tensor *queries,
                             at_tensor *keys_proj, at_tensor *values, const at_attn_mask *mask,
                             at_tensor **context, at_tensor **weights);

/* 2. The AttentionDecoder of "Attention in Keras" (the seed): a GRU-style
 * cell whose gates also read the context c_t of additive attention on
 * s_{t-1}:
 *   r_t = σ(W_r y_{t-1} + U_r s_{t-1} + C_r c_t + b_r)
 *   z_t = σ(W_z y_{t-1} + U_z s_{t-1} + C_z c_t + b_z)
 *   s̃_t = tanh(W_p y_{t-1} + U_p (r_t ∘ s_{t-1}) + C_p c_t + b_p)
 *   s_t = (1 − z_t) ∘ s_{t-1} + z_t ∘ s̃_t
 *   logits_t = W_o y_{t-1} + U_o s_t + C_o c_t + b_o,  y_t = softmax(logits_t)
 *   s_0 = tanh(W_s h_1)
 * output_from_previous_state = 1 uses s_{t-1} in logits_t, as the original
 * code did; 0 (default) uses s_t, as the article and Bahdanau's eq. 4.
 * Set it with at_attention_decoder_init_ext (it is the struct field below,
 * read at every step).
 * y_{t-1} is whatever the caller feeds: the model's own previous softmax
 * (the original) or an embedding of the previous target (teacher forcing).
 * Sizes: Y input, Dh annotation, S state, V output, A attention. */
typedef struct at_attention_decoder {
    at_additive attention;            /* W_a (A, S), U_a (A, Dh), b_a, v_a */
    at_tensor *W_r, *U_r, *C_r, *b_r; /* (S, Y), (S, S), (S, Dh), (S)      */
    at_tensor *W_z, *U_z, *C_z, *b_z;
    at_tensor *W_p, *U_p, *C_p, *b_p;
    at_tensor *W_o, *U_o, *C_o, *b_o; /* (V, Y), (V, S), (V, Dh), (V)      */
    at_tensor *W_s;                   /* (S, Dh)                           */
    int input_size, context_size, state_size, output_size;
    int output_from_previous_state;   /* set by at_attention_decoder_init_ext */
} at_attention_decoder;
typedef struct at_attention_decoder_options {
    int output_from_previous_state; /* 0 (default): logits from s_t; 1: from s_{t-1} */
} at_attention_decoder_options;
AT_API at_attention_decoder_options at_attention_decoder_options_default(void); /* {0} */
AT_API at_status at_attention_decoder_init(at_ctx *ctx, at_attention_decoder *dec, at_params *params,
                                    const char *prefix, int input_size, int context_size,
                                    int state_size, int output_size, int attn_size,
                                    at_rng *rng);
/* options NULL = the defaults; output_from_previous_state other than 0 or
 * 1 is an AT_ERR_ARGUMENT. */
AT_API at_status at_attention_decoder_init_ext(at_ctx *ctx, at_attention_decoder *dec,
                                        at_params *params, const char *prefix, int input_size,
                                        int context_size, int state_size, int output_size,
                                        int attn_size,
                                        const at_attention_decoder_options *options,
                                        at_rng *rng);
/* annotations (B, Tx, Dh) -> s0 (B, S) = tanh(W_s h_1). */
AT_API at_status at_attention_decoder_start(at_ctx *ctx, const at_attention_decoder *dec,
                                     at_tensor *annotations, at_tensor **s0);
/* One step. y_prev (B, Y), s_prev (B, S), annotations (B, Tx, Dh),
 * keys_proj = at_additive_project_keys(&dec->attention, annotations).
 * -> s (B, S), logits (B, V), weights (B, Tx) or NULL. */
AT_API at_status at_attention_decoder_step(at_ctx *ctx, const at_attention_decoder *dec,
                                    at_tensor *y_prev, at_tensor *s_prev,
                                    at_tensor *annotations, at_tensor *keys_proj,
                                    const at_attn_mask *mask, at_tensor **s, at_tensor **logits,
                                    at_tensor **weights);
/* The same, and the context c_t (B, Dh) (NULL: not asked for). s, logits,
 * weights and context all carry gradients to every input and parameter. */
AT_API at_status at_attention_decoder_step_ext(at_ctx *ctx, const at_attention_decoder *dec,
                                        at_tensor *y_prev, at_tensor *s_prev,
                                        at_tensor *annotations, at_tensor *keys_proj,
                                        const at_attn_mask *mask, at_tensor **s,
                                        at_tensor **logits, at_tensor **weights,
                                        at_tensor **context);

/* 3. Global attention (Luong et al. 2015). Scores of the current decoder
 * state h_t against each source state h̄_s:
 *   dot       h_tᵀ h̄_s                  (needs Dq == Dk)
 *   general   h_tᵀ W_a h̄_s              W_a (Dq, Dk)
 *   concat    v_aᵀ tanh(W_a [h_t; h̄_s])   W_a (A, Dq + Dk), v_a (A)
 *   location  a_t = softmax(W_a h_t)      W_a (max_source_len, Dq); only
 *             the first Tk positions are used (Tk <= max_source_len)
 *   a_t = softmax_s(score)   c_t = Σ_s a_t(s) v_s
 *   h̃_t = tanh(W_c [c_t; h_t])   W_c (Dc, Dv + Dq)   (at_luong_attentional)
 * _project_keys precomputes W_a h̄_s (general), the h̄_s half of W_a
 * (concat), or returns keys itself (dot, location). */
typedef enum at_score {
    AT_SCORE_DOT,
    AT_SCORE_GENERAL,
    AT_SCORE_CONCAT,
    AT_SCORE_LOCATION
} at_score;
typedef struct at_luong {
    at_score score;
    at_tensor *W_a, *v_a; /* as the score needs (v_a: concat only)  */
    at_tensor *W_c;       /* (Dc, Dv + Dq); NULL if attentional_size 0 */
    int query_size, key_size, attn_size, max_source_len, attentional_size;
    int value_size;       /* Dv of W_c (0 = key_size)                  */
} at_luong;
/* attn_size: concat only; max_source_len: location only; value size for
 * W_c is key_size (Luong attends over h̄_s itself). */
AT_API at_status at_luong_init(at_ctx *ctx, at_luong *layer, at_params *params, const char *prefix,
                        at_score score, int query_size, int key_size, int attn_size,
                        int max_source_len, int attentional_size, at_rng *rng);
/* Values of another size Dv ≠ Dk: make the layer with attentional_size 0,
 * then add W_c (Dc, Dv + Dq) = PREFIX.W_c with this. A layer that already
 * has W_c is an AT_ERR_ARGUMENT. */
AT_API at_status at_luong_init_attentional(at_ctx *ctx, at_luong *layer, at_params *params,
                                    const char *prefix, int value_size, int attentional_size,
                                    at_rng *rng);
AT_API at_status at_luong_project_keys(at_ctx *ctx, const at_luong *layer, at_tensor *keys,
                                at_tensor **keys_proj);
AT_API at_status at_luong_attend(at_ctx *ctx, const at_luong *layer, at_tensor *queries,
                          at_tensor *keys_proj, at_tensor *values, const at_attn_mask *mask,
                          at_tensor **context, at_tensor **weights);
/* context (B, [Tq,] Dv), queries (B, [Tq,] Dq) -> h_tilde (B, [Tq,] Dc),
 * Dv = value_size (key_size unless at_luong_init_attentional said so). */
AT_API at_status at_luong_attentional(at_ctx *ctx, const at_luong *layer, at_tensor *context,
                               at_tensor *queries, at_tensor **h_tilde);

/* 4. Local attention (Luong et al. 2015): attend only inside the window
 * [p_t − D, p_t + D], clipped to the row's source length S.
 *   local-m  p_t = t (query i of a call is step first_step + i); a_t is the
 *            score's softmax restricted to the window (the paper's eq. 7)
 *   local-p  p_t = S · sigmoid(v_pᵀ tanh(W_p h_t)), W_p (P, Dq), v_p (P);
 *            a_t(s) = align_t(s) · exp(−(s − p_t)² / (2σ²)), σ = D / 2,
 *            align = the softmax restricted to the window. p_t is real:
 *            the gradient reaches W_p and v_p through the Gaussian term.
 * The window is every integer s with |s − p_t| <= D. The weights returned
 * are a_t (for local-p they need not sum to 1, as in the paper). */
typedef enum at_local_kind { AT_LOCAL_M, AT_LOCAL_P } at_local_kind;
typedef struct at_luong_local {
    at_luong align;     /* the score inside the window (not location) */
    at_local_kind kind;
    int window;         /* D */
    at_tensor *W_p;     /* local-p (P, Dq) */
    at_tensor *v_p;     /* local-p (P)     */
    int predict_size;   /* P */
} at_luong_local;
AT_API at_status at_luong_local_init(at_ctx *ctx, at_luong_local *layer, at_params *params,
                              const char *prefix, at_local_kind kind, at_score score,
                              int query_size, int key_size, int attn_size,
                              int attentional_size, int window, int predict_size,
                              at_rng *rng);
/* keys_proj from at_luong_project_keys(&layer->align, keys). lengths: (B)
 * source lengths S, or NULL: then S is what a padding mask (rows = B)
 * keeps of each row, or Tk without one (a full mask is per query and says
 * nothing of S: pass lengths with it). lengths and a padding mask that
 * disagree on a row are an AT_ERR_ARGUMENT. positions: NULL or -> (B, Tq)
 * p_t. weights (B, [Tq,] Tk) and positions carry gradients. */
AT_API at_status at_luong_local_attend(at_ctx *ctx, const at_luong_local *layer, at_tensor *queries,
                                at_tensor *keys_proj, at_tensor *values,
                                const at_attn_mask *mask, const int32_t *lengths,
                                int first_step, at_tensor **context, at_tensor **weights,
                                at_tensor **positions);

/* 5. Static attention: one distribution per sequence, not per step.
 * HAN (Yang et al. 2016), with a learned context vector u_w:
 *   u_t = tanh(W h_t + b)   α_t = softmax_t(u_tᵀ u_w)   out = Σ_t α_t h_t
 *   W (A, D), b (A), u_w (A). h (B, T, D) -> out (B, D), weights (B, T).
 * The seed's Keras layer, one distribution per feature f (W (D, D), b (D)):
 *   u_t = tanh(W h_t + b)   a_tf = exp(u_tf) · mask_t
 *   α_tf = a_tf / (Σ_t a_tf + ε)   out_f = Σ_t α_tf h_tf
 *   h (B, T, D) -> out (B, D), weights (B, T, D). Since u ∈ (−1, 1), two
 *   weights of one feature differ by at most e² ≈ 7.4×: it cannot focus.
 * Masks: padding (B, T) with rows = B (causal is ignored). Both layers'
 * weights carry gradients, as their out does. */
typedef struct at_han_attention {
    at_tensor *W, *b, *u_w;
    int input_size, attn_size;
} at_han_attention;
AT_API at_status at_han_attention_init(at_ctx *ctx, at_han_attention *layer, at_params *params,
                                const char *prefix, int input_size, int attn_size,
                                at_rng *rng);
AT_API at_status at_han_attention_forward(at_ctx *ctx, const at_han_attention *layer, at_tensor *h,
                                   const at_attn_mask *mask, at_tensor **out,
                                   at_tensor **weights);
typedef struct at_feature_attention {
    at_tensor *W, *b;
    int input_size;
    float eps; /* default 1e-7 (Keras' epsilon); set by at_feature_attention_init_ext */
} at_feature_attention;
typedef struct at_feature_attention_options {
    float eps; /* ε of the normalisation, finite and >= 0; default 1e-7 */
} at_feature_attention_options;
AT_API at_feature_attention_options at_feature_attention_options_default(void); /* {1e-7} */
AT_API at_status at_feature_attention_init(at_ctx *ctx, at_feature_attention *layer, at_params *params,
                                    const char *prefix, int input_size, at_rng *rng);
/* options NULL = the defaults; a negative or non-finite eps is an
 * AT_ERR_ARGUMENT (eps = 0 is allowed: a fully masked sequence still gives
 * α = 0, not NaN). */
AT_API at_status at_feature_attention_init_ext(at_ctx *ctx, at_feature_attention *layer,
                                        at_params *params, const char *prefix, int input_size,
                                        const at_feature_attention_options *options,
                                        at_rng *rng);
AT_API at_status at_feature_attention_forward(at_ctx *ctx, const at_feature_attention *layer,
                                       at_tensor *h, const at_attn_mask *mask, at_tensor **out,
                                       at_tensor **weights);

/* 6. Forced-forward attention: the alignment only moves forward.
 * Monotonic attention (Raffel et al. 2017). Energy (additive, with a
 * scalar gain g and offset r):  e_ij = g v_aᵀ/‖v_a‖ tanh(W_a s_{i−1} +
 * U_a h_j + b_a) + r,   p_ij = σ(e_ij)  (plus N(0, noise_std²) before the
 * sigmoid in training mode, to push p towards 0 or 1).
 * Training (soft, expected alignment), the exact recursion:
 *   q_ij = (1 − p_{i,j−1}) q_{i,j−1} + α_{i−1,j}    (q_i0 = α_{i−1,0})
 *   α_ij = p_ij q_ij          Σ_j α_ij <= 1;   α_0 = δ(j = 0)
 * Decoding (hard): from the previous position (included), scan forward and
 * stop at the first j with p_ij >= 0.5; if none, attend to nothing (zero
 * context) and keep the position. A masked key has p_ij = 0: the alignment
 * can pass over padding but never stop on it.
 * Settings: g and r are parameters (initialised to 1/√A and −1); noise_std
 * is the struct field below, read at every soft call (default 0). Choose
 * all three at init with at_monotonic_init_ext. */
typedef struct at_monotonic {
    at_additive energy; /* W_a (A, Dq), U_a (A, Dk), b_a (A), v_a (A) */
    at_tensor *g, *r;   /* (1), (1) */
    float noise_std;    /* default 0; set by at_monotonic_init_ext */
} at_monotonic;
typedef struct at_monotonic_options {
    float g_init;    /* initial gain g; 0 = 1/√A (the default)          */
    float r_init;    /* initial offset r; default −1                   */
    float noise_std; /* pre-sigmoid noise in training mode; default 0  */
} at_monotonic_options;
/* The defaults: {g_init 0 (= 1/√A), r_init −1, noise_std 0}. Start from
 * these and change what you need. */
AT_API at_monotonic_options at_monotonic_options_default(void);
AT_API at_status at_monotonic_init(at_ctx *ctx, at_monotonic *layer, at_params *params,
                            const char *prefix, int query_size, int key_size, int attn_size,
                            at_rng *rng);
/* options NULL = the defaults. Non-finite g_init or r_init, or a
 * noise_std that is negative or not finite, is an AT_ERR_ARGUMENT. */
AT_API at_status at_monotonic_init_ext(at_ctx *ctx, at_monotonic *layer, at_params *params,
                                const char *prefix, int query_size, int key_size,
                                int attn_size, const at_monotonic_options *options,
                                at_rng *rng);
/* keys_proj = at_additive_project_keys(&layer->energy, keys).
 * query (B, Dq), alpha_prev (B, Tk) or NULL (δ at 0) -> context (B, Dv),
 * alpha (B, Tk): the expected alignment, also the weights to look at.
 * It is at_monotonic_energies followed by at_monotonic_attend_energies
 * (with layer->noise_std): call those two to read p_ij or the energies. */
AT_API at_status at_monotonic_attend(at_ctx *ctx, const at_monotonic *layer, at_tensor *query,
                              at_tensor *keys_proj, at_tensor *values, at_tensor *alpha_prev,
                              const at_attn_mask *mask, at_tensor **context,
                              at_tensor **alpha);
/* The layer's energies e_ij: query (B, Dq), keys_proj (B, Tk, A)
 * -> energies (B, Tk), before any noise or mask. */
AT_API at_status at_monotonic_energies(at_ctx *ctx, const at_monotonic *layer, at_tensor *query,
                                at_tensor *keys_proj, at_tensor **energies);
/* The soft walk on energies from anywhere (the layer's, or any score of
 * the caller's): energies (B, Tk), values (B, Tk, Dv), alpha_prev (B, Tk)
 * or NULL (δ at 0), noise_std >= 0 (used in training mode only)
 * -> context (B, Dv), alpha (B, Tk) or NULL, p_choose (B, Tk) or NULL:
 * p_ij = σ(e_ij + noise), 0 where masked. Every output carries gradients
 * back to energies, values and alpha_prev. */
AT_API at_status at_monotonic_attend_energies(at_ctx *ctx, at_tensor *energies, at_tensor *values,
                                       at_tensor *alpha_prev, const at_attn_mask *mask,
                                       float noise_std, at_tensor **context,
                                       at_tensor **alpha, at_tensor **p_choose);
/* positions (B): in, the previous position (start at 0); out, the new one.
 * weights (B, Tk) one-hot (or all zero). No gradient (decoding only). */
AT_API at_status at_monotonic_attend_hard(at_ctx *ctx, const at_monotonic *layer, at_tensor *query,
                                   at_tensor *keys_proj, at_tensor *values,
                                   const at_attn_mask *mask, int32_t *positions,
                                   at_tensor **context, at_tensor **weights);
/* Forward attention (Zhang et al. 2018) on top of any soft attention y_t:
 *   α̂_t(n) = ((1 − u) α̂_{t−1}(n) + u α̂_{t−1}(n−1)) · y_t(n), renormalised
 * over n (all zeros if the sum is 0). y is the caller's: any weights >= 0
 * (a softmax of any score, e.g. at_additive_attend's weights, a
 * Gaussian, a hand-made prior; they need not sum to 1). A negative or
 * non-finite y is an AT_ERR_ARGUMENT. u (B, 1) in [0, 1] is the transition
 * agent's output (outside [0, 1]: AT_ERR_ARGUMENT); transition = NULL
 * means the plain form α̂_t(n) = (α̂_{t−1}(n) + α̂_{t−1}(n−1)) · y_t(n).
 * y (B, Tk), alpha_prev (B, Tk) or NULL (δ at 0), values (B, Tk, Dv)
 * -> context (B, Dv), alpha (B, Tk). Gradients reach y, alpha_prev,
 * transition and values at any number of steps: a chain of steps (each
 * reading the previous step's alpha as alpha_prev) carries dα̂ between
 * them in extended range, since it grows without bound where the
 * alignment has not arrived. */
AT_API at_status at_forward_attention(at_ctx *ctx, at_tensor *y, at_tensor *alpha_prev,
                               at_tensor *transition, at_tensor *values,
                               const at_attn_mask *mask, at_tensor **context,
                               at_tensor **alpha);

/* 7. Multiplicative attention: dot qᵀk, scaled dot qᵀk/√d (Vaswani et al.
 * 2017), general (bilinear) qᵀ W k.
 * at_dot_attention is the fused kernel: softmax(scale · Q Kᵀ + mask) V in
 * tiles with an online softmax, so with weights == NULL no (Tq, Tk) matrix
 * is ever stored and memory is linear in T. q (B, H, Tq, d) or (B, Tq, d),
 * k (B, H, Tk, d) or (B, Tk, d), v likewise with dv; context like q with
 * dv; weights (B, H, Tq, Tk) or (B, Tq, Tk). A decoder step q (B, d)
 * against k (B, Tk, d), v (B, Tk, dv) is read as Tq = 1: context (B, dv),
 * weights (B, Tk). scale 0 means 1/sqrt(d); pass 1 for the plain dot score.
 * The weights carry a gradient (see "Weights." above): the backward adds
 * their gradient through the softmax into q and k, in the same tiles; with
 * weights == NULL nothing of it exists. */
AT_API at_status at_dot_attention(at_ctx *ctx, at_tensor *q, at_tensor *k, at_tensor *v, float scale,
                           const at_attn_mask *mask, at_tensor **context, at_tensor **weights);
typedef struct at_bilinear {
    at_tensor *W; /* (Dq, Dk) */
    int query_size, key_size;
} at_bilinear;
AT_API at_status at_bilinear_init(at_ctx *ctx, at_bilinear *layer, at_params *params,
                           const char *prefix, int query_size, int key_size, at_rng *rng);
/* keys (B, Tk, Dk) -> keys_proj (B, Tk, Dq) = k Wᵀ, once per sequence. */
AT_API at_status at_bilinear_project_keys(at_ctx *ctx, const at_bilinear *layer, at_tensor *keys,
                                   at_tensor **keys_proj);
AT_API at_status at_bilinear_attend(at_ctx *ctx, const at_bilinear *layer, at_tensor *queries,
                             at_tensor *keys_proj, at_tensor *values, const at_attn_mask *mask,
                             at_tensor **context, at_tensor **weights);

/* 8. Self-attention: queries, keys and values from one sequence x (B, T, D):
 *   Q = x W_Qᵀ, K = x W_Kᵀ (each (d_k, D)), V = x W_Vᵀ (d_v, D)
 *   out = softmax(Q Kᵀ/√d_k + mask) V     (B, T, d_v), weights (B, T, T)
 * Structured self-attention (Lin et al. 2017), r hops:
 *   A = softmax(W_s2 tanh(W_s1 Hᵀ))  W_s1 (da, D), W_s2 (r, da)
 *   M = A H   (B, r, D), weights A (B, r, T);  penalty = mean over the
 *   batch of ‖A Aᵀ − I‖²_F, or one ‖A_b A_bᵀ − I‖²_F per batch row. */
typedef struct at_self_attention {
    at_tensor *W_Q, *W_K, *W_V;
    int input_size, head_size; /* D, d_k                    */
    int value_size;            /* d_v (0 = head_size)        */
} at_self_attention;
/* d_k = d_v = head_size. */
AT_API at_status at_self_attention_init(at_ctx *ctx, at_self_attention *layer, at_params *params,
                                 const char *prefix, int input_size, int head_size,
                                 at_rng *rng);
/* d_k = key_size, d_v = value_size, each > 0. */
AT_API at_status at_self_attention_init_sizes(at_ctx *ctx, at_self_attention *layer, at_params *params,
                                       const char *prefix, int input_size, int key_size,
                                       int value_size, at_rng *rng);
AT_API at_status at_self_attention_forward(at_ctx *ctx, const at_self_attention *layer, at_tensor *x,
                                    const at_attn_mask *mask, at_tensor **out,
                                    at_tensor **weights);
typedef struct at_structured_attention {
    at_tensor *W_s1, *W_s2;
    int input_size, attn_size, hops;
} at_structured_attention;
AT_API at_status at_structured_attention_init(at_ctx *ctx, at_structured_attention *layer,
                                       at_params *params, const char *prefix, int input_size,
                                       int attn_size, int hops, at_rng *rng);
AT_API at_status at_structured_attention_forward(at_ctx *ctx, const at_structured_attention *layer,
                                          at_tensor *h, const at_attn_mask *mask,
                                          at_tensor **out, at_tensor **weights);
/* weights A (B, r, T) -> penalty (1), the batch mean. */
AT_API at_status at_structured_penalty(at_ctx *ctx, at_tensor *weights, at_tensor **penalty);
/* weights A (B, r, T) -> penalties (B), P_b = ‖A_b A_bᵀ − I‖²_F: weight
 * rows yourself, or leave some out (at_structured_penalty is their mean). */
AT_API at_status at_structured_penalty_rows(at_ctx *ctx, at_tensor *weights, at_tensor **penalties);

/* 9. Key-value attention (Daniluk et al. 2017) over the previous L steps of
 * one sequence, keys and values kept apart (key-value-predict: pass the
 * predict part as x; key-value: pass the values as x):
 *   M_t = tanh(W_Y [k_{t−L} … k_{t−1}] + (W_h k_t) 1ᵀ)   α_t = softmax(wᵀ M_t)
 *   r_t = [v_{t−L} … v_{t−1}] α_tᵀ     h*_t = tanh(W_r r_t + W_x x_t)
 * W_Y, W_h (A, Dk), w (A), W_r (Do, Dv), W_x (Do, Dx).
 * keys (B, T, Dk), values (B, T, Dv), x (B, T, Dx) -> out (B, T, Do),
 * weights (B, T, T) (zero outside the window; step 0 sees nothing, so its
 * r_0 = 0). mask: padding (B, T), rows = B; it removes keys from every
 * window, and steps inside the padding are computed as usual. */
typedef struct at_key_value {
    at_tensor *W_Y, *W_h, *w, *W_r, *W_x;
    int key_size, value_size, input_size, out_size, attn_size, memory;
} at_key_value;
AT_API at_status at_key_value_init(at_ctx *ctx, at_key_value *layer, at_params *params,
                            const char *prefix, int key_size, int value_size, int input_size,
                            int out_size, int attn_size, int memory, at_rng *rng);
AT_API at_status at_key_value_forward(at_ctx *ctx, const at_key_value *layer, at_tensor *keys,
                               at_tensor *values, at_tensor *x, const at_attn_mask *mask,
                               at_tensor **out, at_tensor **weights);
/* The same, and the read r_t (B, T, Dv) (NULL: not kept). out, weights
 * and read all carry gradients to every input and parameter. */
AT_API at_status at_key_value_forward_ext(at_ctx *ctx, const at_key_value *layer, at_tensor *keys,
                                   at_tensor *values, at_tensor *x, const at_attn_mask *mask,
                                   at_tensor **out, at_tensor **weights, at_tensor **read);

/* 10. Multi-head attention (Vaswani et al. 2017), laid out as
 * torch.nn.MultiheadAttention(E, H, kdim=Dk, vdim=Dv, batch_first=True) so
 * its state_dict loads as is. With Dk = Dv = E: PREFIX.in_proj_weight
 * (3E, E) = [W_Q; W_K; W_V]; otherwise, as torch, PREFIX.q_proj_weight
 * (E, E), PREFIX.k_proj_weight (E, Dk), PREFIX.v_proj_weight (E, Dv). Then
 * PREFIX.in_proj_bias (3E), PREFIX.out_proj.weight (O, E),
 * PREFIX.out_proj.bias (O); O = E in torch, any size here. Head h uses
 * rows h·E/H .. of each projection.
 *   head_h = softmax(Q_h K_hᵀ/√(E/H) + mask) V_h    out = [head_1 … head_H] W_Oᵀ + b_O
 * query (B, Tq, E) (or a step (B, E)), key (B, Tk, Dk), value (B, Tk, Dv)
 * -> out (B, Tq, O) (or (B, O)), weights (B, H, Tq, Tk) per head (never
 * averaged; (B, H, Tk) for a step). For cross-attention, _project_kv
 * makes K and V (B, H, Tk, E/H) once per sequence. */
typedef struct at_multi_head {
    at_tensor *in_proj_weight, *in_proj_bias, *out_proj_weight, *out_proj_bias;
    int embed_dim, heads;
    at_tensor *q_proj_weight, *k_proj_weight, *v_proj_weight; /* Dk or Dv ≠ E; else NULL */
    int kdim, vdim, out_dim;                                  /* Dk, Dv, O (0 = E)      */
} at_multi_head;
/* Dk = Dv = O = E. */
AT_API at_status at_multi_head_init(at_ctx *ctx, at_multi_head *layer, at_params *params,
                             const char *prefix, int embed_dim, int heads, at_rng *rng);
/* kdim, vdim, out_dim: Dk, Dv, O; 0 means E. */
AT_API at_status at_multi_head_init_sizes(at_ctx *ctx, at_multi_head *layer, at_params *params,
                                   const char *prefix, int embed_dim, int heads, int kdim,
                                   int vdim, int out_dim, at_rng *rng);
AT_API at_status at_multi_head_project_kv(at_ctx *ctx, const at_multi_head *layer, at_tensor *key,
                                   at_tensor *value, at_tensor **k_heads, at_tensor **v_heads);
AT_API at_status at_multi_head_attend(at_ctx *ctx, const at_multi_head *layer, at_tensor *query,
                               at_tensor *k_heads, at_tensor *v_heads, const at_attn_mask *mask,
                               at_tensor **out, at_tensor **weights);
AT_API at_status at_multi_head_forward(at_ctx *ctx, const at_multi_head *layer, at_tensor *query,
                                at_tensor *key, at_tensor *value, const at_attn_mask *mask,
                                at_tensor **out, at_tensor **weights);

#ifdef __cplusplus
}
#endif
#endif /* ATTEND_API_ATTENTION_H */
