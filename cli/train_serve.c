/*
 * train_serve.c - `attend train ... --serve PORT`: watch a run of attend
 * train in the attention lab while it trains.
 *
 * The run is the one `attend train` does without --serve (train_run, with
 * a watch that only records snapshots of the probes: translating them
 * changes nothing in the training). Beside it, on 127.0.0.1:PORT, the lab's
 * HTTP server (serve_http.c) answers GET /api/training from the same
 * collector (serve_training.c) and serves the page, which opens on its
 * "watch training" view. No models are offered and no run can be started
 * or stopped from the page: Ctrl-C stops the run as always. The server
 * stops when the run ends.
 */
#define _POSIX_C_SOURCE 200809L
#include "serve.h"
#include "train_watch.h"

#include <string.h>
#include <unistd.h>

enum { TRAIN_SERVE_THREADS = 2 };

/* The value of the last `option VALUE` in argv (already parsed: well
 * formed), or fallback. */
static const char *last_value(int argc, char **argv, const char *option, const char *fallback) {
    const char *value = fallback;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], option)) value = argv[++i];
    return value;
}

int train_serve_attach(long port, int argc, char **argv) {
    serve_where where = {0};
    int fd = serve_listen("127.0.0.1", port, &where);
    if (fd < 0) return 1;
    serve_training *t = serve_training_create(NULL);
    serve_http *h = t ? serve_http_start(NULL, t, fd, &where, TRAIN_SERVE_THREADS) : NULL;
    if (!h) {
        close(fd);
        serve_training_free(t);
        return 1;
    }
    serve_training_attached(t, last_value(argc, argv, "--out", "runs/model"),
                            last_value(argc, argv, "--attention", NULL));
    printf("attend train: watch it at http://127.0.0.1:%ld/\n", where.port);
    fflush(stdout);
    train_watch watch = serve_training_watch(t);
    int code = train_run(argc, argv, &watch);
    serve_http_stop(h);
    serve_training_free(t);
    return code;
}
