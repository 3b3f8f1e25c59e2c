/*
 * bench_util.h - the few helpers every benchmark program needs: a
 * monotonic clock, the median of a set of timings, and strict parsing of an
 * integer option. Header-only, because each benchmark source is its own program.
 * Include after defining _POSIX_C_SOURCE (clock_gettime).
 */
#ifndef ATTEND_BENCH_UTIL_H
#define ATTEND_BENCH_UTIL_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Milliseconds on the monotonic clock. */
static inline double bench_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n values (sorts them in place). */
static inline double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* An integer option >= min; otherwise a message naming program and flag,
 * and exit 2 (usage error). */
static inline int bench_parse_int(const char *program, const char *flag, const char *text,
                                  int min) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || end == text || v < min || v > INT_MAX) {
        fprintf(stderr, "%s: %s wants an integer >= %d, got '%s'\n", program, flag, min, text);
        exit(2);
    }
    return (int)v;
}

#endif /* ATTEND_BENCH_UTIL_H */
