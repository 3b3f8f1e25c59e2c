/*
 * train_step.c - time one training step of a small seq2seq model in attend.
 *
 * The idea: the models attend is for are small (a character-level date
 * translator has some 66 thousand parameters), and at that size a training
 * step is not bound by arithmetic but by everything around it - hundreds of
 * tiny products, tape entries, allocations, thread hand-offs. This program
 * times exactly such a step so it can be compared with PyTorch running the
 * same model on the same shapes (bench/train_step.py; bench/run_train_step.sh
 * runs both and prints the ratio).
 *
 * The model (identical in both programs):
 *
 *     src ids (B, Tx=30) -> Embedding(V=60, 64)                 x  (B, 30, 64)
 *                        -> BiLSTM(64 -> 32 per direction)      h_n (2, B, 32)
 *     h0 = tanh(Dense(64 -> 64)(concat(h_n[0], h_n[1])))            (B, 64)
 *     decoder input ids (B, Ty=10) -> Embedding(V, 64)          e  (B, 10, 64)
 *     for t in 0..Ty-1:  h = GRUCell(64, 64)(e[:, t], h)        teacher forcing,
 *                                                               one step at a time
 *     logits = Dense(64 -> V)(stack(h_1 .. h_Ty))                   (B, 10, V)
 *     loss = mean cross-entropy; backward; clip grad norm at 1.0; Adam step.
 *
 * One step = reset the context (the arena is reused: no malloc), zero the
 * gradients, forward, backward, clip, Adam. Every step trains on the same
 * batch of random ids, so the loss must fall; the first and last losses are
 * printed as a check that the step really trains.
 *
 * Output: one JSON line with the median and minimum milliseconds per step
 * (and per phase: forward, backward, update), the parameter count, and the
 * arena's capacity after warm-up together with whether it stayed the same
 * through every timed step (it must: a growing arena means malloc on the
 * hot path).
 *
 *     train_step --batch 32 --threads 1 --steps 30 --warmup 5
 */
#define _POSIX_C_SOURCE 199309L

#include "attend.h"
#include "bench_util.h"

#include <cblas.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { VOCAB = 60, EMBED = 64, ENC_HIDDEN = 32, DEC_HIDDEN = 64, SRC_LEN = 30, TGT_LEN = 10 };

/* Stop the program with the context's message when an attend call fails. */
#define CHECK(ctx, call)                                                                           \
    do {                                                                                           \
        at_status check_status_ = (call);                                                          \
        if (check_status_ != AT_OK) {                                                              \
            fprintf(stderr, "train_step: %s failed: %s: %s\n", #call,                              \
                    at_status_name(check_status_), at_ctx_error(ctx));                             \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* The model: the same six modules, under the same names, as train_step.py. */
typedef struct seq2seq {
    at_embedding enc_embed; /* (V, 64)                              */
    at_bilstm encoder;      /* 64 -> 2 x 32                         */
    at_dense bridge;        /* 64 -> 64, then tanh: decoder's h0    */
    at_embedding dec_embed; /* (V, 64)                              */
    at_gru cell;            /* GRUCell 64 -> 64                     */
    at_dense out;           /* 64 -> V                              */
} seq2seq;

/* One batch of token ids, row-major: src (B, Tx), dec_in and tgt (B, Ty). */
typedef struct batch {
    int B;
    int32_t *src, *dec_in, *tgt;
} batch;

/* Wall-clock milliseconds spent in each phase of one step. */
typedef struct phase_ms {
    double forward, backward, update, total;
} phase_ms;

typedef struct options {
    int batch, threads, steps, warmup;
    const char *label;
} options;

static void model_init(at_ctx *ctx, seq2seq *m, at_params *params, at_rng *rng) {
    CHECK(ctx, at_embedding_init(ctx, &m->enc_embed, params, "enc_embed", VOCAB, EMBED, rng));
    CHECK(ctx, at_bilstm_init(ctx, &m->encoder, params, "encoder", EMBED, ENC_HIDDEN, rng));
    CHECK(ctx,
          at_dense_init(ctx, &m->bridge, params, "bridge", 2 * ENC_HIDDEN, DEC_HIDDEN, 1, rng));
    CHECK(ctx, at_embedding_init(ctx, &m->dec_embed, params, "dec_embed", VOCAB, EMBED, rng));
    CHECK(ctx, at_gru_init(ctx, &m->cell, params, "cell", EMBED, DEC_HIDDEN, 0, rng));
    CHECK(ctx, at_dense_init(ctx, &m->out, params, "out", DEC_HIDDEN, VOCAB, 1, rng));
}

/* Random ids in [1, V); the decoder reads BOS (0) then the target shifted right. */
static batch batch_make(int B, at_rng *rng) {
    batch b = {.B = B};
    b.src = malloc(sizeof(int32_t) * (size_t)B * SRC_LEN);
    b.dec_in = malloc(sizeof(int32_t) * (size_t)B * TGT_LEN);
    b.tgt = malloc(sizeof(int32_t) * (size_t)B * TGT_LEN);
    if (!b.src || !b.dec_in || !b.tgt) {
        fprintf(stderr, "train_step: out of memory for the batch\n");
        exit(1);
    }
    for (size_t i = 0; i < (size_t)B * SRC_LEN; i++)
        b.src[i] = 1 + (int32_t)at_rng_below(rng, VOCAB - 1);
    for (int r = 0; r < B; r++) {
        int32_t *tgt = b.tgt + (size_t)r * TGT_LEN, *dec_in = b.dec_in + (size_t)r * TGT_LEN;
        for (int t = 0; t < TGT_LEN; t++)
            tgt[t] = 1 + (int32_t)at_rng_below(rng, VOCAB - 1);
        dec_in[0] = 0;
        for (int t = 1; t < TGT_LEN; t++)
            dec_in[t] = tgt[t - 1];
    }
    return b;
}

static void batch_free(batch *b) {
    free(b->src);
    free(b->dec_in);
    free(b->tgt);
}

/* Forward pass up to the mean cross-entropy, recorded on the tape. */
static at_tensor *model_loss(at_ctx *ctx, const seq2seq *m, const batch *b) {
    const int B = b->B;
    at_tensor *x, *h_n, *enc_out, *h_nt, *h_cat, *bridged, *h, *e, *logits, *loss;

    /* Encoder. forward was (torch): _, (h_n, _) = encoder(enc_embed(src)) */
    int src_shape[2] = {B, SRC_LEN};
    CHECK(ctx, at_embedding_forward(ctx, &m->enc_embed, b->src, 2, src_shape, &x)); /* (B,Tx,64) */
    CHECK(ctx, at_bilstm_forward(ctx, &m->encoder, x, NULL, &enc_out, &h_n));       /* (2,B,32) */

    /* Bridge: h0 = tanh(bridge(concat(h_n[0], h_n[1]))), (B, 64). */
    CHECK(ctx, at_transpose(ctx, &h_nt, h_n, 0, 1)); /* (B, 2, 32) */
    int cat_shape[2] = {B, 2 * ENC_HIDDEN};
    CHECK(ctx, at_reshape(ctx, &h_cat, h_nt, 2, cat_shape)); /* (B, 64) */
    CHECK(ctx, at_dense_forward(ctx, &m->bridge, h_cat, &bridged));
    CHECK(ctx, at_tanh(ctx, &h, bridged));

    /* Decoder, one GRUCell step per target position (teacher forcing). */
    int dec_shape[2] = {B, TGT_LEN};
    CHECK(ctx,
          at_embedding_forward(ctx, &m->dec_embed, b->dec_in, 2, dec_shape, &e)); /* (B,Ty,64) */
    at_tensor *hs[TGT_LEN];
    int step_shape[2] = {B, EMBED}, h3_shape[3] = {B, 1, DEC_HIDDEN};
    for (int t = 0; t < TGT_LEN; t++) {
        at_tensor *e_t3, *e_t;
        CHECK(ctx, at_slice(ctx, &e_t3, e, 1, t, 1));           /* (B, 1, 64) */
        CHECK(ctx, at_reshape(ctx, &e_t, e_t3, 2, step_shape)); /* (B, 64) */
        CHECK(ctx, at_gru_cell(ctx, &m->cell, e_t, h, &h));     /* (B, 64) */
        CHECK(ctx, at_reshape(ctx, &hs[t], h, 3, h3_shape));    /* (B, 1, 64) */
    }
    at_tensor *stacked;
    CHECK(ctx, at_concat(ctx, &stacked, TGT_LEN, hs, 1));               /* (B, Ty, 64) */
    CHECK(ctx, at_dense_forward(ctx, &m->out, stacked, &logits));       /* (B, Ty, V)  */
    CHECK(ctx, at_cross_entropy(ctx, &loss, logits, b->tgt, -1, 0.0f)); /* (1) */
    return loss;
}

/* One whole training step; returns the loss and fills the phase times. */
static float train_step(at_ctx *ctx, const seq2seq *m, at_params *params, at_optim *opt,
                        const batch *b, phase_ms *ms) {
    double t0 = bench_now_ms();
    at_ctx_reset(ctx);
    at_params_zero_grad(params);
    at_tensor *loss = model_loss(ctx, m, b);
    double t1 = bench_now_ms();
    CHECK(ctx, at_backward(ctx, loss));
    double t2 = bench_now_ms();
    CHECK(ctx, at_clip_grad_norm(ctx, params, 1.0f, NULL));
    CHECK(ctx, at_optim_step(ctx, opt));
    double t3 = bench_now_ms();
    ms->forward = t1 - t0;
    ms->backward = t2 - t1;
    ms->update = t3 - t2;
    ms->total = t3 - t0;
    return loss->data[0];
}

static options parse_args(int argc, char **argv) {
    options o = {.batch = 32, .threads = 1, .steps = 30, .warmup = 5, .label = ""};
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (!strcmp(flag, "--help") || !strcmp(flag, "-h")) {
            printf("usage: train_step [--batch N] [--threads N] [--steps N] [--warmup N] "
                   "[--label TEXT]\n");
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "train_step: %s needs a value (try --help)\n", flag);
            exit(2);
        }
        const char *value = argv[++i];
        if (!strcmp(flag, "--batch"))
            o.batch = bench_parse_int("train_step", flag, value, 1);
        else if (!strcmp(flag, "--threads"))
            o.threads = bench_parse_int("train_step", flag, value, 1);
        else if (!strcmp(flag, "--steps"))
            o.steps = bench_parse_int("train_step", flag, value, 1);
        else if (!strcmp(flag, "--warmup"))
            o.warmup = bench_parse_int("train_step", flag, value, 0);
        else if (!strcmp(flag, "--label"))
            o.label = value;
        else {
            fprintf(stderr, "train_step: unknown option %s (try --help)\n", flag);
            exit(2);
        }
    }
    if (strpbrk(o.label, "\"\\")) {
        fprintf(stderr, "train_step: --label must not contain quotes or backslashes\n");
        exit(2);
    }
    return o;
}

int main(int argc, char **argv) {
    options o = parse_args(argc, argv);

    /* The same thread count for attend's OpenMP loops and for OpenBLAS. */
    openblas_set_num_threads(o.threads);
    at_ctx *ctx;
    at_ctx_options copts = {.num_threads = o.threads, .seed = 1};
    at_status st = at_ctx_create(&ctx, &copts);
    if (st != AT_OK) {
        fprintf(stderr, "train_step: at_ctx_create: %s\n", at_status_name(st));
        return 1;
    }
    at_params *params;
    CHECK(ctx, at_params_create(ctx, &params));
    at_rng rng;
    at_rng_seed(&rng, 1);
    seq2seq model;
    model_init(ctx, &model, params, &rng);
    at_optim *opt;
    at_optim_config ocfg = {.kind = AT_ADAM, .lr = 1e-3f};
    CHECK(ctx, at_optim_create(ctx, &opt, params, &ocfg));
    batch b = batch_make(o.batch, &rng);

    phase_ms ms;
    float first_loss = 0.0f, loss = 0.0f;
    for (int i = 0; i < o.warmup; i++) {
        loss = train_step(ctx, &model, params, opt, &b, &ms);
        if (i == 0) first_loss = loss;
    }

    /* From here on the arena must not grow: the same step, the same memory. */
    size_t capacity = at_ctx_arena_capacity(ctx);
    int arena_stable = 1;
    double *total = malloc(sizeof(double) * 4 * (size_t)o.steps);
    if (!total) {
        fprintf(stderr, "train_step: out of memory for the timings\n");
        return 1;
    }
    double *fwd = total + o.steps, *bwd = fwd + o.steps, *upd = bwd + o.steps;
    for (int i = 0; i < o.steps; i++) {
        loss = train_step(ctx, &model, params, opt, &b, &ms);
        if (o.warmup == 0 && i == 0) first_loss = loss;
        if (at_ctx_arena_capacity(ctx) != capacity) arena_stable = 0;
        total[i] = ms.total;
        fwd[i] = ms.forward;
        bwd[i] = ms.backward;
        upd[i] = ms.update;
    }
    if (o.warmup == 0) capacity = at_ctx_arena_capacity(ctx);
    size_t used = at_ctx_arena_used(ctx), tape = at_ctx_tape_length(ctx);

    double min_ms = total[0];
    for (int i = 1; i < o.steps; i++)
        if (total[i] < min_ms) min_ms = total[i];
    double med = bench_median(total, o.steps);
    double med_fwd = bench_median(fwd, o.steps), med_bwd = bench_median(bwd, o.steps);
    double med_upd = bench_median(upd, o.steps);

    printf("{\"impl\": \"attend\", \"label\": \"%s\", \"batch\": %d, \"threads\": %d, "
           "\"steps\": %d, \"warmup\": %d, \"median_ms\": %.4f, \"min_ms\": %.4f, "
           "\"params\": %zu, \"loss_first\": %.5f, \"loss_last\": %.5f, "
           "\"forward_ms\": %.4f, \"backward_ms\": %.4f, \"update_ms\": %.4f, "
           "\"tape_length\": %zu, \"arena_used\": %zu, \"arena_capacity\": %zu, "
           "\"arena_stable\": %s}\n",
           o.label, o.batch, o.threads, o.steps, o.warmup, med, min_ms, at_params_numel(params),
           (double)first_loss, (double)loss, med_fwd, med_bwd, med_upd, tape, used, capacity,
           arena_stable ? "true" : "false");
    fflush(stdout);

    free(total);
    batch_free(&b);
    at_optim_free(opt);
    at_params_free(params);
    at_ctx_free(ctx);
    if (!arena_stable) {
        fprintf(stderr, "train_step: the arena grew during the timed steps\n");
        return 1;
    }
    return 0;
}
