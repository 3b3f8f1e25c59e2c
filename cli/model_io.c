/*
 * model_io.c - what the commands that run models share: threads for both
 * OpenMP and OpenBLAS (with a sane ceiling), a context, and loading a model
 * with a clear message.
 *
 * Threads. --threads is held to 4 threads per CPU (and 256): more only
 * thrash. Under an address-space limit (ulimit -v) every thread costs
 * address space before it does any work: its stack, a malloc arena that
 * glibc reserves at 64 MB, and for OpenBLAS a 128 MB buffer per pool
 * thread. When OpenBLAS cannot get that buffer its thread retries forever,
 * and exit then waits for it: the process hangs. So under a limit
 * OpenBLAS's pool is never grown past what it started with, and a thread
 * count whose reservations alone would take half the limit is refused
 * with a message before any thread is made (libgomp would otherwise stop
 * the process with its own "Thread creation failed").
 */
#define _POSIX_C_SOURCE 200809L /* sysconf, getrlimit */
#include "model_io.h"

#include <cblas.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Address space one OpenMP thread reserves: 8 MB of stack and glibc's
 * 64 MB malloc arena. */
#define THREAD_RESERVE_BYTES (72.0 * (1 << 20))

int cli_max_threads(void) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long most = 4 * (cpus > 0 ? cpus : 1);
    return most < CLI_THREADS_CEILING ? (int)most : CLI_THREADS_CEILING;
}

/* 1 if `threads` may run here; else print why and return 0. */
static int threads_fit(const char *command, int threads, int *blas_threads) {
    int most = cli_max_threads();
    if (threads > most) {
        fprintf(stderr,
                "attend %s: --threads %d is more than this machine can use: at most %d "
                "(4 per CPU, %ld CPUs)\n",
                command, threads, most, sysconf(_SC_NPROCESSORS_ONLN));
        return 0;
    }
    *blas_threads = threads;
    struct rlimit as;
    if (getrlimit(RLIMIT_AS, &as) != 0 || as.rlim_cur == RLIM_INFINITY) return 1;
    int started = openblas_get_num_threads();
    if (*blas_threads > started) *blas_threads = started; /* never grow the pool */
    double limit = (double)as.rlim_cur;
    if (threads > 1 && threads * THREAD_RESERVE_BYTES > limit / 2) {
        int fit = (int)(limit / 2 / THREAD_RESERVE_BYTES);
        fprintf(stderr,
                "attend %s: --threads %d needs about %.0f MB of address space for the "
                "threads alone, more than half the %.0f MB limit (ulimit -v); use "
                "--threads %d or less\n",
                command, threads, threads * THREAD_RESERVE_BYTES / (1 << 20), limit / (1 << 20),
                fit > 1 ? fit : 1);
        return 0;
    }
    return 1;
}

at_ctx *cli_context(const char *command, int threads, uint64_t seed) {
    int blas_threads;
    if (!threads_fit(command, threads, &blas_threads)) return NULL;
    openblas_set_num_threads(blas_threads); /* OpenBLAS keeps its own pool */
    at_ctx *ctx = NULL;
    at_ctx_options options = {.num_threads = threads, .seed = seed};
    if (at_ctx_create(&ctx, &options) != AT_OK) {
        fprintf(stderr, "attend %s: out of memory\n", command);
        return NULL;
    }
    return ctx;
}

int cli_fail(const char *command, at_ctx *ctx, at_status s) {
    fprintf(stderr, "attend %s: %s: %s\n", command, at_status_name(s), at_ctx_error(ctx));
    return 1;
}

at_seq2seq *cli_load_model(const char *command, at_ctx *ctx, const char *path, at_metadata *meta) {
    at_seq2seq *model = NULL;
    at_status s = at_seq2seq_load(ctx, &model, path, meta);
    if (s == AT_OK) return model;
    fprintf(stderr, "attend %s: cannot load the model %s: %s\n", command, path, at_ctx_error(ctx));
    return NULL;
}
