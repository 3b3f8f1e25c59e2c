/*
 * lm.c - `attend lm`: character language models on a book (Moby Dick by
 * default, or any UTF-8 text file).
 *
 *   attend lm train [OPTIONS]             train one of the six models
 *   attend lm eval MODEL [FILE]           nats and bits per character on the
 *                                         validation split (the last 10%)
 *   attend lm generate MODEL [OPTIONS]    sample text from a prompt
 *
 * and the dispatch to the figures (lm_figures.c: attention, span, curves).
 * The models, the split, the training recipe, the evaluation and the
 * sampling are the library's (include/attend/lm.h: at_lm_data_read,
 * at_lm_recipe); this file parses, finds the book and prints.
 */
#define _POSIX_C_SOURCE 200809L
#include "lm.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int lm_usage(FILE *out) {
    fprintf(out,
            "usage: attend lm train [--data FILE|moby-dick] [--model KIND] [model options]\n"
            "                       [--batch B] [--lr X] [--steps N] [--minutes M]\n"
            "                       [--eval-every N] [--eval-chars N] [--threads N]\n"
            "                       [--replicas R] [--seed S] [--out DIR] [--resume]\n"
            "       attend lm eval MODEL [FILE] [--threads N]\n"
            "       attend lm generate MODEL [--prompt TEXT] [--length N] [--temperature T]\n"
            "                       [--top-k K] [--seed S]\n"
            "       attend lm attention MODEL [--passage TEXT] --out FILE [--out FILE]\n"
            "       attend lm span MODEL... [--label NAME]... [--data FILE] [--chars N]\n"
            "                       --out FILE\n"
            "       attend lm curves DIR... [--label NAME]... --out FILE\n\n"
            "Character language models. The text's first 90%% trains, the last 10%% validates.\n"
            "  --data FILE      any UTF-8 text file; 'moby-dick' (the default) is the npm\n"
            "                   package that 'scripts/data.sh moby-dick' fetches\n"
            "                   ($ATTEND_MOBY_DICK overrides its path)\n"
            "  --model KIND     transformer (default), lstm, attention, kv, kvp, ngram\n"
            "  --layers N       transformer blocks (default 4)\n"
            "  --heads H        attention heads (default 4)\n"
            "  --width D        transformer width; LSTM kinds: k, the size of one part of\n"
            "                   the LSTM's output (default 128)\n"
            "  --embed E        LSTM kinds: character embedding size (default 64)\n"
            "  --context T      characters the model reads at once (transformer 64, LSTM\n"
            "                   kinds 100: their training windows)\n"
            "  --memory L       attention/kv/kvp: outputs attended over (default 5);\n"
            "                   ngram: N - 1 (default 3)\n"
            "  --dropout P      (default 0)\n"
            "  --batch B        windows a step (default 64)\n"
            "  --lr X           Adam's learning rate, warmed up over 100 steps and decayed\n"
            "                   to X/10 on a cosine (default 0.001)\n"
            "  --steps N        optimisation steps (default 2000)\n"
            "  --minutes M      also stop after M minutes of training (evaluations excluded)\n"
            "  --eval-every N   steps between validations (default 500)\n"
            "  --eval-chars N   validate on the first N validation characters during\n"
            "                   training (0 = all, the default); the end is always all\n"
            "  --threads N      threads for OpenMP and OpenBLAS (default 1)\n"
            "  --replicas R     R copies of the model train as one, each on threads / R\n"
            "                   threads and a slice of every batch (default 1; faster on\n"
            "                   a quiet machine: docs/scale.md)\n"
            "  --out DIR        model.safetensors (the best), last.*, metrics.jsonl\n"
            "                   (default runs/lm)\n"
            "  --resume         continue where DIR/last.safetensors stopped\n"
            "generate: --prompt TEXT (default a newline), --length N (200), --temperature\n"
            "  T (1; 0 = greedy), --top-k K (0 = all), --seed S (1): a seed repeats its text.\n"
            "attention: every head of every layer on a passage (at most the model's context):\n"
            "  .html (layer and head selectors, hover for the weight), .png/.svg/.pdf (a grid).\n"
            "span: the mean attention mass at distance 1..L of attention/kv/kvp models on the\n"
            "  validation text (its first --chars characters, default 20000), printed and\n"
            "  drawn (.png/.svg/.pdf).\n"
            "curves: training and validation nats/char of runs (DIR/metrics.jsonl) against\n"
            "  wall-clock time, one plot (.png/.svg/.pdf).\n"
            "Ctrl-C or SIGTERM saves DIR/last.* and stops (exit 130).\n");
    return out == stdout ? 0 : 2;
}

/* ------------------------------------------------------------------ data */

const char *lm_book_path(const char *data, char *buf, size_t size) {
    if (strcmp(data, LM_BOOK) != 0) return data;
    const char *env = getenv("ATTEND_MOBY_DICK");
    if (env && *env) return env;
    return cli_cache_path("moby-dick-0.2.3/data/data.txt", buf, size);
}

/* The library's message, and for the default book a hint where it comes from. */
int lm_data_failed(const char *command, at_ctx *ctx, at_status s, const char *data) {
    cli_fail(command, ctx, s);
    if (!strcmp(data, LM_BOOK) && s == AT_ERR_IO)
        fprintf(stderr, "attend %s: fetch Moby Dick with 'scripts/data.sh moby-dick', or give "
                        "--data FILE\n", command);
    return 1;
}

/* ----------------------------------------------------------------- train */

typedef struct train_options {
    at_lm_config config;
    at_lm_recipe recipe;
    const char *data, *out;
    long threads, eval_chars, replicas;
    int resume;
    int set_context, set_memory, set_width, set_heads, set_layers, set_embed;
} train_options;

static int parse_train_option(train_options *o, int argc, char **argv, int *i) {
    const char *arg = argv[*i], *value = *i + 1 < argc ? argv[*i + 1] : NULL;
    at_lm_config *c = &o->config;
    long v = 0;
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) return -1;
    if (!strcmp(arg, "--resume")) return o->resume = 1, 1;
    if (!value) {
        fprintf(stderr, "attend lm train: %s needs a value (or is unknown)\n", arg);
        return 0;
    }
    ++*i;
    if (!strcmp(arg, "--data")) return o->data = value, 1;
    if (!strcmp(arg, "--out")) return o->out = value, 1;
    if (!strcmp(arg, "--model")) {
        at_ctx *ctx = NULL;
        if (at_ctx_create(&ctx, NULL) != AT_OK) return 0;
        at_lm_kind kind;
        at_status s = at_lm_kind_parse(ctx, value, &kind);
        if (s != AT_OK) fprintf(stderr, "attend lm train: --model: %s\n", at_ctx_error(ctx));
        at_ctx_free(ctx);
        if (s != AT_OK) return 0;
        at_lm_config_default(c, kind);
        return 1;
    }
#define INT_OPTION(name, lo, hi, field, flag)                                                  \
    if (!strcmp(arg, name)) {                                                                  \
        if (!cli_parse_int(arg, value, lo, hi, &v)) return 0;                                  \
        field = (int)v, flag = 1;                                                              \
        return 1;                                                                              \
    }
    INT_OPTION("--layers", 1, AT_LM_MAX_LAYERS, c->layers, o->set_layers)
    INT_OPTION("--heads", 1, 256, c->heads, o->set_heads)
    INT_OPTION("--width", 1, 65536, c->width, o->set_width)
    INT_OPTION("--embed", 1, 65536, c->embed, o->set_embed)
    INT_OPTION("--context", 1, AT_LM_MAX_CONTEXT, c->context, o->set_context)
    INT_OPTION("--memory", 1, AT_LM_MAX_CONTEXT, c->memory, o->set_memory)
#undef INT_OPTION
    if (!strcmp(arg, "--dropout")) {
        double p;
        if (!cli_parse_float(arg, value, 0, 0.89, &p)) return 0;
        return c->dropout = (float)p, 1;
    }
    at_lm_recipe *r = &o->recipe;
    int shared = cli_parse_run_option(arg, value, (cli_run_options){&r->batch, &r->seed,
                                                                  &o->threads, &r->lr,
                                                                  &r->minutes, &o->replicas});
    if (shared >= 0) return shared;
    if (!strcmp(arg, "--steps")) return cli_parse_int(arg, value, 1, 100000000, &r->steps);
    if (!strcmp(arg, "--eval-every")) return cli_parse_int(arg, value, 1, 100000000, &r->eval_every);
    if (!strcmp(arg, "--eval-chars")) return cli_parse_int(arg, value, 0, 1L << 40, &o->eval_chars);
    if (!strcmp(arg, "--warmup")) return cli_parse_int(arg, value, 0, 100000000, &r->warmup);
    fprintf(stderr, "attend lm train: unknown option '%s'\n", arg);
    return 0;
}

/* --model resets the model's fields to its kind's defaults, so it must
 * come first when given; it is moved there. */
static int parse_train_options(train_options *o, int argc, char **argv) {
    *o = (train_options){.data = LM_BOOK, .out = "runs/lm", .threads = 1, .replicas = 1};
    at_lm_recipe_default(&o->recipe);
    at_lm_config_default(&o->config, AT_LM_TRANSFORMER);
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--model")) {
            int at = i;
            if (parse_train_option(o, argc, argv, &at) <= 0) return 0;
        }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model")) {
            i++;
            continue;
        }
        int r = parse_train_option(o, argc, argv, &i);
        if (r <= 0) return r;
    }
    o->config.seed = (uint64_t)o->recipe.seed;
    return cli_replicas_fit("lm train", o->replicas, o->threads, o->recipe.batch);
}

static void on_progress(void *user, const at_train_progress *p) {
    const void *const *pair = user;
    cli_progress *bar = (cli_progress *)pair[0];
    const at_lm_config *c = pair[1];
    if (p->step % 10 && p->step != p->total_steps && !p->evaluated) return;
    double nats = 0;
    if (at_metrics_get(p->valid, "nats", &nats))
        cli_progress_update(bar, p->step, "loss %.4f  valid %.4f nats/char  %.0f chars/s",
                            p->loss, nats, p->examples_per_second * c->context);
    else
        cli_progress_update(bar, p->step, "loss %.4f  %.0f chars/s", p->loss,
                            p->examples_per_second * c->context);
}

static void describe(const at_lm *m, const at_lm_data *d, const char *path, long batch) {
    const at_lm_config *c = at_lm_get_config(m);
    fprintf(stderr, "model: %s", at_lm_kind_name(c->kind));
    if (c->kind == AT_LM_TRANSFORMER)
        fprintf(stderr, ", %d layers x %d heads x %d wide", c->layers, c->heads, c->width);
    else
        fprintf(stderr, ", LSTM parts of %d, embedding %d, memory %d", c->width, c->embed,
                c->memory);
    fprintf(stderr,
            ", context %d, dropout %g, %zu parameters, %d characters + 4 specials\n"
            "data: %s: %zu characters train, %zu validate; batch %ld\n",
            c->context, (double)c->dropout, at_params_numel(at_lm_params(m)),
            at_vocab_size(at_lm_vocab(m)) - 4, path, d->train_len, d->valid_len, batch);
    if (d->unknown)
        fprintf(stderr, "note: %zu validation characters never occur in training; they read as "
                        "UNK\n", d->unknown);
}

/* --replicas: copies of the model, each with its task over the same text. */
typedef struct replicas {
    const at_lm *model;
    const at_lm_data *data;
    const train_options *o;
    at_lm *copy[AT_REPLICAS_MAX];
    at_lm_task *task[AT_REPLICAS_MAX];
} replicas;

static at_status make_replica(at_ctx *ctx, void *user, int r, const at_trainable **out) {
    replicas *c = user;
    CLI_TRY(at_lm_copy(ctx, &c->copy[r], c->model));
    const at_lm_data *d = c->data;
    CLI_TRY(at_lm_task_create(ctx, &c->task[r], c->copy[r], d->train, d->train_len, d->valid,
                              d->valid_len, (int)c->o->recipe.batch, (size_t)c->o->eval_chars));
    *out = at_lm_task_trainable(c->task[r]);
    return AT_OK;
}

static void drop_replica(void *user, int r) {
    replicas *c = user;
    at_lm_task_free(c->task[r]);
    at_lm_free(c->copy[r]);
}

static at_status run_training(at_ctx *ctx, const train_options *o, at_lm *m,
                              const at_lm_data *d, const char *path, at_train_result *r) {
    at_lm_task *task = NULL;
    CLI_TRY(at_lm_task_create(ctx, &task, m, d->train, d->train_len, d->valid, d->valid_len,
                              (int)o->recipe.batch, (size_t)o->eval_chars));
    describe(m, d, path, o->recipe.batch);
    char id[512];
    snprintf(id, sizeof id, "lm:%.400s:chars=%zu", path, d->text.chars);
    cli_progress bar;
    const void *progress_user[2] = {&bar, at_lm_get_config(m)};
    at_trainer_options t;
    at_lm_recipe_trainer_options(&o->recipe, &t);
    t.out_dir = o->out;
    t.resume = o->resume;
    t.data_id = id;
    t.stop = cli_catch_stop_signals();
    t.progress = on_progress;
    t.progress_user = progress_user;
    t.reducer = cli_reducer();
    cli_progress_start(&bar, o->recipe.steps);
    replicas copies = {.model = m, .data = d, .o = o};
    cli_replicas crew = {(int)o->replicas, &copies, make_replica, drop_replica};
    at_status s = cli_train(ctx, &crew, at_lm_task_trainable(task), &t, r);
    cli_progress_finish(&bar);
    at_lm_task_free(task);
    return s;
}

/* The final model's validation on the whole split, as `attend lm eval`. */
static void report(at_ctx *ctx, const train_options *o, const at_train_result *r) {
    if (r->stopped) {
        fprintf(stderr, "stopped at step %ld: saved %s/last.safetensors (resume with --resume)\n",
                r->steps, o->out);
        return;
    }
    double nats = r->best;
    fprintf(stderr,
            "trained to step %ld in %.1f s%s; best validation %.4f nats/char (%.4f bits/char)%s; "
            "model in %s/model.safetensors\n",
            r->steps, r->seconds, r->out_of_time ? " (the --minutes budget)" : "", nats,
            nats / log(2.0), o->eval_chars ? " on the evaluation slice" : "", o->out);
    (void)ctx;
}

static int lm_train(int argc, char **argv) {
    train_options o;
    int parsed = parse_train_options(&o, argc, argv);
    if (parsed < 0) return lm_usage(stdout);
    if (parsed == 0) return 2;
    at_ctx *ctx = cli_context("lm train", (int)o.threads, (uint64_t)o.recipe.seed);
    if (!ctx) return 1;
    at_trainer_options check;
    at_trainer_options_default(&check);
    check.out_dir = o.out;
    check.resume = o.resume;
    check.reducer = cli_reducer();
    char buf[4096], last[4096];
    const char *path = lm_book_path(o.data, buf, sizeof buf);
    at_lm_data d = {0};
    at_vocab *vocab = NULL;
    at_lm *m = NULL;
    int code = 1;
    at_status s = at_trainer_prepare(ctx, &check);
    if (s != AT_OK) {
        code = cli_fail("lm train", ctx, s);
        goto done;
    }
    if (o.resume) {
        snprintf(last, sizeof last, "%s/last.safetensors", o.out);
        if ((s = at_lm_load(ctx, &m, last, NULL)) != AT_OK) {
            code = cli_fail("lm train", ctx, s);
            goto done;
        }
        fprintf(stderr, "resuming from %s (its configuration; model options are ignored)\n", last);
    } else {
        at_lm_text text;
        if ((s = at_lm_text_read(ctx, path, AT_LM_VALID_PERCENT, &text)) != AT_OK) {
            code = lm_data_failed("lm train", ctx, s, o.data);
            goto done;
        }
        s = at_lm_text_vocab(ctx, &text, &vocab);
        at_lm_text_clear(&text);
        if (s == AT_OK) s = at_lm_create(ctx, &m, &o.config, vocab);
        if (s != AT_OK) {
            code = cli_fail("lm train", ctx, s);
            goto done;
        }
    }
    if ((s = at_lm_data_read(ctx, path, AT_LM_VALID_PERCENT, at_lm_vocab(m), &d)) != AT_OK) {
        code = lm_data_failed("lm train", ctx, s, o.data);
        goto done;
    }
    at_train_result r = {0};
    s = run_training(ctx, &o, m, &d, path, &r);
    cli_release_stop_signals();
    if (s != AT_OK)
        code = cli_fail("lm train", ctx, s);
    else
        report(ctx, &o, &r), code = r.stopped ? 130 : 0;
    at_lm_data_clear(&d);
done:
    at_lm_free(m);
    at_ctx_free(ctx);
    return code;
}

/* ------------------------------------------------------------------ eval */

at_lm *lm_load_model(const char *command, at_ctx *ctx, const char *path) {
    at_lm *m = NULL;
    at_status s = at_lm_load(ctx, &m, path, NULL);
    if (s != AT_OK) cli_fail(command, ctx, s);
    return s == AT_OK ? m : NULL;
}

static int lm_eval(int argc, char **argv) {
    const char *model = NULL, *data = LM_BOOK;
    long threads = 1, batch = 64;
    int files = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return lm_usage(stdout);
        if (!strcmp(argv[i], "--threads")) {
            if (!cli_parse_int(argv[i], i + 1 < argc ? argv[i + 1] : NULL, 1, 256, &threads))
                return 2;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "attend lm eval: unknown option '%s'\n", argv[i]);
            return 2;
        } else if (files == 0)
            model = argv[i], files++;
        else if (files == 1)
            data = argv[i], files++;
        else {
            fprintf(stderr, "attend lm eval: one MODEL and at most one FILE\n");
            return 2;
        }
    }
    if (!model) return lm_usage(stderr);
    at_ctx *ctx = cli_context("lm eval", (int)threads, 1);
    if (!ctx) return 1;
    char buf[4096];
    const char *path = lm_book_path(data, buf, sizeof buf);
    int code = 1;
    at_lm_data d = {0};
    at_lm *m = lm_load_model("lm eval", ctx, model);
    at_status s = AT_OK;
    if (m && (s = at_lm_data_read(ctx, path, AT_LM_VALID_PERCENT, at_lm_vocab(m), &d)) != AT_OK)
        lm_data_failed("lm eval", ctx, s, data);
    double nats = 0;
    size_t predicted = 0;
    if (m && s == AT_OK) {
        s = at_lm_evaluate(ctx, m, d.valid, d.valid_len, (int)batch, 0, &nats, &predicted);
        if (s != AT_OK)
            cli_fail("lm eval", ctx, s);
        else {
            printf("valid: %.4f nats/char  %.4f bits/char  (%zu characters predicted, the last "
                   "%d%% of %s)\n",
                   nats, nats / log(2.0), predicted, AT_LM_VALID_PERCENT, path);
            if (d.unknown)
                printf("note: %zu characters of the text are not in the model's vocabulary "
                       "(read as UNK)\n", d.unknown);
            code = 0;
        }
    }
    at_lm_data_clear(&d);
    at_lm_free(m);
    at_ctx_free(ctx);
    return code;
}

/* -------------------------------------------------------------- generate */

static int lm_generate(int argc, char **argv) {
    const char *model = NULL, *prompt = "\n";
    at_lm_sample_options o;
    at_lm_sample_options_default(&o);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        long v;
        double x;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) return lm_usage(stdout);
        if (arg[0] != '-' || !arg[1]) {
            if (model) {
                fprintf(stderr, "attend lm generate: one MODEL (the prompt goes in --prompt)\n");
                return 2;
            }
            model = arg;
            continue;
        }
        i++;
        if (!strcmp(arg, "--prompt") && value)
            prompt = value;
        else if (!strcmp(arg, "--length")) {
            if (!cli_parse_int(arg, value, 0, 1000000, &v)) return 2;
            o.length = (int)v;
        } else if (!strcmp(arg, "--temperature")) {
            if (!cli_parse_float(arg, value, 0, 100, &x)) return 2;
            o.temperature = (float)x;
        } else if (!strcmp(arg, "--top-k")) {
            if (!cli_parse_int(arg, value, 0, 1000000, &v)) return 2;
            o.top_k = (int)v;
        } else if (!strcmp(arg, "--seed")) {
            if (!cli_parse_int(arg, value, 0, 1L << 31, &v)) return 2;
            o.seed = (uint64_t)v;
        } else {
            fprintf(stderr, "attend lm generate: unknown option '%s'%s\n", arg,
                    value ? "" : " (or it needs a value)");
            return 2;
        }
    }
    if (!model) return lm_usage(stderr);
    at_ctx *ctx = cli_context("lm generate", 1, 1);
    if (!ctx) return 1;
    int code = 1;
    at_lm *m = lm_load_model("lm generate", ctx, model);
    char *text = NULL;
    if (m) {
        at_status s = at_lm_generate(ctx, m, prompt, &o, &text);
        if (s != AT_OK)
            cli_fail("lm generate", ctx, s);
        else {
            cli_put_text(stdout, text, isatty(fileno(stdout)));
            fputc('\n', stdout);
            code = 0;
        }
    }
    free(text);
    at_lm_free(m);
    at_ctx_free(ctx);
    return code;
}

int lm_main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return lm_usage(argc < 2 ? stderr : stdout);
    if (!strcmp(argv[1], "train")) return lm_train(argc - 1, argv + 1);
    if (!strcmp(argv[1], "eval")) return lm_eval(argc - 1, argv + 1);
    if (!strcmp(argv[1], "generate")) return lm_generate(argc - 1, argv + 1);
    if (!strcmp(argv[1], "attention")) return lm_attention_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "span")) return lm_span_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "curves")) return lm_curves_main(argc - 1, argv + 1);
    fprintf(stderr,
            "attend lm: unknown command '%s' (train, eval, generate, attention, span, curves)\n",
            argv[1]);
    return 2;
}
