/*
 * train_watch.h - watching a run of `attend train` from elsewhere in the
 * binary: the lab's server starts runs with it (cli/serve_training.c), and
 * `attend train --serve PORT` serves the run it is doing (cli/train_serve.c).
 *
 * There is one recipe: train_run parses the same arguments `attend train`
 * takes and runs exactly what `attend train` runs; the watch only gets a
 * look at the model before the first step and at every progress report,
 * and may bring its own stop flag. Watching changes nothing in the
 * training (the snapshots it records translate with gradients off).
 */
#ifndef ATTEND_CLI_TRAIN_WATCH_H
#define ATTEND_CLI_TRAIN_WATCH_H

#include "cli.h"

typedef struct train_watch {
    /* Once the model and the data are made, before the first step (also on
     * --resume), with the run's context and the probes `attend train
     * --snapshots` would watch (train_snapshots_pick_probes): e.g. make a
     * snapshot collector.
     * A failure ends the run with it. */
    at_status (*start)(void *user, at_ctx *ctx, const at_seq2seq *model,
                       const char *const *probes, int probe_count, long total_steps,
                       int resumed);
    /* Every progress report of the trainer, after the CLI's own. */
    void (*progress)(void *user, const at_train_progress *progress);
    /* Once at the end, with the exit code `attend train` would return (0
     * trained, 130 stopped, else failed) and the context's last error. */
    void (*finish)(void *user, int code, const char *error);
    void *user;
    /* The stop flag the trainer checks; NULL: Ctrl-C and SIGTERM set one. */
    volatile sig_atomic_t *stop;
} train_watch;

/* `attend train ARGS...` (argv[0] is the command's name) under watch
 * (NULL: none, as `attend train` itself). Returns the exit code. */
int train_run(int argc, char **argv, const train_watch *watch);

/* `attend train ... --serve PORT` (cli/train_serve.c): serve the run's
 * /api/training and the lab page on 127.0.0.1:PORT while it trains. */
int train_serve_attach(long port, int argc, char **argv);

#endif
