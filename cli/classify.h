/*
 * classify.h - what the files of `attend classify` share: classify.c
 * (split, predict, dispatch), classify_train.c (train) and classify_eval.c
 * (eval with its report and top-words figures).
 */
#ifndef ATTEND_CLI_CLASSIFY_H
#define ATTEND_CLI_CLASSIFY_H

#include "model_io.h"
#include "attend/classify.h"
#include "attend/mail.h"

#define CLASSIFY_CORPUS "spam-assassin" /* --data's default: scripts/data.sh's data set */

int classify_usage(FILE *out);

/* The documents of a run: the SpamAssassin corpus's split, or TSV files. */
typedef struct classify_data {
    at_mail_corpus corpus;                 /* when the corpus was read       */
    at_class_docs files[3];                /* when TSV files were read       */
    const at_class_docs *train, *dev, *test; /* whichever holds them; may be NULL */
    char name[512];                        /* the corpus's folder, or the files */
} classify_data;
/* The corpus at data ("spam-assassin" = $ATTEND_SPAM_ASSASSIN or the data
 * cache's copy; or a folder laid out like it), read with a progress line
 * and a summary on stderr. */
at_status classify_read_corpus(at_ctx *ctx, const char *data, classify_data *d);
/* A TSV file into files[part] (0 train, 1 dev, 2 test). */
at_status classify_read_tsv(at_ctx *ctx, const char *path, int part, classify_data *d);
void classify_data_clear(classify_data *d);
/* The library's message, and for the default corpus where it comes from; 1. */
int classify_data_failed(const char *command, at_ctx *ctx, at_status s, const char *data);
/* A classifier from a checkpoint, or NULL after printing why. */
at_classifier *classify_load_model(const char *command, at_ctx *ctx, const char *path);

/* One prediction as a figure's document (a flat model's words are one
 * sentence of weight 1), titled `title`; NULL for a text without words or
 * when out of memory. */
at_attention_doc *classify_doc_of(at_ctx *ctx, const at_classifier *m,
                                  const at_classification *c, const char *title);

int classify_train_main(int argc, char **argv);
int classify_eval_main(int argc, char **argv);

#endif
