/*
 * lm.h - what the files of `attend lm` share: lm.c (train, eval,
 * generate) and lm_figures.c (attention, span, curves).
 */
#ifndef ATTEND_CLI_LM_H
#define ATTEND_CLI_LM_H

#include "model_io.h"

#define LM_BOOK "moby-dick"   /* --data's default: scripts/data.sh's data set */

int lm_usage(FILE *out);
/* data, or for "moby-dick" $ATTEND_MOBY_DICK or the data cache's copy (in buf). */
const char *lm_book_path(const char *data, char *buf, size_t size);

/* The library's message, and for the default book where it comes from; 1. */
int lm_data_failed(const char *command, at_ctx *ctx, at_status s, const char *data);
/* A language model from a checkpoint, or NULL after printing why. */
at_lm *lm_load_model(const char *command, at_ctx *ctx, const char *path);

int lm_attention_main(int argc, char **argv);
int lm_span_main(int argc, char **argv);
int lm_curves_main(int argc, char **argv);

#endif
