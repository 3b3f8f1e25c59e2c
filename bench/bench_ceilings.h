/*
 * bench_ceilings.h - the machine's own ceilings, measured by the benchmarks
 * themselves (BENCHMARKING.md): the FP32 FMA peak and the read bandwidth of
 * a working set of a given size. Header-only like bench_util.h (include
 * that first); the programs that use it build with OpenMP.
 *
 *   bench_fma_peak(threads, iters, runs)
 *                                      GFLOP/s of `threads` threads, each
 *                                      running independent chains of FMAs:
 *                                      the best of `runs` runs
 *   bench_read_gbps(bytes, threads, runs, &best)
 *                                      GB/s of `threads` threads, each
 *                                      summing its own 1/threads of a
 *                                      `bytes` buffer over and over
 *
 * The FMA loop uses 512-bit FMAs where the compiler targets AVX-512, else
 * 256-bit ones (AVX2 + FMA), else it reports 0 (no peak known).
 */
#ifndef ATTEND_BENCH_CEILINGS_H
#define ATTEND_BENCH_CEILINGS_H

#include <stddef.h>
#include <stdlib.h>

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

/* ------------------------------------------------------------- FMA peak */

/* Floating-point operations of one trip of bench_fma_loop's loop: 16 FMAs
 * (2 operations each) on 16 lanes, or 12 on 8 lanes (AVX2 has 16 vector
 * registers: 12 chains and the two operands fit without spilling). */
#if defined(__AVX512F__)
#define BENCH_FMA_FLOPS_PER_TRIP (16 * 16 * 2)
#elif defined(__AVX2__) && defined(__FMA__)
#define BENCH_FMA_FLOPS_PER_TRIP (12 * 8 * 2)
#else
#define BENCH_FMA_FLOPS_PER_TRIP 0
#endif

/* GFLOP/s of one thread running independent chains of FMAs (16, or 12
 * with AVX2: either covers 2 pipes x 4 cycles of latency with room to
 * spare); *sink keeps the result alive. */
static inline double bench_fma_loop(long iters, float *sink) {
#if defined(__AVX512F__)
    __m512 acc[16];
    for (int i = 0; i < 16; i++) acc[i] = _mm512_set1_ps(1.0f + 1e-3f * (float)i);
    const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-6f);
    double t0 = bench_now_ms();
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 16; i++) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    double ms = bench_now_ms() - t0;
    __m512 s = acc[0];
    for (int i = 1; i < 16; i++) s = _mm512_add_ps(s, acc[i]);
    *sink += _mm512_reduce_add_ps(s);
    return (double)iters * BENCH_FMA_FLOPS_PER_TRIP / ms * 1e-6;
#elif defined(__AVX2__) && defined(__FMA__)
    __m256 acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps(1.0f + 1e-3f * (float)i);
    const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-6f);
    double t0 = bench_now_ms();
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
    double ms = bench_now_ms() - t0;
    float lanes[8];
    __m256 s = acc[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, acc[i]);
    _mm256_storeu_ps(lanes, s);
    for (int i = 0; i < 8; i++) *sink += lanes[i];
    return (double)iters * BENCH_FMA_FLOPS_PER_TRIP / ms * 1e-6;
#else
    (void)iters;
    *sink = 0.0f;
    return 0.0;
#endif
}

/* The best of `runs` runs of `threads` threads (OpenMP), each running
 * bench_fma_loop(iters), after one short run that ramps the clock up. */
static inline double bench_fma_peak(int threads, long iters, int runs) {
    float sink = 0.0f;
    bench_fma_loop(iters / 10, &sink); /* warm up the clock */
    double best = 0.0;
    for (int r = 0; r < runs; r++) {
        double g;
        if (threads <= 1) {
            g = bench_fma_loop(iters, &sink);
        } else {
            int ran = 1;
            double t0 = bench_now_ms();
#pragma omp parallel num_threads(threads)
            {
                float s = 0.0f;
                bench_fma_loop(iters, &s);
#pragma omp atomic
                sink += s;
#ifdef _OPENMP
#pragma omp single
                ran = omp_get_num_threads();
#endif
            }
            g = (double)ran * iters * BENCH_FMA_FLOPS_PER_TRIP / (bench_now_ms() - t0) * 1e-6;
        }
        best = g > best ? g : best;
    }
    if (sink == 12345.0f) best += 1e-9; /* keep the loops alive */
    return best;
}

/* ------------------------------------------------------ read bandwidth */

enum { BENCH_READ_BLOCK = 128 }; /* floats summed per loop trip (8 x 64 bytes) */

/* acc0 + the sum of x[0..n), n a multiple of BENCH_READ_BLOCK, x 64-byte
 * aligned, with 8 independent vector accumulators (so the loop is bound by
 * the loads, not by the latency of the adds). */
static inline float bench_sum_block(const float *x, size_t n, float acc0) {
#if defined(__AVX512F__)
    __m512 a[8];
    for (int k = 0; k < 8; k++) a[k] = _mm512_setzero_ps();
    a[0] = _mm512_set1_ps(acc0 * (1.0f / 16.0f));
    for (size_t i = 0; i < n; i += BENCH_READ_BLOCK)
        for (int k = 0; k < 8; k++) a[k] = _mm512_add_ps(a[k], _mm512_load_ps(x + i + 16 * k));
    for (int k = 1; k < 8; k++) a[0] = _mm512_add_ps(a[0], a[k]);
    return _mm512_reduce_add_ps(a[0]);
#elif defined(__AVX2__)
    __m256 a[8];
    for (int k = 0; k < 8; k++) a[k] = _mm256_setzero_ps();
    a[0] = _mm256_set1_ps(acc0 * (1.0f / 8.0f));
    for (size_t i = 0; i < n; i += BENCH_READ_BLOCK)
        for (int k = 0; k < 8; k++) {
            a[k] = _mm256_add_ps(a[k], _mm256_load_ps(x + i + 8 * k));
            a[k] = _mm256_add_ps(a[k], _mm256_load_ps(x + i + 64 + 8 * k));
        }
    for (int k = 1; k < 8; k++) a[0] = _mm256_add_ps(a[0], a[k]);
    float lanes[8], s = 0.0f;
    _mm256_storeu_ps(lanes, a[0]);
    for (int k = 0; k < 8; k++) s += lanes[k];
    return s;
#else
    float a[8] = {acc0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t i = 0; i < n; i += 8)
        for (int k = 0; k < 8; k++) a[k] += x[i + k];
    return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
#endif
}

/* GB/s (1e9 bytes/s) of `threads` threads (OpenMP), each summing its own
 * slice of one `bytes` buffer (bytes/threads, rounded up to 512 bytes) over
 * and over: about 256 MB read per run in all, the median of `runs` runs
 * (after one untimed pass that brings each slice into the cache nearest
 * its thread). *best, if not NULL, gets the fastest run. 0 if out of memory. */
static inline double bench_read_gbps(size_t bytes, int threads, int runs, double *best) {
    if (threads < 1) threads = 1;
    if (runs < 1) runs = 1;
    size_t slice = (bytes / sizeof(float) + (size_t)threads - 1) / (size_t)threads;
    slice = (slice + BENCH_READ_BLOCK - 1) / BENCH_READ_BLOCK * BENCH_READ_BLOCK;
    if (slice == 0) slice = BENCH_READ_BLOCK;
    size_t total = slice * (size_t)threads;
    float *buf = aligned_alloc(64, total * sizeof(float));
    double *gbps = malloc((size_t)runs * sizeof(double));
    if (!buf || !gbps) {
        free(buf);
        free(gbps);
        return 0.0;
    }
    for (size_t i = 0; i < total; i++) buf[i] = (float)(i % 7) * 0.25f;
    const double target = 256e6; /* bytes read per run, all threads together */
    long passes = (long)(target / ((double)total * sizeof(float)));
    if (passes < 4) passes = 4;
    float sink = 0.0f;
    for (int r = 0; r < runs; r++) {
        double t0 = 0.0, t1 = 0.0;
        int ran = 1;
#pragma omp parallel num_threads(threads)
        {
            int id = 0;
#ifdef _OPENMP
            id = omp_get_thread_num();
#pragma omp single
            ran = omp_get_num_threads();
#endif
            const float *mine = buf + (size_t)id * slice;
            float s = bench_sum_block(mine, slice, 0.0f); /* into this core's cache */
#pragma omp barrier
#pragma omp single
            t0 = bench_now_ms();
            for (long p = 0; p < passes; p++) s = bench_sum_block(mine, slice, s);
#pragma omp barrier
#pragma omp single
            t1 = bench_now_ms();
#pragma omp atomic
            sink += s;
        }
        gbps[r] = (double)passes * (double)ran * (double)slice * sizeof(float) / (t1 - t0) * 1e-6;
    }
    double fastest = 0.0;
    for (int r = 0; r < runs; r++) fastest = gbps[r] > fastest ? gbps[r] : fastest;
    if (best) *best = fastest;
    double median = bench_median(gbps, runs);
    if (sink == 12345.0f) median += 1e-9; /* keep the sums alive */
    free(gbps);
    free(buf);
    return median;
}

#endif /* ATTEND_BENCH_CEILINGS_H */
