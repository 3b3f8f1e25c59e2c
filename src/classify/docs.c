/*
 * docs.c - labelled documents (at_class_docs): the one container that the
 * mail corpus, a user's TSV file and the classifier's training, evaluation
 * and reports all share.
 *
 * A set is four parallel arrays of malloc'd strings that grow by doubling.
 * Everything entering a set is checked once, here: a label is one word
 * (no whitespace, so it can be a fastText "__label__NAME" and a TSV field),
 * every field is valid UTF-8, and a text is at most
 * AT_CLASSIFY_MAX_TEXT_BYTES, so nothing downstream meets a 50 MB message.
 */
#include "attend/classify.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* The arrays' length when they hold count documents: none for an empty
 * set, else the power of two >= count, at least 16 (the set keeps no
 * capacity field; this rule is it). */
static size_t capacity_of(size_t count) {
    if (count == 0) return 0;
    size_t cap = 16;
    while (cap < count) cap *= 2;
    return cap;
}

/* Make room for one more document. */
static at_status grow(at_ctx *ctx, at_class_docs *docs) {
    size_t cap = capacity_of(docs->count + 1);
    if (cap == capacity_of(docs->count)) return AT_OK;
    char ***fields[4] = {&docs->labels, &docs->texts, &docs->groups, &docs->ids};
    for (int k = 0; k < 4; k++) {
        char **grown = realloc(*fields[k], cap * sizeof *grown);
        if (!grown) return at_ctx_fail(ctx, AT_ERR_MEMORY, "documents: out of memory");
        *fields[k] = grown;
    }
    return AT_OK;
}

static at_status check_label(at_ctx *ctx, const char *label) {
    if (!label || !label[0])
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "documents: the label is empty");
    for (const char *p = label; *p; p++)
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f')
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "documents: the label '%s' holds whitespace (a label is one word)",
                               label);
    /* U+FEFF (a byte order mark, or zero-width no-break space) is invisible
     * and a TSV reader drops it at the start of a file: a label holding it
     * would not survive being written and read back. */
    if (strstr(label, "\xEF\xBB\xBF"))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "documents: the label holds U+FEFF (a byte order mark), which is "
                           "invisible; a label is one visible word");
    return at_utf8_check(ctx, label, strlen(label), "the label");
}

static at_status check_fields(at_ctx *ctx, const char *label, const char *text,
                              const char *group, const char *id) {
    AT_TRY(check_label(ctx, label));
    if (!text) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "documents: the text is NULL");
    size_t bytes = strlen(text);
    if (bytes > AT_CLASSIFY_MAX_TEXT_BYTES)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "documents: a text of %zu bytes is longer than the limit of %u",
                           bytes, AT_CLASSIFY_MAX_TEXT_BYTES);
    AT_TRY(at_utf8_check(ctx, text, bytes, "the text"));
    AT_TRY(at_utf8_check(ctx, group, strlen(group), "the group"));
    return at_utf8_check(ctx, id, strlen(id), "the id");
}

at_status at_class_docs_add(at_ctx *ctx, at_class_docs *docs, const char *label,
                            const char *text, const char *group, const char *id) {
    if (!docs) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "documents: NULL set");
    if (!group) group = "";
    if (!id) id = "";
    AT_TRY(check_fields(ctx, label, text, group, id));
    AT_TRY(grow(ctx, docs));
    const char *values[4] = {label, text, group, id};
    char *copies[4] = {0};
    for (int k = 0; k < 4; k++)
        if (!(copies[k] = ati_strdup(values[k]))) {
            for (int j = 0; j < k; j++) free(copies[j]);
            return at_ctx_fail(ctx, AT_ERR_MEMORY, "documents: out of memory");
        }
    size_t i = docs->count++;
    docs->labels[i] = copies[0];
    docs->texts[i] = copies[1];
    docs->groups[i] = copies[2];
    docs->ids[i] = copies[3];
    return AT_OK;
}

void at_class_docs_clear(at_class_docs *docs) {
    if (!docs) return;
    for (size_t i = 0; i < docs->count; i++) {
        free(docs->labels[i]);
        free(docs->texts[i]);
        free(docs->groups[i]);
        free(docs->ids[i]);
    }
    free(docs->labels);
    free(docs->texts);
    free(docs->groups);
    free(docs->ids);
    memset(docs, 0, sizeof *docs);
}

/* FNV-1a over every label and text, each ended by a byte no UTF-8 text
 * holds, so ("ab", "c") and ("a", "bc") differ. */
uint64_t at_class_docs_fingerprint(const at_class_docs *docs) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; docs && i < docs->count; i++) {
        const char *fields[2] = {docs->labels[i], docs->texts[i]};
        for (int k = 0; k < 2; k++) {
            for (const unsigned char *p = (const unsigned char *)fields[k]; *p; p++)
                h = (h ^ *p) * 1099511628211ULL;
            h = (h ^ 0xFFu) * 1099511628211ULL;
        }
    }
    return h;
}
