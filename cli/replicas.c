/*
 * replicas.c - `--replicas R` of the training commands: R copies of the
 * model train as one, each on threads / R threads, meeting once a step to
 * sum their gradients (at_train_replicas; docs/scale.md). Each command
 * says how to copy its model (cli_replicas.make); this file checks the
 * numbers fit, makes the copies, gives OpenBLAS's shared pool its share,
 * and frees the copies after.
 */
#include "cli.h"

#include <cblas.h>

int cli_replicas_fit(const char *command, long replicas, long threads, long batch) {
    if (replicas <= 1) return 1;
    if (cli_reducer()) {
        fprintf(stderr, "attend %s: --replicas and mpirun both split the batch; use one of them\n",
                command);
        return 0;
    }
    if (threads % replicas != 0) {
        fprintf(stderr,
                "attend %s: --threads %ld is not a multiple of --replicas %ld: each replica "
                "computes on threads / replicas threads (e.g. --threads %ld)\n",
                command, threads, replicas, replicas * ((threads + replicas - 1) / replicas));
        return 0;
    }
    if (batch % replicas != 0) {
        fprintf(stderr,
                "attend %s: --batch %ld is not a multiple of --replicas %ld: each replica "
                "takes an equal slice of every batch\n",
                command, batch, replicas);
        return 0;
    }
    return 1;
}

at_status cli_train(at_ctx *ctx, const cli_replicas *replicas, const at_trainable *first,
                    const at_trainer_options *opts, at_train_result *result) {
    int n = replicas ? replicas->count : 1;
    if (n <= 1) return at_train(ctx, first, opts, result);
    const at_trainable *models[AT_REPLICAS_MAX] = {first};
    at_status s = AT_OK;
    int made = 1; /* copies leave ctx's generator alone: they copy, not initialise */
    for (; made < n && s == AT_OK; made++)
        if ((s = replicas->make(ctx, replicas->user, made, &models[made])) != AT_OK)
            s = at_ctx_fail(ctx, s, "replica %d: %s", made, at_ctx_error(ctx));
    if (s == AT_OK) {
        int pool = openblas_get_num_threads();
        int share = at_ctx_threads(ctx) / n;
        openblas_set_num_threads(share > 1 ? share : 1);
        s = at_train_replicas(ctx, models, n, opts, result);
        openblas_set_num_threads(pool);
    }
    for (int r = 1; r < made; r++) replicas->drop(replicas->user, r);
    return s;
}
