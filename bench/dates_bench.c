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
 * translate), each with the median and minimum milliseconds, the parameter
 * count, the work in GFLOP ("gflop", counted below) and the rate achieved
 * at the median ("gflops").
 *
 *     dates_bench --size small --threads 1 --steps 20 --warmup 3 --translations 200
 *
 * The machine's ceilings: `dates_bench --ceilings 1,2 [--batches 32,128]`
 * times nothing of the model; it measures the FP32 FMA peak (1 core, every
 * core, each listed thread count) and the read bandwidth of the working
 * sets a translation streams (bench_ceilings.h), and prints, for both sizes
 * and each listed thread count, the floor: the least time the machine
 * allows for each piece of work (see "Floors" below). JSON lines, kinds
 * "peak", "bandwidth", "costs" and "floor".
 *
 * Counting the work. Only matrix products count, 2 FLOPs per multiply-add;
 * elementwise work (gates, tanh, softmax, the loss, clipping, Adam) is
 * left out, and so is the embeddings' gradient (a scatter-add). Per
 * sequence (one batch row), forward, Tx = 20, Ty = 11, K = 2N, A = S:
 *
 *     encoder input projection   2 directions x Tx x E x 4N
 *     encoder recurrence         2 directions x Tx x N x 4N
 *     keys U_a h                 Tx x K x A
 *     s_0 = W_init [h_fwd; h_bwd]   K x S
 *     per decoder step (x Ty):
 *       GRU input  x_t W_ih^T    (E + S) x 3S
 *       GRU hidden s W_hh^T      S x 3S
 *       W_a s                    S x A
 *       scores v_a . tanh(..)    Tx x A
 *       context alpha h          Tx x K
 *       W_c [c; s]               (K + S) x S
 *       W_s h~                   S x Vt
 *
 * Backward: every one of these products has two, each as large as the
 * forward one: the gradient of its input (dX) and of its weight (dW), as
 * the inputs need gradients (the embeddings are trained, so even the
 * encoder's input x does; the scores' "weight" is v_a, the context's is
 * alpha and its input h) - all but the encoder's initial states h_0 = 0:
 * the recurrence has no dX at the first step of each direction. A
 * training step at batch B is therefore 2 x B x (3 x the sum above -
 * 2 x N x 4N) FLOPs; a translation (batch 1, forward only, all 11 steps:
 * END is never chosen) 2 x (the sum). PyTorch's profiler (with_flops)
 * counts exactly this for bench/dates_bench.py's step; attend computes the
 * dX of h_0 as well, and the scores without a matrix product.
 *
 * Floors (--ceilings). A training step cannot take less than its FLOPs at
 * the FMA peak of its thread count. A translation cannot take less than
 * the larger of that and the time to stream its weights: at batch 1 every
 * weight matrix is read once per step it is used in - each direction's
 * W_hh at each of the Tx encoder steps, the decoder's five matrices (GRU
 * W_ih and W_hh, W_a, W_c, W_s) at each of the Ty steps, the encoder's
 * W_ih, U_a and W_init once - each at the bandwidth measured for its
 * working set (one W_hh; the decoder's five matrices; the whole model),
 * with the set split evenly over the threads. Biases, v_a, embedding rows
 * and the activations (annotations, keys) are not counted: the floor is a
 * lower bound. For the same reason the floors take the fastest of the runs
 * of each ceiling (the FMA peak: best of 5; a bandwidth: 7 runs, whose
 * median is printed too): a run slowed by other work on the machine would
 * raise the floor.
 */
#define _POSIX_C_SOURCE 199309L

#include "attend.h"
#include "bench_util.h"
#include "bench_ceilings.h"

#include <cblas.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

enum { SRC_LEN = 20, TGT_LEN = 10, PAIRS = 128, MAX_THREAD_COUNTS = 16 };

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
    int ceilings;                          /* --ceilings given: measure, time nothing */
    int thread_counts[MAX_THREAD_COUNTS];  /* its list */
    int n_thread_counts;
} options;

/* "1,2,4" into counts (each >= 1); the number read, or exit 2. */
static int parse_int_list(const char *flag, const char *text, int *counts) {
    int n = 0;
    const char *p = text;
    while (*p) {
        char item[16];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof item || n == MAX_THREAD_COUNTS) {
            fprintf(stderr, "dates_bench: %s wants up to %d counts like 1,2, got '%s'\n", flag,
                    MAX_THREAD_COUNTS, text);
            exit(2);
        }
        memcpy(item, p, len);
        item[len] = '\0';
        counts[n++] = bench_parse_int("dates_bench", flag, item, 1);
        p += len;
        if (*p == ',') p++;
    }
    if (n == 0) {
        fprintf(stderr, "dates_bench: %s wants a list of thread counts like 1,2\n", flag);
        exit(2);
    }
    return n;
}

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
                   "[--warmup N] [--translations N] [--batches B1,B2] [--label TEXT]\n"
                   "       dates_bench --ceilings T1,T2,... [--batches B1,B2]\n");
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
        else if (!strcmp(flag, "--ceilings")) {
            o.ceilings = 1;
            o.n_thread_counts = parse_int_list(flag, value, o.thread_counts);
        }
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

/* ------------------------------------------------------------ the work */

/* The model's sizes, read back from the model as built. */
typedef struct model_dims {
    int E, N, S, A, K, Tx, Ty, Vs, Vt;
} model_dims;

static model_dims dims_of(const at_seq2seq *m) {
    const at_seq2seq_config *c = at_seq2seq_get_config(m);
    model_dims d = {.E = c->embed_size,
                    .N = c->encoder_size,
                    .S = c->decoder_size,
                    .A = c->attn_size,
                    .K = 2 * c->encoder_size,
                    .Tx = SRC_LEN,
                    .Ty = c->max_target_len,
                    .Vs = at_vocab_size(at_seq2seq_source_vocab(m)),
                    .Vt = at_vocab_size(at_seq2seq_target_vocab(m))};
    return d;
}

/* The matrix products of one sequence (the table at the top of this file),
 * in multiply-adds: forward, the input's gradient (dX), the weight's (dW). */
enum { PRODUCTS = 11 };
typedef struct product {
    const char *name;
    double fwd, dx, dw;
} product;

/* A product whose input and weight both need gradients. */
static product full(const char *name, double macs) { return (product){name, macs, macs, macs}; }

static void count_products(const model_dims *d, product p[PRODUCTS]) {
    double E = d->E, N = d->N, S = d->S, A = d->A, K = d->K, Tx = d->Tx, Ty = d->Ty, Vt = d->Vt;
    double recurrence = 2 * Tx * N * 4 * N, first_steps = 2 * N * 4 * N;
    const product made[PRODUCTS] = {
        full("encoder input projection", 2 * Tx * E * 4 * N),
        /* no dX at the first step of each direction: its input is h_0 = 0 */
        {"encoder recurrence", recurrence, recurrence - first_steps, recurrence},
        full("keys U_a h", Tx * K * A),
        full("W_init", K * S),
        full("GRU input", Ty * (E + S) * 3 * S),
        full("GRU hidden", Ty * S * 3 * S),
        full("W_a s", Ty * S * A),
        full("scores", Ty * Tx * A),
        full("context", Ty * Tx * K),
        full("W_c", Ty * (K + S) * S),
        full("W_s", Ty * S * Vt),
    };
    memcpy(p, made, sizeof made);
}

static double forward_macs(const model_dims *d) {
    product p[PRODUCTS];
    count_products(d, p);
    double sum = 0.0;
    for (int i = 0; i < PRODUCTS; i++) sum += p[i].fwd;
    return sum;
}

/* One training step at batch B: forward, dX and dW of every product. */
static double train_gflop(const model_dims *d, int B) {
    product p[PRODUCTS];
    count_products(d, p);
    double sum = 0.0;
    for (int i = 0; i < PRODUCTS; i++) sum += p[i].fwd + p[i].dx + p[i].dw;
    return 2.0 * B * sum * 1e-9;
}

/* One translation: batch 1, forward only. */
static double translate_gflop(const model_dims *d) { return 2.0 * forward_macs(d) * 1e-9; }

/* The parameter count these sizes imply: checks that model_dims describes
 * the model that was built (every parameter, biases and embeddings too). */
static double params_counted(const model_dims *d) {
    double E = d->E, N = d->N, S = d->S, A = d->A, K = d->K, Vs = d->Vs, Vt = d->Vt;
    return Vs * E + Vt * E                           /* embeddings */
           + 2 * (4 * N * (E + N) + 2 * 4 * N)       /* BiLSTM: W_ih, W_hh, b_ih, b_hh */
           + K * S + S                               /* W_init, its bias */
           + 3 * S * (E + S) + 3 * S * S + 2 * 3 * S /* GRU cell */
           + A * S + A * K + A + A                   /* W_a, U_a, b_a, v_a */
           + S * (K + S)                             /* W_c */
           + Vt * S + Vt;                            /* W_s, b_s */
}

/* What a translation (batch 1) streams: each phase's weight bytes in all,
 * and the working set it streams them from. */
enum { PHASES = 3 };
typedef struct stream_phase {
    const char *what, *working_set_name;
    double bytes, working_set;
} stream_phase;

static void translate_streams(const model_dims *d, double model_bytes, stream_phase ph[PHASES]) {
    double E = d->E, N = d->N, S = d->S, A = d->A, K = d->K, Tx = d->Tx, Ty = d->Ty, Vt = d->Vt;
    double f = sizeof(float);
    double whh = 4 * N * N * f; /* one direction's */
    double decoder = (3 * S * (E + S) + 3 * S * S + A * S + S * (K + S) + Vt * S) * f;
    double once = (2 * 4 * N * E + A * K + S * K) * f; /* both W_ih, U_a, W_init */
    ph[0] = (stream_phase){"encoder W_hh, both directions, every step", "one W_hh", 2 * Tx * whh,
                           whh};
    ph[1] = (stream_phase){"decoder GRU W_ih + W_hh, W_a, W_c, W_s, every step",
                           "decoder matrices", Ty * decoder, decoder};
    ph[2] = (stream_phase){"encoder W_ih, U_a, W_init, once", "whole model", once, model_bytes};
}

static double stream_bytes(const model_dims *d) {
    stream_phase ph[PHASES];
    translate_streams(d, 0.0, ph);
    return ph[0].bytes + ph[1].bytes + ph[2].bytes;
}

static void print_common(const options *o, const char *kind, size_t params) {
    printf("{\"impl\": \"attend\", \"label\": \"%s\", \"size\": \"%s\", \"kind\": \"%s\", "
           "\"threads\": %d, \"params\": %zu, ",
           o->label, o->size, kind, o->threads, params);
}

/* Time steps training steps at batch B (after warmup); one JSON line. */
static void bench_train(at_ctx *ctx, const options *o, at_seq2seq *model, at_optim *opt,
                        const at_seq2seq_data *data, int B) {
    model_dims dims = dims_of(model);
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
    double median = bench_median(ms, o->steps), gflop = train_gflop(&dims, B);
    print_common(o, "train", at_params_numel(at_seq2seq_params(model)));
    printf("\"batch\": %d, \"source_len\": %d, \"target_len\": %d, \"steps\": %d, "
           "\"median_ms\": %.4f, \"min_ms\": %.4f, \"gflop\": %.6g, \"gflops\": %.2f, "
           "\"loss_first\": %.5f, \"loss_last\": %.5f}\n",
           B, batch.source_len, batch.target_len, o->steps, median, min_ms, gflop,
           gflop / median * 1e3, (double)first, (double)loss);
    fflush(stdout);
    free(ms);
    at_seq2seq_batch_free(&batch);
}

static void bench_translate(at_ctx *ctx, const options *o, at_seq2seq *model, const char *text) {
    model_dims dims = dims_of(model);
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
    double median = bench_median(ms, o->translations), gflop = translate_gflop(&dims);
    print_common(o, "translate", at_params_numel(at_seq2seq_params(model)));
    printf("\"batch\": 1, \"source_len\": %d, \"output_len\": %d, \"steps\": %d, "
           "\"median_ms\": %.4f, \"min_ms\": %.4f, \"gflop\": %.6g, \"gflops\": %.2f, "
           "\"weight_mb_streamed\": %.3f}\n",
           (int)strlen(text), out_len, o->translations, median, min_ms, gflop, gflop / median * 1e3,
           stream_bytes(&dims) * 1e-6);
    fflush(stdout);
    free(ms);
}

/* The date translator at one of the two sizes, as the date translator
 * builds it. Exits if the parameter count the sizes imply (params_counted)
 * is not the model's: the counting would describe another model. */
static at_seq2seq *build_model(at_ctx *ctx, int large) {
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

    model_dims dims = dims_of(model);
    size_t params = at_params_numel(at_seq2seq_params(model));
    if ((double)params != params_counted(&dims)) {
        fprintf(stderr, "dates_bench: the model has %zu parameters, its sizes imply %.0f: "
                "the FLOP count does not describe it\n", params, params_counted(&dims));
        exit(1);
    }
    return model;
}

/* ------------------------------------------------------------ ceilings */

/* Append v to the n counts unless it is there; returns the new n. */
static int add_count(int *counts, int n, int v) {
    for (int i = 0; i < n; i++)
        if (counts[i] == v) return n;
    counts[n] = v;
    return n + 1;
}

static int index_of(const int *counts, int n, int v) {
    for (int i = 0; i < n; i++)
        if (counts[i] == v) return i;
    return 0;
}

/* --ceilings: the FMA peak and the bandwidths, then every floor. */
static void run_ceilings(at_ctx *ctx, const options *o) {
    enum { MAX_COUNTS = MAX_THREAD_COUNTS + 2, RUNS = 7, PEAK_RUNS = 5 };
    const long fma_iters = 20000000L;
    int counts[MAX_COUNTS], n = 0, cores = 1;
#ifdef _OPENMP
    cores = omp_get_num_procs();
#endif
    n = add_count(counts, n, 1);
    n = add_count(counts, n, cores);
    for (int i = 0; i < o->n_thread_counts; i++) n = add_count(counts, n, o->thread_counts[i]);
    double peak[MAX_COUNTS];
    for (int i = 0; i < n; i++) {
        peak[i] = bench_fma_peak(counts[i], fma_iters, PEAK_RUNS);
        printf("{\"kind\": \"peak\", \"threads\": %d, \"cores\": %d, \"gflops\": %.1f}\n",
               counts[i], cores, peak[i]);
        fflush(stdout);
    }
    if (peak[0] <= 0.0) {
        fprintf(stderr, "dates_bench: no FMA peak (built without AVX2/FMA or AVX-512)\n");
        exit(1);
    }
    /* bandwidths: 1 and 2 cores at least, and every listed count */
    int bw_counts[MAX_COUNTS], nb = 0;
    nb = add_count(bw_counts, nb, 1);
    nb = add_count(bw_counts, nb, 2);
    for (int i = 0; i < o->n_thread_counts; i++)
        nb = add_count(bw_counts, nb, o->thread_counts[i]);

    for (int large = 0; large <= 1; large++) {
        const char *size = large ? "large" : "small";
        at_seq2seq *model = build_model(ctx, large);
        model_dims d = dims_of(model);
        size_t params = at_params_numel(at_seq2seq_params(model));
        product p[PRODUCTS];
        count_products(&d, p);
        printf("{\"kind\": \"costs\", \"size\": \"%s\", \"params\": %zu, \"params_counted\": %.0f, "
               "\"macs_per_sequence_fwd_dx_dw\": {",
               size, params, params_counted(&d));
        for (int i = 0; i < PRODUCTS; i++)
            printf("%s\"%s\": [%.0f, %.0f, %.0f]", i ? ", " : "", p[i].name, p[i].fwd, p[i].dx,
                   p[i].dw);
        printf("}, \"forward_macs\": %.0f, \"train_gflop_per_row\": %.6g, "
               "\"translate_gflop\": %.6g, \"translate_weight_mb\": %.3f}\n",
               forward_macs(&d), train_gflop(&d, 1), translate_gflop(&d), stream_bytes(&d) * 1e-6);

        stream_phase ph[PHASES];
        translate_streams(&d, (double)params * sizeof(float), ph);
        double bw[PHASES][MAX_COUNTS];
        for (int k = 0; k < PHASES; k++)
            for (int i = 0; i < nb; i++) {
                double best = 0.0;
                double median =
                    bench_read_gbps((size_t)ph[k].working_set, bw_counts[i], RUNS, &best);
                if (best <= 0.0) {
                    fprintf(stderr, "dates_bench: no memory for the bandwidth buffer\n");
                    exit(1);
                }
                bw[k][i] = best; /* a floor takes what the machine was seen to do */
                printf("{\"kind\": \"bandwidth\", \"size\": \"%s\", \"working_set\": \"%s\", "
                       "\"bytes\": %.0f, \"threads\": %d, \"runs\": %d, \"gbps\": %.1f, "
                       "\"best_gbps\": %.1f}\n",
                       size, ph[k].working_set_name, ph[k].working_set, bw_counts[i], RUNS,
                       median, best);
                fflush(stdout);
            }

        for (int t = 0; t < o->n_thread_counts; t++) {
            int threads = o->thread_counts[t];
            double pk = peak[index_of(counts, n, threads)];
            int batches[2] = {o->batch_small, o->batch_large};
            for (int b = 0; b < 2; b++) {
                double gflop = train_gflop(&d, batches[b]);
                printf("{\"kind\": \"floor\", \"size\": \"%s\", \"threads\": %d, \"work\": "
                       "\"train\", \"batch\": %d, \"gflop\": %.6g, \"peak_gflops\": %.1f, "
                       "\"compute_ms\": %.4f, \"floor_ms\": %.4f}\n",
                       size, threads, batches[b], gflop, pk, gflop / pk * 1e3, gflop / pk * 1e3);
            }
            int bi = index_of(bw_counts, nb, threads);
            double gflop = translate_gflop(&d), compute_ms = gflop / pk * 1e3, stream_ms = 0.0;
            printf("{\"kind\": \"floor\", \"size\": \"%s\", \"threads\": %d, \"work\": "
                   "\"translate\", \"batch\": 1, \"gflop\": %.6g, \"peak_gflops\": %.1f, "
                   "\"compute_ms\": %.4f, \"stream\": [",
                   size, threads, gflop, pk, compute_ms);
            for (int k = 0; k < PHASES; k++) {
                double ms = ph[k].bytes / (bw[k][bi] * 1e9) * 1e3;
                stream_ms += ms;
                printf("%s{\"what\": \"%s\", \"mb\": %.3f, \"working_set_mb\": %.3f, "
                       "\"gbps\": %.1f, \"ms\": %.4f}",
                       k ? ", " : "", ph[k].what, ph[k].bytes * 1e-6, ph[k].working_set * 1e-6,
                       bw[k][bi], ms);
            }
            printf("], \"stream_ms\": %.4f, \"floor_ms\": %.4f}\n", stream_ms,
                   stream_ms > compute_ms ? stream_ms : compute_ms);
        }
        fflush(stdout);
        at_seq2seq_free(model);
    }
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
    if (o.ceilings) {
        run_ceilings(ctx, &o);
        at_ctx_free(ctx);
        return 0;
    }
    at_seq2seq *model = build_model(ctx, large);

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
