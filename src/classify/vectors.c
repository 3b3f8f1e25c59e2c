/*
 * vectors.c - pretrained word vectors into a classifier's embedding.
 *
 * The HAN paper (Yang et al. 2016) starts its word embedding from word2vec
 * vectors trained on the training and development documents, not from
 * noise: a word seen in few training messages still lands near the words
 * it is used like. at_classifier_load_vectors does that start for any
 * vectors in word2vec's text format, the format `fasttext skipgram` writes
 * (docs/classification.md trains them on the training split):
 *
 *     COUNT DIM
 *     WORD X_1 X_2 ... X_DIM        (COUNT such lines; spaces between)
 *
 * Row id of embed.weight (V, E) becomes the vector of the vocabulary's
 * token id; words the model does not know are skipped, and rows whose word
 * the file lacks keep their initial values. DIM must be E.
 *
 * Reading trusts nothing and says where a file is wrong, "PATH:LINE:
 * what": the capped reader and the line cutter of the TSV readers
 * (lines.h), a header of two positive integers, exactly COUNT vector
 * lines, each word valid UTF-8 and given once, each of its DIM values a
 * finite number. The embedding is written only when the whole file has
 * been read, so a bad file leaves the model as it was.
 */
#include "classifier.h"
#include "files.h"
#include "lines.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { VECTORS_MAX_BYTES = 1 << 30 };

typedef struct vector_read {
    const char *path;
    const at_vocab *vocab;
    int V, E;
    float *rows;          /* (V, E): embed.weight's copy, written in place */
    unsigned char *given; /* (V): 1 once a row was read                    */
    size_t found;
} vector_read;

static at_status at_line(at_ctx *ctx, const vector_read *r, long line, const char *what) {
    return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s:%ld: %s", r->path, line, what);
}

/* "COUNT DIM": both positive integers, DIM the model's E. */
static at_status read_header(at_ctx *ctx, const vector_read *r, char *text, long *count) {
    char *end;
    errno = 0;
    long n = strtol(text, &end, 10), dim = 0;
    if (end != text && errno == 0) dim = strtol(end, &end, 10);
    while (*end == ' ' || *end == '\t') end++;
    if (errno || n < 1 || dim < 1 || *end)
        return at_line(ctx, r, 1, "expected a header 'COUNT DIM' of two positive integers");
    if (dim != r->E)
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s:1: vectors of %ld values, but the model's "
                           "embedding has %d (--embed)", r->path, dim, r->E);
    *count = n;
    return AT_OK;
}

/* One "WORD X_1 .. X_E" line, NUL-terminated in place. */
static at_status read_vector(at_ctx *ctx, vector_read *r, long line, char *text, size_t len) {
    if (memchr(text, '\0', len)) return at_line(ctx, r, line, "a NUL byte");
    char *word = text + strspn(text, " \t");
    char *space = word + strcspn(word, " \t");
    if (!*space || space == word) return at_line(ctx, r, line, "expected a word and its values");
    *space = '\0';
    if (at_utf8_check(ctx, word, strlen(word), "the word") != AT_OK)
        return at_line(ctx, r, line, at_ctx_error(ctx));
    float values[1024]; /* E <= 1024 (at_classify_config) */
    char *p = space + 1;
    for (int k = 0; k < r->E; k++) {
        char *end;
        errno = 0;
        values[k] = strtof(p, &end);
        int junk = end == p || (*end && *end != ' ' && *end != '\t');
        if (junk || errno == ERANGE || !isfinite(values[k])) {
            char why[160];
            snprintf(why, sizeof why, "value %d of '%.64s' is %s", k + 1, word,
                     junk ? "missing or not a number" : "not a finite float");
            return at_line(ctx, r, line, why);
        }
        p = end;
    }
    if (p[strspn(p, " \t")]) {
        char why[160];
        snprintf(why, sizeof why, "'%.64s' has more than %d values", word, r->E);
        return at_line(ctx, r, line, why);
    }
    int32_t id = at_vocab_token_id(r->vocab, word);
    const char *known = id >= 0 && id < r->V ? at_vocab_token(r->vocab, id) : NULL;
    if (!known || strcmp(known, word)) return AT_OK; /* a word the model does not know */
    if (r->given[id]) {
        char why[160];
        snprintf(why, sizeof why, "'%.64s' is given twice", word);
        return at_line(ctx, r, line, why);
    }
    r->given[id] = 1, r->found++;
    memcpy(r->rows + (size_t)id * r->E, values, (size_t)r->E * sizeof(float));
    return AT_OK;
}

static at_status read_lines(at_ctx *ctx, vector_read *r, char *buf, size_t len) {
    ati_lines lines;
    ati_lines_start(&lines, buf, len);
    char *text;
    size_t text_len;
    long count = 0, vectors = 0;
    if (!ati_lines_next(&lines, &text, &text_len))
        return at_line(ctx, r, 1, "the file is empty");
    AT_TRY(read_header(ctx, r, text, &count));
    while (ati_lines_next(&lines, &text, &text_len)) {
        if (++vectors > count) {
            char why[96];
            snprintf(why, sizeof why, "more vectors than the header's %ld", count);
            return at_line(ctx, r, lines.number, why);
        }
        AT_TRY(read_vector(ctx, r, lines.number, text, text_len));
    }
    if (vectors < count) {
        char why[128];
        snprintf(why, sizeof why, "%ld vectors where the header promised %ld (cut short?)",
                 vectors, count);
        return at_line(ctx, r, lines.number + 1, why);
    }
    return AT_OK;
}

at_status at_classifier_load_vectors(at_ctx *ctx, at_classifier *model, const char *path,
                                     size_t *found) {
    if (!model || !path) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "load vectors: NULL argument");
    at_tensor *weight = model->embed.weight;
    vector_read r = {.path = path, .vocab = model->vocab, .V = model->V, .E = model->config.embed};
    r.rows = malloc(weight->size * sizeof(float));
    r.given = calloc((size_t)r.V, 1);
    char *buf = NULL;
    size_t len = 0;
    at_status s = !r.rows || !r.given
                      ? at_ctx_fail(ctx, AT_ERR_MEMORY, "load vectors: out of memory")
                      : atf_read(ctx, path, VECTORS_MAX_BYTES, "a word-vector file", &buf, &len);
    if (s == AT_OK) {
        memcpy(r.rows, weight->data, weight->size * sizeof(float));
        s = read_lines(ctx, &r, buf, len);
    }
    if (s == AT_OK) {
        memcpy(weight->data, r.rows, weight->size * sizeof(float));
        if (found) *found = r.found;
    }
    free(buf);
    free(r.given);
    free(r.rows);
    return s;
}
