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

#include <stdint.h>
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

/* The same bits (a thread count, a tiling, a path that promises them):
 * check_close at zero tolerance, which prints the first mismatches and
 * the largest error, then the bytes themselves (a -0 for a 0, another
 * NaN). Returns 1 if the same; counts a failure otherwise. */
int check_same_bits(const char *what, const float *got, const float *want, size_t n);

/* Append t's values (grad 0) or its gradient (grad 1) to out[*at ..], out
 * holding room floats in all (what does not fit is dropped: compare the
 * counts); and every parameter's gradient, in the set's order. For tests
 * that compare whole runs, e.g. on 1 and 2 threads. */
void test_append(float *out, size_t *at, size_t room, const at_tensor *t, int grad);
void test_append_param_grads(float *out, size_t *at, size_t room, const at_params *params);

/* check_close against a double-precision reference (rounded to float). */
int check_close_to_double(const char *what, const float *got, const double *want, size_t n,
                          double atol, double rtol);

/* Print a summary line "N passed, M failed" and return the exit code. */
int test_finish(const char *suite);

/* A named case of a test program. only_by_name: 1 = run only when named
 * (a slow or measuring case), 0 = run by default too. */
typedef struct test_case {
    const char *name;
    void (*run)(void);
    int only_by_name;
} test_case;
/* Run the n cases, or only the one named argv[1], each followed by its
 * name and wall-clock seconds; a name that matches no case is a failure.
 * Returns test_finish(suite). */
int test_run_cases(int argc, char **argv, const test_case *cases, size_t n, const char *suite);
/* Seconds on a monotonic clock, for timing. */
double test_seconds(void);

/* Random fill, uniform in [lo, hi). */
void fill_uniform(float *x, size_t n, float lo, float hi, at_rng *rng);

/* ------------------------------------------------------ shared helpers */

/* A context with the default options (one thread); exits if it cannot be
 * made. test_new_ctx_with: a given generator seed and thread count. */
at_ctx *test_new_ctx(void);
at_ctx *test_new_ctx_with(uint64_t seed, int threads);

/* n malloc'ed floats, uniform in [lo, hi) (the caller frees them). */
float *test_random_floats(size_t n, float lo, float hi, at_rng *rng);

/* Move every parameter off its initial value (biases start at 0, gains at
 * 1) by amount * (u - 0.5), u uniform in [0, 1), so that a wrong bias or
 * gain term would show in a gradient check. */
void test_jitter_params(at_params *params, at_rng *rng, float amount);

/* Write n bytes to path (exits with 2 if it cannot); read a whole file into
 * a malloc'ed buffer, its length in *n (NULL if it cannot be read). */
void test_write_file(const char *path, const void *bytes, size_t n);
unsigned char *test_read_file(const char *path, size_t *n);
/* A safetensors file from its header text and data bytes: the 8-byte
 * little-endian length of header, header, data (exits with 2 on failure). */
void test_write_safetensors(const char *path, const char *header, const void *data,
                            size_t data_bytes);

/* A fresh scratch directory for a test that writes files: make `templ`
 * (ending in XXXXXX, rewritten in place) under the current directory and
 * enter it (exits with 2 if either fails); at the end, leave it and remove
 * it with everything inside. */
void test_enter_scratch_dir(char *templ);
void test_leave_scratch_dir(const char *dir);
/* Remove dir and everything below it (symbolic links are not followed). */
void test_remove_tree(const char *dir);

/* NULL if every source of set has its pairs on consecutive indices (a
 * word's pronunciations together); otherwise the first source that comes
 * back after another one. */
const char *test_pairs_grouped(const at_pairs *set);

/* FNV-1a, 64 bits, of a NUL-terminated string, written out from its
 * definition (offset basis 14695981039346656037, prime 1099511628211) to
 * check the G2P dev rule against. */
uint64_t test_fnv1a_64(const char *s);

/* Runs of the trainer (at_train) compared: OUT/metrics.jsonl with the
 * timings of each line cut off (malloc'ed, NULL if unreadable); 1 if
 * a_dir/name and b_dir/name hold the same bytes; and a failed check for
 * each of last.safetensors, last.optim.safetensors, model.safetensors and
 * metrics.jsonl (timings aside) that differs between two OUT dirs. */
char *test_metrics_without_timings(const char *dir);
int test_same_file(const char *a_dir, const char *b_dir, const char *name);
void test_check_same_run(const char *whole, const char *other, const char *what);

/* 1 if no element is NaN or infinite / if every element is exactly 0. */
int test_all_finite(const float *x, size_t n);
int test_all_zero(const float *x, size_t n);

/* A malloc'ed padding mask (B, T): row b keeps its first lengths[b]
 * positions (1 = keep). */
uint8_t *test_mask_from_lengths(int B, int T, const int *lengths);

/* The mask rules of attend.h written out again, independently of the
 * library, for the naive references:
 *   causal: query i of Tq sees key j of Tk when j <= i + (Tk - Tq);
 *   test_mask_keeps: 1 if mask m (NULL: keep all) keeps key j for query i
 *   of batch row b, where each of the mask's m->rows rows serves
 *   (B * Tq) / m->rows consecutive score rows, then the causal rule. */
int test_causal_keeps(int i, int j, int tq, int tk);
int test_mask_keeps(const at_attn_mask *m, int B, int b, int i, int j, int tq, int tk);

/* A test-only op for gradient checks: the elements of parts[0..n) one after
 * another, as one tensor (total). NULL parts are skipped. Lets one
 * gc_check cover several outputs at once (a context and its weights, an
 * LSTM's y, h_n and c_n); its backward hands each part its slice. */
at_status gc_join_outputs(at_ctx *ctx, at_tensor **y, int n, at_tensor **parts);

/* Test masks for the attention families' tests: the five kinds, a buffer
 * of keep bytes owned by the struct, and the at_attn_mask pointing at it.
 * make_mask: padding keeps everything in batch row 0, nothing in row 1 (if
 * any), a random length >= 1 in the others; full has one row per score row
 * (score_rows of them), random, with row 0 empty and the last row full; a
 * mask too big for the buffer is a failed check and becomes MASK_NONE.
 * mask_of: NULL for MASK_NONE. */
enum { MASK_NONE, MASK_PADDING, MASK_FULL, MASK_CAUSAL, MASK_PADDING_CAUSAL };
extern const char *const mask_names[5];
typedef struct test_mask {
    uint8_t keep[1 << 16];
    at_attn_mask mask;
    int kind;
} test_mask;
void make_mask(test_mask *m, int kind, int B, int score_rows, int tk, at_rng *rng);
const at_attn_mask *mask_of(const test_mask *m);

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
