/*
 * dates_bench.c - time the date translator (the models API) in attend: one
 * training step at two batch sizes and the latency of translating one
 * string. bench/dates_bench.py is the same model in PyTorch, and
 * bench/run_dates_bench.sh runs both side by side and prints the ratios.
 *
 * The model is built with at_seq2seq_create, exactly as the date translator
 * builds it: the luong decoder (GRU cell, input feeding) with additive
 * attention.
 *
 *     source ids (B, Tx=20) -> embedding (Vs=80, E) -> BiLSTM (N per dir.)
 *       -> annotations h (B, 20, 2N); U_a h + b_a once per sequence
 *     s_0 = tanh(W_init [h_fwd_last; h_bwd_first]), h~_0 = 0
 *     for t < Ty = 11 (10 characters + END), teacher-forced:
 *       x_t = [embed(y_{t-1}) (Vt=15, E); h~_{t-1}]
 *       s_t = GRUCell(E + S -> S)(x_t, s_{t-1})
 *       c_t = additive attention of s_t over h (A = S)
 *       h~_t = tanh(W_c [c_t; s_t]);  logits_t = W_s h~_t + b_s
 *     loss = mean cross-entropy; backward; clip grad norm 1.0; Adam 1e-3.
 *
 * Sizes: small (E 64, N 32, S 64) and large, the original's (E 64, N 256,
 * S 256). The data are random: every source is 20 characters drawn from 76
 * printable ASCII characters (80 ids with the 4 specials), every target 10
 * characters of "0123456789-" (15 ids), like an ISO date. Every source has
 * the same length, so the PyTorch model needs no packing to do the same
 * work.
 *
 * Translation: at_seq2seq_translate of one 20-character string (greedy,
 * with its attention weights). Before it is timed, the END logit's bias is
 * set to -100 (in PyTorch too), so both decoders always run all 11 steps:
 * with untrained weights one might otherwise stop at END earlier than the
 * other.
 *
 * Output: three JSON lines (train at --batch-small, train at --batch-large,
 * translate), each with the median and minimum milliseconds and the
 * parameter count.
 *
 *     dates_bench --size small --threads 1 --steps 20 --warmup 3 --translations 200
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

enum { SRC_LEN = 20, TGT_LEN = 10, PAIRS = 128 };

static const char SOURCE_CHARS[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   " -/.,:'()";
static const char TARGET_CHARS[] = "0123456789-";

#define CHECK(ctx, call)                                                                           \
    do {                                                                                           \
        at_status check_status_ = (call);                                                          \
        if (check_status_ != AT_OK) {                                                              \
            fprintf(stderr, "dates_bench: %s failed: %s: %s\n", #call,                             \
                    at_status_name(check_status_), at_ctx_error(ctx));                             \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

typedef struct options {
    const char *size, *label;
    int threads, steps, warmup, translations, batch_small, batch_large;
} options;

static options parse_args(int argc, char **argv) {
    options o = {.size = "small",
                 .label = "attend",
                 .threads = 1,
                 .steps = 20,
                 .warmup = 3,
                 .translations = 200,
                 .batch_small = 32,
                 .batch_large = 128};
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (!strcmp(flag, "--help") || !strcmp(flag, "-h")) {
            printf("usage: dates_bench [--size small|large] [--threads N] [--steps N] "
                   "[--warmup N] [--translations N] [--batches B1,B2] [--label TEXT]\n");
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "dates_bench: %s needs a value (try --help)\n", flag);
            exit(2);
        }
        const char *value = argv[++i];
        if (!strcmp(flag, "--size"))
            o.size = value;
        else if (!strcmp(flag, "--threads"))
            o.threads = bench_parse_int("dates_bench", flag, value, 1);
        else if (!strcmp(flag, "--steps"))
            o.steps = bench_parse_int("dates_bench", flag, value, 1);
        else if (!strcmp(flag, "--warmup"))
            o.warmup = bench_parse_int("dates_bench", flag, value, 0);
        else if (!strcmp(flag, "--translations"))
            o.translations = bench_parse_int("dates_bench", flag, value, 1);
        else if (!strcmp(flag, "--batches")) {
            if (sscanf(value, "%d,%d", &o.batch_small, &o.batch_large) != 2 ||
                o.batch_small < 1 || o.batch_large < 1 || o.batch_small > PAIRS ||
                o.batch_large > PAIRS) {
                fprintf(stderr, "dates_bench: --batches wants B1,B2 in [1, %d]\n", PAIRS);
                exit(2);
            }
        } else if (!strcmp(flag, "--label"))
            o.label = value;
        else {
            fprintf(stderr, "dates_bench: unknown option %s (try --help)\n", flag);
            exit(2);
        }
    }
    if (strcmp(o.size, "small") && strcmp(o.size, "large")) {
        fprintf(stderr, "dates_bench: --size is small or large\n");
        exit(2);
    }
    if (strpbrk(o.label, "\"\\")) {
        fprintf(stderr, "dates_bench: --label must not contain quotes or backslashes\n");
        exit(2);
    }
    return o;
}

static void random_text(at_rng *rng, const char *chars, int n, char *out) {
    size_t k = strlen(chars);
    for (int i = 0; i < n; i++)
        out[i] = chars[at_rng_below(rng, (uint32_t)k)];
    out[n] = '\0';
}

static void print_common(const options *o, const char *kind, size_t params) {
    printf("{\"impl\": \"attend\", \"label\": \"%s\", \"size\": \"%s\", \"kind\": \"%s\", "
           "\"threads\": %d, \"params\": %zu, ",
           o->label, o->size, kind, o->threads, params);
}

/* Time steps training steps at batch B (after warmup); one JSON line. */
static void bench_train(at_ctx *ctx, const options *o, at_seq2seq *model, at_optim *opt,
                        const at_seq2seq_data *data, int B) {
    at_seq2seq_batch batch;
    CHECK(ctx, at_seq2seq_batch_init(ctx, model, B, &batch));
    size_t indices[PAIRS];
    for (int i = 0; i < B; i++)
        indices[i] = (size_t)i;
    CHECK(ctx, at_seq2seq_batch_fill(ctx, &batch, data, indices, B));
    float loss = 0.0f, first = 0.0f;
    for (int i = 0; i < o->warmup; i++) {
        CHECK(ctx, at_seq2seq_train_step(ctx, model, opt, &batch, 1.0f, &loss));
        if (i == 0) first = loss;
    }
    double *ms = malloc(sizeof(double) * (size_t)o->steps);
    if (!ms) exit(1);
    for (int i = 0; i < o->steps; i++) {
        double t0 = bench_now_ms();
        CHECK(ctx, at_seq2seq_train_step(ctx, model, opt, &batch, 1.0f, &loss));
        ms[i] = bench_now_ms() - t0;
        if (o->warmup == 0 && i == 0) first = loss;
    }
    double min_ms = ms[0];
    for (int i = 1; i < o->steps; i++)
        if (ms[i] < min_ms) min_ms = ms[i];
    print_common(o, "train", at_params_numel(at_seq2seq_params(model)));
    printf("\"batch\": %d, \"source_len\": %d, \"target_len\": %d, \"steps\": %d, "
           "\"median_ms\": %.4f, \"min_ms\": %.4f, \"loss_first\": %.5f, \"loss_last\": %.5f}\n",
           B, batch.source_len, batch.target_len, o->steps, bench_median(ms, o->steps), min_ms,
           (double)first, (double)loss);
    fflush(stdout);
    free(ms);
    at_seq2seq_batch_free(&batch);
}

static void bench_translate(at_ctx *ctx, const options *o, at_seq2seq *model, const char *text) {
    /* Never END: both implementations decode every one of the 11 steps. */
    at_tensor *bias = at_params_find(at_seq2seq_params(model), "decoder.W_s.bias");
    if (!bias) {
        fprintf(stderr, "dates_bench: no parameter decoder.W_s.bias\n");
        exit(1);
    }
    bias->data[AT_TOKEN_END] = -100.0f;
    at_translation tr;
    int warm = o->translations / 10 > 5 ? o->translations / 10 : 5;
    for (int i = 0; i < warm; i++) {
        CHECK(ctx, at_seq2seq_translate(ctx, model, text, &tr));
        at_translation_clear(&tr);
    }
    double *ms = malloc(sizeof(double) * (size_t)o->translations);
    if (!ms) exit(1);
    int out_len = 0;
    for (int i = 0; i < o->translations; i++) {
        double t0 = bench_now_ms();
        CHECK(ctx, at_seq2seq_translate(ctx, model, text, &tr));
        ms[i] = bench_now_ms() - t0;
        out_len = tr.target_len;
        at_translation_clear(&tr);
    }
    double min_ms = ms[0];
    for (int i = 1; i < o->translations; i++)
        if (ms[i] < min_ms) min_ms = ms[i];
    print_common(o, "translate", at_params_numel(at_seq2seq_params(model)));
    printf("\"batch\": 1, \"source_len\": %d, \"output_len\": %d, \"steps\": %d, "
           "\"median_ms\": %.4f, \"min_ms\": %.4f}\n",
           (int)strlen(text), out_len, o->translations, bench_median(ms, o->translations), min_ms);
    fflush(stdout);
    free(ms);
}

int main(int argc, char **argv) {
    options o = parse_args(argc, argv);
    int large = !strcmp(o.size, "large");

    openblas_set_num_threads(o.threads);
    at_ctx *ctx;
    at_ctx_options copts = {.num_threads = o.threads, .seed = 1};
    at_status st = at_ctx_create(&ctx, &copts);
    if (st != AT_OK) {
        fprintf(stderr, "dates_bench: at_ctx_create: %s\n", at_status_name(st));
        return 1;
    }

    /* Vocabularies: every character of the two alphabets. */
    at_vocab *src_vocab, *tgt_vocab;
    const char *src_texts[1] = {SOURCE_CHARS}, *tgt_texts[1] = {TARGET_CHARS};
    CHECK(ctx, at_vocab_build(ctx, &src_vocab, 1, src_texts));
    CHECK(ctx, at_vocab_build(ctx, &tgt_vocab, 1, tgt_texts));

    at_seq2seq_config cfg;
    at_seq2seq_config_default(&cfg);
    cfg.decoder = AT_DECODER_LUONG;
    cfg.attention = AT_ATTENTION_ADDITIVE;
    cfg.cell = AT_CELL_GRU;
    cfg.embed_size = 64;
    cfg.encoder_size = large ? 256 : 32;
    cfg.decoder_size = large ? 256 : 64;
    cfg.attn_size = cfg.decoder_size;
    cfg.max_source_len = SRC_LEN;
    cfg.max_target_len = TGT_LEN + 1;
    cfg.seed = 1;
    at_seq2seq *model;
    CHECK(ctx, at_seq2seq_create(ctx, &model, &cfg, src_vocab, tgt_vocab));

    /* Random pairs of date-like lengths. */
    at_rng rng;
    at_rng_seed(&rng, 2);
    at_pairs pairs = {0};
    char src[SRC_LEN + 1], tgt[TGT_LEN + 1];
    for (int i = 0; i < PAIRS; i++) {
        random_text(&rng, SOURCE_CHARS, SRC_LEN, src);
        random_text(&rng, TARGET_CHARS, TGT_LEN, tgt);
        CHECK(ctx, at_pairs_add(ctx, &pairs, src, tgt));
    }
    at_seq2seq_data data;
    CHECK(ctx, at_seq2seq_data_build(ctx, model, &pairs, &data));

    at_optim *opt;
    at_optim_config ocfg = {.kind = AT_ADAM, .lr = 1e-3f};
    CHECK(ctx, at_optim_create(ctx, &opt, at_seq2seq_params(model), &ocfg));

    bench_train(ctx, &o, model, opt, &data, o.batch_small);
    bench_train(ctx, &o, model, opt, &data, o.batch_large);
    random_text(&rng, SOURCE_CHARS, SRC_LEN, src);
    bench_translate(ctx, &o, model, src);

    at_optim_free(opt);
    at_seq2seq_data_clear(&data);
    at_pairs_clear(&pairs);
    at_seq2seq_free(model);
    at_ctx_free(ctx);
    return 0;
}
