/*
 * train.c - `attend train`: train a seq2seq model with attention on the
 * generated dates or on any TSV of source<TAB>target pairs, each side read
 * as characters or as whitespace-separated tokens (--source-tokens,
 * --target-tokens).
 *
 * This file parses the options, makes the data and the model, and prints.
 * The loop itself - batches in length buckets, Adam with a warm-up and
 * cosine decay, clipping, evaluations, the best and the last checkpoints,
 * metrics.jsonl, resume - is the library's trainer (at_train,
 * src/train/trainer.c) driving the model's at_seq2seq_task.
 *
 * Ctrl-C and SIGTERM only set a flag (the handler does nothing else); the
 * trainer sees it at the next step boundary, saves OUT/last.safetensors
 * (and Adam's state) and returns.
 *
 * train_run is the same command under a watch (train_watch.h): the lab's
 * server trains with it, and --serve PORT watches this run in the lab
 * (train_serve.c); the watch sees the model and the progress, nothing more.
 *
 * At the end (also after a stop) the training curves of OUT/metrics.jsonl
 * are drawn to OUT/curves.png and OUT/curves.svg; a failure to draw them is
 * a warning, never a failed run.
 */
#define _POSIX_C_SOURCE 200809L /* sigaction, mkdir, stat */
#include "model_io.h"
#include "model_options.h"
#include "train_snapshots.h"
#include "train_watch.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>


typedef struct train_options {
    const char *data, *valid, *out, *attention;
    const char *dict, *test; /* --data g2p: CMUdict and the test split       */
    at_seq2seq_recipe recipe; /* steps, batch, lr, ...: the library's recipe  */
    at_seq2seq_config config;
    long threads, train_size, valid_size, replicas;
    int resume;
    /* what one id stands for on each side; *_set: given on the command line */
    at_vocab_kind source_kind, target_kind;
    int source_kind_set, target_kind_set;
    int train_size_set, valid_size_set; /* g2p: keep only the first pairs */
    train_snapshots snapshots;          /* --snapshots, --probe, --snapshot-every */
    long serve_port;                    /* --serve PORT (-1: none)       */
    const train_watch *watch;           /* NULL: none (train_watch.h)    */
} train_options;

static int usage(FILE *out) {
    fprintf(out,
            "usage: attend train [--data dates|FILE.tsv] [--valid FILE.tsv] [--attention NAME]\n"
            "                    [--decoder seed|luong] [--encoder-layers N] [--dropout P]\n"
            "                    [--steps N | --epochs N] [--batch N]\n"
            "                    [--lr X] [--seed N] [--threads N] [--replicas R]\n"
            "                    [--out DIR] [--resume]\n"
            "                    [--source-tokens chars|words] [--target-tokens chars|words]\n"
            "                    [--snapshots FILE.html [--probe TEXT]... [--snapshot-every N]]\n"
            "                    [--serve PORT]\n\n"
            "Train an encoder-decoder (BiLSTM encoder, attention decoder) on text pairs.\n"
            "  --data D          'dates' (generated in memory, default), 'g2p' (CMUdict\n"
            "                    without the test words; see 'attend g2p --help') or a TSV\n"
            "                    of source<TAB>target lines\n"
            "  --dict F --test F g2p: the dictionary and the standard test split\n"
            "  --minutes M       stop after M minutes of training (evaluations excluded),\n"
            "                    with a last evaluation, as at the natural end\n"
            "  --valid F         validation TSV (default: dates: generated; TSV: 5%% held out)\n"
            "  --train-size N    dates: training pairs to generate (default 250000);\n"
            "                    g2p: a slice, every (pairs / N)-th word\n"
            "  --valid-size N    dates: validation pairs (default 2000); g2p: a slice too\n"
            "  --source-tokens K what the model reads: chars (default: one id per\n"
            "                    character) or words (one id per whitespace-separated token)\n"
            "  --target-tokens K what the model writes, likewise; e.g. a G2P TSV of\n"
            "                    'KNIGHT<TAB>N AY T' trains with --target-tokens words and\n"
            "                    translates to space-separated phones\n"
            "  --decoder K       luong (default: GRU + input feeding) or seed (the\n"
            "                    AttentionDecoder of 'Attention in Keras')\n"
            "  --attention NAME  luong decoder: additive (default), dot, general, concat,\n"
            "                    location, local-m, local-p, monotonic, forward,\n"
            "                    multiplicative, multi-head\n"
            "  --cell gru|lstm   luong decoder cell (default gru)\n"
            "  --seed-feed F     seed decoder: teacher (default) or softmax (the original)\n"
            "  --seed-output S   seed decoder: current (default, s_t) or previous (s_t-1)\n"
            "  --embed N --encoder N --decoder-size N --attn-size N --heads N --window N\n"
            "                    sizes (defaults 32, 64 per direction, 128, 64, 4, 8)\n"
            "%s"
            "  --steps N         optimisation steps (default 3000)\n"
            "  --epochs N        instead of --steps: passes over the training data\n"
            "  --batch N         batch size (default 128)\n"
            "  --lr X            peak learning rate (default 0.004); --final-lr X (default\n"
            "                    1%% of it); --warmup N steps (default 200); cosine decay\n"
            "  --clip X          gradient norm clip (default 1; 0 = off)\n"
            "  --eval-every N    steps between validations (default 500)\n"
            "  --save-every N    steps between saves of DIR/last.* (default: at each\n"
            "                    validation); a killed run resumes from the latest\n"
            "  --seed N          seed for data, initialisation and order (default 1)\n"
            "  --threads N       threads for OpenMP and OpenBLAS (default 1)\n"
            "  --replicas R      R copies of the model train as one, each on threads / R\n"
            "                    threads and a slice of every batch (default 1; faster on\n"
            "                    a quiet machine: docs/scale.md)\n"
            "  --out DIR         output directory (default runs/model)\n"
            "%s"
            "  --resume          continue where DIR/last.safetensors stopped (weights, step,\n"
            "                    data order), with Adam's state from DIR/last.optim.safetensors;\n"
            "                    with the same options, --steps included, it ends bit for bit\n"
            "                    where a run that never stopped would\n"
            "  --serve PORT      watch the run in the attention lab: serve its curves and\n"
            "                    snapshots (GET /api/training) and the lab page on\n"
            "                    http://127.0.0.1:PORT/ while it trains (docs/lab.md)\n"
            "Ctrl-C or SIGTERM saves DIR/last.* and stops (exit 130).\n"
            "Writes DIR/model.safetensors (best), DIR/last.safetensors and\n"
            "DIR/last.optim.safetensors (the latest model and Adam's state), DIR/metrics.jsonl,\n"
            "and at the end (also after Ctrl-C) the training curves DIR/curves.png and\n"
            "DIR/curves.svg (loss and validation accuracy against step).\n"
            "Under 'mpirun -np N attend train ...' N processes train one model, each on\n"
            "--batch / N examples of every batch (docs/scale.md).\n",
            cli_encoder_options_help, train_snapshots_help);
    return out == stdout ? 0 : 2;
}

/* ---------------------------------------------------------------- options */

static int parse_word(const char *option, const char *value, const char *a, const char *b,
                      int *is_b) {
    if (value && !strcmp(value, a)) return *is_b = 0, 1;
    if (value && !strcmp(value, b)) return *is_b = 1, 1;
    fprintf(stderr, "attend train: %s must be '%s' or '%s'\n", option, a, b);
    return 0;
}

static int parse_text(const char *option, const char *value, const char **field) {
    if (!value || !*value) {
        fprintf(stderr, "attend train: %s needs a value\n", option);
        return 0;
    }
    *field = value;
    return 1;
}

static int parse_kind(const char *option, const char *value, at_vocab_kind *kind) {
    int words = 0;
    if (!parse_word(option, value, "chars", "words", &words)) return 0;
    *kind = words ? AT_VOCAB_TOKENS : AT_VOCAB_CHARS;
    return 1;
}

static int parse_size(const char *arg, const char *value, int *field) {
    long v;
    if (!cli_parse_int(arg, value, 1, 4096, &v)) return 0;
    *field = (int)v;
    return 1;
}

/* One option at argv[*i]; 1 = fine, 0 = error (printed), -1 = --help. */
static int parse_option(train_options *o, int argc, char **argv, int *i) {
    const char *arg = argv[*i], *value = *i + 1 < argc ? argv[*i + 1] : NULL;
    at_seq2seq_config *c = &o->config;
    int flag = 0;
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) return -1;
    if (!strcmp(arg, "--resume")) return o->resume = 1, 1;
    ++*i;
    int encoder = cli_parse_encoder_option(arg, value, c);
    if (encoder >= 0) return encoder;
    if (!strcmp(arg, "--data")) return parse_text(arg, value, &o->data);
    if (!strcmp(arg, "--valid")) return parse_text(arg, value, &o->valid);
    if (!strcmp(arg, "--out")) return parse_text(arg, value, &o->out);
    if (!strcmp(arg, "--attention")) return parse_text(arg, value, &o->attention);
    if (!strcmp(arg, "--dict")) return parse_text(arg, value, &o->dict);
    if (!strcmp(arg, "--test")) return parse_text(arg, value, &o->test);
    at_seq2seq_recipe *r = &o->recipe;
    int shared = cli_parse_run_option(
        arg, value,
        (cli_run_options){&r->batch, &r->seed, &o->threads, &r->lr, &r->minutes, &o->replicas});
    if (shared >= 0) return shared;
    if (!strcmp(arg, "--source-tokens"))
        return o->source_kind_set = 1, parse_kind(arg, value, &o->source_kind);
    if (!strcmp(arg, "--target-tokens"))
        return o->target_kind_set = 1, parse_kind(arg, value, &o->target_kind);
    if (!strcmp(arg, "--decoder")) {
        if (!parse_word(arg, value, "luong", "seed", &flag)) return 0;
        return c->decoder = flag ? AT_DECODER_SEED : AT_DECODER_LUONG, 1;
    }
    if (!strcmp(arg, "--cell")) {
        if (!parse_word(arg, value, "gru", "lstm", &flag)) return 0;
        return c->cell = flag ? AT_CELL_LSTM : AT_CELL_GRU, 1;
    }
    if (!strcmp(arg, "--seed-feed")) {
        if (!parse_word(arg, value, "teacher", "softmax", &flag)) return 0;
        return c->seed_teacher_forcing = !flag, 1;
    }
    if (!strcmp(arg, "--seed-output")) {
        if (!parse_word(arg, value, "current", "previous", &flag)) return 0;
        return c->seed_output_from_previous_state = flag, 1;
    }
    if (!strcmp(arg, "--embed")) return parse_size(arg, value, &c->embed_size);
    if (!strcmp(arg, "--encoder")) return parse_size(arg, value, &c->encoder_size);
    if (!strcmp(arg, "--decoder-size")) return parse_size(arg, value, &c->decoder_size);
    if (!strcmp(arg, "--attn-size")) return parse_size(arg, value, &c->attn_size);
    if (!strcmp(arg, "--heads")) return parse_size(arg, value, &c->heads);
    if (!strcmp(arg, "--window")) return parse_size(arg, value, &c->window);
    /* the later of --steps and --epochs wins (attend g2p train's defaults
     * name --epochs; a --steps after them replaces it) */
    if (!strcmp(arg, "--steps"))
        return r->epochs = 0, cli_parse_int(arg, value, 1, 100000000, &r->steps);
    if (!strcmp(arg, "--epochs")) return cli_parse_int(arg, value, 1, 100000, &r->epochs);
    if (!strcmp(arg, "--train-size"))
        return o->train_size_set = 1, cli_parse_int(arg, value, 1, 100000000, &o->train_size);
    if (!strcmp(arg, "--valid-size"))
        return o->valid_size_set = 1, cli_parse_int(arg, value, 1, 10000000, &o->valid_size);
    if (!strcmp(arg, "--eval-every"))
        return cli_parse_int(arg, value, 1, 100000000, &r->eval_every);
    if (!strcmp(arg, "--save-every"))
        return cli_parse_int(arg, value, 0, 100000000, &r->save_every);
    if (!strcmp(arg, "--warmup")) return cli_parse_int(arg, value, 0, 100000000, &r->warmup);
    if (!strcmp(arg, "--final-lr")) return cli_parse_float(arg, value, 0, 10, &r->final_lr);
    if (!strcmp(arg, "--clip")) return cli_parse_float(arg, value, 0, 1e6, &r->clip);
    if (!strcmp(arg, "--serve")) return cli_parse_int(arg, value, 0, 65535, &o->serve_port);
    int snapshots = train_snapshots_option(&o->snapshots, arg, value);
    if (snapshots >= 0) return snapshots;
    fprintf(stderr, "attend train: unknown option '%s'\n", arg);
    return 0;
}

static int parse_options(train_options *o, int argc, char **argv) {
    *o = (train_options){.data = "dates",
                         .out = "runs/model",
                         .threads = 1,
                         .replicas = 1,
                         .train_size = 250000,
                         .valid_size = 2000,
                         .serve_port = -1};
    at_seq2seq_recipe_default(&o->recipe);
    at_seq2seq_config_default(&o->config);
    for (int i = 1; i < argc; i++) {
        int r = parse_option(o, argc, argv, &i);
        if (r <= 0) return r;
    }
    if (!strcmp(o->data, "g2p")) { /* letters in, phones out */
        o->source_kind = AT_VOCAB_CHARS, o->target_kind = AT_VOCAB_TOKENS;
        if (!o->test) o->test = g2p_default_test();
        if (!o->test) {
            fprintf(stderr, "attend train: --data g2p needs the standard test split, to keep "
                            "its words out of training: --test FILE or ATTEND_G2P_TEST\n");
            return 0;
        }
    }
    o->config.seed = (uint64_t)o->recipe.seed;
    if (o->replicas > 1 && o->serve_port >= 0) {
        fprintf(stderr, "attend train: --serve watches one model; train it without --replicas\n");
        return 0;
    }
    return cli_replicas_fit("train", o->replicas, o->threads, o->recipe.batch);
}

/* ------------------------------------------------------------------- data */

typedef struct train_data {
    at_pairs train, valid;
} train_data;

static at_status dates_data(at_ctx *ctx, const train_options *o, train_data *d) {
    at_dates *dates;
    fprintf(stderr, "generating %ld training and %ld validation dates...\n", o->train_size,
            o->valid_size);
    CLI_TRY(at_dates_create(ctx, &dates, NULL));
    at_pairs splits[3] = {{0}, {0}, {0}};
    long sizes[3] = {o->train_size, o->valid_size, 0};
    at_status s = at_dates_generate(ctx, dates, (uint64_t)o->recipe.seed, sizes, splits);
    at_dates_free(dates);
    d->train = splits[0];
    d->valid = splits[1];
    return s;
}

/* CMUdict without the test words: train and dev (at_g2p_split_load). */
static at_status g2p_data(at_ctx *ctx, const train_options *o, train_data *d) {
    char buf[4096];
    const char *dict = o->dict ? o->dict : g2p_default_dict(buf, sizeof buf);
    at_g2p_split split = {0};
    at_g2p_split_options so;
    at_g2p_split_options_default(&so);
    CLI_TRY(at_g2p_split_load(ctx, dict, o->test, &so, &split));
    d->train = split.train, d->valid = split.dev;
    split.train = split.dev = (at_pairs){0};
    at_g2p_split_clear(&split);
    fprintf(stderr, "g2p: %zu training and %zu dev pronunciations from %s (test words of %s "
            "left out)\n", d->train.count, d->valid.count, dict, o->test);
    if (o->train_size_set) CLI_TRY(at_pairs_thin(ctx, &d->train, (size_t)o->train_size));
    if (o->valid_size_set) CLI_TRY(at_pairs_thin(ctx, &d->valid, (size_t)o->valid_size));
    return AT_OK;
}

static int is_g2p(const train_options *o) { return !strcmp(o->data, "g2p"); }

static at_status load_data(at_ctx *ctx, const train_options *o, train_data *d) {
    if (is_g2p(o)) return g2p_data(ctx, o, d);
    if (!strcmp(o->data, "dates"))
        CLI_TRY(dates_data(ctx, o, d));
    else
        CLI_TRY(at_pairs_read_tsv(ctx, o->data, 0, &d->train));
    if (o->valid) {
        at_pairs_clear(&d->valid);
        CLI_TRY(at_pairs_read_tsv(ctx, o->valid, 0, &d->valid));
        if (d->valid.count == 0)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: no validation pairs", o->valid);
    } else if (strcmp(o->data, "dates")) {
        CLI_TRY(at_pairs_hold_out(ctx, &d->train, &d->valid, 5));
    }
    return AT_OK;
}

/* What names the data for resume: the generator's settings, or the
 * fingerprint of the pairs themselves. */
static void data_id(const train_options *o, const train_data *d, char *id, size_t size) {
    if (!strcmp(o->data, "dates"))
        snprintf(id, size, "dates:seed=%ld:train=%ld:valid=%ld", o->recipe.seed, o->train_size,
                 o->valid_size);
    else
        snprintf(id, size, "pairs:%016llx:%016llx",
                 (unsigned long long)at_pairs_fingerprint(&d->train),
                 (unsigned long long)at_pairs_fingerprint(&d->valid));
}

/* A new model: vocabularies from the training pairs, limits from all. */
static at_status new_model(at_ctx *ctx, train_options *o, const train_data *d, at_seq2seq **m) {
    if (o->attention) CLI_TRY(at_attention_kind_parse(ctx, o->attention, &o->config.attention));
    return at_seq2seq_create_for_pairs(ctx, m, &o->config, &d->train, &d->valid, o->source_kind,
                                       o->target_kind);
}

/* ------------------------------------------------------------------ resume */

static void last_path(const train_options *o, char *path, size_t size) {
    snprintf(path, size, "%s/last.safetensors", o->out);
}

/* A whole number in [lo, hi] from the checkpoint's metadata, or 0 after
 * printing what is wrong. */
static int meta_long(at_ctx *ctx, const at_metadata *meta, const char *path, const char *key,
                     long lo, long hi, long *out) {
    if (at_metadata_get_long(ctx, meta, key, lo, hi, out) == AT_OK) return 1;
    fprintf(stderr, "attend train: %s: %s\n", path, at_ctx_error(ctx));
    return 0;
}

/* Resuming trains on the data the run started with: a run on generated
 * dates takes their settings from the checkpoint, whatever the command line
 * says (the trainer then checks the data is the same). */
static int resume_data_options(at_ctx *ctx, train_options *o) {
    char path[4096];
    last_path(o, path, sizeof path);
    at_metadata meta = {0};
    if (at_checkpoint_read_metadata(ctx, path, &meta) != AT_OK) {
        cli_fail("train", ctx, AT_ERR_FORMAT);
        return 0;
    }
    const char *data = at_metadata_get(&meta, "train.data");
    int ok = 1;
    if (data && !strcmp(data, "dates") && !strcmp(o->data, "dates"))
        ok = meta_long(ctx, &meta, path, "train.seed", 0, 1L << 31, &o->recipe.seed) &&
             meta_long(ctx, &meta, path, "train.train_size", 1, 100000000, &o->train_size) &&
             meta_long(ctx, &meta, path, "train.valid_size", 1, 10000000, &o->valid_size);
    at_metadata_clear(&meta);
    return ok;
}

/* The caller's part of every checkpoint's metadata: how the data was made
 * (eval --dates leaves these dates out). */
static at_status data_metadata(at_ctx *ctx, const train_options *o, at_metadata *meta) {
    char text[64];
    CLI_TRY(at_metadata_set(ctx, meta, "train.data", o->data));
    snprintf(text, sizeof text, "%ld", o->recipe.seed);
    CLI_TRY(at_metadata_set(ctx, meta, "train.seed", text));
    snprintf(text, sizeof text, "%ld", o->train_size);
    CLI_TRY(at_metadata_set(ctx, meta, "train.train_size", text));
    snprintf(text, sizeof text, "%ld", o->valid_size);
    return at_metadata_set(ctx, meta, "train.valid_size", text);
}

/* ------------------------------------------------------------------- run */

/* Set by Ctrl-C or SIGTERM, read by the trainer at each step boundary. */
static void on_progress(void *user, const at_train_progress *p) {
    cli_progress *bar = user;
    if (p->step % 20 && p->step != p->total_steps && !p->evaluated) return;
    double value = 0;
    int wer = at_metrics_get(p->valid, "wer", &value);
    if (!wer && !at_metrics_get(p->valid, "exact", &value)) /* no evaluation yet */
        cli_progress_update(bar, p->step, "loss %.4f  %.0f ex/s", p->loss,
                            p->examples_per_second);
    else
        cli_progress_update(bar, p->step, "loss %.4f  valid %s %.2f%%  %.0f ex/s", p->loss,
                            wer ? "WER" : "exact", 100 * value, p->examples_per_second);
}

/* Training curves of OUT/metrics.jsonl to OUT/curves.png and .svg. Only
 * warns on failure: the model is saved, so the run still succeeded. */
static void draw_curves(at_ctx *ctx, const train_options *o, const at_seq2seq *m, long steps) {
    const at_seq2seq_config *c = at_seq2seq_get_config(m);
    char metrics[4096], title[256];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", o->out);
    snprintf(title, sizeof title, "%s decoder, %s attention, %ld steps",
             c->decoder == AT_DECODER_SEED ? "seed" : "luong",
             c->decoder == AT_DECODER_SEED ? "additive" : at_attention_kind_name(c->attention),
             steps);
    const char *ext[2] = {"png", "svg"};
    char done[2][4096];
    int n_done = 0;
    for (int i = 0; i < 2; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/curves.%s", o->out, ext[i]);
        if (at_plot_metrics(ctx, metrics, path, title) != AT_OK)
            fprintf(stderr, "attend train: warning: no training curves in %s: %s\n", path,
                    at_ctx_error(ctx));
        else
            snprintf(done[n_done++], sizeof done[0], "%s", path);
    }
    if (n_done == 2)
        fprintf(stderr, "training curves: %s and %s\n", done[0], done[1]);
    else if (n_done == 1)
        fprintf(stderr, "training curves: %s\n", done[0]);
}

static void trainer_options(const train_options *o, at_trainer_options *t, const char *id,
                            const at_metadata *extra, cli_progress *bar) {
    at_seq2seq_recipe_trainer_options(&o->recipe, t);
    t->out_dir = o->out;
    t->best_metric = is_g2p(o) ? "wer" : "exact";
    t->lower_is_better = is_g2p(o);
    t->resume = o->resume;
    t->data_id = id;
    t->extra = extra;
    t->stop = o->watch && o->watch->stop ? o->watch->stop : cli_catch_stop_signals();
    t->progress = on_progress;
    t->progress_user = bar;
    t->reducer = cli_reducer(); /* under mpirun: one model, several processes */
}

/* 1 unless this is a process other than rank 0 under mpirun: those write
 * no file (curves, snapshots) besides what the trainer writes (nothing). */
static int writes_files(void) {
    const at_reducer *r = cli_reducer();
    return !r || r->rank == 0;
}

static void describe(const at_seq2seq *m, const at_trainable *task, const train_data *d,
                     const train_options *o) {
    const at_seq2seq_config *c = at_seq2seq_get_config(m);
    const at_vocab *sv = at_seq2seq_source_vocab(m), *tv = at_seq2seq_target_vocab(m);
    fprintf(stderr,
            "model: %s decoder, %s attention, %d encoder layer(s) (dropout %g), %zu parameters; "
            "reads %s (%d ids), writes %s (%d ids); %zu training pairs, %zu validation; "
            "batch %ld\n",
            c->decoder == AT_DECODER_SEED ? "seed" : "luong",
            c->decoder == AT_DECODER_SEED ? "additive" : at_attention_kind_name(c->attention),
            c->encoder_layers, (double)c->dropout,
            at_params_numel(at_seq2seq_params(m)), at_vocab_kind_name(at_vocab_get_kind(sv)),
            at_vocab_size(sv), at_vocab_kind_name(at_vocab_get_kind(tv)), at_vocab_size(tv),
            task->count, d->valid.count, o->recipe.batch);
}

/* The trainer's progress: the CLI's (bar, snapshots), then the watch's. */
typedef struct watched {
    void (*progress)(void *user, const at_train_progress *progress);
    void *progress_user;
    const train_watch *watch;
} watched;

static void on_watched_progress(void *user, const at_train_progress *p) {
    const watched *w = user;
    w->progress(w->progress_user, p);
    w->watch->progress(w->watch->user, p);
}

/* --replicas: copies of the model, each with its task over the same pairs. */
typedef struct replicas {
    const at_seq2seq *model;
    const train_data *data;
    const train_options *o;
    at_seq2seq *copy[AT_REPLICAS_MAX];
    at_seq2seq_task *task[AT_REPLICAS_MAX];
} replicas;

static at_status make_replica(at_ctx *ctx, void *user, int r, const at_trainable **out) {
    replicas *c = user;
    CLI_TRY(at_seq2seq_copy(ctx, &c->copy[r], c->model));
    CLI_TRY(at_seq2seq_task_create(ctx, &c->task[r], c->copy[r], &c->data->train,
                                   &c->data->valid, (int)c->o->recipe.batch));
    if (is_g2p(c->o)) at_seq2seq_task_set_metrics(c->task[r], AT_TASK_WORD_ERRORS);
    *out = at_seq2seq_task_trainable(c->task[r]);
    return AT_OK;
}

static void drop_replica(void *user, int r) {
    replicas *c = user;
    at_seq2seq_task_free(c->task[r]);
    at_seq2seq_free(c->copy[r]);
}

static at_status train_model(at_ctx *ctx, train_options *o, at_seq2seq *m,
                             const train_data *d, at_train_result *result) {
    at_seq2seq_task *task = NULL;
    CLI_TRY(at_seq2seq_task_create(ctx, &task, m, &d->train, &d->valid, (int)o->recipe.batch));
    if (is_g2p(o)) at_seq2seq_task_set_metrics(task, AT_TASK_WORD_ERRORS);
    const at_trainable *trainable = at_seq2seq_task_trainable(task);
    describe(m, trainable, d, o);
    char id[256];
    data_id(o, d, id, sizeof id);
    at_metadata extra = {0};
    at_status s = data_metadata(ctx, o, &extra);
    cli_progress bar;
    at_trainer_options topts;
    trainer_options(o, &topts, id, &extra, &bar);
    const at_seq2seq_recipe *r = &o->recipe;
    size_t batches = (trainable->count + (size_t)r->batch - 1) / (size_t)r->batch;
    long total = r->epochs > 0 ? (long)batches * r->epochs : r->steps;
    if (s == AT_OK)
        s = train_snapshots_start(ctx, &o->snapshots, m, !strcmp(o->data, "dates"), &d->valid,
                                  total, o->resume, &topts);
    watched w = {topts.progress, topts.progress_user, o->watch};
    if (s == AT_OK && o->watch) {
        train_snapshots probes = o->snapshots; /* the probes --snapshots would watch */
        int n = train_snapshots_pick_probes(&probes, !strcmp(o->data, "dates"), &d->valid);
        s = o->watch->start(o->watch->user, ctx, m, probes.probes, n, total, o->resume);
        topts.progress = on_watched_progress, topts.progress_user = &w;
    }
    cli_progress_start(&bar, total);
    replicas copies = {.model = m, .data = d, .o = o};
    cli_replicas crew = {(int)o->replicas, &copies, make_replica, drop_replica};
    if (s == AT_OK) s = cli_train(ctx, &crew, trainable, &topts, result);
    cli_progress_finish(&bar);
    at_metadata_clear(&extra);
    at_seq2seq_task_free(task);
    return s;
}

static int report(const train_options *o, const at_train_result *r) {
    if (r->stopped) {
        fprintf(stderr, "stopped at step %ld: saved %s/last.safetensors (resume with --resume)\n",
                r->steps, o->out);
        return 130;
    }
    fprintf(stderr,
            "trained to step %ld in %.1f s%s; best validation %s %.2f%%; model in "
            "%s/model.safetensors\n",
            r->steps, r->seconds, r->out_of_time ? " (the --minutes budget)" : "",
            is_g2p(o) ? "WER" : "exact match", 100 * (isnan(r->best) ? 0 : r->best), o->out);
    return 0;
}

/* 1 if a --source-tokens / --target-tokens given with --resume agrees with
 * the kind of the vocabulary the checkpoint holds; else says so, 0. */
static int same_kind(const char *path, const char *option, int set, at_vocab_kind want,
                     const at_vocab *vocab) {
    at_vocab_kind have = at_vocab_get_kind(vocab);
    if (!set || have == want) return 1;
    fprintf(stderr, "attend train: %s %s, but the model in %s has %s there\n", option,
            at_vocab_kind_name(want), path, at_vocab_kind_name(have));
    return 0;
}

/* The model: new, or the one last.safetensors holds. */
static at_seq2seq *make_model(at_ctx *ctx, train_options *o, const train_data *d) {
    at_seq2seq *m = NULL;
    if (o->resume) {
        char path[4096];
        last_path(o, path, sizeof path);
        m = cli_load_model("train", ctx, path, NULL);
        if (m && !(same_kind(path, "--source-tokens", o->source_kind_set, o->source_kind,
                             at_seq2seq_source_vocab(m)) &&
                   same_kind(path, "--target-tokens", o->target_kind_set, o->target_kind,
                             at_seq2seq_target_vocab(m)))) {
            at_seq2seq_free(m);
            return NULL;
        }
        if (m) fprintf(stderr, "resuming from %s\n", path);
        return m;
    }
    at_status s = new_model(ctx, o, d, &m);
    if (s != AT_OK) cli_fail("train", ctx, s);
    return s == AT_OK ? m : NULL;
}

static int run(at_ctx *ctx, train_options *o) {
    at_trainer_options check;
    at_trainer_options_default(&check);
    check.out_dir = o->out;
    check.resume = o->resume;
    check.reducer = cli_reducer();
    /* the output directory before the data: fail fast */
    at_status s = at_trainer_prepare(ctx, &check);
    if (s != AT_OK) return cli_fail("train", ctx, s);
    if (o->resume && !resume_data_options(ctx, o)) return 1;
    train_data d = {{0}, {0}};
    int code = 1;
    at_seq2seq *m = NULL;
    s = load_data(ctx, o, &d);
    if (s != AT_OK)
        code = cli_fail("train", ctx, s);
    else if ((m = make_model(ctx, o, &d)) != NULL) {
        at_train_result result = {0};
        s = train_model(ctx, o, m, &d, &result);
        if (s != AT_OK)
            code = cli_fail("train", ctx, s);
        else
            code = report(o, &result);
        if (result.steps > 0 && writes_files()) draw_curves(ctx, o, m, result.steps);
        if (s == AT_OK && train_snapshots_finish(&o->snapshots)) code = 1;
        train_snapshots_free(&o->snapshots);
    }
    at_seq2seq_free(m);
    at_pairs_clear(&d.train);
    at_pairs_clear(&d.valid);
    return code;
}

int train_run(int argc, char **argv, const train_watch *watch) {
    train_options o;
    int parsed = parse_options(&o, argc, argv);
    if (parsed < 0) return usage(stdout);
    if (parsed == 0) return 2;
    if ((o.serve_port >= 0 || watch) && cli_reducer()) {
        fprintf(stderr, "attend train: --serve runs one process, not under mpirun with several\n");
        return 2;
    }
    if (o.serve_port >= 0 && !watch) return train_serve_attach(o.serve_port, argc, argv);
    if (!writes_files()) o.snapshots.path = NULL; /* rank 0 watches */
    o.watch = watch;
    at_ctx *ctx = cli_context("train", (int)o.threads, (uint64_t)o.recipe.seed);
    if (!ctx) return 1;
    int code = run(ctx, &o);
    if (!(watch && watch->stop)) cli_release_stop_signals();
    if (watch) watch->finish(watch->user, code, code && code != 130 ? at_ctx_error(ctx) : "");
    at_ctx_free(ctx);
    return code;
}

int train_main(int argc, char **argv) { return train_run(argc, argv, NULL); }
