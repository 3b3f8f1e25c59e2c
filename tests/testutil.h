/*
 * testutil.h - what every attend test uses to fail loudly.
 *
 * A test is a main() that runs checks, counts failures and returns
 * test_finish(): non-zero if anything failed. Every failing check prints
 * where it failed, its first mismatches and its largest error.
 *
 * gc_check() is the finite-difference gradient check, in the manner of
 * ggml's test-backend-ops "grad" mode: build a function of some inputs
 * (and optionally a parameter set), project its output on a fixed random
 * direction R to get a scalar L = sum(y * R), and compare dL/dx from the
 * tape with central differences (L(x + h) - L(x - h)) / 2h, element by
 * element, for every input and parameter (up to GC_MAX_PROBES elements of
 * each, chosen at random, always including the first and last).
 */
#ifndef ATTEND_TESTUTIL_H
#define ATTEND_TESTUTIL_H

#include "attend.h"

#include <stdio.h>

extern int test_failures;
extern int test_checks;

/* Record a check; on failure print file:line and the formatted reason. */
#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        test_checks++;                                                                        \
        if (!(cond)) {                                                                        \
            test_failures++;                                                                  \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                              \
            fprintf(stderr, __VA_ARGS__);                                                     \
            fprintf(stderr, "\n");                                                            \
        }                                                                                     \
    } while (0)

/* Check a call returned the expected status; print the context's message. */
#define CHECK_STATUS(ctx, call, expected)                                                     \
    do {                                                                                      \
        at_status check_status_ = (call);                                                     \
        CHECK(check_status_ == (expected), "%s returned '%s' (%s), expected '%s'", #call,     \
              at_status_name(check_status_), at_ctx_error(ctx), at_status_name(expected));    \
    } while (0)
#define CHECK_OK(ctx, call) CHECK_STATUS(ctx, call, AT_OK)

/* Compare n floats: |got - want| <= atol + rtol * |want|. Prints the first
 * few mismatches and the largest error. Returns 1 if all close. */
int check_close(const char *what, const float *got, const float *want, size_t n, double atol,
                double rtol);

/* Print a summary line "N passed, M failed" and return the exit code. */
int test_finish(const char *suite);

/* Random fill, uniform in [lo, hi). */
void fill_uniform(float *x, size_t n, float lo, float hi, at_rng *rng);

/* ------------------------------------------------------- gradient check */

#define GC_MAX_INPUTS 8
#define GC_MAX_PROBES 48

typedef struct gc_input {
    const char *name;
    int ndim;
    int shape[AT_MAX_DIMS];
    float *values; /* owned by the caller; gc_check perturbs and restores */
} gc_input;

/* Build y from the inputs (arena tensors that require a gradient, in the
 * order given) and from any parameters the user pointer reaches. */
typedef at_status (*gc_build_fn)(at_ctx *ctx, at_tensor *const *inputs, void *user,
                                 at_tensor **y);

typedef struct gc_options {
    double step;     /* finite-difference step h; 0 = 1e-2                   */
    double atol;     /* 0 = 2e-3                                             */
    double rtol;     /* 0 = 2e-2                                             */
    unsigned seed;   /* direction R and probe choice                         */
} gc_options;

/* Returns 1 if every probed gradient matches; prints mismatches and the
 * largest error otherwise (and counts one failed check). params may be
 * NULL. The build runs in double-checked float32; keep inputs away from
 * kinks (relu at 0, ties in max). */
int gc_check(const char *name, int n_inputs, gc_input *inputs, at_params *params,
             gc_build_fn build, void *user, const gc_options *options);

#endif
