/*
 * encoder_parity_tool.c - the seq2seq model's encoder, stacked, for the
 * PyTorch parity test (tests/parity/test_encoder_parity.py).
 *
 * Each case builds a real at_seq2seq (luong decoder) with encoder_layers
 * L = 2 or 3, fills a padded batch of sources of unequal lengths, and runs
 * the model's own encoder (s2s_encode, src/models/seq2seq.c): the
 * embeddings, the L BiLSTMs with dropout between them, and the decoder's
 * start state from the top layer,
 *     s0 = tanh(W_init [h^L_fwd at each row's last step; h^L_bwd at 0]).
 * Backward runs from seeded gradients of the annotations h^L (B, Tx, 2N)
 * and of s0 (B, S). The file holds the encoder's parameters (source_embed,
 * encoder.*, decoder.init.*) under the model's names, the outputs, the
 * seeds, their gradients, and in the metadata the ids, lengths, sizes and
 * every parameter name of the model ("names").
 *
 * The dropout case runs in training mode: the tool draws the keep masks
 * again from a copy of the context's generator (one uniform per element,
 * serially, layer 2 first: at_dropout's documented order) and writes them
 * as mask.l1 .. mask.l{L-1} (1 = kept), so the oracle applies the same
 * masks; that the copy ends where the context's generator ended proves
 * no other number was drawn.
 */
#include "parity_dump.h"

#include "../../src/models/models.h"

#include <stdlib.h>
#include <string.h>

typedef struct encoder_case {
    int layers;
    float dropout;
    int training;
} encoder_case;

enum { B = 4, E = 3, N = 4, S = 5 };
static const char *const sources[B] = {"abcab", "ca", "b", "bdcab"}; /* lengths 5, 2, 1, 5 */

static at_seq2seq *make_model(pd_run *r, const encoder_case *ec) {
    const char *targets[B] = {"x", "y", "x", "y"};
    at_vocab *src = NULL, *tgt = NULL;
    TRY(r, at_vocab_build(r->ctx, &src, B, sources));
    TRY(r, at_vocab_build(r->ctx, &tgt, B, targets));
    at_seq2seq_config c;
    at_seq2seq_config_default(&c);
    c.embed_size = E, c.encoder_size = N, c.decoder_size = S, c.attn_size = 3;
    c.encoder_layers = ec->layers, c.dropout = ec->dropout;
    c.max_source_len = 8, c.max_target_len = 4;
    c.seed = at_rng_u32(&r->init_rng);
    at_seq2seq *m = NULL;
    TRY(r, at_seq2seq_create(r->ctx, &m, &c, src, tgt));
    return m;
}

static void fill_batch(pd_run *r, const at_seq2seq *m, at_seq2seq_data *data,
                       at_seq2seq_batch *batch) {
    at_pairs pairs = {0};
    for (int b = 0; b < B; b++) TRY(r, at_pairs_add(r->ctx, &pairs, sources[b], "x"));
    TRY(r, at_seq2seq_data_build(r->ctx, m, &pairs, data));
    TRY(r, at_seq2seq_batch_init(r->ctx, m, B, batch));
    size_t rows[B] = {0, 1, 2, 3};
    TRY(r, at_seq2seq_batch_fill(r->ctx, batch, data, rows, B));
    at_pairs_clear(&pairs);
}

static int is_encoder_param(const char *name) {
    return !strncmp(name, "source_embed.", 13) || !strncmp(name, "encoder.", 8) ||
           !strncmp(name, "decoder.init.", 13);
}

/* Biases start constant (0, the forget gate's 1): random, so a wrong bias
 * term would show. The names of every parameter go in "names". */
static void randomise_and_list(pd_run *r, at_seq2seq *m) {
    at_params *p = at_seq2seq_params(m);
    char names[PD_LIST_BYTES] = "[";
    for (int i = 0; i < at_params_count(p); i++) {
        at_tensor *t = at_params_get(p, i);
        if (is_encoder_param(t->name) && strstr(t->name, "bias"))
            pd_randomise(r, t, -0.5f, 0.5f);
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s\"%s\"", i ? ", " : "", t->name);
    }
    size_t used = strlen(names);
    if (used + 2 >= sizeof names) pd_die(r, "too many parameter names");
    strcat(names, "]");
    pd_meta(r, "names", "%s", names);
}

/* The masks s2s_encode drew, drawn again from `rng` (its state before). */
static void put_masks(pd_run *r, const encoder_case *ec, int Tx, at_rng rng) {
    for (int l = 1; l < ec->layers && ec->training && ec->dropout > 0; l++) {
        char name[32];
        snprintf(name, sizeof name, "mask.l%d", l);
        float *keep = pd_put(r, name, 3, (int[]){B, Tx, 2 * N}, NULL);
        for (int i = 0; i < B * Tx * 2 * N; i++)
            keep[i] = at_rng_uniform(&rng) >= ec->dropout ? 1.0f : 0.0f;
    }
    if (memcmp(&rng, at_ctx_rng(r->ctx), sizeof rng))
        pd_die(r, "the encoder drew other random numbers than the dropout masks");
}

static void case_encoder(pd_run *r) {
    const encoder_case *ec = r->pc->data;
    at_seq2seq *m = make_model(r, ec);
    at_seq2seq_data data = {0};
    at_seq2seq_batch batch = {0};
    fill_batch(r, m, &data, &batch);
    randomise_and_list(r, m);
    at_ctx_set_training(r->ctx, ec->training);
    at_rng before = *at_ctx_rng(r->ctx);
    enc_out enc;
    dec_state state;
    TRY(r, s2s_encode(r->ctx, m, &batch, &enc, &state));
    put_masks(r, ec, batch.source_len, before);
    pd_seed_extra(r, "s0", state.s, 0);
    pd_backward_from(r, "annotations", enc.annotations);
    at_params *p = at_seq2seq_params(m);
    for (int i = 0; i < at_params_count(p); i++) {
        const at_tensor *t = at_params_get(p, i);
        if (!is_encoder_param(t->name)) continue;
        pd_put_value(r, t->name, t);
        pd_put_grad(r, t->name, t);
    }
    pd_meta_ints(r, "ids", batch.source, B * batch.source_len);
    pd_meta_ints(r, "lengths", batch.lengths, B);
    pd_meta(r, "sizes",
            "{\"B\": %d, \"T\": %d, \"V\": %d, \"E\": %d, \"N\": %d, \"S\": %d, \"L\": %d, "
            "\"dropout\": %.9g, \"training\": %d}",
            B, batch.source_len, at_vocab_size(at_seq2seq_source_vocab(m)), E, N, S, ec->layers,
            (double)ec->dropout, ec->training);
    at_seq2seq_batch_free(&batch);
    at_seq2seq_data_clear(&data);
    at_seq2seq_free(m);
}

static const encoder_case two = {2, 0.0f, 0}, three = {3, 0.0f, 0};
/* dropout set but the context not training: it must do nothing */
static const encoder_case two_eval = {2, 0.4f, 0};
static const encoder_case three_dropout = {3, 0.3f, 1};

static const pd_case cases[] = {
    {"encoder2", case_encoder, 0, &two},
    {"encoder3", case_encoder, 0, &three},
    {"encoder2_eval_dropout", case_encoder, 0, &two_eval},
    {"encoder3_dropout", case_encoder, 0, &three_dropout},
    {"encoder3_dropout_threads2", case_encoder, 2, &three_dropout},
};

int main(int argc, char **argv) {
    static const pd_tool tool = {
        .name = "encoder_parity_tool",
        .cases = cases,
        .n_cases = (int)(sizeof cases / sizeof cases[0]),
        .description = "Runs the seq2seq model's stacked BiLSTM encoder forward and backward\n"
                       "and saves inputs, outputs, seeds, parameters and gradients.\n",
        .seed = 20250111ull,
        .data_xor = 0xe1c0de5eedull,
    };
    return pd_main(argc, argv, &tool);
}
