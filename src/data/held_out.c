/*
 * held_out.c - dates a model has never seen, for an honest evaluation.
 *
 * A model trained on generated dates saw the training and validation pairs
 * that at_dates_generate made from its seed and sizes (the checkpoint's
 * metadata names them). To measure it on new dates, those pairs are made
 * again, every source string is case-folded (the same key under which the
 * generator keeps its splits apart) and remembered by a 64-bit hash; then
 * dates are drawn from another seed and a draw is kept only if its folded
 * source is new - neither seen in training nor drawn before.
 */
#include "data.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <unicode/ustring.h>

typedef struct fold_set {
    uint64_t *slots; /* 0 = empty */
    size_t mask;
} fold_set;

/* FNV-1a over the case-folded UTF-8 of text. */
static at_status folded_hash(at_ctx *ctx, const char *text, uint64_t *out) {
    UChar wide[AT_DATE_MAX_BYTES];
    UErrorCode err = U_ZERO_ERROR;
    int32_t n = 0;
    u_strFromUTF8(wide, AT_DATE_MAX_BYTES, &n, text, -1, &err);
    if (U_FAILURE(err))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "held-out dates: '%s' is not valid UTF-8", text);
    char *folded;
    size_t len;
    AT_TRY(fold_to_utf8(ctx, wide, n, &folded, &len));
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)folded[i]) * 1099511628211ULL;
    free(folded);
    *out = h ? h : 1;
    return AT_OK;
}

static at_status fold_set_init(at_ctx *ctx, fold_set *set, size_t expected) {
    size_t cap = 1024;
    while (cap < 2 * expected)
        cap *= 2;
    set->slots = calloc(cap, sizeof *set->slots);
    set->mask = cap - 1;
    return set->slots ? AT_OK : at_ctx_fail(ctx, AT_ERR_MEMORY, "held-out dates: out of memory");
}

/* Insert; 1 if it was new, 0 if it was there. */
static int fold_set_add(fold_set *set, uint64_t h) {
    for (size_t i = h & set->mask;; i = (i + 1) & set->mask) {
        if (set->slots[i] == h) return 0;
        if (!set->slots[i]) return set->slots[i] = h, 1;
    }
}

/* Remember the sources of the training and validation pairs. */
static at_status add_training(at_ctx *ctx, at_dates *dates, uint64_t train_seed,
                              const long train_sizes[2], fold_set *set) {
    if (train_sizes[0] <= 0 && train_sizes[1] <= 0) return AT_OK;
    at_pairs splits[3] = {{0}, {0}, {0}};
    long sizes[3] = {train_sizes[0], train_sizes[1], 0};
    at_status s = at_dates_generate(ctx, dates, train_seed, sizes, splits);
    for (int k = 0; k < 2 && s == AT_OK; k++)
        for (size_t i = 0; i < splits[k].count && s == AT_OK; i++) {
            uint64_t h;
            s = folded_hash(ctx, splits[k].source[i], &h);
            if (s == AT_OK) fold_set_add(set, h);
        }
    for (int k = 0; k < 3; k++)
        at_pairs_clear(&splits[k]);
    return s;
}

static at_status draw(at_ctx *ctx, at_dates *dates, const at_dates_held_out_options *o,
                      fold_set *set, at_pairs *out, const char **locales) {
    at_rng rng;
    at_rng_seed(&rng, o->seed);
    size_t prefix = o->only_prefix ? strlen(o->only_prefix) : 0;
    long tries = 0;
    while ((long)out->count < o->count) {
        if (++tries > 1000 * o->count + 100000)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "cannot draw %ld held-out dates%s%s",
                               o->count, prefix ? " for locales " : "",
                               prefix ? o->only_prefix : "");
        at_date_sample sample;
        AT_TRY(at_dates_sample(ctx, dates, &rng, &sample));
        const char *locale = at_dates_format(dates, sample.format)->locale;
        if (prefix && strncmp(locale, o->only_prefix, prefix)) continue;
        uint64_t h;
        AT_TRY(folded_hash(ctx, sample.source, &h));
        if (!fold_set_add(set, h)) continue;
        if (locales) locales[out->count] = locale;
        AT_TRY(at_pairs_add(ctx, out, sample.source, sample.target));
    }
    return AT_OK;
}

at_status at_dates_held_out(at_ctx *ctx, at_dates *dates, const at_dates_held_out_options *o,
                            at_pairs *out, const char **locales) {
    if (!dates || !o || !out || out->count || o->count < 1 || o->train_sizes[0] < 0 ||
        o->train_sizes[1] < 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "held-out dates: NULL argument, a non-empty list, count < 1 or a "
                           "negative size");
    fold_set set = {0};
    size_t expected = (size_t)o->train_sizes[0] + (size_t)o->train_sizes[1] + 2 * (size_t)o->count;
    at_status s = fold_set_init(ctx, &set, expected);
    if (s == AT_OK) s = add_training(ctx, dates, o->train_seed, o->train_sizes, &set);
    if (s == AT_OK) s = draw(ctx, dates, o, &set, out, locales);
    free(set.slots);
    if (s != AT_OK) at_pairs_clear(out);
    return s;
}
