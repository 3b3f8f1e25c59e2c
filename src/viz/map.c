/*
 * map.c - attention maps and documents: creation, labels, and the weights
 * file (attend's JSON format, see attend.h), plus the bertviz export.
 *
 * Writing is done by hand (sbuf) with "%.9g", which round-trips every
 * float. Reading uses json-c and then checks the tree strictly, field by
 * field, before anything is allocated for the weights: the sizes are read
 * and bounded first, then every array must have exactly those lengths, so
 * a lying or hostile file gets a message, never a crash. Before json-c
 * sees a file, its size (AT_VIZ_MAX_FILE_BYTES) and its number of values
 * (AT_VIZ_MAX_FILE_VALUES) are bounded, so parsing cannot take more than
 * about a gigabyte, whatever the input (even /dev/zero).
 */
#include "files.h"
#include "viz.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_NAME "attend-attention"

/* ------------------------------------------------------------------ maps */

static int map_sizes_ok(int heads, int rows, int cols) {
    return heads >= 1 && heads <= AT_VIZ_MAX_HEADS && rows >= 1 && rows <= AT_VIZ_MAX_TOKENS &&
           cols >= 1 && cols <= AT_VIZ_MAX_TOKENS;
}

static char **empty_strings(int n) {
    char **s = calloc((size_t)n, sizeof *s);
    if (!s) return NULL;
    for (int i = 0; i < n; i++)
        if (!(s[i] = viz_strdup(""))) return s; /* caller checks the last */
    return s;
}

static void free_strings(char **s, int n) {
    if (!s) return;
    for (int i = 0; i < n; i++) free(s[i]);
    free(s);
}

void at_attention_map_free(at_attention_map *map) {
    if (!map) return;
    free(map->weights);
    free_strings(map->row_labels, map->rows);
    free_strings(map->col_labels, map->cols);
    free(map->title);
    free(map->model);
    free(map->mechanism);
    free(map);
}

at_status at_attention_map_create(at_ctx *ctx, at_attention_map **out, int heads, int rows,
                                  int cols) {
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "attention map: out is NULL");
    *out = NULL;
    if (!map_sizes_ok(heads, rows, cols))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "attention map: sizes heads %d, rows %d, cols %d out of range "
                           "(heads 1..%d, rows and cols 1..%d)",
                           heads, rows, cols, AT_VIZ_MAX_HEADS, AT_VIZ_MAX_TOKENS);
    at_attention_map *m = calloc(1, sizeof *m);
    if (!m) return at_ctx_fail(ctx, AT_ERR_MEMORY, "attention map: out of memory");
    m->heads = heads;
    m->rows = rows;
    m->cols = cols;
    m->weights = calloc((size_t)heads * (size_t)rows * (size_t)cols, sizeof *m->weights);
    m->row_labels = empty_strings(rows);
    m->col_labels = empty_strings(cols);
    m->title = viz_strdup("");
    m->model = viz_strdup("");
    m->mechanism = viz_strdup("");
    if (!m->weights || !m->row_labels || !m->col_labels || !m->row_labels[rows - 1] ||
        !m->col_labels[cols - 1] || !m->title || !m->model || !m->mechanism) {
        at_attention_map_free(m);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "attention map: out of memory");
    }
    *out = m;
    return AT_OK;
}

/* Replace dst[0..n) by copies of src[0..n), all or nothing. */
static at_status copy_strings(at_ctx *ctx, char **dst, const char *const *src, int n,
                              const char *what) {
    if (n <= 0) return AT_OK;
    for (int i = 0; i < n; i++) {
        if (!src[i]) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s %d is NULL", what, i);
        at_status s = at_utf8_check(ctx, src[i], strlen(src[i]), what);
        if (s != AT_OK) return s;
    }
    char **copies = calloc((size_t)n, sizeof *copies);
    if (!copies) return at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", what);
    for (int i = 0; i < n; i++) {
        if (!(copies[i] = viz_strdup(src[i]))) {
            free_strings(copies, i);
            return at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", what);
        }
    }
    for (int i = 0; i < n; i++) {
        free(dst[i]);
        dst[i] = copies[i];
    }
    free(copies);
    return AT_OK;
}

at_status at_attention_map_set_labels(at_ctx *ctx, at_attention_map *map,
                                      const char *const *row_labels,
                                      const char *const *col_labels) {
    if (!map) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "attention map is NULL");
    at_status s = AT_OK;
    if (row_labels) s = copy_strings(ctx, map->row_labels, row_labels, map->rows, "row label");
    if (s == AT_OK && col_labels)
        s = copy_strings(ctx, map->col_labels, col_labels, map->cols, "column label");
    return s;
}

/* Split valid UTF-8 text into one string per code point. */
static at_status split_chars(at_ctx *ctx, const char *text, int expect, const char *what,
                             char ***out) {
    at_status s = at_utf8_check(ctx, text, strlen(text), what);
    if (s != AT_OK) return s;
    size_t n = at_utf8_length(text);
    if (n != (size_t)expect)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s has %zu characters, the map has %d", what,
                           n, expect);
    char **parts = calloc((size_t)expect, sizeof *parts);
    if (!parts) return at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", what);
    const char *p = text;
    for (int i = 0; i < expect; i++) {
        size_t len = 0;
        if (at_utf8_next(p, strlen(p), &len) < 0) len = 1; /* checked valid above */
        parts[i] = malloc(len + 1);
        if (!parts[i]) {
            free_strings(parts, i);
            return at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", what);
        }
        memcpy(parts[i], p, len);
        parts[i][len] = 0;
        p += len;
    }
    *out = parts;
    return AT_OK;
}

at_status at_attention_map_set_chars(at_ctx *ctx, at_attention_map *map,
                                     const char *output_text, const char *input_text) {
    if (!map) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "attention map is NULL");
    char **rows = NULL, **cols = NULL;
    at_status s = AT_OK;
    if (output_text) s = split_chars(ctx, output_text, map->rows, "output text", &rows);
    if (s == AT_OK && input_text) s = split_chars(ctx, input_text, map->cols, "input text", &cols);
    if (s == AT_OK)
        s = at_attention_map_set_labels(ctx, map, (const char *const *)rows,
                                        (const char *const *)cols);
    free_strings(rows, rows ? map->rows : 0);
    free_strings(cols, cols ? map->cols : 0);
    return s;
}

static at_status replace_text(at_ctx *ctx, char **dst, const char *src, const char *what) {
    if (!src) return AT_OK;
    at_status s = at_utf8_check(ctx, src, strlen(src), what);
    if (s != AT_OK) return s;
    char *copy = viz_strdup(src);
    if (!copy) return at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", what);
    free(*dst);
    *dst = copy;
    return AT_OK;
}

at_status at_attention_map_set_text(at_ctx *ctx, at_attention_map *map, const char *title,
                                    const char *model, const char *mechanism) {
    if (!map) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "attention map is NULL");
    at_status s = replace_text(ctx, &map->title, title, "title");
    if (s == AT_OK) s = replace_text(ctx, &map->model, model, "model name");
    if (s == AT_OK) s = replace_text(ctx, &map->mechanism, mechanism, "mechanism name");
    return s;
}

at_status at_attention_map_set_weights(at_ctx *ctx, at_attention_map *map, int head,
                                       const float *weights, int row_stride) {
    if (!map || !weights)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "attention map weights: NULL argument");
    if (head < 0 || head >= map->heads || row_stride < map->cols)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "attention map weights: head %d of %d, row stride %d < cols %d",
                           head, map->heads, row_stride, map->cols);
    float *dst = map->weights + (size_t)head * (size_t)map->rows * (size_t)map->cols;
    for (int r = 0; r < map->rows; r++)
        memcpy(dst + (size_t)r * (size_t)map->cols, weights + (size_t)r * (size_t)row_stride,
               (size_t)map->cols * sizeof *dst);
    return AT_OK;
}

/* --------------------------------------------------------------- writing */

static void put_string_array(sbuf *b, char *const *s, int n) {
    sbuf_puts(b, "[");
    for (int i = 0; i < n; i++) {
        if (i) sbuf_puts(b, ", ");
        sbuf_json_string(b, s[i]);
    }
    sbuf_puts(b, "]");
}

static void put_number(sbuf *b, float v) {
    if (isfinite(v))
        sbuf_printf(b, "%.9g", (double)v);
    else
        sbuf_puts(b, "0"); /* JSON has no NaN; weights are never NaN */
}

/* (heads, rows, cols) nested arrays, one row per line. */
static void put_weights(sbuf *b, const at_attention_map *m, const char *indent) {
    sbuf_puts(b, "[");
    for (int h = 0; h < m->heads; h++) {
        sbuf_printf(b, "%s\n%s [", h ? "," : "", indent);
        for (int r = 0; r < m->rows; r++) {
            sbuf_printf(b, "%s\n%s  [", r ? "," : "", indent);
            const float *row = m->weights + ((size_t)h * m->rows + r) * m->cols;
            for (int c = 0; c < m->cols; c++) {
                if (c) sbuf_puts(b, ", ");
                put_number(b, row[c]);
            }
            sbuf_puts(b, "]");
        }
        sbuf_printf(b, "]");
    }
    sbuf_puts(b, "]");
}

static void put_texts(sbuf *b, const char *title, const char *model, const char *mechanism) {
    sbuf_puts(b, "  \"title\": ");
    sbuf_json_string(b, title);
    sbuf_puts(b, ",\n  \"model\": ");
    sbuf_json_string(b, model);
    sbuf_puts(b, ",\n  \"mechanism\": ");
    sbuf_json_string(b, mechanism);
    sbuf_puts(b, ",\n");
}

/* Write a weights file; one larger than at_attention_map_load accepts is
 * refused, so every file saved loads again. */
static at_status write_sbuf(at_ctx *ctx, sbuf *b, const char *path) {
    at_status s = b->failed ? at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", path)
                  : b->len > AT_VIZ_MAX_FILE_BYTES
                      ? at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                                    "%s: %zu bytes, more than the %d a "
                                    "weights file may hold",
                                    path, b->len, AT_VIZ_MAX_FILE_BYTES)
                      : viz_write_file(ctx, path, b->data, b->len);
    sbuf_free(b);
    return s;
}

at_status at_attention_map_save(at_ctx *ctx, const at_attention_map *map, const char *path) {
    if (!map || !path) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "map save: NULL argument");
    double values = (double)map->heads * map->rows * map->cols + map->rows + map->cols;
    if (values > AT_VIZ_MAX_FILE_VALUES)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "%s: %d heads of %d x %d weights are more than "
                           "the %d values a weights file may hold",
                           path, map->heads, map->rows, map->cols, AT_VIZ_MAX_FILE_VALUES);
    sbuf b = {0};
    sbuf_puts(&b, "{\n  \"format\": \"" FORMAT_NAME "\",\n  \"version\": 1,\n"
                  "  \"kind\": \"map\",\n");
    put_texts(&b, map->title, map->model, map->mechanism);
    sbuf_printf(&b, "  \"heads\": %d,\n  \"rows\": %d,\n  \"cols\": %d,\n  \"row_labels\": ",
                map->heads, map->rows, map->cols);
    put_string_array(&b, map->row_labels, map->rows);
    sbuf_puts(&b, ",\n  \"col_labels\": ");
    put_string_array(&b, map->col_labels, map->cols);
    sbuf_puts(&b, ",\n  \"weights\": ");
    put_weights(&b, map, "  ");
    sbuf_puts(&b, "\n}\n");
    return write_sbuf(ctx, &b, path);
}

at_status at_attention_map_export_bertviz(at_ctx *ctx, const at_attention_map *map,
                                          const char *path) {
    if (!map || !path) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "bertviz export: NULL argument");
    sbuf b = {0};
    sbuf_puts(&b, "{\n  \"format\": \"bertviz\",\n");
    put_texts(&b, map->title, map->model, map->mechanism);
    const char *names[4] = {"left_text", "decoder_tokens", "right_text", "encoder_tokens"};
    for (int i = 0; i < 4; i++) {
        sbuf_printf(&b, "  \"%s\": ", names[i]);
        if (i < 2)
            put_string_array(&b, map->row_labels, map->rows);
        else
            put_string_array(&b, map->col_labels, map->cols);
        sbuf_puts(&b, ",\n");
    }
    sbuf_puts(&b, "  \"attention\": [");
    put_weights(&b, map, "   ");
    sbuf_puts(&b, "]\n}\n");
    return write_sbuf(ctx, &b, path);
}

/* --------------------------------------------------------------- reading */

/* An upper bound on the JSON values in text: one more than its commas
 * and opening brackets outside strings. json-c spends about 100 bytes on
 * each value it parses, so this is checked first. */
static size_t count_values(const char *text, size_t len) {
    size_t values = 1;
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == ',' || c == '[' || c == '{') {
            values++;
        }
    }
    return values;
}

/* Parse len bytes of text into a json-c tree (AT_ERR_FORMAT); name stands
 * for the file in messages. */
static at_status parse_json(at_ctx *ctx, const char *name, const char *text, size_t len,
                            json_object **out) {
    if (len > AT_VIZ_MAX_FILE_BYTES)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "%s: larger than %d bytes, the most a weights "
                           "file may hold",
                           name, AT_VIZ_MAX_FILE_BYTES);
    if (len == 0) return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: the file is empty", name);
    size_t values = count_values(text, len);
    if (values > AT_VIZ_MAX_FILE_VALUES)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "%s: about %zu numbers and strings, more than "
                           "the %d a weights file may hold",
                           name, values, AT_VIZ_MAX_FILE_VALUES);
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok) return at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", name);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *root = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t offset = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    int trailing = 0;
    for (size_t i = offset; root && i < len; i++)
        if (!strchr(" \t\r\n", text[i])) trailing = 1;
    if (!root || jerr != json_tokener_success || trailing) {
        json_object_put(root);
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: not valid JSON (%s at byte %zu)%s", name,
                           trailing ? "text after the end" : json_tokener_error_desc(jerr), offset,
                           trailing ? "; for several lines of `attend translate --weights "
                                      "json`, keep one (e.g. sed -n 2p)"
                                    : "");
    }
    if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: the top level is not a JSON object", name);
    }
    *out = root;
    return AT_OK;
}

/* Read the whole file (at most AT_VIZ_MAX_FILE_BYTES) into a json-c tree
 * (AT_ERR_IO / AT_ERR_FORMAT). */
static at_status read_json(at_ctx *ctx, const char *path, json_object **out) {
    char *text;
    size_t len;
    at_status s = atf_read(ctx, path, AT_VIZ_MAX_FILE_BYTES, "a weights file", &text, &len);
    if (s != AT_OK) return s;
    s = parse_json(ctx, path, text, len, out);
    free(text);
    return s;
}

static at_status check_header(at_ctx *ctx, const char *path, json_object *root,
                              const char *kind) {
    json_object *v;
    if (!json_object_object_get_ex(root, "format", &v) || !json_object_is_type(v, json_type_string) ||
        strcmp(json_object_get_string(v), FORMAT_NAME))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: \"format\" must be \"" FORMAT_NAME "\"",
                           path);
    if (!json_object_object_get_ex(root, "version", &v) || !json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) != 1)
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: \"version\" must be 1", path);
    if (!json_object_object_get_ex(root, "kind", &v) || !json_object_is_type(v, json_type_string) ||
        strcmp(json_object_get_string(v), kind))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: \"kind\" must be \"%s\" here", path, kind);
    return AT_OK;
}

static at_status get_int(at_ctx *ctx, const char *path, json_object *obj, const char *key,
                         long lo, long hi, int *out) {
    json_object *v;
    if (!json_object_object_get_ex(obj, key, &v))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: \"%s\" is missing", path, key);
    if (!json_object_is_type(v, json_type_int))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: \"%s\" must be an integer", path, key);
    int64_t x = json_object_get_int64(v);
    if (x < lo || x > hi)
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: \"%s\" is %lld, it must be in [%ld, %ld]",
                           path, key, (long long)x, lo, hi);
    *out = (int)x;
    return AT_OK;
}

/* An optional string field; absent = "". */
static at_status get_text(at_ctx *ctx, const char *path, json_object *obj, const char *key,
                          const char **out) {
    json_object *v;
    *out = "";
    if (!json_object_object_get_ex(obj, key, &v)) return AT_OK;
    if (!json_object_is_type(v, json_type_string))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: \"%s\" must be a string", path, key);
    *out = json_object_get_string(v);
    return AT_OK;
}

static at_status get_array(at_ctx *ctx, const char *path, json_object *v, const char *what,
                           size_t n) {
    if (!v || !json_object_is_type(v, json_type_array))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: %s must be an array", path, what);
    size_t len = json_object_array_length(v);
    if (len != n)
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: %s has %zu entries, expected %zu", path,
                           what, len, n);
    return AT_OK;
}

/* n strings of an array into dst (replacing), validating UTF-8. */
static at_status get_strings(at_ctx *ctx, const char *path, json_object *arr, const char *what,
                             int n, char **dst) {
    at_status s = get_array(ctx, path, arr, what, (size_t)n);
    for (int i = 0; s == AT_OK && i < n; i++) {
        json_object *v = json_object_array_get_idx(arr, (size_t)i);
        if (!json_object_is_type(v, json_type_string))
            return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: %s[%d] must be a string", path, what, i);
        const char *text = json_object_get_string(v);
        if (strlen(text) != (size_t)json_object_get_string_len(v))
            return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: %s[%d] holds a NUL character", path,
                               what, i);
        char *copy = viz_strdup(text);
        if (!copy) return at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", path);
        free(dst[i]);
        dst[i] = copy;
    }
    return s;
}

static at_status get_number(at_ctx *ctx, const char *path, json_object *v, const char *what,
                            float *out) {
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: %s must be a number", path, what);
    double x = json_object_get_double(v);
    if (!isfinite(x) || fabs(x) > 1e30)
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: %s is not a finite weight", path, what);
    *out = (float)x;
    return AT_OK;
}

static at_status get_weights(at_ctx *ctx, const char *path, json_object *arr,
                             at_attention_map *m) {
    char what[96];
    at_status s = get_array(ctx, path, arr, "\"weights\"", (size_t)m->heads);
    for (int h = 0; s == AT_OK && h < m->heads; h++) {
        json_object *head = json_object_array_get_idx(arr, (size_t)h);
        snprintf(what, sizeof what, "weights[%d]", h);
        s = get_array(ctx, path, head, what, (size_t)m->rows);
        for (int r = 0; s == AT_OK && r < m->rows; r++) {
            json_object *row = json_object_array_get_idx(head, (size_t)r);
            snprintf(what, sizeof what, "weights[%d][%d]", h, r);
            s = get_array(ctx, path, row, what, (size_t)m->cols);
            float *dst = m->weights + ((size_t)h * m->rows + r) * m->cols;
            for (int c = 0; s == AT_OK && c < m->cols; c++) {
                snprintf(what, sizeof what, "weights[%d][%d][%d]", h, r, c);
                s = get_number(ctx, path, json_object_array_get_idx(row, (size_t)c), what,
                               &dst[c]);
            }
        }
    }
    return s;
}

static at_status texts_from(at_ctx *ctx, const char *path, json_object *root, char **title,
                            char **model, char **mechanism) {
    const char *t, *mo, *me;
    at_status s = get_text(ctx, path, root, "title", &t);
    if (s == AT_OK) s = get_text(ctx, path, root, "model", &mo);
    if (s == AT_OK) s = get_text(ctx, path, root, "mechanism", &me);
    if (s == AT_OK) s = replace_text(ctx, title, t, "title");
    if (s == AT_OK) s = replace_text(ctx, model, mo, "model");
    if (s == AT_OK) s = replace_text(ctx, mechanism, me, "mechanism");
    return s;
}

static at_status map_from_json(at_ctx *ctx, const char *path, json_object *root,
                               at_attention_map **out) {
    int heads, rows, cols;
    at_status s = check_header(ctx, path, root, "map");
    if (s == AT_OK) s = get_int(ctx, path, root, "heads", 1, AT_VIZ_MAX_HEADS, &heads);
    if (s == AT_OK) s = get_int(ctx, path, root, "rows", 1, AT_VIZ_MAX_TOKENS, &rows);
    if (s == AT_OK) s = get_int(ctx, path, root, "cols", 1, AT_VIZ_MAX_TOKENS, &cols);
    if (s != AT_OK) return s;
    at_attention_map *m;
    if ((s = at_attention_map_create(ctx, &m, heads, rows, cols)) != AT_OK) return s;
    json_object *v = NULL;
    json_object_object_get_ex(root, "row_labels", &v);
    s = get_strings(ctx, path, v, "\"row_labels\"", rows, m->row_labels);
    v = NULL;
    json_object_object_get_ex(root, "col_labels", &v);
    if (s == AT_OK) s = get_strings(ctx, path, v, "\"col_labels\"", cols, m->col_labels);
    v = NULL;
    json_object_object_get_ex(root, "weights", &v);
    if (s == AT_OK) s = get_weights(ctx, path, v, m);
    if (s == AT_OK) s = texts_from(ctx, path, root, &m->title, &m->model, &m->mechanism);
    if (s != AT_OK) {
        at_attention_map_free(m);
        return s;
    }
    *out = m;
    return AT_OK;
}

/* One line of `attend translate --weights json`: {"input", "output",
 * "source": [Tx chars], "target": [Ty chars], "heads": H,
 * "weights": [H][Ty][Tx]}. Sizes come from the label arrays. */
static at_status map_from_translate_line(at_ctx *ctx, const char *path, json_object *root,
                                         at_attention_map **out) {
    json_object *src = NULL, *tgt = NULL, *w = NULL;
    json_object_object_get_ex(root, "source", &src);
    json_object_object_get_ex(root, "target", &tgt);
    json_object_object_get_ex(root, "weights", &w);
    if (!src || !tgt || !json_object_is_type(src, json_type_array) ||
        !json_object_is_type(tgt, json_type_array))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: \"source\" and \"target\" must be arrays", path);
    size_t tx = json_object_array_length(src), ty = json_object_array_length(tgt);
    int heads;
    at_status s = get_int(ctx, path, root, "heads", 1, AT_VIZ_MAX_HEADS, &heads);
    if (s == AT_OK && (tx < 1 || ty < 1 || tx > AT_VIZ_MAX_TOKENS || ty > AT_VIZ_MAX_TOKENS))
        s = at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: %zu source and %zu target characters, each "
                        "must be 1..%d", path, tx, ty, AT_VIZ_MAX_TOKENS);
    if (s != AT_OK) return s;
    at_attention_map *m;
    if ((s = at_attention_map_create(ctx, &m, heads, (int)ty, (int)tx)) != AT_OK) return s;
    s = get_strings(ctx, path, tgt, "\"target\"", (int)ty, m->row_labels);
    if (s == AT_OK) s = get_strings(ctx, path, src, "\"source\"", (int)tx, m->col_labels);
    if (s == AT_OK) s = get_weights(ctx, path, w, m);
    const char *input, *output;
    if (s == AT_OK) s = get_text(ctx, path, root, "input", &input);
    if (s == AT_OK) s = get_text(ctx, path, root, "output", &output);
    if (s == AT_OK) {
        sbuf title = {0};
        sbuf_printf(&title, "%s\xE2\x80\x8E \xE2\x86\x92 %s", input, output); /* LRM, see translation.c */
        s = title.failed ? at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", path)
                         : replace_text(ctx, &m->title, title.data, "title");
        sbuf_free(&title);
    }
    const char *model = "", *mechanism = "";
    if (s == AT_OK) s = get_text(ctx, path, root, "model", &model);
    if (s == AT_OK) s = get_text(ctx, path, root, "mechanism", &mechanism);
    if (s == AT_OK) s = at_attention_map_set_text(ctx, m, NULL, model, mechanism);
    if (s != AT_OK) {
        at_attention_map_free(m);
        return s;
    }
    *out = m;
    return AT_OK;
}

/* A weights file's tree or a line of translate --weights json, as a map. */
static at_status map_from_tree(at_ctx *ctx, const char *name, json_object *root,
                               at_attention_map **out) {
    json_object *v;
    if (!json_object_object_get_ex(root, "format", &v) &&
        json_object_object_get_ex(root, "source", &v))
        return map_from_translate_line(ctx, name, root, out);
    return map_from_json(ctx, name, root, out);
}

at_status at_attention_map_load(at_ctx *ctx, at_attention_map **out, const char *path) {
    if (!out || !path) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "map load: NULL argument");
    *out = NULL;
    json_object *root;
    at_status s = read_json(ctx, path, &root);
    if (s != AT_OK) return s;
    s = map_from_tree(ctx, path, root, out);
    json_object_put(root);
    return s;
}

at_status at_attention_map_parse(at_ctx *ctx, at_attention_map **out, const char *text, size_t len,
                                 const char *name) {
    if (!out || !text || !name)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "map parse: NULL argument");
    *out = NULL;
    json_object *root;
    at_status s = parse_json(ctx, name, text, len, &root);
    if (s != AT_OK) return s;
    s = map_from_tree(ctx, name, root, out);
    json_object_put(root);
    return s;
}

at_status at_viz_file_kind(at_ctx *ctx, const char *path, at_viz_kind *kind) {
    if (!path || !kind) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "file kind: NULL argument");
    json_object *root, *v;
    at_status s = read_json(ctx, path, &root);
    if (s != AT_OK) return s;
    const char *k = json_object_object_get_ex(root, "kind", &v) && json_object_is_type(v, json_type_string)
                        ? json_object_get_string(v) : "";
    if (!strcmp(k, "map") || (!json_object_object_get_ex(root, "format", &v) &&
                              json_object_object_get_ex(root, "source", &v)))
        *kind = AT_VIZ_MAP;
    else if (!strcmp(k, "document"))
        *kind = AT_VIZ_DOC;
    else
        s = at_ctx_fail(ctx, AT_ERR_FORMAT,
                        "%s: not an attend weights file (\"kind\" must be \"map\" or "
                        "\"document\")", path);
    json_object_put(root);
    return s;
}

/* ------------------------------------------------------------- documents */

void at_attention_doc_free(at_attention_doc *doc) {
    if (!doc) return;
    free(doc->lengths);
    free_strings(doc->word_text, doc->words);
    free(doc->word_weights);
    free(doc->sentence_weights);
    free(doc->title);
    free(doc->model);
    free(doc->mechanism);
    free(doc);
}

at_status at_attention_doc_create(at_ctx *ctx, at_attention_doc **out, int sentences,
                                  const int *lengths) {
    if (!out || !lengths) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "document: NULL argument");
    *out = NULL;
    if (sentences < 1 || sentences > AT_VIZ_MAX_TOKENS)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "document: %d sentences, expected 1..%d",
                           sentences, AT_VIZ_MAX_TOKENS);
    long words = 0;
    for (int i = 0; i < sentences; i++) {
        if (lengths[i] < 1 || lengths[i] > AT_VIZ_MAX_TOKENS)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "document: sentence %d has %d words, expected 1..%d", i,
                               lengths[i], AT_VIZ_MAX_TOKENS);
        words += lengths[i];
    }
    if (words > 16L * AT_VIZ_MAX_TOKENS)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "document: %ld words, at most %d", words,
                           16 * AT_VIZ_MAX_TOKENS);
    at_attention_doc *d = calloc(1, sizeof *d);
    if (!d) return at_ctx_fail(ctx, AT_ERR_MEMORY, "document: out of memory");
    d->sentences = sentences;
    d->words = (int)words;
    d->lengths = malloc((size_t)sentences * sizeof *d->lengths);
    d->word_text = empty_strings(d->words);
    d->word_weights = calloc((size_t)words, sizeof *d->word_weights);
    d->sentence_weights = calloc((size_t)sentences, sizeof *d->sentence_weights);
    d->title = viz_strdup("");
    d->model = viz_strdup("");
    d->mechanism = viz_strdup("");
    if (!d->lengths || !d->word_text || !d->word_text[d->words - 1] || !d->word_weights ||
        !d->sentence_weights || !d->title || !d->model || !d->mechanism) {
        at_attention_doc_free(d);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "document: out of memory");
    }
    memcpy(d->lengths, lengths, (size_t)sentences * sizeof *lengths);
    *out = d;
    return AT_OK;
}

at_status at_attention_doc_set_words(at_ctx *ctx, at_attention_doc *doc,
                                     const char *const *words) {
    if (!doc || !words) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "document words: NULL argument");
    return copy_strings(ctx, doc->word_text, words, doc->words, "word");
}

at_status at_attention_doc_set_text(at_ctx *ctx, at_attention_doc *doc, const char *title,
                                    const char *model, const char *mechanism) {
    if (!doc) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "document is NULL");
    at_status s = replace_text(ctx, &doc->title, title, "title");
    if (s == AT_OK) s = replace_text(ctx, &doc->model, model, "model name");
    if (s == AT_OK) s = replace_text(ctx, &doc->mechanism, mechanism, "mechanism name");
    return s;
}

at_status at_attention_doc_save(at_ctx *ctx, const at_attention_doc *doc, const char *path) {
    if (!doc || !path) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "document save: NULL argument");
    sbuf b = {0};
    sbuf_puts(&b, "{\n  \"format\": \"" FORMAT_NAME "\",\n  \"version\": 1,\n"
                  "  \"kind\": \"document\",\n");
    put_texts(&b, doc->title, doc->model, doc->mechanism);
    sbuf_puts(&b, "  \"sentences\": [");
    for (int s = 0, w = 0; s < doc->sentences; w += doc->lengths[s], s++) {
        sbuf_printf(&b, "%s\n    {\"weight\": ", s ? "," : "");
        put_number(&b, doc->sentence_weights[s]);
        sbuf_puts(&b, ", \"words\": ");
        put_string_array(&b, doc->word_text + w, doc->lengths[s]);
        sbuf_puts(&b, ", \"word_weights\": [");
        for (int i = 0; i < doc->lengths[s]; i++) {
            if (i) sbuf_puts(&b, ", ");
            put_number(&b, doc->word_weights[w + i]);
        }
        sbuf_puts(&b, "]}");
    }
    sbuf_puts(&b, "\n  ]\n}\n");
    return write_sbuf(ctx, &b, path);
}

/* The sentence lengths of a document's JSON, checked. */
static at_status doc_lengths(at_ctx *ctx, const char *path, json_object *sents, int n,
                             int *lengths) {
    char what[64];
    for (int i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(sents, (size_t)i), *words = NULL;
        if (!json_object_is_type(s, json_type_object))
            return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: sentences[%d] must be an object", path, i);
        json_object_object_get_ex(s, "words", &words);
        snprintf(what, sizeof what, "sentences[%d].words", i);
        if (!words || !json_object_is_type(words, json_type_array))
            return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: %s must be an array", path, what);
        size_t len = json_object_array_length(words);
        if (len < 1 || len > AT_VIZ_MAX_TOKENS)
            return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: %s has %zu words, expected 1..%d", path,
                               what, len, AT_VIZ_MAX_TOKENS);
        lengths[i] = (int)len;
    }
    return AT_OK;
}

static at_status doc_fill(at_ctx *ctx, const char *path, json_object *sents,
                          at_attention_doc *d) {
    char what[64];
    at_status st = AT_OK;
    for (int i = 0, w = 0; st == AT_OK && i < d->sentences; w += d->lengths[i], i++) {
        json_object *s = json_object_array_get_idx(sents, (size_t)i), *v = NULL;
        json_object_object_get_ex(s, "words", &v);
        snprintf(what, sizeof what, "sentences[%d].words", i);
        st = get_strings(ctx, path, v, what, d->lengths[i], d->word_text + w);
        v = NULL;
        json_object_object_get_ex(s, "word_weights", &v);
        snprintf(what, sizeof what, "sentences[%d].word_weights", i);
        if (st == AT_OK) st = get_array(ctx, path, v, what, (size_t)d->lengths[i]);
        for (int k = 0; st == AT_OK && k < d->lengths[i]; k++)
            st = get_number(ctx, path, json_object_array_get_idx(v, (size_t)k), what,
                            &d->word_weights[w + k]);
        v = NULL;
        snprintf(what, sizeof what, "sentences[%d].weight", i);
        if (st == AT_OK && !json_object_object_get_ex(s, "weight", &v))
            st = at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: %s is missing", path, what);
        if (st == AT_OK) st = get_number(ctx, path, v, what, &d->sentence_weights[i]);
    }
    return st;
}

at_status at_attention_doc_load(at_ctx *ctx, at_attention_doc **out, const char *path) {
    if (!out || !path) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "document load: NULL argument");
    *out = NULL;
    json_object *root, *sents = NULL;
    at_status s = read_json(ctx, path, &root);
    if (s != AT_OK) return s;
    s = check_header(ctx, path, root, "document");
    json_object_object_get_ex(root, "sentences", &sents);
    if (s == AT_OK && (!sents || !json_object_is_type(sents, json_type_array)))
        s = at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: \"sentences\" must be an array", path);
    size_t n = s == AT_OK ? json_object_array_length(sents) : 0;
    if (s == AT_OK && (n < 1 || n > AT_VIZ_MAX_TOKENS))
        s = at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: %zu sentences, expected 1..%d", path, n,
                        AT_VIZ_MAX_TOKENS);
    int *lengths = s == AT_OK ? malloc(n * sizeof *lengths) : NULL;
    if (s == AT_OK && !lengths) s = at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", path);
    if (s == AT_OK) s = doc_lengths(ctx, path, sents, (int)n, lengths);
    at_attention_doc *d = NULL;
    if (s == AT_OK) s = at_attention_doc_create(ctx, &d, (int)n, lengths);
    if (s == AT_OK) s = doc_fill(ctx, path, sents, d);
    if (s == AT_OK) s = texts_from(ctx, path, root, &d->title, &d->model, &d->mechanism);
    free(lengths);
    json_object_put(root);
    if (s != AT_OK) {
        at_attention_doc_free(d);
        return s;
    }
    *out = d;
    return AT_OK;
}
