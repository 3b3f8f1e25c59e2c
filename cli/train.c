/*
 * train.c - `attend train`: train a seq2seq model with attention on the
 * generated dates or on any TSV of source<TAB>target pairs.
 *
 * The loop: batches of similar-length pairs (less padding), Adam with a
 * warm-up and cosine decay, gradient clipping, and every --eval-every steps
 * greedy decoding of the validation set. Each evaluation appends one JSON
 * line to OUT/metrics.jsonl; the best model by validation exact match is
 * kept in OUT/model.safetensors, the latest in OUT/last.safetensors (both
 * written atomically, with the training state in their metadata).
 *
 * Ctrl-C only sets a flag (the handler does nothing else); the loop sees it
 * at the next step boundary, saves OUT/last.safetensors (and Adam's state)
 * and stops.
 *
 * --resume continues where OUT/last.safetensors left off, on the same
 * trajectory, bit for bit, as a run that never stopped (same options and
 * thread count). From its metadata come the weights, the step, the best
 * score, the smoothed loss, the place in the data order (the generator as
 * it was before the current pass was shuffled, and how far into the pass
 * the run got) and the context's generator (no model draws from it in
 * training today; one with dropout would). Adam's moments and step count
 * come from OUT/last.optim.safetensors (at_optim_save), written after it
 * each time and stamped with the same train.step. Without that file (a
 * run saved by an older attend) Adam restarts from zero, with a warning; a
 * corrupt one, or one from another step, is an error. The learning-rate
 * schedule runs to --steps, so --steps N/2 then --resume --steps N is a
 * run of N steps only if the schedule is flat (--warmup 0, --final-lr
 * equal to --lr); Ctrl-C then --resume with the same --steps always is.
 *
 * At the end (also after Ctrl-C) the training curves of OUT/metrics.jsonl
 * are drawn to OUT/curves.png and OUT/curves.svg; a failure to draw them is
 * a warning, never a failed run.
 */
#define _POSIX_C_SOURCE 200809L /* sigaction, mkdir, stat */
#include "model_io.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define AT_TRY(call)                                                                               \
    do {                                                                                           \
        at_status s_ = (call);                                                                     \
        if (s_ != AT_OK) return s_;                                                                \
    } while (0)

/* Set by Ctrl-C, read at each step boundary: the handler does nothing else. */
static volatile sig_atomic_t interrupted = 0;
static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

typedef struct train_options {
    const char *data, *valid, *out, *attention;
    at_seq2seq_config config;
    long steps, epochs, batch, seed, threads, train_size, valid_size, eval_every, warmup;
    double lr, final_lr, clip;
    int resume;
} train_options;

static int usage(FILE *out) {
    fprintf(out,
            "usage: attend train [--data dates|FILE.tsv] [--valid FILE.tsv] [--attention NAME]\n"
            "                    [--decoder seed|luong] [--steps N | --epochs N] [--batch N]\n"
            "                    [--lr X] [--seed N] [--threads N] [--out DIR] [--resume]\n\n"
            "Train a character-level encoder-decoder (BiLSTM encoder, attention decoder).\n"
            "  --data D          'dates' (generated in memory, default) or a TSV of\n"
            "                    source<TAB>target lines\n"
            "  --valid F         validation TSV (default: dates: generated; TSV: 5%% held out)\n"
            "  --train-size N    dates: training pairs to generate (default 250000)\n"
            "  --valid-size N    dates: validation pairs (default 2000)\n"
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
            "  --steps N         optimisation steps (default 3000)\n"
            "  --epochs N        instead of --steps: passes over the training data\n"
            "  --batch N         batch size (default 128)\n"
            "  --lr X            peak learning rate (default 0.004); --final-lr X (default\n"
            "                    1%% of it); --warmup N steps (default 200); cosine decay\n"
            "  --clip X          gradient norm clip (default 1; 0 = off)\n"
            "  --eval-every N    steps between validations (default 500)\n"
            "  --seed N          seed for data, initialisation and order (default 1)\n"
            "  --threads N       threads for OpenMP and OpenBLAS (default 1)\n"
            "  --out DIR         output directory (default runs/model)\n"
            "  --resume          continue where DIR/last.safetensors stopped (weights, step,\n"
            "                    data order), with Adam's state from DIR/last.optim.safetensors;\n"
            "                    with the same options, --steps included, it ends bit for bit\n"
            "                    where a run that never stopped would\n"
            "Writes DIR/model.safetensors (best), DIR/last.safetensors and\n"
            "DIR/last.optim.safetensors (the latest model and Adam's state), DIR/metrics.jsonl,\n"
            "and at the end (also after Ctrl-C) the training curves DIR/curves.png and\n"
            "DIR/curves.svg (loss and validation accuracy against step).\n");
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
    if (!strcmp(arg, "--data")) return parse_text(arg, value, &o->data);
    if (!strcmp(arg, "--valid")) return parse_text(arg, value, &o->valid);
    if (!strcmp(arg, "--out")) return parse_text(arg, value, &o->out);
    if (!strcmp(arg, "--attention")) return parse_text(arg, value, &o->attention);
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
    if (!strcmp(arg, "--steps")) return cli_parse_int(arg, value, 1, 100000000, &o->steps);
    if (!strcmp(arg, "--epochs")) return cli_parse_int(arg, value, 1, 100000, &o->epochs);
    if (!strcmp(arg, "--batch")) return cli_parse_int(arg, value, 1, 4096, &o->batch);
    if (!strcmp(arg, "--seed")) return cli_parse_int(arg, value, 0, 1L << 31, &o->seed);
    if (!strcmp(arg, "--threads")) return cli_parse_int(arg, value, 1, 256, &o->threads);
    if (!strcmp(arg, "--train-size"))
        return cli_parse_int(arg, value, 1, 100000000, &o->train_size);
    if (!strcmp(arg, "--valid-size")) return cli_parse_int(arg, value, 1, 10000000, &o->valid_size);
    if (!strcmp(arg, "--eval-every"))
        return cli_parse_int(arg, value, 1, 100000000, &o->eval_every);
    if (!strcmp(arg, "--warmup")) return cli_parse_int(arg, value, 0, 100000000, &o->warmup);
    if (!strcmp(arg, "--lr")) return cli_parse_float(arg, value, 1e-7, 10, &o->lr);
    if (!strcmp(arg, "--final-lr")) return cli_parse_float(arg, value, 0, 10, &o->final_lr);
    if (!strcmp(arg, "--clip")) return cli_parse_float(arg, value, 0, 1e6, &o->clip);
    fprintf(stderr, "attend train: unknown option '%s'\n", arg);
    return 0;
}

static int parse_options(train_options *o, int argc, char **argv) {
    *o = (train_options){.data = "dates",
                         .out = "runs/model",
                         .steps = 3000,
                         .batch = 128,
                         .seed = 1,
                         .threads = 1,
                         .train_size = 250000,
                         .valid_size = 2000,
                         .eval_every = 500,
                         .warmup = 200,
                         .lr = 0.004,
                         .final_lr = -1,
                         .clip = 1.0};
    at_seq2seq_config_default(&o->config);
    for (int i = 1; i < argc; i++) {
        int r = parse_option(o, argc, argv, &i);
        if (r <= 0) return r;
    }
    if (o->final_lr < 0) o->final_lr = o->lr * 0.01;
    o->config.seed = (uint64_t)o->seed;
    return 1;
}

/* ------------------------------------------------------------------- data */

typedef struct train_data {
    at_pairs train, valid;
} train_data;

static at_status dates_data(at_ctx *ctx, const train_options *o, train_data *d) {
    at_dates *dates;
    fprintf(stderr, "generating %ld training and %ld validation dates...\n", o->train_size,
            o->valid_size);
    AT_TRY(at_dates_create(ctx, &dates, NULL));
    at_pairs splits[3] = {{0}, {0}, {0}};
    long sizes[3] = {o->train_size, o->valid_size, 0};
    at_status s = at_dates_generate(ctx, dates, (uint64_t)o->seed, sizes, splits);
    at_dates_free(dates);
    d->train = splits[0];
    d->valid = splits[1];
    return s;
}

/* The last 5% of a TSV (at least 1 pair) moves to the validation set. */
static at_status hold_out(at_ctx *ctx, at_pairs *train, at_pairs *valid) {
    size_t keep = train->count - (train->count / 20 ? train->count / 20 : 1);
    for (size_t i = keep; i < train->count; i++) {
        AT_TRY(at_pairs_add(ctx, valid, train->source[i], train->target[i]));
        free(train->source[i]);
        free(train->target[i]);
    }
    train->count = keep;
    return AT_OK;
}

static at_status load_data(at_ctx *ctx, const train_options *o, train_data *d) {
    if (!strcmp(o->data, "dates"))
        AT_TRY(dates_data(ctx, o, d));
    else
        AT_TRY(at_pairs_read_tsv(ctx, o->data, 0, &d->train));
    if (o->valid) {
        at_pairs_clear(&d->valid);
        AT_TRY(at_pairs_read_tsv(ctx, o->valid, 0, &d->valid));
    } else if (strcmp(o->data, "dates")) {
        if (d->train.count < 2)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: need at least 2 pairs", o->data);
        AT_TRY(hold_out(ctx, &d->train, &d->valid));
    }
    return AT_OK;
}

static int longest(const at_pairs *p, int target) {
    size_t n = 0;
    for (size_t i = 0; i < p->count; i++) {
        size_t len = at_utf8_length(target ? p->target[i] : p->source[i]);
        if (len > n) n = len;
    }
    return (int)n;
}

/* A new model: vocabularies from the training pairs, limits from all. */
static at_status new_model(at_ctx *ctx, train_options *o, const train_data *d, at_seq2seq **m) {
    at_seq2seq_config *c = &o->config;
    if (o->attention) AT_TRY(at_attention_kind_parse(ctx, o->attention, &c->attention));
    int src = longest(&d->train, 0), tgt = longest(&d->train, 1);
    int vsrc = longest(&d->valid, 0), vtgt = longest(&d->valid, 1);
    c->max_source_len = (src > vsrc ? src : vsrc) + 16;
    c->max_target_len = (tgt > vtgt ? tgt : vtgt) + 2;
    at_vocab *source = NULL, *target = NULL;
    at_status s =
        at_vocab_build(ctx, &source, d->train.count, (const char *const *)d->train.source);
    if (s == AT_OK)
        s = at_vocab_build(ctx, &target, d->train.count, (const char *const *)d->train.target);
    if (s != AT_OK) {
        at_vocab_free(source);
        return s;
    }
    return at_seq2seq_create(ctx, m, c, source, target);
}

/* ------------------------------------------------------------ checkpoints */

#define ORDER_POOL 50 /* batches per length-sorted chunk of the data order */

/* Where the run is: all that last.safetensors' metadata brings back. */
typedef struct train_state {
    long step;
    double best_exact;
    double seconds;
    double loss_avg;  /* smoothed training loss                               */
    at_rng order_rng; /* the data-order generator before this pass's shuffle  */
    size_t position;  /* rows of this pass's order already trained on        */
    int has_position; /* resumed from a checkpoint that had order_rng         */
} train_state;

static at_status set_meta(at_ctx *ctx, at_metadata *meta, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static at_status set_meta(at_ctx *ctx, at_metadata *meta, const char *key, const char *fmt, ...) {
    char text[256];
    va_list args;
    va_start(args, fmt);
    vsnprintf(text, sizeof text, fmt, args);
    va_end(args);
    return at_metadata_set(ctx, meta, key, text);
}

/* A generator's state as 32 hex digits, and back (0 if malformed). */
static void rng_to_text(const at_rng *rng, char text[33]) {
    snprintf(text, 33, "%08x%08x%08x%08x", (unsigned)rng->s[0], (unsigned)rng->s[1],
             (unsigned)rng->s[2], (unsigned)rng->s[3]);
}

static int rng_from_text(const char *text, at_rng *rng) {
    if (!text || strlen(text) != 32 || strspn(text, "0123456789abcdef") != 32) return 0;
    at_rng r;
    for (int i = 0; i < 4; i++) {
        char word[9];
        memcpy(word, text + 8 * i, 8);
        word[8] = '\0';
        r.s[i] = (uint32_t)strtoul(word, NULL, 16);
    }
    if ((r.s[0] | r.s[1] | r.s[2] | r.s[3]) == 0) return 0; /* xoshiro's one bad state */
    *rng = r;
    return 1;
}

static at_status train_metadata(at_ctx *ctx, const train_options *o, const train_state *st,
                                at_metadata *meta) {
    char order[33], noise[33];
    rng_to_text(&st->order_rng, order);
    rng_to_text(at_ctx_rng(ctx), noise);
    AT_TRY(set_meta(ctx, meta, "train.step", "%ld", st->step));
    AT_TRY(set_meta(ctx, meta, "train.best_exact", "%.6f", st->best_exact));
    AT_TRY(set_meta(ctx, meta, "train.seconds", "%.1f", st->seconds));
    AT_TRY(set_meta(ctx, meta, "train.loss_avg", "%.17g", st->loss_avg));
    AT_TRY(set_meta(ctx, meta, "train.order_rng", "%s", order));
    AT_TRY(set_meta(ctx, meta, "train.position", "%zu", st->position));
    AT_TRY(set_meta(ctx, meta, "train.ctx_rng", "%s", noise));
    AT_TRY(set_meta(ctx, meta, "train.data", "%s", o->data));
    AT_TRY(set_meta(ctx, meta, "train.seed", "%ld", o->seed));
    AT_TRY(set_meta(ctx, meta, "train.train_size", "%ld", o->train_size));
    return set_meta(ctx, meta, "train.valid_size", "%ld", o->valid_size);
}

static at_status save(at_ctx *ctx, const at_seq2seq *m, const train_options *o,
                      const train_state *st, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", o->out, name);
    at_metadata meta = {0};
    at_status s = train_metadata(ctx, o, st, &meta);
    if (s == AT_OK) s = at_seq2seq_save(ctx, m, path, &meta);
    at_metadata_clear(&meta);
    return s;
}

/* Adam's state beside last.safetensors, stamped with the same step. */
static void optim_path(char *path, size_t size, const train_options *o) {
    snprintf(path, size, "%s/last.optim.safetensors", o->out);
}

static at_status save_optim(at_ctx *ctx, const at_optim *optim, const train_options *o,
                            const train_state *st) {
    char path[4096];
    optim_path(path, sizeof path, o);
    at_metadata meta = {0};
    at_status s = set_meta(ctx, &meta, "train.step", "%ld", st->step);
    if (s == AT_OK) s = at_optim_save(ctx, optim, path, &meta);
    at_metadata_clear(&meta);
    return s;
}

/* The last state: the model, then the optimiser. A crash between the two
 * leaves an optimiser file of another step, which --resume refuses. */
static at_status save_last(at_ctx *ctx, const at_seq2seq *m, const at_optim *optim,
                           const train_options *o, const train_state *st) {
    AT_TRY(save(ctx, m, o, st, "last.safetensors"));
    return save_optim(ctx, optim, o, st);
}

static double meta_number(const at_metadata *meta, const char *key) {
    const char *v = at_metadata_get(meta, key);
    return v ? atof(v) : 0.0;
}

/* Resuming trains on the data the run started with: its settings come back
 * from the checkpoint, whatever the command line says. */
static void resume_data_options(at_ctx *ctx, train_options *o) {
    char path[4096];
    snprintf(path, sizeof path, "%s/last.safetensors", o->out);
    at_metadata meta = {0};
    if (at_checkpoint_read_metadata(ctx, path, &meta) != AT_OK) return; /* resume() reports it */
    const char *data = at_metadata_get(&meta, "train.data");
    if (data && !strcmp(data, "dates") && !strcmp(o->data, "dates")) {
        o->seed = (long)meta_number(&meta, "train.seed");
        o->train_size = (long)meta_number(&meta, "train.train_size");
        o->valid_size = (long)meta_number(&meta, "train.valid_size");
    }
    at_metadata_clear(&meta);
}

/* The place in the data and the context's generator; 0 if the checkpoint
 * has them but they are malformed. A checkpoint older than them reshuffles
 * the data, with a warning. */
static int resume_position(at_ctx *ctx, const char *path, const at_metadata *meta,
                           train_state *st) {
    const char *order = at_metadata_get(meta, "train.order_rng");
    const char *noise = at_metadata_get(meta, "train.ctx_rng");
    if (!order && !noise) {
        fprintf(stderr,
                "attend train: warning: %s has no data position (an older run): the data "
                "is reshuffled\n",
                path);
        return 1;
    }
    if (!rng_from_text(order, &st->order_rng) || !rng_from_text(noise, at_ctx_rng(ctx))) {
        fprintf(stderr, "attend train: %s: train.order_rng or train.ctx_rng is malformed\n", path);
        return 0;
    }
    st->position = (size_t)meta_number(meta, "train.position");
    st->has_position = 1;
    return 1;
}

static at_seq2seq *resume(at_ctx *ctx, const train_options *o, train_state *st) {
    char path[4096];
    snprintf(path, sizeof path, "%s/last.safetensors", o->out);
    at_metadata meta = {0};
    at_seq2seq *m = cli_load_model("train", ctx, path, &meta);
    if (!m) return NULL;
    st->step = (long)meta_number(&meta, "train.step");
    st->best_exact = meta_number(&meta, "train.best_exact");
    st->seconds = meta_number(&meta, "train.seconds");
    st->loss_avg = meta_number(&meta, "train.loss_avg");
    int ok = resume_position(ctx, path, &meta, st);
    at_metadata_clear(&meta);
    if (!ok) {
        at_seq2seq_free(m);
        return NULL;
    }
    fprintf(stderr, "resuming from %s at step %ld (best exact match %.2f%%)\n", path, st->step,
            100 * st->best_exact);
    return m;
}

/* Adam's moments and step count from last.optim.safetensors. Missing (a
 * run saved before it existed): a warning, Adam starts from zero. */
static at_status resume_optim(at_ctx *ctx, at_optim *optim, const train_options *o, long step) {
    char path[4096];
    optim_path(path, sizeof path, o);
    struct stat info;
    if (stat(path, &info) != 0 && errno == ENOENT) {
        fprintf(stderr, "attend train: warning: no %s: Adam's moments restart from zero\n", path);
        return AT_OK;
    }
    at_metadata meta = {0};
    AT_TRY(at_optim_load(ctx, optim, path, &meta));
    const char *saved = at_metadata_get(&meta, "train.step");
    long saved_step = saved ? atol(saved) : -1;
    at_metadata_clear(&meta);
    if (saved_step != step)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "%s is from step %ld but last.safetensors from step %ld; remove it to "
                           "resume with Adam from zero",
                           path, saved_step, step);
    return AT_OK;
}

/* ------------------------------------------------------------------- loop */

typedef struct trainer {
    at_ctx *ctx;
    at_seq2seq *model;
    at_optim *optim;
    train_options *o;
    at_seq2seq_data train, valid;
    at_seq2seq_batch batch;
    size_t *order;
    at_rng rng; /* the data order's generator */
    at_schedule schedule;
    train_state state;
    FILE *metrics;
    double last_exact, examples, run_start;
} trainer;

/* A new pass: shuffle the data order, keeping the generator as it was. */
static void draw_order(trainer *t) {
    t->state.order_rng = t->rng;
    at_seq2seq_bucket_order(&t->train, (int)t->o->batch, ORDER_POOL, &t->rng, t->order);
    t->state.position = 0;
}

static at_status next_batch(trainer *t) {
    size_t n = t->train.count, bs = (size_t)t->o->batch;
    train_state *st = &t->state;
    if (st->position == 0 || st->position + bs > n) draw_order(t);
    int rows = (int)(n - st->position < bs ? n - st->position : bs);
    at_status s =
        at_seq2seq_batch_fill(t->ctx, &t->batch, &t->train, t->order + st->position, rows);
    st->position += (size_t)rows;
    return s;
}

/* The data order where the checkpoint left it: the same shuffle again from
 * the same generator state, then as far into it as the run had gone. A new
 * run, or an older checkpoint (no position), seeds the generator from the
 * seed and the step; its first batch shuffles. */
static void restore_order(trainer *t) {
    train_state *st = &t->state;
    if (!st->has_position) {
        at_rng_seed(&t->rng, (uint64_t)t->o->seed * 7919u + (uint64_t)st->step);
        st->order_rng = t->rng; /* saved as is if the run stops before a batch */
        st->position = 0;
        return;
    }
    size_t position = st->position;
    t->rng = st->order_rng;
    if (position == 0 || position > t->train.count) return; /* next_batch shuffles */
    draw_order(t);
    st->position = position;
}

static at_status evaluate(trainer *t, double loss, double lr) {
    at_seq2seq_score sc;
    AT_TRY(at_seq2seq_evaluate(t->ctx, t->model, &t->valid, 256, &sc, NULL));
    double exact = sc.pairs ? (double)sc.exact / (double)sc.pairs : 0;
    double chars = sc.chars ? (double)sc.chars_correct / (double)sc.chars : 0;
    double elapsed = cli_seconds() - t->run_start;
    t->last_exact = exact;
    fprintf(t->metrics,
            "{\"step\": %ld, \"loss\": %.5f, \"valid_exact\": %.5f, \"valid_char\": %.5f, "
            "\"lr\": %.6g, \"seconds\": %.1f, \"examples_per_second\": %.0f}\n",
            t->state.step, loss, exact, chars, lr, t->state.seconds + elapsed,
            elapsed > 0 ? t->examples / elapsed : 0.0);
    fflush(t->metrics);
    if (exact >= t->state.best_exact) {
        t->state.best_exact = exact;
        AT_TRY(save(t->ctx, t->model, t->o, &t->state, "model.safetensors"));
    }
    return AT_OK;
}

static at_status run_loop(trainer *t, long total, cli_progress *progress) {
    double *loss_avg = &t->state.loss_avg;
    while (t->state.step < total) {
        if (interrupted) return AT_OK;
        long step = t->state.step + 1;
        float lr = at_schedule_lr(&t->schedule, step), loss;
        at_optim_set_lr(t->optim, lr);
        AT_TRY(next_batch(t));
        AT_TRY(
            at_seq2seq_train_step(t->ctx, t->model, t->optim, &t->batch, (float)t->o->clip, &loss));
        t->state.step = step;
        t->examples += t->batch.batch;
        *loss_avg = *loss_avg == 0 ? loss : 0.98 * *loss_avg + 0.02 * loss;
        if (step % t->o->eval_every == 0 || step == total) AT_TRY(evaluate(t, *loss_avg, lr));
        if (step % 20 == 0 || step == total) {
            double elapsed = cli_seconds() - t->run_start;
            cli_progress_update(progress, step, "loss %.4f  valid exact %.2f%%  %.0f ex/s",
                                *loss_avg, 100 * t->last_exact,
                                elapsed > 0 ? t->examples / elapsed : 0.0);
        }
    }
    return AT_OK;
}

static at_status prepare(trainer *t, const train_data *d) {
    train_options *o = t->o;
    AT_TRY(at_seq2seq_data_build(t->ctx, t->model, &d->train, &t->train));
    AT_TRY(at_seq2seq_data_build(t->ctx, t->model, &d->valid, &t->valid));
    AT_TRY(at_seq2seq_batch_init(t->ctx, t->model, (int)o->batch, &t->batch));
    t->order = malloc((t->train.count ? t->train.count : 1) * sizeof *t->order);
    if (!t->order) return at_ctx_fail(t->ctx, AT_ERR_MEMORY, "train: out of memory");
    at_optim_config adam = {.kind = AT_ADAM, .lr = (float)o->lr};
    AT_TRY(at_optim_create(t->ctx, &t->optim, at_seq2seq_params(t->model), &adam));
    if (o->resume) AT_TRY(resume_optim(t->ctx, t->optim, o, t->state.step));
    restore_order(t);
    return AT_OK;
}

static long total_steps(const train_options *o, size_t train_count) {
    if (o->epochs <= 0) return o->steps;
    long per_epoch = (long)((train_count + (size_t)o->batch - 1) / (size_t)o->batch);
    return per_epoch * o->epochs;
}

/* Training curves of OUT/metrics.jsonl to OUT/curves.png and .svg. Only
 * warns on failure: the model is saved, so the run still succeeded. */
static void draw_curves(trainer *t) {
    if (t->metrics) fflush(t->metrics);
    const at_seq2seq_config *c = at_seq2seq_get_config(t->model);
    char metrics[4096], title[256];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", t->o->out);
    snprintf(title, sizeof title, "%s decoder, %s attention, %ld steps",
             c->decoder == AT_DECODER_SEED ? "seed" : "luong",
             c->decoder == AT_DECODER_SEED ? "additive" : at_attention_kind_name(c->attention),
             t->state.step);
    const char *ext[2] = {"png", "svg"};
    char done[2][4096];
    int n_done = 0;
    for (int i = 0; i < 2; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/curves.%s", t->o->out, ext[i]);
        if (at_plot_metrics(t->ctx, metrics, path, title) != AT_OK)
            fprintf(stderr, "attend train: warning: no training curves in %s: %s\n", path,
                    at_ctx_error(t->ctx));
        else
            snprintf(done[n_done++], sizeof done[0], "%s", path);
    }
    if (n_done == 2)
        fprintf(stderr, "training curves: %s and %s\n", done[0], done[1]);
    else if (n_done == 1)
        fprintf(stderr, "training curves: %s\n", done[0]);
}

static int train_run(trainer *t, const train_data *d) {
    train_options *o = t->o;
    at_status s = prepare(t, d);
    if (s != AT_OK) return cli_fail("train", t->ctx, s);
    long total = total_steps(o, t->train.count);
    t->schedule = (at_schedule){.base_lr = (float)o->lr,
                                .final_lr = (float)o->final_lr,
                                .warmup_steps = o->warmup,
                                .total_steps = total,
                                .decay = AT_DECAY_COSINE};
    const at_seq2seq_config *c = at_seq2seq_get_config(t->model);
    fprintf(stderr,
            "model: %s decoder, %s attention, %zu parameters; %zu training pairs, %zu "
            "validation; %ld steps of %ld\n",
            c->decoder == AT_DECODER_SEED ? "seed" : "luong",
            c->decoder == AT_DECODER_SEED ? "additive" : at_attention_kind_name(c->attention),
            at_params_numel(at_seq2seq_params(t->model)), t->train.count, t->valid.count, total,
            o->batch);
    cli_progress progress;
    cli_progress_start(&progress, total);
    t->run_start = cli_seconds();
    s = run_loop(t, total, &progress);
    cli_progress_finish(&progress);
    t->state.seconds += cli_seconds() - t->run_start;
    at_status saved = save_last(t->ctx, t->model, t->optim, o, &t->state);
    if (s == AT_OK) s = saved;
    if (s != AT_OK) return cli_fail("train", t->ctx, s);
    if (interrupted) {
        fprintf(stderr,
                "interrupted at step %ld: saved %s/last.safetensors (resume with "
                "--resume)\n",
                t->state.step, o->out);
        draw_curves(t);
        return 130;
    }
    fprintf(stderr,
            "trained %ld steps in %.1f s; best validation exact match %.2f%%; model in "
            "%s/model.safetensors\n",
            t->state.step, t->state.seconds, 100 * t->state.best_exact, o->out);
    draw_curves(t);
    return 0;
}

static void trainer_free(trainer *t) {
    at_optim_free(t->optim);
    at_seq2seq_data_clear(&t->train);
    at_seq2seq_data_clear(&t->valid);
    at_seq2seq_batch_free(&t->batch);
    free(t->order);
    if (t->metrics) fclose(t->metrics);
    at_seq2seq_free(t->model);
}

static int open_outputs(trainer *t) {
    if (mkdir(t->o->out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "attend train: cannot create %s: %s\n", t->o->out, strerror(errno));
        return 0;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", t->o->out);
    t->metrics = fopen(path, t->o->resume ? "a" : "w");
    if (!t->metrics) fprintf(stderr, "attend train: cannot write %s: %s\n", path, strerror(errno));
    return t->metrics != NULL;
}

int train_main(int argc, char **argv) {
    train_options o;
    int parsed = parse_options(&o, argc, argv);
    if (parsed < 0) return usage(stdout);
    if (parsed == 0) return 2;
    at_ctx *ctx = cli_context("train", (int)o.threads, (uint64_t)o.seed);
    if (!ctx) return 1;
    trainer t = {.ctx = ctx, .o = &o};
    train_data d = {{0}, {0}};
    int code = 1;
    if (o.resume) resume_data_options(ctx, &o);
    at_status s = load_data(ctx, &o, &d);
    if (s != AT_OK)
        code = cli_fail("train", ctx, s);
    else if (!open_outputs(&t))
        code = 1;
    else if (o.resume && !(t.model = resume(ctx, &o, &t.state)))
        code = 1;
    else if (!o.resume && (s = new_model(ctx, &o, &d, &t.model)) != AT_OK)
        code = cli_fail("train", ctx, s);
    else {
        struct sigaction sa = {0};
        sa.sa_handler = on_sigint;
        sigaction(SIGINT, &sa, NULL);
        code = train_run(&t, &d);
        signal(SIGINT, SIG_DFL);
    }
    trainer_free(&t);
    at_pairs_clear(&d.train);
    at_pairs_clear(&d.valid);
    at_ctx_free(ctx);
    return code;
}
