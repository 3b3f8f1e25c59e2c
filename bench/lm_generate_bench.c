/*
 * lm_generate_bench.c - how long the Transformer language model takes to
 * write one character, against the least time this machine allows
 * (issue 16's "generation latency within 1.5x of the floor").
 *
 * The model is issue 12's: 4 blocks x 4 heads x 128 wide, context 64 (the
 * library's defaults), over printable ASCII and the newline (V = 100 with
 * the four specials), its parameters freshly drawn: the time does not
 * depend on what the model has learnt. The prompt is 64 characters, so the
 * window is full from the first character on, as in a long generation.
 *
 *     lm_generate_bench [--threads N] [--chars N] [--reps N]
 *
 * It times at_lm_generate (greedy, --chars characters, after one untimed
 * call), --reps times, and prints one JSON line with the median and the
 * fastest milliseconds per character.
 *
 * The floor. The positions are learnt and absolute, so when the window
 * slides every position's state changes: each character needs a forward
 * pass over the whole window (no cache of keys and values can be reused).
 * Its least work, counted in multiply-adds, with D = width, T = context,
 * N = blocks, V = vocabulary:
 *     blocks 1 .. N-1, every position:  T·12D²  (Q, K, V 3D², out D²,
 *                                        MLP 8D²) + D·T(T+1) (causal scores
 *                                        and context, T(T+1)/2 pairs each)
 *     block N: K and V of every position T·2D², and for the last position
 *              only: Q D², scores and context 2·D·T, out and MLP 9D²
 *     the head, the last position only: D·V
 * (elementwise work, layer norms, GELU and softmax left out). The floor is
 * the larger of those FLOPs at the FMA peak of the threads used and the
 * model's weights read once at the read bandwidth measured for their size
 * (bench_ceilings.h; the fastest of the runs, as dates_bench takes).
 * "full" is what a pass that computes every position's logits does.
 */
#define _POSIX_C_SOURCE 200809L
#include "bench_util.h"
#include "bench_ceilings.h"

#include <attend/core.h>
#include <attend/lm.h>
#include <attend/text.h>

#include <stdio.h>
#include <string.h>

typedef struct options {
    int threads, chars, reps;
} options;

static options parse(int argc, char **argv) {
    options o = {.threads = 1, .chars = 100, .reps = 7};
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(flag, "--help") || !strcmp(flag, "-h")) {
            printf("usage: lm_generate_bench [--threads N] [--chars N] [--reps N]\n");
            exit(0);
        }
        if (!value) {
            fprintf(stderr, "lm_generate_bench: %s wants a value\n", flag);
            exit(2);
        }
        if (!strcmp(flag, "--threads")) o.threads = bench_parse_int(argv[0], flag, value, 1);
        else if (!strcmp(flag, "--chars")) o.chars = bench_parse_int(argv[0], flag, value, 1);
        else if (!strcmp(flag, "--reps")) o.reps = bench_parse_int(argv[0], flag, value, 1);
        else {
            fprintf(stderr, "lm_generate_bench: unknown option %s (see --help)\n", flag);
            exit(2);
        }
        i++;
    }
    return o;
}

/* Multiply-adds of one character: the least (last position only in the
 * last block and the head) and a full pass (every position's logits). */
static void count_macs(const at_lm_config *c, int V, double *least, double *full) {
    double D = c->width, T = c->context, N = c->layers;
    double block_all = T * 12 * D * D + D * T * (T + 1);
    double last_block = T * 2 * D * D + D * D + 2 * D * T + 9 * D * D;
    *least = (N - 1) * block_all + last_block + D * V;
    *full = N * block_all + T * D * V;
}

static void die(at_ctx *ctx, const char *what) {
    fprintf(stderr, "lm_generate_bench: %s: %s\n", what, at_ctx_error(ctx));
    exit(1);
}

int main(int argc, char **argv) {
    options o = parse(argc, argv);
    at_ctx *ctx;
    at_ctx_options copts = {.num_threads = o.threads, .seed = 1};
    if (at_ctx_create(&ctx, &copts) != AT_OK) return 1;

    char alphabet[128];
    int n = 0;
    for (int ch = 32; ch < 127; ch++) alphabet[n++] = (char)ch;
    alphabet[n++] = '\n';
    alphabet[n] = 0;
    const char *texts[1] = {alphabet};
    at_vocab *vocab = NULL;
    if (at_vocab_build(ctx, &vocab, 1, texts) != AT_OK) die(ctx, "vocabulary");
    at_lm_config c;
    at_lm_config_default(&c, AT_LM_TRANSFORMER);
    at_lm *m = NULL;
    if (at_lm_create(ctx, &m, &c, vocab) != AT_OK) die(ctx, "model");
    int V = at_vocab_size(at_lm_vocab(m));

    char prompt[AT_LM_MAX_CONTEXT + 1];
    at_rng rng;
    at_rng_seed(&rng, 7);
    for (int i = 0; i < c.context; i++) prompt[i] = (char)('a' + at_rng_below(&rng, 26));
    prompt[c.context] = 0;

    at_lm_sample_options so;
    at_lm_sample_options_default(&so);
    so.temperature = 0.0f, so.length = o.chars;
    double *ms = malloc((size_t)o.reps * sizeof *ms);
    if (!ms) return 1;
    for (int r = -1; r < o.reps; r++) { // r = -1: the untimed warm-up
        char *text = NULL;
        double t0 = bench_now_ms();
        if (at_lm_generate(ctx, m, prompt, &so, &text) != AT_OK) die(ctx, "generate");
        double per_char = (bench_now_ms() - t0) / o.chars;
        free(text);
        if (r >= 0) ms[r] = per_char;
    }
    double fastest = ms[0];
    for (int r = 1; r < o.reps; r++) fastest = ms[r] < fastest ? ms[r] : fastest;
    double median = bench_median(ms, o.reps);

    double least, full;
    count_macs(&c, V, &least, &full);
    size_t params = at_params_numel(at_lm_params(m));
    double weight_bytes = (double)params * sizeof(float), best_gbps = 0.0;
    double peak = bench_fma_peak(o.threads, 20000000L, 5);
    bench_read_gbps((size_t)weight_bytes, o.threads, 7, &best_gbps);
    double compute_ms = 2 * least * 1e-9 / peak * 1e3;
    double stream_ms = best_gbps > 0 ? weight_bytes / (best_gbps * 1e9) * 1e3 : 0.0;
    double floor_ms = compute_ms > stream_ms ? compute_ms : stream_ms;
    printf("{\"impl\": \"attend\", \"kind\": \"generate\", \"threads\": %d, \"params\": %zu, "
           "\"vocab\": %d, \"context\": %d, \"chars\": %d, \"reps\": %d, "
           "\"median_ms_per_char\": %.4f, \"min_ms_per_char\": %.4f, "
           "\"gflop_least\": %.6g, \"gflop_full\": %.6g, \"peak_gflops\": %.1f, "
           "\"weight_mb\": %.3f, \"read_gbps\": %.1f, \"compute_floor_ms\": %.4f, "
           "\"stream_floor_ms\": %.4f, \"floor_ms\": %.4f, \"attend_over_floor\": %.2f, "
           "\"attend_gflops_full\": %.1f}\n",
           o.threads, params, V, c.context, o.chars, o.reps, median, fastest, 2 * least * 1e-9,
           2 * full * 1e-9, peak, weight_bytes * 1e-6, best_gbps, compute_ms, stream_ms, floor_ms,
           median / floor_ms, 2 * full * 1e-9 / (median * 1e-3));
    free(ms);
    at_lm_free(m);
    at_ctx_free(ctx);
    return 0;
}
