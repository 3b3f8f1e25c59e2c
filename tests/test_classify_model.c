/*
 * test_classify_model.c - the document classifier (src/classify/): HAN
 * with either static form, and flat.
 *
 * The synthetic task: a document is 3 to 6 sentences of distractor words;
 * it is "spam" exactly when one sentence holds the keyword "jackpot" (the
 * others hold a decoy, "jack", as often), else "ham". A bag of words
 * cannot use position, but one word decides, so attention should find it.
 *
 *   create      vocabulary (min_count, max_vocab, ties by bytes), classes
 *               in order of first appearance, bad configurations refused;
 *   learn       a tiny model of each kind (HAN context, HAN feature,
 *               flat) trained with at_train on the task reaches >= 95%
 *               held-out accuracy; HAN (context) puts the most document
 *               weight on the keyword's sentence;
 *   weights     every sentence's word weights, the sentence weights and
 *               the document weights sum to 1 (1e-5); in a padded batch
 *               the padding gets exactly 0;
 *   padding     a document's probabilities are the same alone and batched
 *               with a longer one (1e-5);
 *   round-trip  save + load gives identical probabilities; a corrupt
 *               configuration or missing vocabulary is an AT_ERR_FORMAT;
 *               an unknown label at evaluation an AT_ERR_ARGUMENT naming it;
 *   gradients   finite differences of at_classifier_loss (dropout on) on
 *               every parameter of small models;
 *   determinism two runs with the same seeds end on the same bytes.
 *
 * Not run by default (a measurement, not a check): `speed`, the time of
 * one training step at batch 32 on documents of 30 sentences x 40 words
 * with the default configuration (one thread).
 *
 * Run with a case name to run only that case.
 */

#include "testutil.h"

#include "../src/classify/classifier.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const FILLER[] = {"the",   "offer", "meeting", "today",  "please", "send",
                                     "report", "free",  "money",   "click",  "team",   "lunch",
                                     "win",    "prize", "call",    "friday", "notes",  "list",
                                     "review", "cash",  "urgent",  "update", "deal",   "now"};
enum { FILLER_COUNT = 24 };

/* One document of the task into docs; *keyword_sentence gets the
 * sentence holding "jackpot" (-1 for ham). */
static void make_doc(at_ctx *ctx, at_class_docs *docs, at_rng *rng, int *keyword_sentence) {
    int spam = (int)at_rng_below(rng, 2), S = 3 + (int)at_rng_below(rng, 4);
    int special = (int)at_rng_below(rng, (uint32_t)S);
    char text[1024];
    size_t n = 0;
    for (int s = 0; s < S; s++) {
        int W = 3 + (int)at_rng_below(rng, 5), at = (int)at_rng_below(rng, (uint32_t)W);
        for (int w = 0; w < W; w++) {
            const char *word = FILLER[at_rng_below(rng, FILLER_COUNT)];
            if (s == special && w == at) word = spam ? "jackpot" : "jack";
            n += (size_t)snprintf(text + n, sizeof text - n, "%s%s", w ? " " : "", word);
        }
        n += (size_t)snprintf(text + n, sizeof text - n, ". ");
    }
    CHECK_OK(ctx, at_class_docs_add(ctx, docs, spam ? "spam" : "ham", text, spam ? "s" : "h", NULL));
    if (keyword_sentence) *keyword_sentence = spam ? special : -1;
}

static void make_docs(at_ctx *ctx, at_class_docs *docs, int n, uint64_t seed, int *keyword) {
    at_rng rng;
    at_rng_seed(&rng, seed);
    for (int i = 0; i < n; i++) make_doc(ctx, docs, &rng, keyword ? &keyword[i] : NULL);
}

static at_classify_config tiny_config(at_classify_kind kind, at_static_form word,
                                      at_static_form sentence) {
    at_classify_config c;
    at_classify_config_default(&c, kind);
    c.word_form = word, c.sentence_form = sentence;
    c.embed = 12, c.hidden = 10, c.attn = 10, c.min_count = 1, c.dropout = 0.1f, c.seed = 3;
    return c;
}

static const char *config_name(const at_classify_config *c) {
    static char name[64];
    snprintf(name, sizeof name, "%s/%s/%s", at_classify_kind_name(c->kind),
             at_static_form_name(c->word_form), at_static_form_name(c->sentence_form));
    return name;
}

/* -------------------------------------------------------------- create */

static void test_create(void) {
    at_ctx *ctx = test_new_ctx();
    at_class_docs docs = {0};
    CHECK_OK(ctx, at_class_docs_add(ctx, &docs, "b", "zeta alpha alpha beta. beta gamma", NULL, NULL));
    CHECK_OK(ctx, at_class_docs_add(ctx, &docs, "a", "alpha gamma delta beta", NULL, NULL));
    CHECK_OK(ctx, at_class_docs_add(ctx, &docs, "b", "zeta", NULL, NULL));
    at_classify_config c = tiny_config(AT_CLASSIFY_HAN, AT_STATIC_CONTEXT, AT_STATIC_FEATURE);
    c.min_count = 2, c.max_vocab = 3; // alpha 3, beta 3, gamma 2, zeta 2, delta 1
    at_classifier *m = NULL;
    CHECK_OK(ctx, at_classifier_create(ctx, &m, &c, &docs));
    if (m) {
        const at_vocab *v = at_classifier_vocab(m);
        CHECK(at_vocab_size(v) == AT_TOKEN_FIRST_CHAR + 3, "vocabulary of %d", at_vocab_size(v));
        CHECK(at_vocab_token_id(v, "alpha") != AT_TOKEN_UNK && at_vocab_token_id(v, "beta") !=
              AT_TOKEN_UNK && at_vocab_token_id(v, "gamma") != AT_TOKEN_UNK,
              "alpha, beta and gamma (gamma before zeta by bytes) are kept");
        CHECK(at_vocab_token_id(v, "zeta") == AT_TOKEN_UNK, "zeta loses the tie to gamma");
        CHECK(at_vocab_token_id(v, "delta") == AT_TOKEN_UNK, "delta is below min_count");
        CHECK(at_classifier_classes(m) == 2 && !strcmp(at_classifier_class_name(m, 0), "b") &&
              !strcmp(at_classifier_class_name(m, 1), "a"), "classes in order of appearance");
        CHECK(at_classifier_class_index(m, "a") == 1 && at_classifier_class_index(m, "c") == -1,
              "class_index");
        CHECK(at_params_find(at_classifier_params(m), "word_gru.weight_ih_l0_reverse") &&
              at_params_find(at_classifier_params(m), "sentence_attn.W") &&
              !at_params_find(at_classifier_params(m), "sentence_attn.u_w") &&
              at_params_find(at_classifier_params(m), "word_attn.u_w"), "parameter names");
        at_classifier_free(m);
    }
    at_classify_config bad = c;
    bad.hidden = 0;
    CHECK_STATUS(ctx, at_classifier_create(ctx, &m, &bad, &docs), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "hidden") != NULL, "names the field: %s", at_ctx_error(ctx));
    bad = c, bad.dropout = 0.95f;
    CHECK_STATUS(ctx, at_classifier_create(ctx, &m, &bad, &docs), AT_ERR_ARGUMENT);
    at_class_docs one = {0};
    CHECK_OK(ctx, at_class_docs_add(ctx, &one, "a", "text", NULL, NULL));
    CHECK_STATUS(ctx, at_classifier_create(ctx, &m, &c, &one), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "1 class") != NULL, "fewer than 2 classes: %s",
          at_ctx_error(ctx));
    at_classify_kind kind;
    CHECK_STATUS(ctx, at_classify_kind_parse(ctx, "deep", &kind), AT_ERR_ARGUMENT);
    at_static_form form;
    CHECK_OK(ctx, at_static_form_parse(ctx, "feature", &form));
    CHECK(form == AT_STATIC_FEATURE, "feature parses");
    at_class_docs_clear(&one);
    at_class_docs_clear(&docs);
    at_ctx_free(ctx);
}

/* -------------------------------------------------------------- learn */

/* Train m on train with at_train in out_dir for `steps` steps. */
static void train(at_ctx *ctx, at_classifier *m, const at_class_docs *train,
                  const at_class_docs *valid, const char *out_dir, long steps) {
    at_classify_task *task = NULL;
    CHECK_OK(ctx, at_classify_task_create(ctx, &task, m, train, valid, "spam", 64));
    if (!task) return;
    at_trainer_options o;
    at_trainer_options_default(&o);
    o.out_dir = out_dir, o.steps = steps, o.batch = 16, o.seed = 5, o.eval_every = steps;
    o.optim.lr = 0.02f, o.clip = 5.0f, o.best_metric = "accuracy";
    CHECK_OK(ctx, at_train(ctx, at_classify_task_trainable(task), &o, NULL));
    at_classify_task_free(task);
}

/* Every weight array of a prediction sums to 1 where it should. */
static void check_sums(const at_classifier *m, const at_classification *c, const char *what) {
    const at_doc_tokens *t = &c->tokens;
    double doc = 0, sentences = 0;
    for (int s = 0, w = 0; s < t->sentences; s++) {
        double sum = 0;
        for (int j = 0; j < t->lengths[s]; j++, w++) sum += c->word_weights[w];
        if (at_classifier_get_config(m)->kind == AT_CLASSIFY_HAN)
            CHECK(fabs(sum - 1) < 1e-5, "%s: sentence %d's word weights sum to %.7f", what, s,
                  sum);
        if (c->sentence_weights) sentences += c->sentence_weights[s];
    }
    for (int w = 0; w < t->words; w++) doc += c->doc_weights[w];
    CHECK(fabs(doc - 1) < 1e-5, "%s: document weights sum to %.7f", what, doc);
    if (c->sentence_weights)
        CHECK(fabs(sentences - 1) < 1e-5, "%s: sentence weights sum to %.7f", what, sentences);
}

static void learn_case(at_classify_config c) {
    const char *name = config_name(&c);
    at_ctx *ctx = test_new_ctx_with(1, 1);
    at_class_docs tr = {0}, va = {0}, te = {0};
    int keyword[200];
    make_docs(ctx, &tr, 600, 11, NULL);
    make_docs(ctx, &va, 100, 12, NULL);
    make_docs(ctx, &te, 200, 13, keyword);
    at_classifier *m = NULL;
    CHECK_OK(ctx, at_classifier_create(ctx, &m, &c, &tr));
    if (!m) goto done;
    double start = test_seconds();
    train(ctx, m, &tr, &va, "learn_out", 300);
    at_classify_score score;
    int predicted[200];
    CHECK_OK(ctx, at_classifier_evaluate(ctx, m, &te, 32, "spam", &score, predicted, NULL));
    printf("  %-22s held-out accuracy %.3f (F1 %.3f, loss %.3f) in %.1f s\n", name,
           score.accuracy, score.f1, score.loss, test_seconds() - start);
    CHECK(score.accuracy >= 0.95, "%s: held-out accuracy %.3f < 0.95", name, score.accuracy);
    CHECK(score.count == 200 && score.groups == 2, "%s: %zu scored, %d groups", name, score.count,
          score.groups);
    int on_keyword = 0, positives = 0;
    for (size_t i = 0; i < te.count; i++) {
        at_classification p;
        CHECK_OK(ctx, at_classifier_predict(ctx, m, te.texts[i], &p));
        CHECK(p.label == predicted[i], "%s: predict and evaluate agree on doc %zu", name, i);
        check_sums(m, &p, name);
        if (keyword[i] >= 0 && p.sentence_weights) {
            int best = 0;
            for (int s = 1; s < p.tokens.sentences; s++)
                if (p.sentence_weights[s] > p.sentence_weights[best]) best = s;
            positives++;
            on_keyword += best == keyword[i];
        }
        at_classification_clear(&p);
    }
    if (c.kind == AT_CLASSIFY_HAN) {
        printf("  %-22s most document weight on the keyword's sentence: %d of %d\n", name,
               on_keyword, positives);
        if (c.sentence_form == AT_STATIC_CONTEXT)
            CHECK(on_keyword >= positives * 9 / 10,
                  "%s: the keyword's sentence has the most weight in only %d of %d", name,
                  on_keyword, positives);
    }
    at_classifier_free(m);
done:
    at_class_docs_clear(&tr);
    at_class_docs_clear(&va);
    at_class_docs_clear(&te);
    at_ctx_free(ctx);
}

static void test_learn(void) {
    char dir[] = "classify_learn_XXXXXX";
    test_enter_scratch_dir(dir);
    learn_case(tiny_config(AT_CLASSIFY_HAN, AT_STATIC_CONTEXT, AT_STATIC_CONTEXT));
    learn_case(tiny_config(AT_CLASSIFY_HAN, AT_STATIC_FEATURE, AT_STATIC_FEATURE));
    learn_case(tiny_config(AT_CLASSIFY_FLAT, AT_STATIC_CONTEXT, AT_STATIC_CONTEXT));
    learn_case(tiny_config(AT_CLASSIFY_FLAT, AT_STATIC_FEATURE, AT_STATIC_CONTEXT));
    test_leave_scratch_dir(dir);
}

/* ------------------------------------------------------------ weights */

/* A fresh model on the task (untrained, weights jittered). */
static at_classifier *task_model(at_ctx *ctx, at_classify_config c, at_class_docs *docs) {
    make_docs(ctx, docs, 40, 21, NULL);
    at_classifier *m = NULL;
    CHECK_OK(ctx, at_classifier_create(ctx, &m, &c, docs));
    if (!m) return NULL;
    at_rng rng;
    at_rng_seed(&rng, 4);
    test_jitter_params(at_classifier_params(m), &rng, 0.5f);
    return m;
}

/* The weight tensors of a batch of two documents of unlike size: real
 * steps sum to 1 (1e-5), padding is exactly 0. */
static void check_padded_weights(at_ctx *ctx, const at_classifier *m, const cls_doc *const *docs,
                                 const char *name) {
    at_tensor *logits;
    cls_attention a;
    at_ctx_set_grad(ctx, 0);
    CHECK_OK(ctx, cls_forward(ctx, m, docs, 2, &logits, &a));
    at_ctx_set_grad(ctx, 1);
    int han = at_classifier_get_config(m)->kind == AT_CLASSIFY_HAN, row = 0;
    int D = a.word->ndim == 3 ? a.word->shape[2] : 1;
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < (han ? docs[b]->sentences : 1); i++, row++) {
            int real = han ? docs[b]->lengths[i] : docs[b]->words;
            for (int f = 0; f < D; f++) {
                double sum = 0, padding = 0;
                for (int t = 0; t < a.steps; t++) {
                    float w = a.word->data[((size_t)row * a.steps + t) * D + f];
                    if (t < real) sum += w;
                    else padding += fabs(w);
                }
                CHECK(fabs(sum - 1) < 1e-5 && padding == 0,
                      "%s: word row %d feature %d sums to %.7f, padding %g", name, row, f, sum,
                      padding);
            }
        }
    if (!han) return;
    int Ds = a.sentence->ndim == 3 ? a.sentence->shape[2] : 1;
    for (int b = 0; b < 2; b++)
        for (int f = 0; f < Ds; f++) {
            double sum = 0, padding = 0;
            for (int i = 0; i < a.sentence_steps; i++) {
                float w = a.sentence->data[((size_t)b * a.sentence_steps + i) * Ds + f];
                if (i < docs[b]->sentences) sum += w;
                else padding += fabs(w);
            }
            CHECK(fabs(sum - 1) < 1e-5 && padding == 0,
                  "%s: sentence weights of doc %d feature %d sum to %.7f, padding %g", name, b, f,
                  sum, padding);
        }
}

static void weights_case(at_classify_config c) {
    at_ctx *ctx = test_new_ctx();
    at_class_docs docs = {0};
    at_classifier *m = task_model(ctx, c, &docs);
    if (!m) goto done;
    const char *texts[] = {"short one",
                           ("A much longer document. It has three sentences, some of them "
                            "with many more words than the first. Jackpot!"),
                           ""};
    at_class_docs two = {0};
    CHECK_OK(ctx, at_class_docs_add(ctx, &two, "ham", texts[0], NULL, NULL));
    CHECK_OK(ctx, at_class_docs_add(ctx, &two, "spam", texts[1], NULL, NULL));
    cls_corpus corpus;
    CHECK_OK(ctx, cls_corpus_encode(ctx, m, &two, NULL, 2, 1, &corpus));
    const cls_doc *pair[2] = {&corpus.docs[0], &corpus.docs[1]};
    check_padded_weights(ctx, m, pair, config_name(&c));
    cls_corpus_clear(&corpus);
    at_class_docs_clear(&two);
    for (int i = 0; i < 3; i++) {
        at_classification p;
        CHECK_OK(ctx, at_classifier_predict(ctx, m, texts[i], &p));
        if (i < 2) check_sums(m, &p, config_name(&c));
        else
            CHECK(p.tokens.sentences == 0 && !p.word_weights && !p.doc_weights && p.probs &&
                  fabsf(p.probs[0] + p.probs[1] - 1) < 1e-5,
                  "an empty text is read as one UNK and has no weights");
        at_classification_clear(&p);
    }
    at_classifier_free(m);
done:
    at_class_docs_clear(&docs);
    at_ctx_free(ctx);
}

static void test_weights(void) {
    weights_case(tiny_config(AT_CLASSIFY_HAN, AT_STATIC_CONTEXT, AT_STATIC_CONTEXT));
    weights_case(tiny_config(AT_CLASSIFY_HAN, AT_STATIC_FEATURE, AT_STATIC_CONTEXT));
    weights_case(tiny_config(AT_CLASSIFY_HAN, AT_STATIC_CONTEXT, AT_STATIC_FEATURE));
    weights_case(tiny_config(AT_CLASSIFY_FLAT, AT_STATIC_CONTEXT, AT_STATIC_CONTEXT));
    weights_case(tiny_config(AT_CLASSIFY_FLAT, AT_STATIC_FEATURE, AT_STATIC_CONTEXT));
}

/* ------------------------------------------------------------ padding */

static void padding_case(at_classify_config c) {
    at_ctx *ctx = test_new_ctx();
    at_class_docs docs = {0};
    at_classifier *m = task_model(ctx, c, &docs);
    if (!m) goto done;
    // doc 0 is short; doc 1 has more sentences and longer ones (and a 1-word sentence)
    at_class_docs pair = {0};
    CHECK_OK(ctx, at_class_docs_add(ctx, &pair, "ham", "free money today. send it", NULL, NULL));
    CHECK_OK(ctx, at_class_docs_add(ctx, &pair, "spam", "the offer meeting today please send "
                                    "report free money. click! team lunch win prize call friday "
                                    "notes. jackpot list review cash urgent update", NULL, NULL));
    float alone[2], batched[4];
    at_classify_score score;
    at_class_docs first = {0};
    CHECK_OK(ctx, at_class_docs_add(ctx, &first, "ham", pair.texts[0], NULL, NULL));
    CHECK_OK(ctx, at_classifier_evaluate(ctx, m, &first, 1, NULL, &score, NULL, alone));
    CHECK_OK(ctx, at_classifier_evaluate(ctx, m, &pair, 2, NULL, &score, NULL, batched));
    char what[96];
    snprintf(what, sizeof what, "%s: probabilities alone vs batched", config_name(&c));
    check_close(what, batched, alone, 2, 1e-5, 0);
    at_class_docs_clear(&first);
    at_class_docs_clear(&pair);
    at_classifier_free(m);
done:
    at_class_docs_clear(&docs);
    at_ctx_free(ctx);
}

static void test_padding(void) {
    padding_case(tiny_config(AT_CLASSIFY_HAN, AT_STATIC_CONTEXT, AT_STATIC_CONTEXT));
    padding_case(tiny_config(AT_CLASSIFY_HAN, AT_STATIC_FEATURE, AT_STATIC_FEATURE));
    padding_case(tiny_config(AT_CLASSIFY_FLAT, AT_STATIC_CONTEXT, AT_STATIC_CONTEXT));
}

/* --------------------------------------------------------- round trip */

static void save_with_meta(at_ctx *ctx, const at_classifier *m, const char *path,
                           const char *config, const char *vocab, const char *classes) {
    at_metadata meta = {0};
    if (config) CHECK_OK(ctx, at_metadata_set(ctx, &meta, "attend.classify", config));
    if (vocab) CHECK_OK(ctx, at_metadata_set(ctx, &meta, "attend.vocab", vocab));
    if (classes) CHECK_OK(ctx, at_metadata_set(ctx, &meta, "attend.classes", classes));
    CHECK_OK(ctx, at_checkpoint_save(ctx, path, at_classifier_params(m), &meta));
    at_metadata_clear(&meta);
}

static void expect_load_error(at_ctx *ctx, const char *path, at_status want, const char *words) {
    at_classifier *m = NULL;
    CHECK_STATUS(ctx, at_classifier_load(ctx, &m, path, NULL), want);
    CHECK(!m, "a failed load gives no model");
    CHECK(strstr(at_ctx_error(ctx), path) && strstr(at_ctx_error(ctx), words),
          "load error \"%s\" should name %s and say '%s'", at_ctx_error(ctx), path, words);
}

/* Field by field: the struct has padding (before the 64-bit seed), whose
 * bytes nothing promises, so a memcmp of two equal configurations can
 * differ (it did under clang's sanitizer build). */
static int same_config(const at_classify_config *a, const at_classify_config *b) {
    return a->kind == b->kind && a->word_form == b->word_form &&
           a->sentence_form == b->sentence_form && a->embed == b->embed &&
           a->hidden == b->hidden && a->attn == b->attn && a->max_sentences == b->max_sentences &&
           a->max_words == b->max_words && a->min_count == b->min_count &&
           a->max_vocab == b->max_vocab && a->dropout == b->dropout && a->seed == b->seed &&
           a->threshold == b->threshold;
}

static void test_round_trip(void) {
    char dir[] = "classify_trip_XXXXXX";
    test_enter_scratch_dir(dir);
    at_ctx *ctx = test_new_ctx();
    at_class_docs docs = {0};
    at_classifier *m = task_model(ctx, tiny_config(AT_CLASSIFY_HAN, AT_STATIC_FEATURE,
                                                   AT_STATIC_CONTEXT), &docs);
    if (!m) goto done;
    at_metadata extra = {0}, meta = {0};
    CHECK_OK(ctx, at_metadata_set(ctx, &extra, "note", "kept"));
    CHECK_OK(ctx, at_classifier_save(ctx, m, "m.safetensors", &extra));
    at_classifier *back = NULL;
    CHECK_OK(ctx, at_classifier_load(ctx, &back, "m.safetensors", &meta));
    CHECK(at_metadata_get(&meta, "note") && !strcmp(at_metadata_get(&meta, "note"), "kept"),
          "extra metadata comes back");
    if (back) {
        CHECK(same_config(at_classifier_get_config(back), at_classifier_get_config(m)),
              "the configuration comes back");
        for (size_t i = 0; i < docs.count; i++) {
            at_classification a, b;
            CHECK_OK(ctx, at_classifier_predict(ctx, m, docs.texts[i], &a));
            CHECK_OK(ctx, at_classifier_predict(ctx, back, docs.texts[i], &b));
            CHECK(a.probs && b.probs && !memcmp(a.probs, b.probs, 2 * sizeof(float)) &&
                  !memcmp(a.doc_weights, b.doc_weights, (size_t)a.tokens.words * sizeof(float)),
                  "doc %zu: loaded model's probabilities and weights differ", i);
            at_classification_clear(&a);
            at_classification_clear(&b);
        }
        at_classifier_free(back);
    }
    // corrupt or missing parts
    char *config = NULL, *vocab = NULL;
    CHECK_OK(ctx, cls_config_to_json(ctx, at_classifier_get_config(m), &config));
    CHECK_OK(ctx, at_vocab_to_string(ctx, at_classifier_vocab(m), &vocab));
    const char *classes = "[\"ham\",\"spam\"]";
    save_with_meta(ctx, m, "no_vocab.safetensors", config, NULL, classes);
    expect_load_error(ctx, "no_vocab.safetensors", AT_ERR_FORMAT, "attend.vocab");
    save_with_meta(ctx, m, "no_config.safetensors", NULL, vocab, classes);
    expect_load_error(ctx, "no_config.safetensors", AT_ERR_FORMAT, "not an attend classifier");
    save_with_meta(ctx, m, "bad_json.safetensors", "{\"kind\": \"han\"", vocab, classes);
    expect_load_error(ctx, "bad_json.safetensors", AT_ERR_FORMAT, "not a JSON object");
    char *wrong = malloc(strlen(config) + 64);
    strcpy(wrong, config);
    char *hidden = strstr(wrong, "\"hidden\":10");
    CHECK(hidden != NULL, "the configuration holds \"hidden\":10: %s", config);
    if (hidden) {
        memcpy(hidden, "\"hidden\":11", 11); // parameters no longer fit
        save_with_meta(ctx, m, "shape.safetensors", wrong, vocab, classes);
        expect_load_error(ctx, "shape.safetensors", AT_ERR_SHAPE, "word_gru");
        memcpy(hidden, "\"hidden\":-1", 11);
        save_with_meta(ctx, m, "range.safetensors", wrong, vocab, classes);
        expect_load_error(ctx, "range.safetensors", AT_ERR_FORMAT, "hidden");
    }
    strcpy(wrong, config);
    strcpy(wrong + strlen(wrong) - 1, ",\"extra\":1}");
    save_with_meta(ctx, m, "unknown.safetensors", wrong, vocab, classes);
    expect_load_error(ctx, "unknown.safetensors", AT_ERR_FORMAT, "unknown field 'extra'");
    save_with_meta(ctx, m, "classes.safetensors", config, vocab, "[\"ham\",\"ham\"]");
    expect_load_error(ctx, "classes.safetensors", AT_ERR_FORMAT, "twice");
    save_with_meta(ctx, m, "one_class.safetensors", config, vocab, "[\"ham\"]");
    expect_load_error(ctx, "one_class.safetensors", AT_ERR_FORMAT, "attend.classes");
    save_with_meta(ctx, m, "vocab.safetensors", config, "attend-vocab-tokens 1 9 zz", classes);
    expect_load_error(ctx, "vocab.safetensors", AT_ERR_FORMAT, "vocab");
    free(wrong);
    free(config);
    free(vocab);

    // an unknown label at evaluation names the label and the document
    at_class_docs other = {0};
    CHECK_OK(ctx, at_class_docs_add(ctx, &other, "ham", "free money", NULL, "first"));
    CHECK_OK(ctx, at_class_docs_add(ctx, &other, "phish", "click here", NULL, "mail-2"));
    at_classify_score score;
    CHECK_STATUS(ctx, at_classifier_evaluate(ctx, m, &other, 8, "spam", &score, NULL, NULL),
                 AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "phish") && strstr(at_ctx_error(ctx), "mail-2"),
          "unknown label message: %s", at_ctx_error(ctx));
    CHECK_STATUS(ctx, at_classifier_evaluate(ctx, m, &docs, 8, "eggs", &score, NULL, NULL),
                 AT_ERR_ARGUMENT);
    at_class_docs_clear(&other);
    at_metadata_clear(&extra);
    at_metadata_clear(&meta);
    at_classifier_free(m);
done:
    at_class_docs_clear(&docs);
    at_ctx_free(ctx);
    test_leave_scratch_dir(dir);
}

/* ---------------------------------------------------------- gradients */

typedef struct loss_run {
    const at_classifier *model;
    const at_class_docs *docs;
    const size_t *indices;
    int n;
} loss_run;

static at_status build_loss(at_ctx *ctx, at_tensor *const *inputs, void *user, at_tensor **y) {
    (void)inputs;
    const loss_run *run = user;
    at_ctx_set_training(ctx, 1); /* dropout on: gc_check reseeds it, one mask for every run */
    return at_classifier_loss(ctx, run->model, run->docs, run->indices, run->n, y);
}

static void gradients_case(at_classify_config c) {
    at_ctx *ctx = test_new_ctx();
    at_class_docs docs = {0};
    c.embed = 4, c.hidden = 3, c.attn = 4, c.dropout = 0.2f;
    at_classifier *m = task_model(ctx, c, &docs);
    if (m) {
        const size_t indices[3] = {0, 5, 7};
        loss_run run = {m, &docs, indices, 3};
        gc_options opts = {.step = 1e-2, .atol = 5e-5, .rtol = 2e-2, .seed = 9};
        char name[96];
        snprintf(name, sizeof name, "%s loss gradient", config_name(&c));
        gc_check(name, 0, NULL, at_classifier_params(m), build_loss, &run, &opts);
        at_classifier_free(m);
    }
    at_class_docs_clear(&docs);
    at_ctx_free(ctx);
}

static void test_gradients(void) {
    gradients_case(tiny_config(AT_CLASSIFY_HAN, AT_STATIC_CONTEXT, AT_STATIC_FEATURE));
    gradients_case(tiny_config(AT_CLASSIFY_HAN, AT_STATIC_FEATURE, AT_STATIC_CONTEXT));
    gradients_case(tiny_config(AT_CLASSIFY_FLAT, AT_STATIC_CONTEXT, AT_STATIC_CONTEXT));
    gradients_case(tiny_config(AT_CLASSIFY_FLAT, AT_STATIC_FEATURE, AT_STATIC_CONTEXT));
}

/* -------------------------------------------------------- determinism */

static void one_run(const char *out_dir) {
    at_ctx *ctx = test_new_ctx_with(7, 1);
    at_class_docs tr = {0}, va = {0};
    make_docs(ctx, &tr, 120, 31, NULL);
    make_docs(ctx, &va, 30, 32, NULL);
    at_classifier *m = NULL;
    at_classify_config c = tiny_config(AT_CLASSIFY_HAN, AT_STATIC_CONTEXT, AT_STATIC_CONTEXT);
    CHECK_OK(ctx, at_classifier_create(ctx, &m, &c, &tr));
    if (m) train(ctx, m, &tr, &va, out_dir, 20);
    at_classifier_free(m);
    at_class_docs_clear(&tr);
    at_class_docs_clear(&va);
    at_ctx_free(ctx);
}

static void test_determinism(void) {
    char dir[] = "classify_same_XXXXXX";
    test_enter_scratch_dir(dir);
    one_run("a");
    one_run("b");
    test_check_same_run("a", "b", "two runs with the same seeds");
    test_leave_scratch_dir(dir);
}

/* -------------------------------------------------------------- speed */

/* One training step at batch 32, documents of 30 sentences x 40 words,
 * the default configuration, a vocabulary of ~20,000 words. */
static void test_speed(void) {
    at_ctx *ctx = test_new_ctx_with(1, 1);
    at_class_docs docs = {0};
    at_rng rng;
    at_rng_seed(&rng, 1);
    char *text = malloc(30 * 40 * 12 + 1);
    for (int d = 0; d < 64; d++) {
        size_t n = 0;
        for (int s = 0; s < 30; s++) {
            for (int w = 0; w < 40; w++)
                n += (size_t)sprintf(text + n, "w%u%s", at_rng_below(&rng, 20000), w < 39 ? " " : ". ");
        }
        CHECK_OK(ctx, at_class_docs_add(ctx, &docs, d % 2 ? "spam" : "ham", text, NULL, NULL));
    }
    free(text);
    at_classify_config c;
    at_classify_config_default(&c, AT_CLASSIFY_HAN);
    c.min_count = 1;
    at_classifier *m = NULL;
    at_classify_task *task = NULL;
    at_optim *opt = NULL;
    CHECK_OK(ctx, at_classifier_create(ctx, &m, &c, &docs));
    if (m) CHECK_OK(ctx, at_classify_task_create(ctx, &task, m, &docs, &docs, "spam", 32));
    at_optim_config oc = {.kind = AT_ADAM, .lr = 1e-3f};
    if (task) CHECK_OK(ctx, at_optim_create(ctx, &opt, at_classifier_params(m), &oc));
    if (opt) {
        const at_trainable *t = at_classify_task_trainable(task);
        size_t idx[32];
        for (int i = 0; i < 32; i++) idx[i] = (size_t)i;
        at_ctx_set_training(ctx, 1);
        double start = 0;
        for (int step = 0; step < 6; step++) {
            if (step == 1) start = test_seconds(); // the first step grows the arena
            at_ctx_reset(ctx);
            at_params_zero_grad(at_classifier_params(m));
            at_tensor *loss;
            CHECK_OK(ctx, t->loss(ctx, t->self, idx, 32, &loss));
            CHECK_OK(ctx, at_backward(ctx, loss));
            CHECK_OK(ctx, at_optim_step(ctx, opt));
        }
        printf("  one training step, batch 32 x 30 sentences x 40 words, V = %d, 1 thread: "
               "%.1f ms\n", at_vocab_size(at_classifier_vocab(m)),
               (test_seconds() - start) / 5 * 1e3);
    }
    at_optim_free(opt);
    at_classify_task_free(task);
    at_classifier_free(m);
    at_class_docs_clear(&docs);
    at_ctx_free(ctx);
}

/* ---------------------------------------------------------------- run */

/* ------------------------------------------------------------- vectors */

static void expect_vectors_error(at_ctx *ctx, at_classifier *m, const char *path,
                                 const char *text, at_status want, const char *words) {
    test_write_file(path, text, strlen(text));
    at_tensor *w = at_params_find(at_classifier_params(m), "embed.weight");
    size_t n = w->size;
    float *before = malloc(n * sizeof *before);
    memcpy(before, w->data, n * sizeof *before);
    size_t found = 12345;
    CHECK_STATUS(ctx, at_classifier_load_vectors(ctx, m, path, &found), want);
    CHECK(strstr(at_ctx_error(ctx), path) && strstr(at_ctx_error(ctx), words),
          "vectors error \"%s\" should name %s and say '%s'", at_ctx_error(ctx), path, words);
    CHECK(found == 12345, "a failed load set *found to %zu", found);
    check_close("the embedding after a failed load", w->data, before, n, 0, 0);
    free(before);
}

/* A word2vec text file: rows of the words the model knows are replaced
 * exactly, the others stay; every kind of bad file is refused, naming the
 * line, with the embedding unchanged. */
static void test_vectors(void) {
    char dir[] = "classify_vectors_XXXXXX";
    test_enter_scratch_dir(dir);
    at_ctx *ctx = test_new_ctx();
    at_class_docs docs = {0};
    CHECK_OK(ctx, at_class_docs_add(ctx, &docs, "b", "alpha beta gamma", NULL, NULL));
    CHECK_OK(ctx, at_class_docs_add(ctx, &docs, "a", "gamma delta", NULL, NULL));
    at_classify_config c = tiny_config(AT_CLASSIFY_HAN, AT_STATIC_CONTEXT, AT_STATIC_CONTEXT);
    c.embed = 3;
    at_classifier *m = NULL;
    CHECK_OK(ctx, at_classifier_create(ctx, &m, &c, &docs));
    if (!m) goto done;
    at_tensor *w = at_params_find(at_classifier_params(m), "embed.weight");
    const at_vocab *v = at_classifier_vocab(m);
    int32_t beta = at_vocab_token_id(v, "beta"), delta = at_vocab_token_id(v, "delta");
    int32_t alpha = at_vocab_token_id(v, "alpha");
    float alpha_row[3];
    memcpy(alpha_row, w->data + (size_t)alpha * 3, sizeof alpha_row);
    const char *good = "4 3\nbeta 0.5 -1 2e-3 \nunseen 9 9 9\n</s> 1 2 3\ndelta 1.5 0 -0.25\n";
    test_write_file("good.vec", good, strlen(good));
    size_t found = 0;
    CHECK_OK(ctx, at_classifier_load_vectors(ctx, m, "good.vec", &found));
    CHECK(found == 2, "found %zu vocabulary words, want 2 (beta, delta)", found);
    check_close("beta's row", w->data + (size_t)beta * 3, (const float[]){0.5f, -1.0f, 2e-3f}, 3,
                0, 0);
    check_close("delta's row", w->data + (size_t)delta * 3, (const float[]){1.5f, 0.0f, -0.25f},
                3, 0, 0);
    check_close("alpha's row (not in the file)", w->data + (size_t)alpha * 3, alpha_row, 3, 0, 0);
    static const struct {
        const char *path, *text;
        at_status status;
        const char *words;
    } bad[] = {
        {"dim.vec", "1 4\nbeta 1 2 3 4\n", AT_ERR_SHAPE,
         "vectors of 4 values, but the model's embedding has 3"},
        {"header.vec", "beta 1 2 3\n", AT_ERR_FORMAT, "header.vec:1: expected a header"},
        {"empty.vec", "\n", AT_ERR_FORMAT, "empty.vec:1: the file is empty"},
        {"short.vec", "1 3\nbeta 1 2\n", AT_ERR_FORMAT, "short.vec:2: value 3 of 'beta' is missing"},
        {"long.vec", "1 3\nbeta 1 2 3 4\n", AT_ERR_FORMAT,
         "long.vec:2: 'beta' has more than 3 values"},
        {"nan.vec", "2 3\ndelta 1 1 1\nbeta 1 nan 3\n", AT_ERR_FORMAT,
         "nan.vec:3: value 2 of 'beta' is not a finite float"},
        {"huge.vec", "1 3\nbeta 1 1e39 3\n", AT_ERR_FORMAT,
         "huge.vec:2: value 2 of 'beta' is not a finite float"},
        {"junk.vec", "1 3\nbeta 1 2x 3\n", AT_ERR_FORMAT,
         "junk.vec:2: value 2 of 'beta' is missing or not a number"},
        {"twice.vec", "2 3\nbeta 1 2 3\nbeta 1 2 3\n", AT_ERR_FORMAT,
         "twice.vec:3: 'beta' is given twice"},
        {"cut.vec", "3 3\nbeta 1 2 3\n", AT_ERR_FORMAT,
         "cut.vec:3: 1 vectors where the header promised 3"},
        {"more.vec", "1 3\nbeta 1 2 3\ndelta 1 2 3\n", AT_ERR_FORMAT,
         "more.vec:3: more vectors than the header's 1"},
        {"utf8.vec", "1 3\nbe\xffta 1 2 3\n", AT_ERR_FORMAT, "utf8.vec:2: the word: invalid UTF-8"},
        {"lone.vec", "1 3\nbeta\n", AT_ERR_FORMAT, "lone.vec:2: expected a word and its values"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_vectors_error(ctx, m, bad[i].path, bad[i].text, bad[i].status, bad[i].words);
    CHECK_STATUS(ctx, at_classifier_load_vectors(ctx, m, "missing.vec", NULL), AT_ERR_IO);
    CHECK(strstr(at_ctx_error(ctx), "missing.vec"), "a missing file: \"%s\"", at_ctx_error(ctx));
done:
    at_classifier_free(m);
    at_class_docs_clear(&docs);
    at_ctx_free(ctx);
    test_leave_scratch_dir(dir);
}

/* ----------------------------------------------------------- threshold */

/* The best accuracy any cut of p1 gives, by trying every midpoint. */
static double brute_best(const float *probs, const int *labels, size_t n) {
    double best = 0;
    for (size_t a = 0; a <= n; a++) {
        double t = a == n ? 1.0 : probs[2 * a + 1];
        for (int side = -1; side <= 1; side += 2) {
            double cut = t + side * 1e-7;
            size_t right = 0;
            for (size_t i = 0; i < n; i++) right += (probs[2 * i + 1] > cut) == labels[i];
            best = fmax(best, (double)right / (double)n);
        }
    }
    return best;
}

static void test_threshold(void) {
    char dir[] = "classify_threshold_XXXXXX";
    test_enter_scratch_dir(dir);
    at_ctx *ctx = test_new_ctx_with(1, 1);
    at_class_docs tr = {0}, va = {0};
    make_docs(ctx, &tr, 300, 21, NULL);
    make_docs(ctx, &va, 120, 22, NULL);
    at_classify_config c = tiny_config(AT_CLASSIFY_HAN, AT_STATIC_CONTEXT, AT_STATIC_CONTEXT);
    at_classifier *m = NULL, *back = NULL;
    CHECK_OK(ctx, at_classifier_create(ctx, &m, &c, &tr));
    if (!m) goto done;
    train(ctx, m, &tr, &va, "threshold_out", 12); /* half-trained: p1 spreads out */
    float probs[240];
    int labels[120], predicted[120];
    at_classify_score score;
    CHECK_OK(ctx, at_classifier_evaluate(ctx, m, &va, 32, "spam", &score, NULL, probs));
    for (size_t i = 0; i < va.count; i++)
        labels[i] = at_classifier_class_index(m, va.labels[i]) == 1;
    double before = -1, after = -1, best = brute_best(probs, labels, va.count);
    CHECK_OK(ctx, at_classifier_choose_threshold(ctx, m, &va, 32, &before, &after));
    float t = at_classifier_get_config(m)->threshold;
    printf("  threshold %.4f: accuracy %.4f -> %.4f (the best cut gives %.4f); class 1 is %s\n",
           (double)t, before, after, best, at_classifier_class_name(m, 1));
    CHECK(before == score.accuracy, "before %.4f, evaluate said %.4f", before, score.accuracy);
    CHECK(fabs(after - best) < 1e-12, "chosen accuracy %.4f, the best cut gives %.4f", after, best);
    CHECK(after > before, "the half-trained model gains nothing: %.4f -> %.4f", before, after);
    CHECK(t > 0.0f && t < 1.0f, "threshold %g", (double)t);
    /* every decision is p1 > t now: evaluate and predict agree with it */
    CHECK_OK(ctx, at_classifier_evaluate(ctx, m, &va, 32, "spam", &score, predicted, probs));
    CHECK(fabs(score.accuracy - after) < 1e-12, "evaluate %.4f, chosen %.4f", score.accuracy, after);
    int disagree = 0;
    for (size_t i = 0; i < va.count; i++) {
        disagree += predicted[i] != (probs[2 * i + 1] > t);
        if (i < 10) {
            at_classification p;
            CHECK_OK(ctx, at_classifier_predict(ctx, m, va.texts[i], &p));
            CHECK(p.label == predicted[i], "predict says %d, evaluate %d (doc %zu)", p.label,
                  predicted[i], i);
            at_classification_clear(&p);
        }
    }
    CHECK(disagree == 0, "%d decisions are not p1 > t", disagree);
    /* it is saved and read back; saved again with the metadata the load gave
     * (the model's own keys afresh, the others kept), as classify train does */
    at_metadata meta = {0}, again = {0};
    CHECK_OK(ctx, at_metadata_set(ctx, &meta, "train.step", "12"));
    CHECK_OK(ctx, at_classifier_save(ctx, m, "with_threshold.safetensors", &meta));
    at_metadata_clear(&meta);
    CHECK_OK(ctx, at_classifier_load(ctx, &back, "with_threshold.safetensors", &meta));
    CHECK(back && at_classifier_get_config(back)->threshold == t, "threshold after a load: %g",
          back ? (double)at_classifier_get_config(back)->threshold : -1.0);
    at_classifier_free(back);
    back = NULL;
    CHECK_OK(ctx, at_metadata_set(ctx, &meta, "attend.classify", "a stale configuration"));
    CHECK_OK(ctx, at_classifier_save(ctx, m, "again.safetensors", &meta));
    CHECK_OK(ctx, at_classifier_load(ctx, &back, "again.safetensors", &again));
    const char *step = at_metadata_get(&again, "train.step");
    CHECK(back && at_classifier_get_config(back)->threshold == t && step && !strcmp(step, "12"),
          "saved with a loaded file's metadata: threshold %g, train.step %s",
          back ? (double)at_classifier_get_config(back)->threshold : -1.0, step ? step : "none");
    at_metadata_clear(&meta);
    at_metadata_clear(&again);
    /* refusals: three classes, a threshold outside [0, 1) */
    at_class_docs three = {0};
    at_classifier *m3 = NULL;
    CHECK_OK(ctx, at_class_docs_add(ctx, &three, "a", "one two", NULL, NULL));
    CHECK_OK(ctx, at_class_docs_add(ctx, &three, "b", "two three", NULL, NULL));
    CHECK_OK(ctx, at_class_docs_add(ctx, &three, "c", "three four", NULL, NULL));
    CHECK_OK(ctx, at_classifier_create(ctx, &m3, &c, &three));
    if (m3) {
        at_status s = at_classifier_choose_threshold(ctx, m3, &three, 8, NULL, NULL);
        CHECK(s == AT_ERR_ARGUMENT && strstr(at_ctx_error(ctx), "two classes"),
              "three classes: %d '%s'", (int)s, at_ctx_error(ctx));
    }
    at_classifier *bad = NULL;
    at_classify_config c3 = c;
    c3.threshold = 0.7f;
    at_status s = at_classifier_create(ctx, &bad, &c3, &three);
    CHECK(s == AT_ERR_ARGUMENT && strstr(at_ctx_error(ctx), "needs two classes"),
          "a threshold with three classes: %d '%s'", (int)s, at_ctx_error(ctx));
    c3.threshold = 1.0f;
    s = at_classifier_create(ctx, &bad, &c3, &tr);
    CHECK(s == AT_ERR_ARGUMENT && strstr(at_ctx_error(ctx), "outside [0, 1)"),
          "threshold 1: %d '%s'", (int)s, at_ctx_error(ctx));
    at_classifier_free(bad);
    at_classifier_free(m3);
    at_class_docs_clear(&three);
done:
    at_classifier_free(back);
    at_classifier_free(m);
    at_class_docs_clear(&tr);
    at_class_docs_clear(&va);
    at_ctx_free(ctx);
    test_leave_scratch_dir(dir);
}

int main(int argc, char **argv) {
    static const test_case cases[] = {
        {"create", test_create, 0},         {"weights", test_weights, 0},
        {"padding", test_padding, 0},       {"round-trip", test_round_trip, 0},
        {"gradients", test_gradients, 0},   {"determinism", test_determinism, 0},
        {"learn", test_learn, 0},           {"vectors", test_vectors, 0},
        {"threshold", test_threshold, 0},
        {"speed", test_speed, 1},
    };
    return test_run_cases(argc, argv, cases, sizeof cases / sizeof cases[0], "classify_model");
}
