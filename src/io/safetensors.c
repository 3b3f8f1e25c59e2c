/*
 * safetensors.c - checkpoints in the safetensors format, and their metadata.
 *
 * A safetensors file is three parts:
 *
 *   [ N: u64 little-endian ][ N bytes of UTF-8 JSON header ][ data bytes ]
 *
 * The header maps each tensor name to {"dtype": "F32", "shape": [2, 3],
 * "data_offsets": [begin, end]}, byte offsets into the data part; the
 * optional key "__metadata__" maps to an object of string -> string. The
 * header may be padded with spaces (we pad to a multiple of 8 so the data
 * starts aligned). Tensor bytes are little-endian, row-major.
 *
 * Saving is atomic, with the library's one writer (src/core/atomic_file.c):
 * the file is written to PATH.tmp-XXXXXX in the same directory, flushed,
 * fsync'ed and renamed over PATH. On any failure the temporary file is
 * removed and PATH is untouched; only a regular file is replaced; the new
 * file gets the old file's permission bits, or 0644 if there was none.
 *
 * Loading trusts nothing. Before a single parameter changes it checks: the
 * header length fits the file (and is at most 100 MB), the header is valid
 * UTF-8 JSON holding one object, every tensor entry has a known dtype (F32,
 * F16, BF16, F64), a shape of 0 to 8 non-negative ints, two data_offsets
 * with begin <= end <= data size and end - begin == numel * dtype size
 * (overflow-checked), no two tensors share a byte, every metadata value is
 * a string, and every parameter of the set is in the file with its shape.
 * Only then are the bytes converted to float and copied. So a load either
 * changes every parameter or none.
 *
 * Leniencies, on purpose: tensors in the file that the parameter set does
 * not name are ignored (so a model can load part of a bigger checkpoint),
 * and gaps between tensors' bytes or after the last one are allowed. (The
 * reference reader insists the tensors tile the data part exactly.) json-c
 * in strict mode still takes 'single-quoted' strings and NaN; both are
 * harmless here, as every field is type-checked after parsing.
 *
 * The reader and writer work on any list of named tensors (safetensors.h):
 * a checkpoint is the list of a parameter set's tensors; the optimiser's
 * state file is a list of views of its moment buffers, loaded with
 * only_these set, which turns the first leniency above into an error.
 *
 * meta_out (load, read_metadata) is overwritten on success, never freed
 * first: pass an empty at_metadata ({0} or cleared) and clear it after.
 *
 * Status codes: a file that cannot be opened or read is AT_ERR_IO; a file
 * whose content is malformed, or that lacks a parameter, is AT_ERR_FORMAT;
 * a parameter whose shape differs is AT_ERR_SHAPE. Every message starts
 * with "checkpoint 'PATH':" and names the tensor or field at fault.
 */
#define _POSIX_C_SOURCE 200809L

#include "safetensors.h"
#include "files.h"

#include <json-c/json.h>

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <fcntl.h>
#include <unistd.h>

#define HEADER_MAX_BYTES 100000000ULL /* as the reference implementation */
#define FILE_MAX_DIMS 8               /* shapes we parse; parameters have <= 4 */
#define METADATA_KEY "__metadata__"
#define WRITE_CHUNK_FLOATS 4096

/* ================================================================ metadata */

static char *copy_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy) memcpy(copy, s, n);
    return copy;
}

static int metadata_index(const at_metadata *meta, const char *key) {
    for (int i = 0; i < meta->count; i++)
        if (strcmp(meta->keys[i], key) == 0) return i;
    return -1;
}

/* Append a (key, value) pair whose strings are already owned copies. */
static at_status metadata_append(at_ctx *ctx, at_metadata *meta, char *key, char *value) {
    size_t n = (size_t)meta->count + 1;
    char **keys = realloc(meta->keys, n * sizeof *keys);
    if (keys) meta->keys = keys;
    char **values = keys ? realloc(meta->values, n * sizeof *values) : NULL;
    if (values) meta->values = values;
    if (!keys || !values) return at_ctx_fail(ctx, AT_ERR_MEMORY, "metadata: out of memory");
    meta->keys[meta->count] = key;
    meta->values[meta->count] = value;
    meta->count++;
    return AT_OK;
}

at_status at_metadata_set(at_ctx *ctx, at_metadata *meta, const char *key, const char *value) {
    if (!meta || !key || !value)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "metadata_set: NULL argument");
    char *value_copy = copy_string(value);
    if (!value_copy) return at_ctx_fail(ctx, AT_ERR_MEMORY, "metadata_set: out of memory");
    int index = metadata_index(meta, key);
    if (index >= 0) {
        free(meta->values[index]);
        meta->values[index] = value_copy;
        return AT_OK;
    }
    char *key_copy = copy_string(key);
    at_status status = key_copy ? metadata_append(ctx, meta, key_copy, value_copy)
                                : at_ctx_fail(ctx, AT_ERR_MEMORY, "metadata_set: out of memory");
    if (status != AT_OK) {
        free(key_copy);
        free(value_copy);
    }
    return status;
}

const char *at_metadata_get(const at_metadata *meta, const char *key) {
    if (!meta || !key) return NULL;
    int index = metadata_index(meta, key);
    return index >= 0 ? meta->values[index] : NULL;
}

void at_metadata_clear(at_metadata *meta) {
    if (!meta) return;
    for (int i = 0; i < meta->count; i++) {
        free(meta->keys[i]);
        free(meta->values[i]);
    }
    free(meta->keys);
    free(meta->values);
    meta->keys = meta->values = NULL;
    meta->count = 0;
}

/* ================================================================= dtypes */

typedef enum file_dtype { DT_F32, DT_F16, DT_BF16, DT_F64 } file_dtype;

static const struct {
    const char *name;
    file_dtype dtype;
    unsigned bytes;
} DTYPES[] = {{"F32", DT_F32, 4}, {"F16", DT_F16, 2}, {"BF16", DT_BF16, 2}, {"F64", DT_F64, 8}};

static int dtype_from_name(const char *name, file_dtype *dtype, unsigned *bytes) {
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (strcmp(DTYPES[i].name, name) == 0) {
            *dtype = DTYPES[i].dtype;
            *bytes = DTYPES[i].bytes;
            return 1;
        }
    return 0;
}

/* Little-endian loads from possibly unaligned bytes. */
static uint64_t load_le(const unsigned char *b, int bytes) {
    uint64_t x = 0;
    for (int i = bytes - 1; i >= 0; i--) x = (x << 8) | b[i];
    return x;
}

static void store_le(unsigned char *b, uint64_t x, int bytes) {
    for (int i = 0; i < bytes; i++) b[i] = (unsigned char)(x >> (8 * i));
}

static float f32_from_bits(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* IEEE half: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits. */
static float f16_to_float(uint16_t h) {
    float sign = (h & 0x8000) ? -1.0f : 1.0f;
    int exponent = (h >> 10) & 0x1f;
    int mantissa = h & 0x3ff;
    if (exponent == 0x1f) return mantissa ? NAN : sign * INFINITY;
    if (exponent == 0) return sign * ldexpf((float)mantissa, -24); /* zero, subnormal */
    return sign * ldexpf((float)(mantissa | 0x400), exponent - 25);
}

/* double -> float, rounding to nearest; too large becomes +-infinity (a
 * plain cast of an out-of-range double is undefined behaviour in C). */
static float f64_to_float(double d) {
    const double overflow = 0x1.ffffffp+127; /* FLT_MAX + half an ulp */
    if (d >= overflow) return INFINITY;
    if (d <= -overflow) return -INFINITY;
    return (float)d;
}

static float element_to_float(const unsigned char *b, file_dtype dtype) {
    switch (dtype) {
    case DT_F32: return f32_from_bits((uint32_t)load_le(b, 4));
    case DT_F16: return f16_to_float((uint16_t)load_le(b, 2));
    case DT_BF16: return f32_from_bits((uint32_t)load_le(b, 2) << 16);
    case DT_F64: {
        uint64_t bits = load_le(b, 8);
        double d;
        memcpy(&d, &bits, sizeof d);
        return f64_to_float(d);
    }
    }
    return 0.0f;
}

/* =========================================================== the header */

/* One validated tensor entry. name points into the parsed JSON. */
typedef struct entry {
    const char *name;
    file_dtype dtype;
    unsigned dtype_bytes;
    int ndim;
    int shape[FILE_MAX_DIMS];
    uint64_t begin, end; /* byte range in the data part */
} entry;

/* A parsed, fully validated header. */
typedef struct header {
    json_object *root;
    entry *entries;
    int count;
    json_object *metadata; /* NULL if absent */
    uint64_t data_start;   /* 8 + N */
    uint64_t data_bytes;   /* file size - data_start */
} header;

static void header_release(header *h) {
    json_object_put(h->root);
    free(h->entries);
    memset(h, 0, sizeof *h);
}

/* Parse exactly `len` bytes as one strict, UTF-8 JSON value followed only by
 * whitespace. Returns NULL and fills *why on failure. */
static json_object *parse_json(const char *text, size_t len, const char **why) {
    if (memchr(text, '\0', len)) {
        *why = "a NUL byte";
        return NULL;
    }
    json_tokener *tok = json_tokener_new();
    if (!tok) {
        *why = "out of memory";
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
                                    JSON_TOKENER_VALIDATE_UTF8);
    json_object *root = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error err = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (err != json_tokener_success || !root) {
        json_object_put(root);
        *why = err == json_tokener_continue ? "JSON that ends early"
                                            : json_tokener_error_desc(err);
        return NULL;
    }
    for (size_t i = end; i < len; i++)
        if (!strchr(" \t\r\n", text[i])) {
            json_object_put(root);
            *why = "bytes after the JSON object";
            return NULL;
        }
    return root;
}

/* A JSON integer in [0, max]; 0 if it is not one. */
static int json_uint(json_object *v, uint64_t max, uint64_t *out) {
    if (!json_object_is_type(v, json_type_int)) return 0;
    int64_t x = json_object_get_int64(v);
    if (x < 0 || (uint64_t)x > max) return 0;
    *out = (uint64_t)x;
    return 1;
}

static at_status parse_dtype(at_ctx *ctx, const char *path, const char *name, json_object *obj,
                             entry *e) {
    json_object *v;
    if (!json_object_object_get_ex(obj, "dtype", &v))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "checkpoint '%s': tensor '%s' has no dtype", path,
                           name);
    if (!json_object_is_type(v, json_type_string))
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': tensor '%s': dtype is not a string", path, name);
    if (!dtype_from_name(json_object_get_string(v), &e->dtype, &e->dtype_bytes))
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': tensor '%s' has unsupported dtype '%s' (F32, F16, "
                           "BF16 and F64 can be read)",
                           path, name, json_object_get_string(v));
    return AT_OK;
}

static at_status parse_shape(at_ctx *ctx, const char *path, const char *name, json_object *obj,
                             entry *e) {
    json_object *v;
    if (!json_object_object_get_ex(obj, "shape", &v) || !json_object_is_type(v, json_type_array))
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': tensor '%s': shape is missing or not an array", path,
                           name);
    size_t ndim = json_object_array_length(v);
    if (ndim > FILE_MAX_DIMS)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': tensor '%s' has %zu dimensions (at most %d)", path,
                           name, ndim, FILE_MAX_DIMS);
    e->ndim = (int)ndim;
    for (size_t i = 0; i < ndim; i++) {
        uint64_t dim;
        if (!json_uint(json_object_array_get_idx(v, i), INT_MAX, &dim))
            return at_ctx_fail(ctx, AT_ERR_FORMAT,
                               "checkpoint '%s': tensor '%s': shape[%zu] is not an integer in "
                               "[0, %d]",
                               path, name, i, INT_MAX);
        e->shape[i] = (int)dim;
    }
    return AT_OK;
}

static at_status parse_offsets(at_ctx *ctx, const char *path, const char *name,
                               json_object *obj, uint64_t data_bytes, entry *e) {
    json_object *v;
    if (!json_object_object_get_ex(obj, "data_offsets", &v) ||
        !json_object_is_type(v, json_type_array) || json_object_array_length(v) != 2)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': tensor '%s': data_offsets is not an array of two "
                           "integers",
                           path, name);
    if (!json_uint(json_object_array_get_idx(v, 0), INT64_MAX, &e->begin) ||
        !json_uint(json_object_array_get_idx(v, 1), INT64_MAX, &e->end))
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': tensor '%s': data_offsets must be non-negative "
                           "integers",
                           path, name);
    if (e->begin > e->end || e->end > data_bytes)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': tensor '%s': data_offsets [%llu, %llu] do not lie "
                           "within the %llu data bytes",
                           path, name, (unsigned long long)e->begin, (unsigned long long)e->end,
                           (unsigned long long)data_bytes);
    return AT_OK;
}

/* numel * dtype bytes must equal end - begin, computed without overflow. */
static at_status check_byte_count(at_ctx *ctx, const char *path, const entry *e) {
    uint64_t bytes = e->dtype_bytes;
    for (int i = 0; i < e->ndim; i++) {
        uint64_t dim = (uint64_t)e->shape[i];
        if (dim != 0 && bytes > UINT64_MAX / dim)
            return at_ctx_fail(ctx, AT_ERR_FORMAT,
                               "checkpoint '%s': tensor '%s': shape is too large", path, e->name);
        bytes *= dim;
    }
    if (bytes != e->end - e->begin)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': tensor '%s': shape and dtype need %llu bytes but "
                           "data_offsets give %llu",
                           path, e->name, (unsigned long long)bytes,
                           (unsigned long long)(e->end - e->begin));
    return AT_OK;
}

static at_status parse_entry(at_ctx *ctx, const char *path, const char *name, json_object *obj,
                             uint64_t data_bytes, entry *e) {
    if (!json_object_is_type(obj, json_type_object))
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': tensor '%s' is not a JSON object", path, name);
    memset(e, 0, sizeof *e);
    e->name = name;
    AT_TRY(parse_dtype(ctx, path, name, obj, e));
    AT_TRY(parse_shape(ctx, path, name, obj, e));
    AT_TRY(parse_offsets(ctx, path, name, obj, data_bytes, e));
    return check_byte_count(ctx, path, e);
}

static at_status check_metadata(at_ctx *ctx, const char *path, json_object *meta) {
    if (!json_object_is_type(meta, json_type_object))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "checkpoint '%s': %s is not a JSON object", path,
                           METADATA_KEY);
    json_object_iter it;
    json_object_object_foreachC(meta, it) {
        if (!json_object_is_type(it.val, json_type_string))
            return at_ctx_fail(ctx, AT_ERR_FORMAT,
                               "checkpoint '%s': metadata value of '%s' is not a string", path,
                               it.key);
    }
    return AT_OK;
}

static int by_begin(const void *a, const void *b) {
    const entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* Sorts the entries by offset and rejects any two that share a byte. */
static at_status check_no_overlap(at_ctx *ctx, const char *path, header *h) {
    if (h->count > 1) qsort(h->entries, (size_t)h->count, sizeof *h->entries, by_begin);
    const entry *last = NULL; /* the non-empty range that ends furthest */
    for (int i = 0; i < h->count; i++) {
        const entry *e = &h->entries[i];
        if (e->begin == e->end) continue;
        if (last && e->begin < last->end)
            return at_ctx_fail(ctx, AT_ERR_FORMAT,
                               "checkpoint '%s': tensors '%s' and '%s' overlap (bytes [%llu, "
                               "%llu) and [%llu, %llu))",
                               path, last->name, e->name, (unsigned long long)last->begin,
                               (unsigned long long)last->end, (unsigned long long)e->begin,
                               (unsigned long long)e->end);
        if (!last || e->end > last->end) last = e;
    }
    return AT_OK;
}

/* Every key of the root object is a tensor entry or the metadata. */
static at_status check_root(at_ctx *ctx, const char *path, header *h) {
    if (!json_object_is_type(h->root, json_type_object))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "checkpoint '%s': the header is not a JSON object",
                           path);
    h->entries = calloc((size_t)json_object_object_length(h->root) + 1, sizeof *h->entries);
    if (!h->entries) return at_ctx_fail(ctx, AT_ERR_MEMORY, "checkpoint '%s': out of memory", path);
    json_object_iter it;
    json_object_object_foreachC(h->root, it) {
        if (strcmp(it.key, METADATA_KEY) == 0) {
            AT_TRY(check_metadata(ctx, path, it.val));
            h->metadata = it.val;
            continue;
        }
        AT_TRY(parse_entry(ctx, path, it.key, it.val, h->data_bytes, &h->entries[h->count]));
        h->count++;
    }
    return check_no_overlap(ctx, path, h);
}

static at_status fail_errno(at_ctx *ctx, const char *path, const char *doing, int error) {
    char reason[128];
    if (strerror_r(error, reason, sizeof reason) != 0) snprintf(reason, sizeof reason, "errno %d", error);
    return at_ctx_fail(ctx, AT_ERR_IO, "checkpoint '%s': cannot %s: %s", path, doing, reason);
}

/* Open a regular file for reading and learn its size. */
static at_status open_for_reading(at_ctx *ctx, const char *path, FILE **out, uint64_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return fail_errno(ctx, path, "open it", errno);
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int error = errno;
        fclose(f);
        return fail_errno(ctx, path, "read its size", error);
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(f);
        return at_ctx_fail(ctx, AT_ERR_IO, "checkpoint '%s': not a regular file", path);
    }
    *out = f;
    *size = (uint64_t)st.st_size;
    return AT_OK;
}

static at_status read_exactly(at_ctx *ctx, const char *path, FILE *f, void *buf, size_t bytes,
                              const char *what) {
    if (bytes && fread(buf, 1, bytes, f) != bytes)
        return at_ctx_fail(ctx, ferror(f) ? AT_ERR_IO : AT_ERR_FORMAT,
                           "checkpoint '%s': cannot read the %s (%zu bytes)", path, what, bytes);
    return AT_OK;
}

/* Read the length, check it against the file, return the header text. */
static at_status read_header_text(at_ctx *ctx, const char *path, FILE *f, uint64_t file_size,
                                  char **text, uint64_t *length) {
    if (file_size < 8)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': the file has %llu bytes, too few for the 8-byte "
                           "header length",
                           path, (unsigned long long)file_size);
    unsigned char prefix[8];
    AT_TRY(read_exactly(ctx, path, f, prefix, 8, "header length"));
    uint64_t n = load_le(prefix, 8);
    if (n > HEADER_MAX_BYTES)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': header length %llu is over the %llu byte limit",
                           path, (unsigned long long)n, HEADER_MAX_BYTES);
    if (n > file_size - 8)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': header length %llu but only %llu bytes follow it "
                           "(truncated file?)",
                           path, (unsigned long long)n, (unsigned long long)(file_size - 8));
    char *buf = malloc((size_t)n + 1);
    if (!buf) return at_ctx_fail(ctx, AT_ERR_MEMORY, "checkpoint '%s': out of memory", path);
    at_status status = read_exactly(ctx, path, f, buf, (size_t)n, "header");
    if (status != AT_OK) {
        free(buf);
        return status;
    }
    buf[n] = '\0';
    *text = buf;
    *length = n;
    return AT_OK;
}

/* Read and validate the whole header; on success h must be released. */
static at_status read_header(at_ctx *ctx, const char *path, FILE *f, uint64_t file_size,
                             header *h) {
    memset(h, 0, sizeof *h);
    char *text = NULL;
    uint64_t n = 0;
    AT_TRY(read_header_text(ctx, path, f, file_size, &text, &n));
    h->data_start = 8 + n;
    h->data_bytes = file_size - h->data_start;
    const char *why = "";
    h->root = parse_json(text, (size_t)n, &why);
    free(text);
    if (!h->root)
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "checkpoint '%s': the header is not valid JSON (%s)",
                           path, why);
    at_status status = check_root(ctx, path, h);
    if (status != AT_OK) header_release(h);
    return status;
}

static at_status open_and_read_header(at_ctx *ctx, const char *path, FILE **f, header *h) {
    uint64_t file_size = 0;
    AT_TRY(open_for_reading(ctx, path, f, &file_size));
    at_status status = read_header(ctx, path, *f, file_size, h);
    if (status != AT_OK) fclose(*f);
    return status;
}

/* The file's metadata as a fresh at_metadata (empty if there is none). */
static at_status metadata_from_header(at_ctx *ctx, const header *h, at_metadata *out) {
    at_metadata meta = {0};
    if (h->metadata) {
        json_object_iter it;
        json_object_object_foreachC(h->metadata, it) {
            at_status status = at_metadata_set(ctx, &meta, it.key, json_object_get_string(it.val));
            if (status != AT_OK) {
                at_metadata_clear(&meta);
                return status;
            }
        }
    }
    *out = meta;
    return AT_OK;
}

/* ================================================================ loading */

static const entry *find_entry(const header *h, const char *name) {
    for (int i = 0; i < h->count; i++)
        if (strcmp(h->entries[i].name, name) == 0) return &h->entries[i];
    return NULL;
}

static int same_shape(const at_tensor *t, const entry *e) {
    if (t->ndim != e->ndim) return 0;
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] != e->shape[i]) return 0;
    return 1;
}

/* Every tensor of the list must be in the file with its exact shape. */
static at_status check_list_present(at_ctx *ctx, const char *path, const header *h,
                                    const at_tensor_list *list) {
    for (int i = 0; i < list->count; i++) {
        const at_tensor *t = list->items[i];
        const entry *e = find_entry(h, t->name);
        if (!e)
            return at_ctx_fail(ctx, AT_ERR_FORMAT,
                               "checkpoint '%s': %s '%s' is missing from the file", path,
                               list->noun, t->name);
        if (!same_shape(t, e)) {
            char want[64], found[128];
            at_shape_str(want, sizeof want, t->ndim, t->shape);
            at_shape_str(found, sizeof found, e->ndim, e->shape);
            return at_ctx_fail(ctx, AT_ERR_SHAPE,
                               "checkpoint '%s': %s '%s' has shape %s in the model but %s "
                               "in the file",
                               path, list->noun, t->name, want, found);
        }
    }
    return AT_OK;
}

static int list_names(const at_tensor_list *list, const char *name) {
    for (int i = 0; i < list->count; i++)
        if (strcmp(list->items[i]->name, name) == 0) return 1;
    return 0;
}

/* The file may hold no tensor that the list does not name. */
static at_status check_no_other_tensor(at_ctx *ctx, const char *path, const header *h,
                                       const at_tensor_list *list) {
    for (int i = 0; i < h->count; i++)
        if (!list_names(list, h->entries[i].name))
            return at_ctx_fail(ctx, AT_ERR_FORMAT,
                               "checkpoint '%s': unexpected tensor '%s' in the file: no %s has "
                               "that name",
                               path, h->entries[i].name, list->noun);
    return AT_OK;
}

/* The data part, read whole. NULL (and AT_OK) if it is empty. */
static at_status read_data(at_ctx *ctx, const char *path, FILE *f, const header *h,
                           unsigned char **out) {
    *out = NULL;
    if (h->data_bytes == 0) return AT_OK;
    if (h->data_bytes > SIZE_MAX)
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "checkpoint '%s': too large to read", path);
    unsigned char *data = malloc((size_t)h->data_bytes);
    if (!data)
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "checkpoint '%s': cannot allocate %llu bytes",
                           path, (unsigned long long)h->data_bytes);
    at_status status = read_exactly(ctx, path, f, data, (size_t)h->data_bytes, "tensor data");
    if (status != AT_OK) {
        free(data);
        return status;
    }
    *out = data;
    return AT_OK;
}

static void convert_into(float *dst, const unsigned char *src, const entry *e, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = element_to_float(src + i * e->dtype_bytes, e->dtype);
}

/* Cannot fail: everything was checked before. */
static void copy_list(const header *h, const unsigned char *data, const at_tensor_list *list) {
    for (int i = 0; i < list->count; i++) {
        at_tensor *t = list->items[i];
        const entry *e = find_entry(h, t->name);
        convert_into(t->data, data + e->begin, e, t->size);
    }
}

static at_status load_validated(at_ctx *ctx, const char *path, FILE *f, const header *h,
                                const at_tensor_list *list, int only_these,
                                at_metadata *meta_out) {
    AT_TRY(check_list_present(ctx, path, h, list));
    if (only_these) AT_TRY(check_no_other_tensor(ctx, path, h, list));
    unsigned char *data;
    AT_TRY(read_data(ctx, path, f, h, &data));
    at_metadata meta = {0};
    at_status status = meta_out ? metadata_from_header(ctx, h, &meta) : AT_OK;
    if (status == AT_OK) {
        copy_list(h, data, list);
        if (meta_out) *meta_out = meta;
    }
    free(data);
    return status;
}

at_status at_safetensors_load(at_ctx *ctx, const char *path, const at_tensor_list *list,
                              int only_these, at_metadata *meta_out) {
    if (!path || !list || (list->count > 0 && !list->items))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "safetensors_load: NULL path or tensors");
    FILE *f;
    header h;
    AT_TRY(open_and_read_header(ctx, path, &f, &h));
    at_status status = load_validated(ctx, path, f, &h, list, only_these, meta_out);
    header_release(&h);
    fclose(f);
    return status;
}

/* The tensors of a parameter set as a list (items malloc'ed; free them). */
static at_status params_list(at_ctx *ctx, const at_params *params, at_tensor_list *list) {
    int n = at_params_count(params);
    at_tensor **items = malloc((size_t)(n > 0 ? n : 1) * sizeof *items);
    if (!items) return at_ctx_fail(ctx, AT_ERR_MEMORY, "checkpoint: out of memory");
    for (int i = 0; i < n; i++) items[i] = at_params_get(params, i);
    *list = (at_tensor_list){.items = items, .count = n, .noun = "parameter"};
    return AT_OK;
}

at_status at_checkpoint_load(at_ctx *ctx, const char *path, at_params *params,
                             at_metadata *meta_out) {
    if (!path || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "checkpoint_load: NULL path or params");
    at_tensor_list list;
    AT_TRY(params_list(ctx, params, &list));
    at_status status = at_safetensors_load(ctx, path, &list, 0, meta_out);
    free((void *)list.items);
    return status;
}

at_status at_checkpoint_read_metadata(at_ctx *ctx, const char *path, at_metadata *meta_out) {
    if (!path || !meta_out)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "checkpoint_read_metadata: NULL argument");
    FILE *f;
    header h;
    AT_TRY(open_and_read_header(ctx, path, &f, &h));
    at_status status = metadata_from_header(ctx, &h, meta_out);
    header_release(&h);
    fclose(f);
    return status;
}

/* ================================================================= saving */

static json_object *tensor_json(const at_tensor *t, uint64_t begin) {
    json_object *obj = json_object_new_object();
    json_object *shape = json_object_new_array();
    json_object *offsets = json_object_new_array();
    if (!obj || !shape || !offsets) {
        json_object_put(obj);
        json_object_put(shape);
        json_object_put(offsets);
        return NULL;
    }
    for (int i = 0; i < t->ndim; i++) json_object_array_add(shape, json_object_new_int(t->shape[i]));
    json_object_array_add(offsets, json_object_new_int64((int64_t)begin));
    json_object_array_add(offsets, json_object_new_int64((int64_t)(begin + 4 * t->size)));
    json_object_object_add(obj, "dtype", json_object_new_string("F32"));
    json_object_object_add(obj, "shape", shape);
    json_object_object_add(obj, "data_offsets", offsets);
    return obj;
}

static json_object *metadata_json(const at_metadata *meta) {
    json_object *obj = json_object_new_object();
    for (int i = 0; obj && i < meta->count; i++)
        json_object_object_add(obj, meta->keys[i], json_object_new_string(meta->values[i]));
    return obj;
}

/* The header object: every tensor as F32, in list order, then metadata. */
static at_status build_header(at_ctx *ctx, const char *path, const at_tensor_list *list,
                              const at_metadata *meta, json_object **out) {
    json_object *root = json_object_new_object();
    if (!root) return at_ctx_fail(ctx, AT_ERR_MEMORY, "checkpoint '%s': out of memory", path);
    uint64_t offset = 0;
    for (int i = 0; i < list->count; i++) {
        const at_tensor *t = list->items[i];
        json_object *entry_obj = tensor_json(t, offset);
        if (!entry_obj || json_object_object_add(root, t->name, entry_obj) != 0) {
            json_object_put(entry_obj);
            json_object_put(root);
            return at_ctx_fail(ctx, AT_ERR_MEMORY, "checkpoint '%s': out of memory", path);
        }
        offset += 4 * (uint64_t)t->size;
    }
    if (meta && meta->count > 0) {
        json_object *m = metadata_json(meta);
        if (!m || json_object_object_add(root, METADATA_KEY, m) != 0) {
            json_object_put(m);
            json_object_put(root);
            return at_ctx_fail(ctx, AT_ERR_MEMORY, "checkpoint '%s': out of memory", path);
        }
    }
    *out = root;
    return AT_OK;
}

static at_status check_save_arguments(at_ctx *ctx, const char *path,
                                      const at_tensor_list *list, const at_metadata *meta) {
    for (int i = 0; i < list->count; i++) {
        const char *name = list->items[i]->name;
        if (!name || !*name)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "checkpoint '%s': %s %d has no name", path,
                               list->noun, i);
        if (strcmp(name, METADATA_KEY) == 0)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "checkpoint '%s': a %s may not be named '%s'",
                               path, list->noun, METADATA_KEY);
    }
    for (int i = 0; meta && i < meta->count; i++)
        if (!meta->keys || !meta->values || !meta->keys[i] || !meta->values[i])
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "checkpoint '%s': metadata entry %d is NULL",
                               path, i);
    return AT_OK;
}

/* The header bytes as they go in the file: JSON padded with spaces to a
 * multiple of 8. Parsed back once to be sure a reader will accept it
 * (this catches names or metadata that are not valid UTF-8). */
static at_status header_bytes(at_ctx *ctx, const char *path, const at_tensor_list *list,
                              const at_metadata *meta, char **out, size_t *length) {
    json_object *root = NULL;
    AT_TRY(build_header(ctx, path, list, meta, &root));
    const char *json =
        json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    size_t n = json ? strlen(json) : 0;
    size_t padded = (n + 7) / 8 * 8;
    char *buf = json ? malloc(padded) : NULL;
    if (!buf) {
        json_object_put(root);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "checkpoint '%s': out of memory", path);
    }
    memcpy(buf, json, n);
    memset(buf + n, ' ', padded - n);
    json_object_put(root);
    const char *why = "";
    json_object *check = parse_json(buf, padded, &why);
    if (!check) {
        free(buf);
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "checkpoint '%s': parameter names or metadata do not make a valid "
                           "header (%s); are they UTF-8?",
                           path, why);
    }
    json_object_put(check);
    *out = buf;
    *length = padded;
    return AT_OK;
}

/* Write one tensor's floats little-endian, through a small buffer. */
static void write_floats(atf_writer *w, const float *x, size_t n) {
    unsigned char chunk[4 * WRITE_CHUNK_FLOATS];
    while (n > 0) {
        size_t m = n < WRITE_CHUNK_FLOATS ? n : WRITE_CHUNK_FLOATS;
        for (size_t i = 0; i < m; i++) {
            uint32_t bits;
            memcpy(&bits, &x[i], sizeof bits);
            store_le(chunk + 4 * i, bits, 4);
        }
        if (!atf_write(w, chunk, 4 * m)) return;
        x += m;
        n -= m;
    }
}

/* Write header and data with the library's atomic writer (files.h). */
static at_status write_atomically(at_ctx *ctx, const char *path, const char *header_text,
                                  size_t header_length, const at_tensor_list *list) {
    atf_writer *w = malloc(sizeof *w);
    if (!w) return at_ctx_fail(ctx, AT_ERR_MEMORY, "checkpoint '%s': out of memory", path);
    at_status status = atf_open(ctx, w, path);
    if (status == AT_OK) {
        unsigned char prefix[8];
        store_le(prefix, header_length, 8);
        atf_write(w, prefix, 8);
        atf_write(w, header_text, header_length);
        for (int i = 0; i < list->count; i++)
            write_floats(w, list->items[i]->data, list->items[i]->size);
        status = atf_commit(ctx, w);
    }
    free(w);
    if (status != AT_OK) { /* "checkpoint 'PATH': ..." as every message here */
        const char *why = at_ctx_error(ctx);
        size_t n = strlen(path);
        if (!strncmp(why, path, n) && !strncmp(why + n, ": ", 2)) why += n + 2;
        status = at_ctx_fail(ctx, status, "checkpoint '%s': %s", path, why);
    }
    return status;
}

at_status at_safetensors_save(at_ctx *ctx, const char *path, const at_tensor_list *list,
                              const at_metadata *meta) {
    if (!path || !*path || !list || (list->count > 0 && !list->items))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "safetensors_save: NULL or empty path or tensors");
    AT_TRY(check_save_arguments(ctx, path, list, meta));
    char *header_text = NULL;
    size_t header_length = 0;
    AT_TRY(header_bytes(ctx, path, list, meta, &header_text, &header_length));
    at_status status = write_atomically(ctx, path, header_text, header_length, list);
    free(header_text);
    return status;
}

at_status at_checkpoint_save(at_ctx *ctx, const char *path, const at_params *params,
                             const at_metadata *meta) {
    if (!path || !*path || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "checkpoint_save: NULL or empty path or params");
    at_tensor_list list;
    AT_TRY(params_list(ctx, params, &list));
    at_status status = at_safetensors_save(ctx, path, &list, meta);
    free((void *)list.items);
    return status;
}
