/*
 * pairs.c - a growable list of (source, target) text pairs.
 *
 * The one shape every data set takes on its way to the trainer: generated
 * dates and a user's TSV file both end up here. The list owns copies of its
 * strings and only accepts text that can be written back as TSV unchanged:
 * valid, non-empty UTF-8 without tabs or line breaks, and no source that
 * starts with U+FEFF (a reader drops it at the start of a file).
 */
#include "text.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static at_status check_field(at_ctx *ctx, const char *text, const char *what) {
    if (!text) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "pairs: %s is NULL", what);
    if (!text[0]) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "pairs: %s is empty", what);
    const char *bad = strpbrk(text, "\t\r\n");
    if (bad)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "pairs: %s holds a %s at byte %zu", what,
                           *bad == '\t' ? "tab" : "line break", (size_t)(bad - text));
    /* A TSV reader takes U+FEFF at the start of a file for a byte order
     * mark and drops it: a source starting with it would not survive being
     * written first in a file and read back. */
    if (!strcmp(what, "source") && !strncmp(text, "\xEF\xBB\xBF", 3))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "pairs: the source starts with U+FEFF (an invisible byte order mark)");
    return at_utf8_check(ctx, text, strlen(text), what);
}

static at_status grow(at_ctx *ctx, at_pairs *pairs) {
    if (pairs->count < pairs->capacity) return AT_OK;
    size_t capacity = pairs->capacity ? 2 * pairs->capacity : 256;
    char **source = realloc(pairs->source, capacity * sizeof *source);
    if (!source) return at_ctx_fail(ctx, AT_ERR_MEMORY, "pairs: out of memory");
    pairs->source = source;
    char **target = realloc(pairs->target, capacity * sizeof *target);
    if (!target) return at_ctx_fail(ctx, AT_ERR_MEMORY, "pairs: out of memory");
    pairs->target = target;
    pairs->capacity = capacity;
    return AT_OK;
}

at_status at_pairs_add(at_ctx *ctx, at_pairs *pairs, const char *source, const char *target) {
    if (!pairs) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "pairs: the list is NULL");
    AT_TRY(check_field(ctx, source, "source"));
    AT_TRY(check_field(ctx, target, "target"));
    AT_TRY(grow(ctx, pairs));
    char *s = ati_strdup(source), *t = ati_strdup(target);
    if (!s || !t) {
        free(s);
        free(t);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "pairs: out of memory");
    }
    pairs->source[pairs->count] = s;
    pairs->target[pairs->count] = t;
    pairs->count++;
    return AT_OK;
}

void at_pairs_clear(at_pairs *pairs) {
    if (!pairs) return;
    for (size_t i = 0; i < pairs->count; i++) {
        free(pairs->source[i]);
        free(pairs->target[i]);
    }
    free(pairs->source);
    free(pairs->target);
    memset(pairs, 0, sizeof *pairs);
}

/* FNV-1a, 64 bits, over every source and target with separators. */
uint64_t at_pairs_fingerprint(const at_pairs *pairs) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; pairs && i < pairs->count; i++)
        for (int side = 0; side < 2; side++) {
            const unsigned char *p =
                (const unsigned char *)(side ? pairs->target[i] : pairs->source[i]);
            for (; *p; p++)
                h = (h ^ *p) * 1099511628211ULL;
            h = (h ^ (unsigned char)(side ? '\n' : '\t')) * 1099511628211ULL;
        }
    return h;
}

at_status at_pairs_hold_out(at_ctx *ctx, at_pairs *train, at_pairs *valid, int percent) {
    if (!train || !valid || percent < 1 || percent > 50)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "pairs_hold_out: NULL list or percent not 1..50");
    if (train->count < 2)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "pairs_hold_out: %zu pair%s: need at least 2 to hold one out",
                           train->count, train->count == 1 ? "" : "s");
    size_t moved = train->count * (size_t)percent / 100;
    if (moved == 0) moved = 1;
    size_t keep = train->count - moved;
    for (size_t i = keep; i < train->count; i++)
        AT_TRY(at_pairs_add(ctx, valid, train->source[i], train->target[i]));
    for (size_t i = keep; i < train->count; i++) {
        free(train->source[i]);
        free(train->target[i]);
    }
    train->count = keep;
    return AT_OK;
}

size_t at_pairs_count_sources(const at_pairs *pairs) {
    size_t n = 0;
    for (size_t i = 0; pairs && i < pairs->count; i++)
        n += i == 0 || strcmp(pairs->source[i], pairs->source[i - 1]) != 0;
    return n;
}

at_status at_pairs_thin(at_ctx *ctx, at_pairs *pairs, size_t n) {
    if (!pairs) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "pairs_thin: NULL pairs");
    size_t stride = n && n < pairs->count ? pairs->count / n : 1, item = 0;
    if (stride <= 1) return AT_OK;
    at_pairs kept = {0};
    for (size_t i = 0; i < pairs->count; i++) {
        if (i > 0 && strcmp(pairs->source[i], pairs->source[i - 1])) item++;
        if (item % stride) continue;
        at_status s = at_pairs_add(ctx, &kept, pairs->source[i], pairs->target[i]);
        if (s != AT_OK) return at_pairs_clear(&kept), s;
    }
    at_pairs_clear(pairs);
    *pairs = kept;
    return AT_OK;
}
