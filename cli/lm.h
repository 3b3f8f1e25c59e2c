/*
 * lm.h - what the files of `attend lm` share: lm.c (train, eval,
 * generate) and lm_figures.c (attention, span, curves).
 */
#ifndef ATTEND_CLI_LM_H
#define ATTEND_CLI_LM_H

#include "model_io.h"

#define LM_VALID_PERCENT 10   /* the last 10% of the characters validate */
#define LM_BOOK "moby-dick"   /* --data's default: scripts/data.sh's data set */

int lm_usage(FILE *out);
/* data, or for "moby-dick" $ATTEND_MOBY_DICK or the data cache's copy (in buf). */
const char *lm_book_path(const char *data, char *buf, size_t size);

/* A book read, split, and both parts encoded with a model's vocabulary. */
typedef struct lm_data {
    at_lm_text text;
    int32_t *train, *valid;
    size_t train_len, valid_len, unknown;
} lm_data;
at_status lm_data_load(at_ctx *ctx, const char *path, const at_vocab *vocab, lm_data *d);
void lm_data_clear(lm_data *d);
/* The library's message, and for the default book where it comes from; 1. */
int lm_data_failed(const char *command, at_ctx *ctx, at_status s, const char *data);
/* A language model from a checkpoint, or NULL after printing why. */
at_lm *lm_load_model(const char *command, at_ctx *ctx, const char *path);

int lm_attention_main(int argc, char **argv);
int lm_span_main(int argc, char **argv);
int lm_curves_main(int argc, char **argv);

#endif
