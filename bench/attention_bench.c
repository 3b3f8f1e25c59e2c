/*
 * attention_bench.c - time attend's scaled dot-product attention
 * (at_dot_attention, the fused tiled kernel of src/attention/dot_kernel.c),
 * forward and forward+backward, and measure the machine's FMA peak.
 *
 * bench/run_attention_bench.sh runs this side by side with
 * bench/attention_bench.py (PyTorch) and prints the comparison; see
 * bench/README-attention.md. Every figure is one JSON line on stdout.
 *
 *   attention_bench peak                  FP32 FMA peak, 1 core and all cores
 *   attention_bench time THREADS [CALLS]  the shape grid, fwd and fwd+bwd
 *   attention_bench mem T                 peak RSS growth of one fwd+bwd at
 *                                         (1, 4, T, 64) without weights
 *
 * FLOPs follow BENCHMARKING.md: forward 4·B·H·T²·d, forward+backward three
 * times that; causal shapes are counted as dense (compare times there).
 * Timing: warm-up (at least 3 calls and 0.3 s), then the median of CALLS
 * (default 20) calls.
 * Each call starts from at_ctx_reset(), as a training step does.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, getrusage */
#include "attend.h"
#include "bench_util.h"
#include "bench_ceilings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------- FMA peak */

/* bench_ceilings.h: the best of three runs, 1 core and every core. */
static void bench_peak(void) {
    long iters = 20000000L;
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_num_procs();
#endif
    double one = bench_fma_peak(1, iters, 3), all = bench_fma_peak(threads, iters, 3);
    printf("{\"kind\": \"peak\", \"threads\": 1, \"gflops\": %.1f}\n", one);
    printf("{\"kind\": \"peak\", \"threads\": %d, \"gflops\": %.1f}\n", threads, all);
}

/* ---------------------------------------------------------------- timing */

typedef struct problem {
    int B, H, T, d;
    float *q, *k, *v, *dy;    /* (B, H, T, d) each */
    float *dq, *dk, *dv;      /* gradients, zeroed before each call */
} problem;

static float *random_buffer(size_t n, unsigned *seed) {
    float *x = malloc(n * sizeof(float));
    if (!x) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        x[i] = (float)(*seed >> 8) / 16777216.0f * 2.0f - 1.0f;
    }
    return x;
}

static void problem_make(problem *p, int B, int H, int T, int d, int with_grads) {
    unsigned seed = 12345u;
    size_t n = (size_t)B * H * T * d;
    *p = (problem){B, H, T, d, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    p->q = random_buffer(n, &seed), p->k = random_buffer(n, &seed);
    p->v = random_buffer(n, &seed), p->dy = random_buffer(n, &seed);
    if (with_grads) {
        p->dq = calloc(n, sizeof(float)), p->dk = calloc(n, sizeof(float));
        p->dv = calloc(n, sizeof(float));
    }
}

static void problem_free(problem *p) {
    free(p->q), free(p->k), free(p->v), free(p->dy), free(p->dq), free(p->dk), free(p->dv);
}

/* A tensor header over caller memory: the inputs live outside the arena
 * and survive at_ctx_reset, like a model's parameters do. */
static at_tensor view(const problem *p, float *data, float *grad) {
    at_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data, t.grad = grad, t.ndim = 4;
    t.shape[0] = p->B, t.shape[1] = p->H, t.shape[2] = p->T, t.shape[3] = p->d;
    t.size = (size_t)p->B * p->H * p->T * p->d;
    t.requires_grad = grad != NULL;
    return t;
}

/* One call: forward, or forward and backward from dy. */
static int run_once(at_ctx *ctx, problem *p, int causal, int backward) {
    at_ctx_reset(ctx);
    size_t n = (size_t)p->B * p->H * p->T * p->d;
    if (backward) {
        memset(p->dq, 0, n * sizeof(float)), memset(p->dk, 0, n * sizeof(float));
        memset(p->dv, 0, n * sizeof(float));
    }
    at_tensor q = view(p, p->q, backward ? p->dq : NULL);
    at_tensor k = view(p, p->k, backward ? p->dk : NULL);
    at_tensor v = view(p, p->v, backward ? p->dv : NULL);
    at_attn_mask mask = {NULL, 0, 1};
    at_tensor *context = NULL;
    if (at_dot_attention(ctx, &q, &k, &v, 0.0f, causal ? &mask : NULL, &context, NULL) != AT_OK)
        return 0;
    if (backward && at_backward_seeded(ctx, context, p->dy) != AT_OK) return 0;
    return 1;
}

static void bench_time(int threads, int calls) {
    /* the last: the Transformer language model's own (bench/run_lm_bench.sh:
     * batch 64, 4 heads, context 64, 128 wide = 4 x 32) */
    static const int shapes[][4] = {
        {1, 8, 512, 64}, {4, 8, 256, 64}, {1, 4, 2048, 64}, {64, 4, 64, 32}};
    at_ctx *ctx = NULL;
    at_ctx_options o = {.num_threads = threads};
    if (at_ctx_create(&ctx, &o) != AT_OK) exit(1);
    at_ctx_set_grad(ctx, 1);
    double *t = malloc(sizeof(double) * (size_t)calls);
    const char *wait = getenv("OMP_WAIT_POLICY"); /* reported with every figure */
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        problem p;
        problem_make(&p, shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], 1);
        double flops_fwd = 4.0 * p.B * p.H * (double)p.T * p.T * p.d;
        for (int causal = 0; causal <= 1; causal++)
            for (int backward = 0; backward <= 1; backward++) {
                at_ctx_set_grad(ctx, backward);
                /* warm up: at least 3 calls and 0.3 s (the arena settles, the clock ramps) */
                double warm_start = now_s();
                for (int w = 0; w < 3 || now_s() - warm_start < 0.3; w++)
                    if (!run_once(ctx, &p, causal, backward)) {
                        fprintf(stderr, "attention failed: %s\n", at_ctx_error(ctx));
                        exit(1);
                    }
                for (int c = 0; c < calls; c++) {
                    double t0 = now_s();
                    run_once(ctx, &p, causal, backward);
                    t[c] = now_s() - t0;
                }
                double sec = bench_median(t, calls);
                double flops = flops_fwd * (backward ? 3.0 : 1.0);
                printf("{\"side\": \"attend\", \"wait\": \"%s\", \"B\": %d, \"H\": %d, "
                       "\"T\": %d, \"d\": %d, \"causal\": %d, \"pass\": \"%s\", "
                       "\"threads\": %d, \"ms\": %.4f, \"gflops\": %.1f}\n",
                       wait ? wait : "default", p.B, p.H, p.T, p.d, causal,
                       backward ? "fwd+bwd" : "fwd", threads, sec * 1e3, flops / sec * 1e-9);
                fflush(stdout);
            }
        problem_free(&p);
    }
    free(t);
    at_ctx_free(ctx);
}

/* --------------------------------------------------------------- memory */

static long max_rss_kib(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

/* Peak RSS growth of fwd+bwd at (1, 4, T, 64), no weights, 1 thread. The
 * baseline is taken once q, k, v and dy exist; the gradient buffers, the
 * context and everything the arena holds count as growth. */
static void bench_mem(int T) {
    problem p;
    problem_make(&p, 1, 4, T, 64, 0);
    at_ctx *ctx = NULL;
    at_ctx_options o = {.num_threads = 1};
    if (at_ctx_create(&ctx, &o) != AT_OK) exit(1);
    long base = max_rss_kib();
    size_t n = (size_t)p.B * p.H * p.T * p.d;
    p.dq = calloc(n, sizeof(float)), p.dk = calloc(n, sizeof(float));
    p.dv = calloc(n, sizeof(float));
    for (int r = 0; r < 2; r++)
        if (!run_once(ctx, &p, 0, 1)) {
            fprintf(stderr, "attention failed: %s\n", at_ctx_error(ctx));
            exit(1);
        }
    long grown = max_rss_kib() - base;
    printf("{\"side\": \"attend\", \"kind\": \"mem\", \"T\": %d, \"H\": 4, \"d\": 64, "
           "\"rss_growth_mib\": %.1f, \"arena_mib\": %.1f}\n",
           T, grown / 1024.0, (double)at_ctx_arena_capacity(ctx) / (1024.0 * 1024.0));
    at_ctx_free(ctx);
    problem_free(&p);
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "peak") == 0) {
        bench_peak();
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "time") == 0) {
        int calls = argc >= 4 ? atoi(argv[3]) : 20;
        bench_time(atoi(argv[2]), calls < 1 ? 1 : calls);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "mem") == 0) {
        bench_mem(atoi(argv[2]));
        return 0;
    }
    fprintf(stderr, "usage: %s peak | time THREADS [CALLS] | mem T\n", argv[0]);
    return 2;
}
