/*
 * test_lm_text.c - the language models' data, evaluation arithmetic,
 * sampling and configuration, on tiny models (src/lm/text.c, evaluate.c,
 * generate.c, config.c, model.c):
 *   - the split is contiguous by characters and lands on a code point;
 *   - at_lm_data_read encodes both parts as the separate calls do, and a
 *     failed read leaves its output empty;
 *   - at_lm_recipe_trainer_options gives the documented schedule;
 *   - an empty file, invalid UTF-8 and a NUL byte are refused by name;
 *   - at_lm_evaluate averages exactly the n - 1 predictions (checked
 *     against per-window losses computed one by one);
 *   - the same seed gives the same text, another seed another text,
 *     temperature 0 is the argmax, unseen prompt characters are refused;
 *   - a context longer than the model's is refused;
 *   - a configuration survives JSON and a bad one is refused by field.
 * Uses the lstm kind (daniluk.c) as the smallest model.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *DIR_ = "lm_text_test.tmp";

static void write_text(const char *path, const char *text, size_t n) { test_write_file(path, text, n); }

static void test_split(at_ctx *ctx) {
    char path[256];
    snprintf(path, sizeof path, "%s.book", DIR_);
    /* 20 characters, two of them 2-byte: the split is at character 18 */
    const char *text = "abcdefghijklmnopé\xc3\xa9st";
    write_text(path, text, strlen(text));
    at_lm_text t;
    CHECK_OK(ctx, at_lm_text_read(ctx, path, 10, &t));
    CHECK(t.chars == 20 && t.train_chars == 18 && t.valid_chars == 2,
          "chars %zu train %zu valid %zu (want 20, 18, 2)", t.chars, t.train_chars, t.valid_chars);
    CHECK(t.split_byte == strlen("abcdefghijklmnopé\xc3\xa9"), "split at byte %zu", t.split_byte);
    at_vocab *v = NULL;
    CHECK_OK(ctx, at_lm_text_vocab(ctx, &t, &v));
    /* 17 distinct training characters (é twice), 4 specials */
    CHECK(v && at_vocab_size(v) == 4 + 17, "vocab %d (want 21)", v ? at_vocab_size(v) : -1);
    int32_t *ids = NULL;
    size_t n = 0, unknown = 0;
    CHECK_OK(ctx, at_lm_encode(ctx, v, t.text + t.split_byte, t.bytes - t.split_byte, &ids, &n,
                               &unknown));
    CHECK(n == 2 && unknown == 2, "valid ids %zu unknown %zu (s and t are unseen)", n, unknown);
    free(ids);
    at_vocab_free(v);
    at_lm_text_clear(&t);

    write_text(path, "", 0);
    CHECK_STATUS(ctx, at_lm_text_read(ctx, path, 10, &t), AT_ERR_FORMAT);
    CHECK(strstr(at_ctx_error(ctx), "empty"), "message: %s", at_ctx_error(ctx));
    write_text(path, "ab\xff" "cd", 5);
    CHECK_STATUS(ctx, at_lm_text_read(ctx, path, 10, &t), AT_ERR_FORMAT);
    CHECK(strstr(at_ctx_error(ctx), "UTF-8") && strstr(at_ctx_error(ctx), "byte 2"),
          "message: %s", at_ctx_error(ctx));
    write_text(path, "ab\0cd", 5);
    CHECK_STATUS(ctx, at_lm_text_read(ctx, path, 10, &t), AT_ERR_FORMAT);
    CHECK(strstr(at_ctx_error(ctx), "NUL"), "message: %s", at_ctx_error(ctx));
    write_text(path, "a", 1);
    CHECK_STATUS(ctx, at_lm_text_read(ctx, path, 10, &t), AT_ERR_FORMAT);
    CHECK_STATUS(ctx, at_lm_text_read(ctx, "no/such/file", 10, &t), AT_ERR_IO);
    remove(path);
}

/* at_lm_data_read = at_lm_text_read + at_lm_encode of each part. */
static void test_data_read(at_ctx *ctx) {
    char path[256];
    snprintf(path, sizeof path, "%s.data", DIR_);
    const char *text = "abcdefghijklmnopé\xc3\xa9st";
    write_text(path, text, strlen(text));
    const char *chars[1] = {"abcdefghijklmnopé"};
    at_vocab *v = NULL;
    CHECK_OK(ctx, at_vocab_build(ctx, &v, 1, chars));
    at_lm_data d;
    CHECK_OK(ctx, at_lm_data_read(ctx, path, 10, v, &d));
    CHECK(d.train_len == 18 && d.valid_len == 2 && d.unknown == 2 && d.text.chars == 20,
          "train %zu valid %zu unknown %zu chars %zu (want 18, 2, 2, 20)", d.train_len,
          d.valid_len, d.unknown, d.text.chars);
    int32_t *ids = NULL;
    size_t n = 0, unknown = 0;
    CHECK_OK(ctx, at_lm_encode(ctx, v, text, d.text.split_byte, &ids, &n, &unknown));
    CHECK(n == d.train_len && ids && d.train && !memcmp(ids, d.train, n * sizeof *ids),
          "the training ids differ from at_lm_encode's");
    free(ids);
    at_lm_data_clear(&d);
    CHECK(!d.train && !d.valid && !d.text.text, "clear leaves the data empty");
    memset(&d, 0x55, sizeof d);
    CHECK_STATUS(ctx, at_lm_data_read(ctx, "no/such/file", 10, v, &d), AT_ERR_IO);
    CHECK(!d.train && !d.valid && !d.text.text && d.train_len == 0, "a failed read left data");
    memset(&d, 0x55, sizeof d);
    CHECK_STATUS(ctx, at_lm_data_read(ctx, path, 10, NULL, &d), AT_ERR_ARGUMENT);
    CHECK(!d.train && !d.valid && !d.text.text, "a NULL vocabulary left the output uncleared");
    at_vocab_free(v);
    remove(path);
}

static void test_recipe(void) {
    at_lm_recipe r;
    at_lm_recipe_default(&r);
    CHECK(r.steps == 2000 && r.batch == 64 && r.warmup == 100 && r.eval_every == 500 &&
              r.seed == 1 && r.lr == 1e-3 && r.minutes == 0,
          "recipe defaults: steps %ld batch %ld warmup %ld eval %ld seed %ld lr %g", r.steps,
          r.batch, r.warmup, r.eval_every, r.seed, r.lr);
    r.lr = 0.004, r.minutes = 1.5;
    at_trainer_options t;
    at_lm_recipe_trainer_options(&r, &t);
    CHECK(t.optim.kind == AT_ADAM && t.optim.lr == 0.004f && t.optim.beta2 == 0.99f &&
              t.schedule.final_lr == 0.004f / 10 && t.schedule.warmup_steps == 100 &&
              t.schedule.decay == AT_DECAY_COSINE && t.clip == 1.0f && t.steps == 2000 &&
              t.batch == 64 && t.eval_every == 500 && t.lower_is_better &&
              !strcmp(t.best_metric, "nats") && t.max_seconds == 90,
          "recipe's trainer options: lr %g final %g clip %g seconds %g", (double)t.optim.lr,
          (double)t.schedule.final_lr, (double)t.clip, t.max_seconds);
}

static at_lm *tiny_lstm(at_ctx *ctx, const char *chars, int context) {
    at_vocab *v = NULL;
    const char *texts[1] = {chars};
    if (at_vocab_build(ctx, &v, 1, texts) != AT_OK) return NULL;
    at_lm_config c;
    at_lm_config_default(&c, AT_LM_LSTM);
    c.width = 8, c.embed = 4, c.context = context, c.seed = 3;
    at_lm *m = NULL;
    CHECK_OK(ctx, at_lm_create(ctx, &m, &c, v));
    return m;
}

/* at_lm_evaluate = the mean over every prediction, windows cut at context */
static void test_evaluate(at_ctx *ctx) {
    at_lm *m = tiny_lstm(ctx, "abcdef", 4);
    if (!m) return;
    int32_t ids[11];
    for (int i = 0; i < 11; i++) ids[i] = 4 + (i * 7) % 6;
    double nats = 0;
    size_t predicted = 0;
    CHECK_OK(ctx, at_lm_evaluate(ctx, m, ids, 11, 2, 0, &nats, &predicted));
    /* by hand: windows [0..4], [4..8], [8..10] predict 4 + 4 + 2 characters */
    double sum = 0;
    const int starts[3] = {0, 4, 8}, lens[3] = {4, 4, 2};
    at_ctx_set_grad(ctx, 0);
    for (int w = 0; w < 3; w++) {
        at_tensor *loss;
        at_ctx_reset(ctx);
        CHECK_OK(ctx, at_lm_loss(ctx, m, ids + starts[w], 1, lens[w], &loss));
        sum += loss->data[0] * lens[w];
    }
    at_ctx_set_grad(ctx, 1);
    CHECK(predicted == 10, "predicted %zu (want 10)", predicted);
    CHECK(fabs(nats - sum / 10) < 1e-5, "nats %.7f, by hand %.7f", nats, sum / 10);
    /* max_chars: only the first 5 ids, 4 predictions in one window */
    CHECK_OK(ctx, at_lm_evaluate(ctx, m, ids, 11, 2, 5, &nats, &predicted));
    CHECK(predicted == 4, "max_chars 5: predicted %zu (want 4)", predicted);
    /* a longer window than the model reads */
    at_tensor *logits;
    CHECK_STATUS(ctx, at_lm_logits(ctx, m, ids, 1, 5, &logits, NULL), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "context"), "message: %s", at_ctx_error(ctx));
    int32_t bad[2] = {4, 99};
    CHECK_STATUS(ctx, at_lm_logits(ctx, m, bad, 1, 2, &logits, NULL), AT_ERR_ARGUMENT);
    at_lm_free(m);
}

static void test_generate(at_ctx *ctx) {
    at_lm *m = tiny_lstm(ctx, "abcdefgh \n", 8);
    if (!m) return;
    at_lm_sample_options o;
    at_lm_sample_options_default(&o);
    o.length = 40, o.seed = 7;
    char *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(ctx, at_lm_generate(ctx, m, "ab", &o, &a));
    CHECK_OK(ctx, at_lm_generate(ctx, m, "ab", &o, &b));
    o.seed = 8;
    CHECK_OK(ctx, at_lm_generate(ctx, m, "ab", &o, &c));
    CHECK(a && b && !strcmp(a, b), "the same seed gave '%s' and '%s'", a ? a : "", b ? b : "");
    CHECK(a && c && strcmp(a, c) != 0, "seeds 7 and 8 gave the same text '%s'", a ? a : "");
    CHECK(a && at_utf8_length(a) == 42, "length %zu (want 2 + 40)", a ? at_utf8_length(a) : 0);
    CHECK(a && !strncmp(a, "ab", 2), "the text does not start with the prompt: '%s'", a ? a : "");
    /* temperature 0 = the argmax of the last row, step by step */
    o.temperature = 0, o.length = 1;
    char *g = NULL;
    CHECK_OK(ctx, at_lm_generate(ctx, m, "ab", &o, &g));
    int32_t ids[2] = {at_vocab_id(at_lm_vocab(m), 'a'), at_vocab_id(at_lm_vocab(m), 'b')};
    at_tensor *logits;
    at_ctx_reset(ctx);
    CHECK_OK(ctx, at_lm_logits(ctx, m, ids, 1, 2, &logits, NULL));
    int V = at_vocab_size(at_lm_vocab(m)), best = 4;
    for (int v = 4; v < V; v++)
        if (logits->data[V + v] > logits->data[V + best]) best = v;
    CHECK(g && (uint32_t)(unsigned char)g[2] == at_vocab_code_point(at_lm_vocab(m), best),
          "greedy drew '%c', the argmax is '%c'", g ? g[2] : '?',
          (char)at_vocab_code_point(at_lm_vocab(m), best));
    /* top-k 1 is greedy too */
    o.temperature = 1, o.top_k = 1;
    char *k1 = NULL;
    CHECK_OK(ctx, at_lm_generate(ctx, m, "ab", &o, &k1));
    CHECK(g && k1 && !strcmp(g, k1), "top-k 1 '%s' differs from greedy '%s'", k1 ? k1 : "",
          g ? g : "");
    char *bad = NULL;
    CHECK_STATUS(ctx, at_lm_generate(ctx, m, "abz", &o, &bad), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "'z'") && strstr(at_ctx_error(ctx), "character 3"),
          "message: %s", at_ctx_error(ctx));
    CHECK_STATUS(ctx, at_lm_generate(ctx, m, "", &o, &bad), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_lm_generate(ctx, m, "a\xff", &o, &bad), AT_ERR_ARGUMENT);
    o.temperature = NAN;
    CHECK_STATUS(ctx, at_lm_generate(ctx, m, "ab", &o, &bad), AT_ERR_ARGUMENT);
    /* the lstm has no attention to show */
    at_lm_attention att;
    CHECK_STATUS(ctx, at_lm_attention_of(ctx, m, "ab", &att), AT_ERR_ARGUMENT);
    free(a), free(b), free(c), free(g), free(k1);
    at_lm_free(m);
}

static void test_config(at_ctx *ctx) {
    at_lm_config c;
    at_lm_config_default(&c, AT_LM_TRANSFORMER);
    c.width = 30; /* 4 heads do not divide 30 */
    at_vocab *v = NULL;
    const char *texts[1] = {"ab"};
    CHECK_OK(ctx, at_vocab_build(ctx, &v, 1, texts));
    at_lm *m = NULL;
    CHECK_STATUS(ctx, at_lm_create(ctx, &m, &c, v), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "heads"), "message: %s", at_ctx_error(ctx));
    at_lm_kind k;
    CHECK_STATUS(ctx, at_lm_kind_parse(ctx, "gpt", &k), AT_ERR_ARGUMENT);
    CHECK_OK(ctx, at_lm_kind_parse(ctx, "kvp", &k));
    CHECK(k == AT_LM_KVP, "kvp parsed as %d", (int)k);
}

/* at_utf8_put writes the code point's bytes and the NUL text.h promises
 * (it wrote no NUL before), and refuses what does not fit with the NUL. */
static void test_utf8_put(void) {
    char out[5];
    memset(out, 'x', sizeof out);
    size_t n = at_utf8_put(out, sizeof out, 0x20AC); /* the euro sign: 3 bytes */
    CHECK(n == 3 && !strcmp(out, "\xE2\x82\xAC"), "utf8_put: %zu bytes, not NUL-terminated",
          n);
    memset(out, 'x', sizeof out);
    CHECK(at_utf8_put(out, 4, 0x1F600) == 0 && out[0] == 'x',
          "utf8_put: 4 bytes and a NUL do not fit in 4");
    CHECK(at_utf8_put(out, 5, 0x1F600) == 4 && out[4] == '\0', "utf8_put: 4 bytes and a NUL");
}

int main(void) {
    at_ctx *ctx = test_new_ctx();
    test_utf8_put();
    test_split(ctx);
    test_data_read(ctx);
    test_recipe();
    test_evaluate(ctx);
    test_generate(ctx);
    test_config(ctx);
    at_ctx_free(ctx);
    return test_finish("lm_text");
}
