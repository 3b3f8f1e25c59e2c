/*
 * demo.c - `attend demo`: train a small attention model and look at it.
 *
 * The task is to reverse a string of letters ("attend" -> "dnetta"). It is
 * the simplest task on which attention is visibly right: output step t
 * should look at input position n-1-t, so a trained model's attention map
 * is an anti-diagonal.
 *
 * The model is the classic encoder-decoder with global dot attention
 * (Luong et al. 2015), composed from attend's ops:
 *   H = BiLSTM(embed(x))                      (B, Tx, 2E)  encoder
 *   s_0 = tanh(W_init [h_fwd; h_bwd])         (B, 2E)
 *   s_t = GRUCell(embed(y_{t-1}), s_{t-1})    (B, 2E)      teacher forcing
 *   α_t = softmax_j(H_j · s_t)   (padding masked)          (B, Tx)
 *   c_t = Σ_j α_tj H_j                        (B, 2E)
 *   logits_t = W_out [s_t; c_t]               (B, V)
 * trained with cross-entropy (padding ignored), Adam and gradient clipping.
 * When the date translator lands, the README's main job becomes that; this
 * demo stays as the smallest end-to-end example of the engine.
 */
#include "model_io.h"

#include <stdlib.h>
#include <string.h>

enum { PAD = 0, START = 1, END = 2, FIRST_LETTER = 3, LETTERS = 26, VOCAB = FIRST_LETTER + LETTERS };
enum { MIN_LEN = 3, MAX_LEN = 12, TX = MAX_LEN, TY = MAX_LEN + 1 };


typedef struct demo_model {
    at_params *params;
    at_embedding src_embed, tgt_embed;
    at_bilstm encoder;
    at_dense init, out;
    at_gru decoder;
    int embed, hidden; /* hidden = 2 * encoder size */
} demo_model;

typedef struct demo_batch {
    int batch;
    int32_t src[64 * TX];      /* (B, Tx) letters, PAD after the length  */
    int32_t lengths[64];       /* (B)                                    */
    uint8_t src_mask[64 * TX]; /* (B, Tx) 1 = a real letter              */
    int32_t dec_in[TY * 64];   /* (Ty, B) previous target token          */
    int32_t dec_out[TY * 64];  /* (Ty, B) target token, PAD = ignored    */
} demo_batch;

/* Example i of a stream: a string of letters drawn from a generator seeded
 * by the stream's seed and i, so any example can be made again by index. */
static void make_example(demo_batch *b, int row, uint64_t stream, size_t index) {
    at_rng rng;
    at_rng_seed(&rng, stream * 1000003u + index);
    int n = MIN_LEN + (int)at_rng_below(&rng, MAX_LEN - MIN_LEN + 1);
    b->lengths[row] = n;
    for (int j = 0; j < n; j++) {
        b->src[row * TX + j] = FIRST_LETTER + (int32_t)at_rng_below(&rng, LETTERS);
        b->src_mask[row * TX + j] = 1;
    }
}

/* The batch of examples indices[0 .. n) of a stream, with the reversed
 * strings as targets (teacher forcing: the decoder reads the previous one). */
static void make_batch(demo_batch *b, uint64_t stream, const size_t *indices, int batch) {
    memset(b, 0, sizeof *b);
    b->batch = batch;
    for (int i = 0; i < batch; i++) {
        make_example(b, i, stream, indices[i]);
        int n = b->lengths[i];
        for (int t = 0; t < TY; t++) {
            int32_t target = t < n ? b->src[i * TX + (n - 1 - t)] : (t == n ? END : PAD);
            b->dec_out[t * batch + i] = target;
            b->dec_in[t * batch + i] = t == 0 ? START : b->dec_out[(t - 1) * batch + i];
        }
    }
}

static at_status model_init(at_ctx *ctx, demo_model *m, uint64_t seed) {
    at_rng rng;
    at_rng_seed(&rng, seed);
    m->embed = 32;
    m->hidden = 64;
    CLI_TRY(at_params_create(ctx, &m->params));
    CLI_TRY(at_embedding_init(ctx, &m->src_embed, m->params, "src_embed", VOCAB, m->embed, &rng));
    CLI_TRY(at_embedding_init(ctx, &m->tgt_embed, m->params, "tgt_embed", VOCAB, m->embed, &rng));
    CLI_TRY(at_bilstm_init(ctx, &m->encoder, m->params, "encoder", m->embed, m->hidden / 2, &rng));
    CLI_TRY(at_dense_init(ctx, &m->init, m->params, "init", m->hidden, m->hidden, 1, &rng));
    CLI_TRY(at_gru_init(ctx, &m->decoder, m->params, "decoder", m->embed, m->hidden, 0, &rng));
    CLI_TRY(at_dense_init(ctx, &m->out, m->params, "out", 2 * m->hidden, VOCAB, 1, &rng));
    return AT_OK;
}

/* Encoder: H (B, Tx, 2E) and the decoder's first state s_0 (B, 2E). */
static at_status encode(at_ctx *ctx, const demo_model *m, const demo_batch *b, at_tensor **H,
                        at_tensor **s0) {
    int ids_shape[2] = {b->batch, TX};
    at_tensor *x, *h_n, *fwd, *bwd, *both, *pre;
    CLI_TRY(at_embedding_forward(ctx, &m->src_embed, b->src, 2, ids_shape, &x)); /* (B, Tx, E) */
    CLI_TRY(at_bilstm_forward(ctx, &m->encoder, x, b->lengths, H, &h_n));        /* (B, Tx, 2E) */
    int bh[2] = {b->batch, m->hidden / 2};
    CLI_TRY(at_slice(ctx, &fwd, h_n, 0, 0, 1));
    CLI_TRY(at_slice(ctx, &bwd, h_n, 0, 1, 1));
    CLI_TRY(at_reshape(ctx, &fwd, fwd, 2, bh));
    CLI_TRY(at_reshape(ctx, &bwd, bwd, 2, bh));
    at_tensor *halves[2] = {fwd, bwd};
    CLI_TRY(at_concat(ctx, &both, 2, halves, 1));   /* (B, 2E) */
    CLI_TRY(at_dense_forward(ctx, &m->init, both, &pre));
    return at_tanh(ctx, s0, pre);
}

/* One decoder step: new state, logits (B, V) and attention weights (B, Tx). */
static at_status decode_step(at_ctx *ctx, const demo_model *m, const demo_batch *b, at_tensor *H,
                             const int32_t *prev, at_tensor **s, at_tensor **logits,
                             at_tensor **alpha) {
    int B = b->batch, D = m->hidden;
    int ids_shape[1] = {B};
    at_tensor *y, *s_col, *scores, *alpha_row, *context, *joined;
    CLI_TRY(at_embedding_forward(ctx, &m->tgt_embed, prev, 1, ids_shape, &y)); /* (B, E) */
    CLI_TRY(at_gru_cell(ctx, &m->decoder, y, *s, s));                          /* (B, D) */
    int col[3] = {B, D, 1}, row[3] = {B, 1, TX}, flat[2] = {B, TX}, bd[2] = {B, D};
    CLI_TRY(at_reshape(ctx, &s_col, *s, 3, col));
    CLI_TRY(at_matmul(ctx, &scores, H, s_col, 0, 0)); /* (B, Tx, 1) = H s_t */
    CLI_TRY(at_reshape(ctx, &scores, scores, 2, flat));
    CLI_TRY(at_softmax(ctx, alpha, scores, b->src_mask, B)); /* (B, Tx) */
    CLI_TRY(at_reshape(ctx, &alpha_row, *alpha, 3, row));
    CLI_TRY(at_matmul(ctx, &context, alpha_row, H, 0, 0)); /* (B, 1, D) = α H */
    CLI_TRY(at_reshape(ctx, &context, context, 2, bd));
    at_tensor *parts[2] = {*s, context};
    CLI_TRY(at_concat(ctx, &joined, 2, parts, 1)); /* (B, 2D) */
    return at_dense_forward(ctx, &m->out, joined, logits);
}

/* Teacher-forced loss over the whole target. */
static at_status forward_loss(at_ctx *ctx, const demo_model *m, const demo_batch *b,
                              at_tensor **loss) {
    at_tensor *H, *s, *steps[TY];
    CLI_TRY(encode(ctx, m, b, &H, &s));
    for (int t = 0; t < TY; t++) {
        at_tensor *alpha;
        CLI_TRY(decode_step(ctx, m, b, H, b->dec_in + t * b->batch, &s, &steps[t], &alpha));
    }
    at_tensor *logits;
    CLI_TRY(at_concat(ctx, &logits, TY, steps, 0)); /* (Ty*B, V), t-major like dec_out */
    return at_cross_entropy(ctx, loss, logits, b->dec_out, PAD, 0.0f);
}

/* Greedy decoding of row 0 of a batch of one; writes the output letters and
 * the attention map (Ty, Tx). Returns the output length. */
static at_status greedy(at_ctx *ctx, const demo_model *m, const demo_batch *b, char *text,
                        float *attention, int *out_len) {
    at_tensor *H, *s;
    CLI_TRY(encode(ctx, m, b, &H, &s));
    int32_t prev = START;
    int n = 0;
    for (int t = 0; t < TY; t++) {
        at_tensor *logits, *alpha;
        CLI_TRY(decode_step(ctx, m, b, H, &prev, &s, &logits, &alpha));
        int best = 0;
        for (int v = 1; v < VOCAB; v++)
            if (logits->data[v] > logits->data[best]) best = v;
        memcpy(attention + t * TX, alpha->data, TX * sizeof(float));
        if (best == END) break;
        text[n++] = best >= FIRST_LETTER ? (char)('a' + best - FIRST_LETTER) : '?';
        prev = best;
    }
    text[n] = 0;
    *out_len = n;
    return AT_OK;
}

static void print_attention(const char *input, const char *output, const float *attention) {
    static const char *shades = " .:-=+*#%@";
    int n = (int)strlen(input);
    printf("\n  attention (rows: output, columns: input; darker = more weight)\n     ");
    for (int j = 0; j < n; j++) printf(" %c", input[j]);
    printf("\n");
    for (int t = 0; output[t]; t++) {
        printf("  %c  ", output[t]);
        for (int j = 0; j < n; j++) {
            int level = (int)(attention[t * TX + j] * 9.99f);
            printf(" %c", shades[level < 0 ? 0 : level > 9 ? 9 : level]);
        }
        printf("\n");
    }
}

static int usage(FILE *out) {
    fprintf(out,
            "usage: attend demo [--steps N] [--batch N] [--threads N] [--seed N] [--out DIR] [--save FILE]\n"
            "Train a BiLSTM encoder + GRU decoder with dot attention to reverse strings,\n"
            "then show its attention.\n"
            "  --steps N     training steps (default 2000)\n"
            "  --batch N     batch size, 1..64 (default 64)\n"
            "  --threads N   threads (default 1)\n"
            "  --seed N      random seed (default 1)\n"
            "  --out DIR     the training run's files (default runs/demo): the best and\n"
            "                last models and metrics.jsonl\n"
            "  --save FILE   also write the trained model to FILE (safetensors)\n");
    return out == stdout ? 0 : 2;
}

static int fail(at_ctx *ctx, at_status s) {
    fprintf(stderr, "attend demo: %s: %s\n", at_status_name(s), at_ctx_error(ctx));
    return 1;
}

/* ------------------------------------------------ the model for the trainer */

enum { EVAL_STRINGS = 200 };

typedef struct demo_task {
    demo_model *model;
    uint64_t train_stream, eval_stream;
    demo_batch batch;
} demo_task;

static at_status task_loss(at_ctx *ctx, void *self, const size_t *indices, int n,
                           at_tensor **loss) {
    demo_task *task = self;
    make_batch(&task->batch, task->train_stream, indices, n);
    return forward_loss(ctx, task->model, &task->batch, loss);
}

/* Exact match of greedy decoding on new strings (another stream). */
static at_status count_correct(at_ctx *ctx, demo_task *task, int *correct) {
    char output[TY + 1];
    static float attention[TY * TX];
    *correct = 0;
    for (size_t k = 0; k < EVAL_STRINGS; k++) {
        make_batch(&task->batch, task->eval_stream, &k, 1);
        const demo_batch *b = &task->batch;
        int n = b->lengths[0], out_len = 0, right;
        at_ctx_reset(ctx);
        CLI_TRY(greedy(ctx, task->model, b, output, attention, &out_len));
        right = out_len == n;
        for (int j = 0; right && j < n; j++)
            right = output[j] == 'a' + b->src[n - 1 - j] - FIRST_LETTER;
        *correct += right;
    }
    return AT_OK;
}

static at_status task_evaluate(at_ctx *ctx, void *self, at_metrics *metrics) {
    int correct;
    CLI_TRY(count_correct(ctx, self, &correct));
    return at_metrics_set(ctx, metrics, "exact", (double)correct / EVAL_STRINGS);
}

static at_status task_save(at_ctx *ctx, void *self, const char *path, const at_metadata *extra) {
    demo_task *task = self;
    at_metadata meta = {0};
    at_status s = at_metadata_set(ctx, &meta, "model", "attend-demo-reverse");
    for (int i = 0; s == AT_OK && extra && i < extra->count; i++)
        s = at_metadata_set(ctx, &meta, extra->keys[i], extra->values[i]);
    if (s == AT_OK) s = at_checkpoint_save(ctx, path, task->model->params, &meta);
    at_metadata_clear(&meta);
    return s;
}

static void on_progress(void *user, const at_train_progress *p) {
    if (p->step % 50 && p->step != p->total_steps) return;
    cli_progress_update(user, p->step, "loss %.4f", p->loss);
}

/* The first evaluation string of at least 7 letters, decoded with its map. */
static at_status show_example(at_ctx *ctx, demo_task *task) {
    char input[MAX_LEN + 1], output[TY + 1];
    static float attention[TY * TX];
    for (size_t k = 0; k < EVAL_STRINGS; k++) {
        make_batch(&task->batch, task->eval_stream, &k, 1);
        int n = task->batch.lengths[0], out_len;
        if (n < 7) continue;
        for (int j = 0; j < n; j++) input[j] = (char)('a' + task->batch.src[j] - FIRST_LETTER);
        input[n] = 0;
        at_ctx_reset(ctx);
        CLI_TRY(greedy(ctx, task->model, &task->batch, output, attention, &out_len));
        printf("example: %s -> %s\n", input, output);
        print_attention(input, output, attention);
        return AT_OK;
    }
    return AT_OK;
}

int demo_main(int argc, char **argv) {
    long steps = 2000, batch = 64, threads = 1, seed = 1;
    const char *save = NULL, *out = "runs/demo";
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) return usage(stdout);
        else if (!strcmp(arg, "--steps")) ok = cli_parse_int(arg, value, 1, 1000000, &steps), i++;
        else if (!strcmp(arg, "--batch")) ok = cli_parse_int(arg, value, 1, 64, &batch), i++;
        else if (!strcmp(arg, "--threads")) ok = cli_parse_int(arg, value, 1, 256, &threads), i++;
        else if (!strcmp(arg, "--seed")) ok = cli_parse_int(arg, value, 0, 1L << 40, &seed), i++;
        else if (!strcmp(arg, "--out")) {
            if (!value) ok = 0, fprintf(stderr, "attend demo: --out needs a directory\n");
            out = value, i++;
        } else if (!strcmp(arg, "--save")) {
            if (!value) ok = 0, fprintf(stderr, "attend demo: --save needs a file name\n");
            save = value, i++;
        } else {
            fprintf(stderr, "attend demo: unknown option '%s'\n", arg);
            return usage(stderr);
        }
        if (!ok) return 2;
    }

    at_ctx *ctx = cli_context("demo", (int)threads, (uint64_t)seed);
    if (!ctx) return 1;
    demo_model m;
    at_status s = model_init(ctx, &m, (uint64_t)seed);
    if (s != AT_OK) return fail(ctx, s);
    printf("attend demo: reverse strings of %d-%d letters; %zu parameters; %ld steps of %ld\n",
           MIN_LEN, MAX_LEN, at_params_numel(m.params), steps, batch);

    demo_task *task = calloc(1, sizeof *task);
    if (!task) return fprintf(stderr, "attend demo: out of memory\n"), 1;
    *task = (demo_task){.model = &m, .train_stream = (uint64_t)seed + 1,
                        .eval_stream = (uint64_t)seed + 99};
    at_trainable trainable = {.self = task,
                              .params = m.params,
                              .count = (size_t)(steps * batch),
                              .loss = task_loss,
                              .evaluate = task_evaluate,
                              .save = task_save};
    at_trainer_options o;
    at_trainer_options_default(&o);
    o.out_dir = out;
    o.steps = steps;
    o.batch = (int)batch;
    o.seed = (uint64_t)seed;
    o.optim = (at_optim_config){.kind = AT_ADAM, .lr = 0.005f};
    o.clip = 1.0f;
    o.best_metric = "exact";
    o.progress = on_progress;
    cli_progress progress;
    o.progress_user = &progress;
    cli_progress_start(&progress, steps);
    at_train_result result;
    s = at_train(ctx, &trainable, &o, &result);
    cli_progress_finish(&progress);
    if (s == AT_OK) {
        printf("trained in %.1f s; exact match on %d new strings: %.1f%%\n", result.seconds,
               EVAL_STRINGS, 100.0 * result.last.value[0]);
        s = show_example(ctx, task);
    }
    if (s == AT_OK && save) {
        s = task_save(ctx, task, save, NULL);
        if (s == AT_OK) printf("\nsaved the model to %s\n", save);
    }
    if (s == AT_OK) printf("the run (best and last models, metrics.jsonl) is in %s\n", out);
    int code = s == AT_OK ? 0 : fail(ctx, s);
    free(task);
    at_params_free(m.params);
    at_ctx_free(ctx);
    return code;
}
