/*
 * gemm_cutover.c - where does OpenBLAS start to beat attend's own kernel?
 *
 * ati_gemm() sends a product to attend's register-blocked kernel or to
 * cblas_sgemm. This program times both over the shapes recurrent layers
 * make, for each of the three layouts training uses:
 *
 *     NN  dX = dY W           (M, N) = (M, K) (K, N)
 *     NT  Y  = X W^T          (M, N) = (M, K) (N, K)^T
 *     TN  dW = dY^T X         (M, N) = (K, M)^T (K, N)
 *
 * M = batch 1..128, N = 3H or 4H (GRU, LSTM gates), K = H for H in
 * 32..256. Each shape is timed as the best of several runs of enough calls
 * to fill a few milliseconds. The table gives microseconds per call and
 * the ratio blas / small (> 1: the small kernel wins); the summary gives,
 * per layout, the largest M*N*K the small kernel wins and the smallest it
 * loses.
 *
 * A second table takes the products up to and past AT_GEMM_OWN_FLOPS:
 * the whole-sequence products of a recurrent layer (T*B rows) and square
 * ones up to 1536, each on one thread and on `threads` threads (the own
 * kernel's ati_gemm_own against OpenBLAS with as many threads), with the
 * GFLOP/s of each. Run it as attend runs (the environment's OpenBLAS
 * settings untouched), single-threaded and with 2 threads:
 *
 *     OPENBLAS_NUM_THREADS=1 ./gemm_cutover
 *     OPENBLAS_NUM_THREADS=2 ./gemm_cutover 2
 */
#include "internal.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef void (*gemm_fn)(int, int, int, int, int, float, const float *, int, const float *, int,
                        float, float *, int);

static double now_seconds(void) {
    struct timespec ts;
    timespec_get(&ts, TIME_UTC); /* C11; fine for intervals of milliseconds */
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct shape {
    int ta, tb, M, N, K;
} shape;

/* Microseconds per call: best of 5 batches of calls lasting >= 2 ms each. */
static double time_call(gemm_fn f, const shape *s, const float *A, const float *B, float *C) {
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    long reps = 1;
    double best = 1e30;
    for (int round = 0; round < 6; round++) {
        double start = now_seconds();
        for (long r = 0; r < reps; r++)
            f(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 1.0f, C, s->N);
        double took = now_seconds() - start;
        if (took < 2e-3 && round == 0) { /* calibrate: grow until a batch lasts 2 ms */
            reps = (long)(reps * (2.5e-3 / (took > 1e-7 ? took : 1e-7))) + 1;
            round--;
            continue;
        }
        if (round > 0 && took / (double)reps < best) best = took / (double)reps;
    }
    return best * 1e6;
}

typedef struct tally {
    long small_wins_max;  /* largest M*N*K where small won  */
    long blas_wins_min;   /* smallest M*N*K where blas won  */
} tally;

static void bench_layout(int ta, int tb, const char *name, float *A, float *B, float *C,
                         tally *t) {
    static const int batches[] = {1, 4, 8, 16, 32, 64, 128};
    static const int hiddens[] = {32, 64, 128, 256};
    t->small_wins_max = 0;
    t->blas_wins_min = 1L << 40;
    printf("\n%s      M     N     K      M*N*K     own us    blas us    blas/own\n", name);
    for (size_t h = 0; h < sizeof hiddens / sizeof *hiddens; h++)
        for (int gates = 3; gates <= 4; gates++)
            for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
                int H = hiddens[h];
                shape s = {ta, tb, batches[b], gates * H, H};
                if (ta) { /* TN is the weight gradient: M = gates*H, N = H, K = batch */
                    s.M = gates * H;
                    s.N = H;
                    s.K = batches[b];
                }
                long work = (long)s.M * s.N * s.K;
                double small = time_call(ati_gemm_small, &s, A, B, C);
                double blas = time_call(ati_gemm_blas, &s, A, B, C);
                printf("%s  %5d %5d %5d %10ld %10.2f %10.2f %10.2f\n", name, s.M, s.N, s.K,
                       work, small, blas, blas / small);
                if (small <= blas && work > t->small_wins_max) t->small_wins_max = work;
                if (blas < small && work < t->blas_wins_min) t->blas_wins_min = work;
            }
}

static int own_threads = 1;

static void own_n(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc) {
    ati_gemm_own(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, own_threads);
}

/* Large products: own kernel against OpenBLAS, 1 and `threads` threads. */
static void bench_large(int threads, float *A, float *B, float *C) {
    static const shape shapes[] = {
        {0, 1, 3840, 128, 64},  {1, 0, 128, 64, 3840},  {0, 0, 3840, 64, 128},
        {0, 1, 7680, 256, 128}, {1, 0, 256, 128, 7680}, {0, 0, 7680, 128, 256},
        {0, 1, 256, 256, 256},  {0, 0, 512, 512, 512},  {0, 1, 768, 768, 768},
        {1, 0, 1024, 1024, 1024}, {0, 0, 1536, 1536, 1536},
        /* the HAN's word GRU (hidden 50, embedding 100) over a batch's 36,000
           words: input projection, its gradients, one recurrent step */
        {0, 1, 36000, 150, 100}, {0, 0, 36000, 100, 150}, {1, 0, 150, 100, 36000},
        {0, 0, 1200, 150, 50}};
    printf("\nlarge products: GFLOP/s (2*M*N*K / time); own-n and blas-n with %d threads\n",
           threads);
    printf("       M     N     K         M*N*K   own-1  blas-1   own-%d  blas-%d\n", threads,
           threads);
    long blas_wins_min = 1L << 40;
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const shape *s = &shapes[i];
        long work = (long)s->M * s->N * s->K;
        double flop = 2.0 * (double)work;
        own_threads = 1;
        openblas_set_num_threads(1);
        double own1 = time_call(own_n, s, A, B, C), blas1 = time_call(ati_gemm_blas, s, A, B, C);
        own_threads = threads;
        openblas_set_num_threads(threads);
        double ownn = time_call(own_n, s, A, B, C), blasn = time_call(ati_gemm_blas, s, A, B, C);
        printf("%c%c %5d %5d %5d %13ld %7.1f %7.1f %7.1f %7.1f\n", s->ta ? 'T' : 'N',
               s->tb ? 'T' : 'N', s->M, s->N, s->K, work, flop / own1 * 1e-3,
               flop / blas1 * 1e-3, flop / ownn * 1e-3, flop / blasn * 1e-3);
        if ((blas1 < own1 || blasn < ownn) && work < blas_wins_min) blas_wins_min = work;
    }
    if (blas_wins_min < (1L << 40))
        printf("OpenBLAS beats the own kernel from M*N*K = %ld (AT_GEMM_OWN_FLOPS = %ld)\n",
               blas_wins_min, (long)AT_GEMM_OWN_FLOPS);
    else
        printf("OpenBLAS beats the own kernel on none of these (AT_GEMM_OWN_FLOPS = %ld)\n",
               (long)AT_GEMM_OWN_FLOPS);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    if (threads < 1) threads = 1;
    size_t most = 36000 * 150; /* largest operand of the large products */
    float *A = malloc(most * sizeof(float)), *B = malloc(most * sizeof(float));
    float *C = malloc(most * sizeof(float));
    if (!A || !B || !C) return 1;
    at_rng rng;
    at_rng_seed(&rng, 1);
    for (size_t i = 0; i < most; i++) {
        A[i] = at_rng_uniform(&rng) - 0.5f;
        B[i] = at_rng_uniform(&rng) - 0.5f;
        C[i] = 0.0f;
    }
    static const char *names[3] = {"NN", "NT", "TN"};
    static const int flags[3][2] = {{0, 0}, {0, 1}, {1, 0}};
    tally t[3];
    openblas_set_num_threads(1);
    for (int l = 0; l < 3; l++) bench_layout(flags[l][0], flags[l][1], names[l], A, B, C, &t[l]);
    printf("\nsmall products, one thread each (AT_GEMM_OWN_FLOPS = %ld)\n",
           (long)AT_GEMM_OWN_FLOPS);
    for (int l = 0; l < 3; l++)
        printf("%s: own kernel wins up to M*N*K = %ld; blas wins from M*N*K = %ld\n", names[l],
               t[l].small_wins_max, t[l].blas_wins_min);
    bench_large(threads, A, B, C);
    free(A);
    free(B);
    free(C);
    return 0;
}
