/*
 * classify_train.c - `attend classify train`: a HAN or a flat classifier
 * trained on the SpamAssassin split (or TSV files) by the library's
 * trainer, the best model kept by development-set accuracy. This file
 * parses the options, reads the documents and prints progress; the
 * model and the task are libattend's (attend/classify.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "classify.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct train_options {
    at_classify_config config;
    const char *data, *train, *dev, *out, *vectors;
    long batch, epochs, seed, threads, replicas;
    double lr, minutes;
    int resume;
    int threshold; /* 1: --threshold dev (the default), 0: --threshold none */
} train_options;

static int parse_form(const char *option, const char *value, at_static_form *out) {
    at_ctx *ctx = NULL;
    if (at_ctx_create(&ctx, NULL) != AT_OK) return 0;
    at_status s = at_static_form_parse(ctx, value, out);
    if (s != AT_OK) fprintf(stderr, "attend classify train: %s: %s\n", option, at_ctx_error(ctx));
    at_ctx_free(ctx);
    return s == AT_OK;
}

static int parse_kind(const char *value, at_classify_config *c) {
    at_ctx *ctx = NULL;
    if (at_ctx_create(&ctx, NULL) != AT_OK) return 0;
    at_classify_kind kind;
    at_status s = at_classify_kind_parse(ctx, value, &kind);
    if (s != AT_OK) fprintf(stderr, "attend classify train: --model: %s\n", at_ctx_error(ctx));
    at_ctx_free(ctx);
    if (s == AT_OK) at_classify_config_default(c, kind);
    return s == AT_OK;
}

/* 1 parsed, 0 bad (said why), -1 help. */
static int parse_train_option(train_options *o, int argc, char **argv, int *i) {
    const char *arg = argv[*i], *value = *i + 1 < argc ? argv[*i + 1] : NULL;
    at_classify_config *c = &o->config;
    long v = 0;
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) return -1;
    if (!strcmp(arg, "--resume")) return o->resume = 1, 1;
    if (!value) {
        fprintf(stderr, "attend classify train: %s needs a value (or is unknown)\n", arg);
        return 0;
    }
    ++*i;
    if (!strcmp(arg, "--data")) return o->data = value, 1;
    if (!strcmp(arg, "--train")) return o->train = value, 1;
    if (!strcmp(arg, "--dev")) return o->dev = value, 1;
    if (!strcmp(arg, "--out")) return o->out = value, 1;
    if (!strcmp(arg, "--vectors")) return o->vectors = value, 1;
    if (!strcmp(arg, "--model")) return parse_kind(value, c);
    if (!strcmp(arg, "--word-attention")) return parse_form(arg, value, &c->word_form);
    if (!strcmp(arg, "--sentence-attention")) return parse_form(arg, value, &c->sentence_form);
#define INT_OPTION(name, lo, hi, field)                                                        \
    if (!strcmp(arg, name)) {                                                                  \
        if (!cli_parse_int(arg, value, lo, hi, &v)) return 0;                                  \
        return field = (int)v, 1;                                                              \
    }
    INT_OPTION("--embed", 1, 1024, c->embed)
    INT_OPTION("--hidden", 1, 1024, c->hidden)
    INT_OPTION("--attn", 1, 1024, c->attn)
    INT_OPTION("--max-sentences", 1, 1000, c->max_sentences)
    INT_OPTION("--max-words", 1, 1000, c->max_words)
    INT_OPTION("--min-count", 1, 1000000, c->min_count)
    INT_OPTION("--max-vocab", 1, 1000000, c->max_vocab)
#undef INT_OPTION
    if (!strcmp(arg, "--dropout")) {
        double p;
        if (!cli_parse_float(arg, value, 0, 0.89, &p)) return 0;
        return c->dropout = (float)p, 1;
    }
    int shared = cli_parse_run_option(arg, value, (cli_run_options){&o->batch, &o->seed,
                                                                  &o->threads, &o->lr,
                                                                  &o->minutes, &o->replicas});
    if (shared >= 0) return shared;
    if (!strcmp(arg, "--epochs")) return cli_parse_int(arg, value, 1, 100000, &o->epochs);
    if (!strcmp(arg, "--threshold")) {
        if (strcmp(value, "dev") && strcmp(value, "none")) {
            fprintf(stderr, "attend classify train: --threshold is dev or none, not '%s'\n",
                    value);
            return 0;
        }
        return o->threshold = !strcmp(value, "dev"), 1;
    }
    fprintf(stderr, "attend classify train: unknown option '%s'\n", arg);
    return 0;
}

/* --model resets the model's fields to its kind's defaults, so it is
 * applied first wherever it was given. */
static int parse_train_options(train_options *o, int argc, char **argv) {
    *o = (train_options){.data = CLASSIFY_CORPUS, .out = "runs/classify", .batch = 32,
                         .epochs = 8, .seed = 1, .threads = 2, .lr = 2e-3,
                         .replicas = 1, .threshold = 1};
    at_classify_config_default(&o->config, AT_CLASSIFY_HAN);
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--model") && !parse_kind(argv[i + 1], &o->config)) return 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model")) {
            i++;
            continue;
        }
        int r = parse_train_option(o, argc, argv, &i);
        if (r <= 0) return r;
    }
    if (o->dev && !o->train) {
        fprintf(stderr, "attend classify train: --dev needs --train\n");
        return 0;
    }
    if (o->vectors && o->resume) {
        fprintf(stderr, "attend classify train: --vectors starts a new model; a --resume goes "
                        "on from the saved one\n");
        return 0;
    }
    o->config.seed = (uint64_t)o->seed;
    return cli_replicas_fit("classify train", o->replicas, o->threads, o->batch);
}

static void on_progress(void *user, const at_train_progress *p) {
    cli_progress *bar = user;
    if (p->step % 5 && p->step != p->total_steps && !p->evaluated) return;
    double accuracy = 0, f1 = 0;
    if (at_metrics_get(p->valid, "accuracy", &accuracy) && at_metrics_get(p->valid, "f1", &f1))
        cli_progress_update(bar, p->step, "loss %.4f  dev accuracy %.2f%%  F1 %.4f  %.0f docs/s",
                            p->loss, 100 * accuracy, f1, p->examples_per_second);
    else
        cli_progress_update(bar, p->step, "loss %.4f  %.0f docs/s", p->loss,
                            p->examples_per_second);
}

static void describe(const at_classifier *m, const classify_data *d, long batch) {
    const at_classify_config *c = at_classifier_get_config(m);
    fprintf(stderr, "model: %s, word attention %s", at_classify_kind_name(c->kind),
            at_static_form_name(c->word_form));
    if (c->kind == AT_CLASSIFY_HAN)
        fprintf(stderr, ", sentence attention %s", at_static_form_name(c->sentence_form));
    fprintf(stderr,
            "; embedding %d, GRUs 2 x %d, attention %d; up to %d sentences of %d words; "
            "dropout %g; %zu parameters, %d words + 4 specials, %d classes\n"
            "data: %zu train, %zu dev documents; batch %ld\n",
            c->embed, c->hidden, c->attn, c->max_sentences, c->max_words, (double)c->dropout,
            at_params_numel(at_classifier_params(m)), at_vocab_size(at_classifier_vocab(m)) - 4,
            at_classifier_classes(m), d->train->count, d->dev ? d->dev->count : 0, batch);
}

/* --replicas: copies of the model, each with its task over the same documents. */
typedef struct replicas {
    const at_classifier *model;
    const classify_data *data;
    at_classifier *copy[AT_REPLICAS_MAX];
    at_classify_task *task[AT_REPLICAS_MAX];
} replicas;

static at_status make_replica(at_ctx *ctx, void *user, int r, const at_trainable **out) {
    replicas *c = user;
    CLI_TRY(at_classifier_copy(ctx, &c->copy[r], c->model));
    CLI_TRY(at_classify_task_create(ctx, &c->task[r], c->copy[r], c->data->train, c->data->dev,
                                    NULL, 64));
    *out = at_classify_task_trainable(c->task[r]);
    return AT_OK;
}

static void drop_replica(void *user, int r) {
    replicas *c = user;
    at_classify_task_free(c->task[r]);
    at_classifier_free(c->copy[r]);
}

static at_status run_training(at_ctx *ctx, const train_options *o, at_classifier *m,
                              const classify_data *d, at_train_result *r) {
    at_classify_task *task = NULL;
    CLI_TRY(at_classify_task_create(ctx, &task, m, d->train, d->dev, NULL, 64));
    describe(m, d, o->batch);
    char id[64];
    snprintf(id, sizeof id, "classify:%016llx",
             (unsigned long long)at_class_docs_fingerprint(d->train));
    long steps_per_epoch = ((long)d->train->count + o->batch - 1) / o->batch;
    cli_progress bar;
    at_trainer_options t;
    at_trainer_options_default(&t);
    t.out_dir = o->out;
    t.epochs = o->epochs;
    t.batch = (int)o->batch;
    t.seed = (uint64_t)o->seed;
    t.optim = (at_optim_config){.kind = AT_ADAM, .lr = (float)o->lr, .beta2 = 0.999f};
    t.schedule = (at_schedule){.base_lr = (float)o->lr, .final_lr = (float)o->lr / 10,
                               .warmup_steps = 0, .decay = AT_DECAY_COSINE};
    t.clip = 5.0f;
    t.eval_every = d->dev ? steps_per_epoch : 0;
    t.best_metric = d->dev ? "accuracy" : NULL;
    t.max_seconds = o->minutes * 60;
    t.resume = o->resume;
    t.data_id = id;
    t.stop = cli_catch_stop_signals();
    t.progress = on_progress;
    t.progress_user = &bar;
    t.reducer = cli_reducer();
    cli_progress_start(&bar, steps_per_epoch * o->epochs);
    replicas copies = {.model = m, .data = d};
    cli_replicas crew = {(int)o->replicas, &copies, make_replica, drop_replica};
    at_status s = cli_train(ctx, &crew, at_classify_task_trainable(task), &t, r);
    cli_progress_finish(&bar);
    at_classify_task_free(task);
    return s;
}

/* --threshold dev: the best model's decision threshold chosen on the dev
 * documents (two classes), written back into OUT/model.safetensors with
 * the trainer's metadata. Only the first process writes (mpirun). */
static at_status choose_threshold(at_ctx *ctx, const train_options *o, const classify_data *d) {
    const at_reducer *r = cli_reducer();
    if (!o->threshold || !d->dev || (r && r->rank > 0)) return AT_OK;
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", o->out);
    at_classifier *m = NULL;
    at_metadata meta = {0};
    CLI_TRY(at_classifier_load(ctx, &m, path, &meta));
    at_status s = AT_OK;
    double before = 0, after = 0;
    if (at_classifier_classes(m) == 2) {
        s = at_classifier_choose_threshold(ctx, m, d->dev, 64, &before, &after);
        if (s == AT_OK) s = at_classifier_save(ctx, m, path, &meta); /* the trainer's keys kept */
        float t = at_classifier_get_config(m)->threshold;
        if (s == AT_OK && t > 0.0f)
            fprintf(stderr, "decision: %s when p(%s) > %.4f, chosen on dev (accuracy %.2f%% -> "
                            "%.2f%%)\n",
                    at_classifier_class_name(m, 1), at_classifier_class_name(m, 1), (double)t,
                    100 * before, 100 * after);
        else if (s == AT_OK)
            fprintf(stderr, "decision: the larger probability, which dev prefers (accuracy "
                            "%.2f%%)\n",
                    100 * before);
    }
    at_metadata_clear(&meta);
    at_classifier_free(m);
    return s;
}

static void report(const train_options *o, const at_train_result *r) {
    if (r->stopped) {
        fprintf(stderr, "stopped at step %ld: saved %s/last.safetensors (resume with --resume)\n",
                r->steps, o->out);
        return;
    }
    fprintf(stderr, "trained %ld steps in %.1f s (%.1f s in steps)%s", r->steps, r->seconds,
            r->train_seconds, r->out_of_time ? ", ended by --minutes" : "");
    if (!isnan(r->best)) fprintf(stderr, "; best dev accuracy %.2f%%", 100 * r->best);
    fprintf(stderr, "; model in %s/model.safetensors\n", o->out);
}

/* The documents of the run: --train/--dev files, or the corpus. */
static at_status load_training_data(at_ctx *ctx, const train_options *o, classify_data *d) {
    if (!o->train) return classify_read_corpus(ctx, o->data, d);
    CLI_TRY(classify_read_tsv(ctx, o->train, 0, d));
    if (o->dev) CLI_TRY(classify_read_tsv(ctx, o->dev, 1, d));
    return AT_OK;
}

int classify_train_main(int argc, char **argv) {
    train_options o;
    int parsed = parse_train_options(&o, argc, argv);
    if (parsed < 0) return classify_usage(stdout);
    if (parsed == 0) return 2;
    at_ctx *ctx = cli_context("classify train", (int)o.threads, (uint64_t)o.seed);
    if (!ctx) return 1;
    at_trainer_options check;
    at_trainer_options_default(&check);
    check.out_dir = o.out;
    check.resume = o.resume;
    check.reducer = cli_reducer();
    classify_data d = {0};
    at_classifier *m = NULL;
    int code = 1;
    char last[4200];
    at_status s = at_trainer_prepare(ctx, &check);
    if (s != AT_OK) {
        code = cli_fail("classify train", ctx, s);
        goto done;
    }
    if ((s = load_training_data(ctx, &o, &d)) != AT_OK) {
        code = classify_data_failed("classify train", ctx, s, o.train ? NULL : o.data);
        goto done;
    }
    if (o.resume) {
        snprintf(last, sizeof last, "%s/last.safetensors", o.out);
        s = at_classifier_load(ctx, &m, last, NULL);
        if (s == AT_OK)
            fprintf(stderr, "resuming from %s (its configuration; model options are ignored)\n",
                    last);
    } else
        s = at_classifier_create(ctx, &m, &o.config, d.train);
    size_t found = 0;
    if (s == AT_OK && o.vectors && (s = at_classifier_load_vectors(ctx, m, o.vectors, &found)) ==
                                       AT_OK)
        fprintf(stderr, "word vectors: %zu of the %d vocabulary words from %s\n", found,
                at_vocab_size(at_classifier_vocab(m)), o.vectors);
    if (s != AT_OK) {
        code = cli_fail("classify train", ctx, s);
        goto done;
    }
    at_train_result r = {0};
    s = run_training(ctx, &o, m, &d, &r);
    cli_release_stop_signals();
    if (s == AT_OK) report(&o, &r);
    if (s == AT_OK && !r.stopped) s = choose_threshold(ctx, &o, &d);
    if (s != AT_OK)
        code = cli_fail("classify train", ctx, s);
    else
        code = r.stopped ? 130 : 0;
done:
    classify_data_clear(&d);
    at_classifier_free(m);
    at_ctx_free(ctx);
    return code;
}

