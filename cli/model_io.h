/*
 * model_io.h - what train, eval and translate share (model_io.c): a context
 * whose thread count also goes to OpenBLAS, one error line format, and
 * loading a model with a message that names the file and the problem.
 */
#ifndef ATTEND_CLI_MODEL_IO_H
#define ATTEND_CLI_MODEL_IO_H

#include "cli.h"

/* The most threads --threads may ask for: 4 per CPU, at most
 * CLI_THREADS_CEILING. */
#define CLI_THREADS_CEILING 256
int cli_max_threads(void);
/* A context with `threads` for OpenMP and OpenBLAS alike, or NULL after
 * printing why: out of memory, more than cli_max_threads(), or more threads
 * than an address-space limit (ulimit -v) leaves room for (see
 * model_io.c). Under such a limit OpenBLAS's pool is not grown. */
at_ctx *cli_context(const char *command, int threads, uint64_t seed);
/* Print "attend COMMAND: status: message"; returns 1. */
int cli_fail(const char *command, at_ctx *ctx, at_status s);
/* A model loaded from a checkpoint, or NULL after printing why. */
at_seq2seq *cli_load_model(const char *command, at_ctx *ctx, const char *path, at_metadata *meta);

#endif
