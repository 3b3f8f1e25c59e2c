/*
 * model_io.h - what train, eval and translate share (model_io.c): a context
 * whose thread count also goes to OpenBLAS, one error line format, and
 * loading a model with a message that names the file and the problem.
 */
#ifndef ATTEND_CLI_MODEL_IO_H
#define ATTEND_CLI_MODEL_IO_H

#include "cli.h"

/* A context with `threads` for OpenMP and OpenBLAS alike, or NULL. */
at_ctx *cli_context(const char *command, int threads, uint64_t seed);
/* Print "attend COMMAND: status: message"; returns 1. */
int cli_fail(const char *command, at_ctx *ctx, at_status s);
/* A model loaded from a checkpoint, or NULL after printing why. */
at_seq2seq *cli_load_model(const char *command, at_ctx *ctx, const char *path, at_metadata *meta);

#endif
