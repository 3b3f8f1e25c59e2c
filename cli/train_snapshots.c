/*
 * train_snapshots.c - `attend train --snapshots FILE.html [--probe TEXT]...
 * [--snapshot-every N]`: watch the alignment emerge.
 *
 * The library does the work (at_snapshots_* records, at_plot_snapshots
 * draws); this file parses the three options, picks the default probes,
 * sits between the trainer and the CLI's progress bar, and writes the page
 * at the end. The trainer's progress callback cannot fail, so a failed
 * recording (out of memory) is kept here and raises the stop flag: the
 * trainer saves last.* at the next step and returns, and the run ends with
 * the error (exit 1).
 */
#define _POSIX_C_SOURCE 200809L /* access, strdup */
#include "train_snapshots.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h> /* strcasecmp */
#include <unistd.h>  /* access */

const char train_snapshots_help[] =
    "  --snapshots F.html  watch training: every --snapshot-every steps translate the\n"
    "                    probes and keep their attention, then write one offline page\n"
    "                    with a slider through the snapshots and the curves (at most\n"
    "                    100 kept: beyond, every other one is dropped and N doubles)\n"
    "  --probe TEXT      an input to watch (repeat, up to 16; default: one date in\n"
    "                    five languages for --data dates, else the first validation\n"
    "                    sources)\n"
    "  --snapshot-every N  steps between snapshots (default: steps / 50)\n";

/* The date scripts/run.sh translates, in English, French, Chinese, Russian
 * and Arabic. */
static const char *const default_dates[] = {
    "Saturday 9 May 2018", "samedi 9 mai 2018", "2018年5月9日星期六",
    "суббота, 9 мая 2018 г.", "السبت، ٩ مايو ٢٠١٨",
};
#define DEFAULT_DATES ((int)(sizeof default_dates / sizeof default_dates[0]))
#define DEFAULT_VALID_PROBES 4

int train_snapshots_option(train_snapshots *s, const char *arg, const char *value) {
    if (!strcmp(arg, "--snapshot-every"))
        return cli_parse_int(arg, value, 1, 100000000, &s->every);
    int snapshots = !strcmp(arg, "--snapshots"), probe = !strcmp(arg, "--probe");
    if (!snapshots && !probe) return -1;
    if (!value || !*value) {
        fprintf(stderr, "attend train: %s needs a value\n", arg);
        return 0;
    }
    if (snapshots) {
        size_t n = strlen(value);
        if (n < 5 || strcasecmp(value + n - 5, ".html")) {
            fprintf(stderr, "attend train: --snapshots %s: the page is a .html file\n", value);
            return 0;
        }
        return s->path = value, 1;
    }
    if (s->probe_count == AT_SNAPSHOTS_MAX_PROBES) {
        fprintf(stderr, "attend train: at most %d --probe\n", AT_SNAPSHOTS_MAX_PROBES);
        return 0;
    }
    s->probes[s->probe_count++] = value;
    return 1;
}

/* The trainer's progress: the CLI's bar first, then the collector. */
static void on_progress(void *user, const at_train_progress *p) {
    train_snapshots *s = user;
    if (s->progress) s->progress(s->progress_user, p);
    if (s->failed) return;
    if (at_snapshots_record(s->ctx, s->collector, p) == AT_OK) return;
    s->failed = 1;
    snprintf(s->error, sizeof s->error, "%s", at_ctx_error(s->ctx));
    if (s->stop) *s->stop = 1;
}

int train_snapshots_pick_probes(train_snapshots *s, int dates, const at_pairs *valid) {
    if (s->probe_count > 0) return s->probe_count;
    if (dates) {
        for (int i = 0; i < DEFAULT_DATES; i++) s->probes[i] = default_dates[i];
        return s->probe_count = DEFAULT_DATES;
    }
    for (size_t i = 0; valid && i < valid->count && s->probe_count < DEFAULT_VALID_PROBES; i++)
        s->probes[s->probe_count++] = valid->source[i];
    return s->probe_count;
}

/* The page's folder exists and takes files: known before training, not
 * after it. */
static at_status check_folder(at_ctx *ctx, const char *path) {
    char *folder = strdup(path);
    if (!folder) return at_ctx_fail(ctx, AT_ERR_MEMORY, "--snapshots: out of memory");
    char *slash = strrchr(folder, '/');
    const char *dir = slash ? (slash == folder ? "/" : (*slash = 0, folder)) : ".";
    int ok = access(dir, W_OK | X_OK) == 0;
    at_status s = ok ? AT_OK
                     : at_ctx_fail(ctx, AT_ERR_IO, "--snapshots %s: cannot write in %s", path,
                                   dir);
    free(folder);
    return s;
}

at_status train_snapshots_start(at_ctx *ctx, train_snapshots *s, const at_seq2seq *model,
                                int dates, const at_pairs *valid, long total_steps,
                                int resumed, at_trainer_options *trainer) {
    if (!s->path) return AT_OK;
    CLI_TRY(check_folder(ctx, s->path));
    if (train_snapshots_pick_probes(s, dates, valid) == 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "--snapshots: no probe to watch (--probe TEXT)");
    long every = s->every ? s->every : total_steps / TRAIN_SNAPSHOTS_WANTED;
    CLI_TRY(at_snapshots_create(ctx, &s->collector, model, s->probe_count, s->probes,
                                every > 0 ? every : 1, TRAIN_SNAPSHOTS_KEPT));
    s->ctx = ctx;
    if (!resumed) {
        at_metrics none = {0};
        at_train_progress untrained = {.step = 0, .total_steps = total_steps, .valid = &none};
        CLI_TRY(at_snapshots_record(ctx, s->collector, &untrained));
    }
    s->progress = trainer->progress;
    s->progress_user = trainer->progress_user;
    s->stop = trainer->stop;
    trainer->progress = on_progress;
    trainer->progress_user = s;
    return AT_OK;
}

int train_snapshots_finish(train_snapshots *s) {
    if (!s->collector) return 0;
    if (s->failed) {
        fprintf(stderr, "attend train: snapshots: %s (the model is saved; resume with --resume)\n",
                s->error);
        return 1;
    }
    if (at_plot_snapshots(s->ctx, s->collector, s->path) != AT_OK) {
        fprintf(stderr, "attend train: %s\n", at_ctx_error(s->ctx));
        return 1;
    }
    fprintf(stderr, "snapshots: %d, of %d probes, in %s\n", at_snapshots_count(s->collector),
            at_snapshots_probes(s->collector), s->path);
    return 0;
}

void train_snapshots_free(train_snapshots *s) {
    at_snapshots_free(s->collector);
    s->collector = NULL;
}
