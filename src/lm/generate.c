/*
 * generate.c - what a trained language model does for a reader: write
 * text, and show where it looks.
 *
 * Sampling draws one character at a time from
 *     p(x_{t+1} | x_{t-T+1} .. x_t) = softmax(logits_t / τ) over the k most
 *     likely characters (top-k; the others get 0)
 * with its own generator seeded from the options, so a seed always gives
 * the same text. The window slides: the model reads the last T = context
 * characters, the prompt's and its own. τ = 0 is greedy (the argmax).
 *
 * The attention of a passage is the forward pass's weights for one row;
 * the attention span (Daniluk et al.'s figure 3) is the mean weight a
 * model puts on the output d steps back, d = 1 .. L, over the rows that
 * see a whole window.
 */
#include "lm.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CHAR_ID 4 /* after PAD, UNK, START, END: never drawn */

void at_lm_sample_options_default(at_lm_sample_options *o) {
    *o = (at_lm_sample_options){.length = 200, .temperature = 1.0f, .top_k = 0, .seed = 1};
}

/* The ids of a prompt, every character known; else AT_ERR_ARGUMENT naming
 * the first unseen one. */
static at_status prompt_ids(at_ctx *ctx, const at_lm *m, const char *prompt, int32_t *ids,
                            size_t *n) {
    size_t len = strlen(prompt), pos = 0, count = 0;
    AT_TRY(at_utf8_check(ctx, prompt, len, "the prompt"));
    if (len == 0) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "the prompt is empty");
    while (pos < len) {
        size_t at = pos;
        int32_t cp = at_utf8_next(prompt, len, &pos);
        int32_t id = at_vocab_id(m->vocab, (uint32_t)cp);
        if (id == AT_TOKEN_UNK)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "the prompt's character %zu ('%.*s', U+%04X) never occurs in the "
                               "model's training text",
                               count + 1, (int)(pos - at), prompt + at, (unsigned)cp);
        ids[count++] = id;
    }
    *n = count;
    return AT_OK;
}

static int descending(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* One draw from the last row of logits (V); p is scratch for V values. */
static int32_t draw(const float *logits, int V, const at_lm_sample_options *o, at_rng *rng,
                    double *p) {
    int32_t best = FIRST_CHAR_ID;
    for (int32_t v = FIRST_CHAR_ID; v < V; v++)
        if (logits[v] > logits[best]) best = v;
    if (o->temperature == 0.0f) return best;
    float floor_logit = -FLT_MAX; /* top-k: the k-th largest logit */
    int candidates = V - FIRST_CHAR_ID;
    if (o->top_k > 0 && o->top_k < candidates) {
        for (int i = 0; i < candidates; i++) p[i] = logits[FIRST_CHAR_ID + i];
        qsort(p, (size_t)candidates, sizeof *p, descending);
        floor_logit = (float)p[o->top_k - 1];
    }
    double total = 0;
    for (int32_t v = 0; v < V; v++) {
        int keep = v >= FIRST_CHAR_ID && logits[v] >= floor_logit;
        p[v] = keep ? exp(((double)logits[v] - logits[best]) / o->temperature) : 0.0;
        total += p[v];
    }
    double u = at_rng_uniform(rng) * total, acc = 0;
    for (int32_t v = FIRST_CHAR_ID; v < V; v++) {
        acc += p[v];
        if (p[v] > 0 && u < acc) return v;
    }
    return best; /* u landed on the rounding edge */
}

static at_status check_sample_options(at_ctx *ctx, const at_lm *m, const at_lm_sample_options *o) {
    if (o->length < 0 || o->length > 1000000)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "generate: length %d is outside [0, 1000000]",
                           o->length);
    if (!(o->temperature >= 0.0f) || !isfinite(o->temperature))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "generate: temperature %g must be >= 0",
                           (double)o->temperature);
    if (o->top_k < 0 || o->top_k > m->V)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "generate: top-k %d is outside [0, %d]",
                           o->top_k, m->V);
    return AT_OK;
}

static at_status sample(at_ctx *ctx, const at_lm *m, const at_lm_sample_options *o, int32_t *ids,
                        size_t n, double *p) {
    at_rng rng;
    at_rng_seed(&rng, o->seed);
    int T = m->config.context;
    for (int k = 0; k < o->length; k++, n++) {
        int len = n < (size_t)T ? (int)n : T;
        const float *row;
        at_ctx_reset(ctx);
        AT_TRY(lm_next_logits(ctx, m, ids + n - (size_t)len, len, &row));
        ids[n] = draw(row, m->V, o, &rng, p);
    }
    at_ctx_reset(ctx);
    return AT_OK;
}

at_status at_lm_generate(at_ctx *ctx, const at_lm *m, const char *prompt,
                         const at_lm_sample_options *options, char **out) {
    if (!m || !prompt || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_generate: NULL argument");
    *out = NULL;
    at_lm_sample_options o;
    if (options) o = *options;
    else at_lm_sample_options_default(&o);
    AT_TRY(check_sample_options(ctx, m, &o));
    size_t cap = strlen(prompt) + (size_t)o.length + 1;
    int32_t *ids = malloc(cap * sizeof *ids);
    double *p = malloc((size_t)m->V * sizeof *p);
    at_status s = ids && p ? AT_OK : at_ctx_fail(ctx, AT_ERR_MEMORY, "generate: out of memory");
    size_t n = 0;
    if (s == AT_OK) s = prompt_ids(ctx, m, prompt, ids, &n);
    int grad = at_ctx_set_grad(ctx, 0), training = at_ctx_set_training(ctx, 0);
    if (s == AT_OK) s = sample(ctx, m, &o, ids, n, p);
    at_ctx_set_grad(ctx, grad);
    at_ctx_set_training(ctx, training);
    size_t size = at_vocab_decode_size(m->vocab, (int)(n + (size_t)o.length));
    char *text = s == AT_OK ? malloc(size) : NULL;
    if (s == AT_OK && !text) s = at_ctx_fail(ctx, AT_ERR_MEMORY, "generate: out of memory");
    if (s == AT_OK) s = at_vocab_decode(ctx, m->vocab, ids, (int)(n + (size_t)o.length), text, size);
    free(ids);
    free(p);
    if (s != AT_OK) {
        free(text);
        return s;
    }
    *out = text;
    return AT_OK;
}

/* ---------------------------------------------------- the next character
 * p(x_{T+1} | the prompt's last T characters) = softmax over the drawable
 * characters (ids >= FIRST_CHAR_ID) of the last row of logits: what
 * at_lm_generate draws from at temperature 1 with no top-k, so its argmax
 * is the greedy next character. Max-subtracted, summed in double. */
at_status at_lm_next(at_ctx *ctx, const at_lm *m, const char *prompt, float *probs) {
    if (!m || !prompt || !probs) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_next: NULL argument");
    size_t len = strlen(prompt), n = 0;
    int32_t *ids = malloc((len ? len : 1) * sizeof *ids);
    if (!ids) return at_ctx_fail(ctx, AT_ERR_MEMORY, "lm_next: out of memory");
    at_status s = prompt_ids(ctx, m, prompt, ids, &n);
    int T = m->config.context, V = m->V;
    int read = s == AT_OK && n < (size_t)T ? (int)n : T; /* the last T characters */
    int grad = at_ctx_set_grad(ctx, 0), training = at_ctx_set_training(ctx, 0);
    const float *row = NULL;
    if (s == AT_OK) s = lm_next_logits(ctx, m, ids + n - (size_t)read, read, &row);
    if (s == AT_OK) {
        float top = row[FIRST_CHAR_ID];
        for (int v = FIRST_CHAR_ID; v < V; v++) top = row[v] > top ? row[v] : top;
        double total = 0;
        for (int v = FIRST_CHAR_ID; v < V; v++) total += exp((double)row[v] - top);
        for (int v = 0; v < V; v++)
            probs[v] = v < FIRST_CHAR_ID ? 0.0f : (float)(exp((double)row[v] - top) / total);
    }
    at_ctx_set_grad(ctx, grad);
    at_ctx_set_training(ctx, training);
    at_ctx_reset(ctx);
    free(ids);
    return s;
}

/* ------------------------------------------------------------ attention */

at_status at_lm_attention_of(at_ctx *ctx, const at_lm *m, const char *passage,
                             at_lm_attention *out) {
    if (!m || !passage || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_attention_of: NULL argument");
    memset(out, 0, sizeof *out);
    if (at_lm_attention_size(m, 1, 1) == 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "the %s model has no attention to show",
                           at_lm_kind_name(m->config.kind));
    size_t len = strlen(passage);
    int32_t *ids = malloc((len ? len : 1) * sizeof *ids);
    if (!ids) return at_ctx_fail(ctx, AT_ERR_MEMORY, "attention: out of memory");
    size_t n = 0;
    at_status s = prompt_ids(ctx, m, passage, ids, &n);
    if (s == AT_OK && n > (size_t)m->config.context)
        s = at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                        "the passage has %zu characters; the model reads at most %d (its context)",
                        n, m->config.context);
    int T = (int)n;
    float *weights = s == AT_OK ? malloc(at_lm_attention_size(m, 1, T) * sizeof *weights) : NULL;
    if (s == AT_OK && !weights) s = at_ctx_fail(ctx, AT_ERR_MEMORY, "attention: out of memory");
    char **labels = NULL;
    int count = 0;
    if (s == AT_OK) s = at_vocab_split(ctx, m->vocab, passage, &labels, &count);
    int grad = at_ctx_set_grad(ctx, 0), training = at_ctx_set_training(ctx, 0);
    at_tensor *logits;
    if (s == AT_OK) s = at_lm_logits(ctx, m, ids, 1, T, &logits, weights);
    at_ctx_set_grad(ctx, grad);
    at_ctx_set_training(ctx, training);
    at_ctx_reset(ctx);
    free(ids);
    if (s != AT_OK) {
        free(weights);
        free(labels);
        return s;
    }
    out->layers = m->config.kind == AT_LM_TRANSFORMER ? m->config.layers : 1;
    out->heads = m->config.heads;
    out->length = T;
    out->weights = weights;
    out->labels = labels;
    return AT_OK;
}

void at_lm_attention_clear(at_lm_attention *a) {
    if (!a) return;
    free(a->weights);
    free(a->labels);
    memset(a, 0, sizeof *a);
}

at_status at_lm_attention_span(at_ctx *ctx, const at_lm *m, const int32_t *ids, size_t n,
                               size_t max_chars, double *mass) {
    if (!m || !ids || !mass) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_attention_span: NULL argument");
    at_lm_kind k = m->config.kind;
    if (k != AT_LM_ATTENTION && k != AT_LM_KV && k != AT_LM_KVP)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "attention span: only the attention, kv and kvp models attend over "
                           "their last L outputs (this is %s)",
                           at_lm_kind_name(k));
    int T = m->config.context, L = m->config.memory;
    if (max_chars > 0 && max_chars < n) n = max_chars;
    if (T <= L || n < (size_t)T)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "attention span: needs a context (%d) longer than the memory (%d) and "
                           "a text of at least %d characters (%zu)",
                           T, L, T, n);
    float *w = malloc((size_t)T * T * sizeof *w);
    if (!w) return at_ctx_fail(ctx, AT_ERR_MEMORY, "attention span: out of memory");
    for (int d = 0; d < L; d++) mass[d] = 0;
    long rows = 0;
    int grad = at_ctx_set_grad(ctx, 0), training = at_ctx_set_training(ctx, 0);
    at_status s = AT_OK;
    for (size_t start = 0; start + (size_t)T <= n && s == AT_OK; start += (size_t)T) {
        at_tensor *logits;
        at_ctx_reset(ctx);
        s = at_lm_logits(ctx, m, ids + start, 1, T, &logits, w);
        for (int t = L; t < T && s == AT_OK; t++, rows++)
            for (int d = 1; d <= L; d++) mass[d - 1] += w[(size_t)t * T + (size_t)(t - d)];
    }
    at_ctx_set_grad(ctx, grad);
    at_ctx_set_training(ctx, training);
    at_ctx_reset(ctx);
    free(w);
    if (s != AT_OK) return s;
    for (int d = 0; d < L; d++) mass[d] /= (double)rows;
    return AT_OK;
}
