/*
 * train_snapshots.h - `attend train --snapshots FILE.html`: the options and
 * the run-time glue of the attention snapshots (cli/train_snapshots.c).
 */
#ifndef ATTEND_CLI_TRAIN_SNAPSHOTS_H
#define ATTEND_CLI_TRAIN_SNAPSHOTS_H

#include "cli.h"

/* The snapshots the CLI keeps at most (the collector thins beyond). */
#define TRAIN_SNAPSHOTS_KEPT 100
/* A default run takes about this many (every = steps / it). */
#define TRAIN_SNAPSHOTS_WANTED 50

typedef struct train_snapshots {
    /* options */
    const char *path;                               /* NULL: no snapshots  */
    const char *probes[AT_SNAPSHOTS_MAX_PROBES];
    int probe_count;                                /* 0: the defaults     */
    long every;                                     /* 0: steps / 50       */
    /* the run */
    at_ctx *ctx;
    at_snapshots *collector;
    int failed;                                     /* recording failed    */
    char error[512];
    volatile sig_atomic_t *stop;
    void (*progress)(void *user, const at_train_progress *progress); /* the CLI's own */
    void *progress_user;
} train_snapshots;

/* The option text for --help. */
extern const char train_snapshots_help[];
/* One option: 1 parsed, 0 a bad value (said why), -1 not a snapshot option. */
int train_snapshots_option(train_snapshots *s, const char *arg, const char *value);
/* The probes: the given ones, else one date in five languages for --data
 * dates, else the first validation sources; their number (also in
 * s->probe_count, texts in s->probes). */
int train_snapshots_pick_probes(train_snapshots *s, int dates, const at_pairs *valid);
/* Before training: the collector for model (probes: the given ones, else
 * one date in five languages for --data dates, else the first validation
 * sources) and, on a fresh run, the untrained model's snapshot (step 0).
 * Then route the trainer's progress through the collector. Nothing when
 * --snapshots was not given. */
at_status train_snapshots_start(at_ctx *ctx, train_snapshots *s, const at_seq2seq *model,
                                int dates, const at_pairs *valid, long total_steps,
                                int resumed, at_trainer_options *trainer);
/* After training (also after a stop): write the page. 0 if fine or off,
 * else 1 after saying why (recording or writing failed). */
int train_snapshots_finish(train_snapshots *s);
void train_snapshots_free(train_snapshots *s);

#endif
