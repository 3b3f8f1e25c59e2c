/*
 * safetensors_read.c - reading any safetensors file, trusting nothing.
 *
 * (The format is described in safetensors.c, which writes it.) Opening a
 * file reads its header and checks all of it before anything is used:
 *
 *   - the 8-byte length fits the file and is at most 100 MB (as the
 *     reference implementation);
 *   - the header is one strict, UTF-8 JSON object with no key twice in any
 *     object (json_strict.c) and at most AT_SAFETENSORS_MAX_TENSORS tensors
 *     and AT_SAFETENSORS_MAX_METADATA metadata entries;
 *   - every tensor has a known dtype, a shape of 0 to 8 ints in [0,
 *     INT_MAX], two data_offsets with begin <= end <= data size and
 *     end - begin == numel * dtype size (overflow-checked), and no two
 *     tensors share a byte;
 *   - every metadata value is a string.
 *
 * Everything that follows is linear in the header: json-c's objects are
 * hash tables, the tensors are sorted by name once (so a lookup is a binary
 * search) and the metadata is copied in one pass.
 *
 * Leniencies, on purpose: gaps between tensors' bytes or after the last
 * one are allowed (the reference reader insists the tensors tile the data
 * part exactly), and so is a BOOL byte other than 0 or 1 (read as true).
 * json-c in strict mode still takes 'single-quoted' keys and NaN; both
 * are harmless (json_strict.c finds a key twice in either quotes), as
 * every field is type-checked after parsing.
 *
 * Tensor bytes are read with pread() when asked for, so a handle can be
 * shared by threads, and a caller that needs one tensor of a large file
 * reads only that one.
 *
 * ati_safetensors_load fills a list of float tensors (a model's parameters,
 * an optimiser's moments) from a file: every tensor of the list must be in
 * the file with its shape and a floating-point dtype; all are read and
 * converted into a staging buffer before the first one changes, so a load
 * changes every tensor or none.
 *
 * Status codes: a file that cannot be opened or read is AT_ERR_IO; a file
 * whose content is malformed, or that lacks a tensor, is AT_ERR_FORMAT; a
 * tensor whose shape differs is AT_ERR_SHAPE. Every message starts with
 * "checkpoint 'PATH':" and names the tensor or field at fault.
 */
#define _POSIX_C_SOURCE 200809L

#include "json_strict.h"
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_MAX_BYTES 100000000ULL /* as the reference implementation */
#define METADATA_KEY "__metadata__"
/* What json-c may build for a header at most: a tensor entry is 15 values
 * at most (itself, dtype, shape and 8 dims, offsets and 2 ints), a
 * metadata entry 1; the root and the metadata object add 2. */
#define HEADER_MAX_VALUES                                                                     \
    (15 * (size_t)AT_SAFETENSORS_MAX_TENSORS + (size_t)AT_SAFETENSORS_MAX_METADATA + 2)
#define CONVERT_CHUNK_BYTES 16384

/* ================================================================= dtypes */

static const struct {
    const char *name;
    size_t bytes;
    int is_float;
} DTYPES[] = {
    [AT_DTYPE_F32] = {"F32", 4, 1},  [AT_DTYPE_F64] = {"F64", 8, 1},
    [AT_DTYPE_F16] = {"F16", 2, 1},  [AT_DTYPE_BF16] = {"BF16", 2, 1},
    [AT_DTYPE_I64] = {"I64", 8, 0},  [AT_DTYPE_I32] = {"I32", 4, 0},
    [AT_DTYPE_I16] = {"I16", 2, 0},  [AT_DTYPE_I8] = {"I8", 1, 0},
    [AT_DTYPE_U8] = {"U8", 1, 0},    [AT_DTYPE_BOOL] = {"BOOL", 1, 0},
};
#define DTYPE_COUNT ((int)(sizeof DTYPES / sizeof DTYPES[0]))

const char *at_dtype_name(at_dtype dtype) {
    return (int)dtype >= 0 && (int)dtype < DTYPE_COUNT ? DTYPES[dtype].name : NULL;
}

size_t at_dtype_size(at_dtype dtype) {
    return (int)dtype >= 0 && (int)dtype < DTYPE_COUNT ? DTYPES[dtype].bytes : 0;
}

static int dtype_from_name(const char *name, at_dtype *dtype) {
    for (int i = 0; i < DTYPE_COUNT; i++)
        if (strcmp(DTYPES[i].name, name) == 0) {
            *dtype = (at_dtype)i;
            return 1;
        }
    return 0;
}

/* Little-endian load from possibly unaligned bytes. */
static uint64_t load_le(const unsigned char *b, size_t bytes) {
    uint64_t x = 0;
    for (size_t i = bytes; i-- > 0;) x = (x << 8) | b[i];
    return x;
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

/* A two's complement value of `bytes` bytes, sign-extended. */
static int64_t signed_from_bits(uint64_t bits, size_t bytes) {
    if (bytes < 8 && (bits >> (8 * bytes - 1)) & 1) bits |= ~(uint64_t)0 << (8 * bytes);
    int64_t x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

static float element_to_float(const unsigned char *b, at_dtype dtype) {
    uint64_t bits = load_le(b, DTYPES[dtype].bytes);
    switch (dtype) {
    case AT_DTYPE_F32: return f32_from_bits((uint32_t)bits);
    case AT_DTYPE_F16: return f16_to_float((uint16_t)bits);
    case AT_DTYPE_BF16: return f32_from_bits((uint32_t)bits << 16);
    case AT_DTYPE_F64: {
        double d;
        memcpy(&d, &bits, sizeof d);
        return f64_to_float(d);
    }
    case AT_DTYPE_I64:
    case AT_DTYPE_I32:
    case AT_DTYPE_I16:
    case AT_DTYPE_I8: return (float)signed_from_bits(bits, DTYPES[dtype].bytes);
    case AT_DTYPE_U8: return (float)bits;
    case AT_DTYPE_BOOL: return bits ? 1.0f : 0.0f;
    }
    return 0.0f;
}

/* ============================================================ the handle */

/* One validated tensor entry. */
typedef struct entry {
    const char *name; /* into the handle's name block */
    at_dtype dtype;
    int ndim;
    int64_t shape[AT_SAFETENSORS_MAX_DIMS];
    uint64_t numel;
    uint64_t begin, end; /* byte range in the data part */
} entry;

struct at_safetensors {
    char *path;
    int fd;
    entry *entries; /* sorted by name */
    int count;
    char *names; /* every name, NUL-terminated, one after another */
    at_metadata metadata;
    uint64_t data_start; /* 8 + N */
    uint64_t data_bytes; /* file size - data_start */
};

void at_safetensors_close(at_safetensors *file) {
    if (!file) return;
    if (file->fd >= 0) close(file->fd);
    free(file->path);
    free(file->entries);
    free(file->names);
    at_metadata_clear(&file->metadata);
    free(file);
}

static at_status fail_errno(at_ctx *ctx, const char *path, const char *doing, int error) {
    char reason[128];
    if (strerror_r(error, reason, sizeof reason) != 0)
        snprintf(reason, sizeof reason, "errno %d", error);
    return at_ctx_fail(ctx, AT_ERR_IO, "checkpoint '%s': cannot %s: %s", path, doing, reason);
}

/* bytes from the file at offset; a short read is an AT_ERR_FORMAT when the
 * file is known to be long enough (it changed) and reported as `what`. */
static at_status read_at(at_ctx *ctx, const at_safetensors *f, uint64_t offset, void *buf,
                         size_t bytes, const char *what) {
    unsigned char *p = buf;
    while (bytes > 0) {
        ssize_t got = pread(f->fd, p, bytes, (off_t)offset);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return fail_errno(ctx, f->path, "read it", errno);
        if (got == 0)
            return at_ctx_fail(ctx, AT_ERR_IO,
                               "checkpoint '%s': the file ended while reading the %s (did it "
                               "change since it was opened?)",
                               f->path, what);
        p += got;
        offset += (uint64_t)got;
        bytes -= (size_t)got;
    }
    return AT_OK;
}

/* Open a regular file for reading and learn its size. */
static at_status open_file(at_ctx *ctx, at_safetensors *f, uint64_t *size) {
    /* O_NONBLOCK: a FIFO's open would wait for a writer; it is refused below */
    f->fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (f->fd < 0) return fail_errno(ctx, f->path, "open it", errno);
    struct stat st;
    if (fstat(f->fd, &st) != 0) return fail_errno(ctx, f->path, "read its size", errno);
    if (!S_ISREG(st.st_mode))
        return at_ctx_fail(ctx, AT_ERR_IO, "checkpoint '%s': not a regular file", f->path);
    *size = (uint64_t)st.st_size;
    return AT_OK;
}

/* ============================================================ the header */

/* Read the length, check it against the file, return the header text. */
static at_status read_header_text(at_ctx *ctx, at_safetensors *f, uint64_t file_size,
                                  char **text, size_t *length) {
    const char *path = f->path;
    if (file_size < 8)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': the file has %llu bytes, too few for the 8-byte "
                           "header length",
                           path, (unsigned long long)file_size);
    unsigned char prefix[8];
    AT_TRY(read_at(ctx, f, 0, prefix, 8, "header length"));
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
    at_status status = read_at(ctx, f, 8, buf, (size_t)n, "header");
    if (status != AT_OK) {
        free(buf);
        return status;
    }
    buf[n] = '\0';
    *text = buf;
    *length = (size_t)n;
    f->data_start = 8 + n;
    f->data_bytes = file_size - f->data_start;
    return AT_OK;
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
    if (!dtype_from_name(json_object_get_string(v), &e->dtype))
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': tensor '%s' has unsupported dtype '%s' (F32, F64, "
                           "F16, BF16, I64, I32, I16, I8, U8 and BOOL can be read)",
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
    if (ndim > AT_SAFETENSORS_MAX_DIMS)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': tensor '%s' has %zu dimensions (at most %d)", path,
                           name, ndim, AT_SAFETENSORS_MAX_DIMS);
    e->ndim = (int)ndim;
    for (size_t i = 0; i < ndim; i++) {
        uint64_t dim;
        if (!json_uint(json_object_array_get_idx(v, i), INT_MAX, &dim))
            return at_ctx_fail(ctx, AT_ERR_FORMAT,
                               "checkpoint '%s': tensor '%s': shape[%zu] is not an integer in "
                               "[0, %d]",
                               path, name, i, INT_MAX);
        e->shape[i] = (int64_t)dim;
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
static at_status check_byte_count(at_ctx *ctx, const char *path, const char *name, entry *e) {
    uint64_t numel = 1, size = DTYPES[e->dtype].bytes;
    for (int i = 0; i < e->ndim; i++) {
        uint64_t dim = (uint64_t)e->shape[i];
        if (dim != 0 && numel > UINT64_MAX / size / dim)
            return at_ctx_fail(ctx, AT_ERR_FORMAT,
                               "checkpoint '%s': tensor '%s': shape is too large", path, name);
        numel *= dim;
    }
    e->numel = numel;
    if (numel * size != e->end - e->begin)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': tensor '%s': shape and dtype need %llu bytes but "
                           "data_offsets give %llu",
                           path, name, (unsigned long long)(numel * size),
                           (unsigned long long)(e->end - e->begin));
    return AT_OK;
}

static at_status parse_entry(at_ctx *ctx, const char *path, const char *name, json_object *obj,
                             uint64_t data_bytes, entry *e) {
    if (!json_object_is_type(obj, json_type_object))
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': tensor '%s' is not a JSON object", path, name);
    memset(e, 0, sizeof *e);
    e->name = name; /* json-c's for now; the handle's own after copy_names */
    AT_TRY(parse_dtype(ctx, path, name, obj, e));
    AT_TRY(parse_shape(ctx, path, name, obj, e));
    AT_TRY(parse_offsets(ctx, path, name, obj, data_bytes, e));
    return check_byte_count(ctx, path, name, e);
}

/* The metadata object: string values only, at most the limit; copied in
 * one pass (its keys are unique: json_strict.c refused repeats). */
static at_status read_metadata(at_ctx *ctx, at_safetensors *f, json_object *meta) {
    if (!json_object_is_type(meta, json_type_object))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "checkpoint '%s': %s is not a JSON object",
                           f->path, METADATA_KEY);
    int n = json_object_object_length(meta);
    if (n > AT_SAFETENSORS_MAX_METADATA)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': %d metadata entries, more than the %d allowed",
                           f->path, n, AT_SAFETENSORS_MAX_METADATA);
    at_metadata *m = &f->metadata;
    m->keys = calloc((size_t)n + 1, sizeof *m->keys);
    m->values = calloc((size_t)n + 1, sizeof *m->values);
    if (!m->keys || !m->values)
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "checkpoint '%s': out of memory", f->path);
    json_object_iter it;
    json_object_object_foreachC(meta, it) {
        if (!json_object_is_type(it.val, json_type_string))
            return at_ctx_fail(ctx, AT_ERR_FORMAT,
                               "checkpoint '%s': metadata value of '%s' is not a string", f->path,
                               it.key);
        m->keys[m->count] = strdup(it.key);
        m->values[m->count] = strdup(json_object_get_string(it.val));
        m->count++; /* counted first, so that clear frees a half copy */
        if (!m->keys[m->count - 1] || !m->values[m->count - 1])
            return at_ctx_fail(ctx, AT_ERR_MEMORY, "checkpoint '%s': out of memory", f->path);
    }
    return AT_OK;
}

static int by_begin(const void *a, const void *b) {
    const entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

/* Sorts the entries by offset and rejects any two that share a byte. */
static at_status check_no_overlap(at_ctx *ctx, at_safetensors *f) {
    if (f->count > 1) qsort(f->entries, (size_t)f->count, sizeof *f->entries, by_begin);
    const entry *last = NULL; /* the non-empty range that ends furthest */
    for (int i = 0; i < f->count; i++) {
        const entry *e = &f->entries[i];
        if (e->begin == e->end) continue;
        if (last && e->begin < last->end)
            return at_ctx_fail(ctx, AT_ERR_FORMAT,
                               "checkpoint '%s': tensors '%s' and '%s' overlap (bytes [%llu, "
                               "%llu) and [%llu, %llu))",
                               f->path, last->name, e->name, (unsigned long long)last->begin,
                               (unsigned long long)last->end, (unsigned long long)e->begin,
                               (unsigned long long)e->end);
        if (!last || e->end > last->end) last = e;
    }
    return AT_OK;
}

/* Give the handle its own copy of every name (the JSON goes away), then
 * order the entries by name for at_safetensors_find. */
static at_status copy_names(at_ctx *ctx, at_safetensors *f) {
    size_t total = 1;
    for (int i = 0; i < f->count; i++) total += strlen(f->entries[i].name) + 1;
    f->names = malloc(total);
    if (!f->names) return at_ctx_fail(ctx, AT_ERR_MEMORY, "checkpoint '%s': out of memory", f->path);
    char *next = f->names;
    for (int i = 0; i < f->count; i++) {
        size_t n = strlen(f->entries[i].name) + 1;
        memcpy(next, f->entries[i].name, n);
        f->entries[i].name = next;
        next += n;
    }
    if (f->count > 1) qsort(f->entries, (size_t)f->count, sizeof *f->entries, by_name);
    return AT_OK;
}

/* Every key of the root object is a tensor entry or the metadata. */
static at_status read_root(at_ctx *ctx, at_safetensors *f, json_object *root) {
    if (!json_object_is_type(root, json_type_object))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "checkpoint '%s': the header is not a JSON object",
                           f->path);
    int keys = json_object_object_length(root);
    if (keys > AT_SAFETENSORS_MAX_TENSORS + 1)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': %d tensors, more than the %d allowed", f->path, keys,
                           AT_SAFETENSORS_MAX_TENSORS);
    f->entries = calloc((size_t)keys + 1, sizeof *f->entries);
    if (!f->entries) return at_ctx_fail(ctx, AT_ERR_MEMORY, "checkpoint '%s': out of memory", f->path);
    json_object_iter it;
    json_object_object_foreachC(root, it) {
        if (strcmp(it.key, METADATA_KEY) == 0) {
            AT_TRY(read_metadata(ctx, f, it.val));
            continue;
        }
        AT_TRY(parse_entry(ctx, f->path, it.key, it.val, f->data_bytes, &f->entries[f->count]));
        f->count++;
    }
    if (f->count > AT_SAFETENSORS_MAX_TENSORS)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': %d tensors, more than the %d allowed", f->path,
                           f->count, AT_SAFETENSORS_MAX_TENSORS);
    AT_TRY(check_no_overlap(ctx, f));
    return copy_names(ctx, f);
}

static at_status read_header(at_ctx *ctx, at_safetensors *f) {
    uint64_t file_size = 0;
    AT_TRY(open_file(ctx, f, &file_size));
    char *text = NULL;
    size_t n = 0;
    AT_TRY(read_header_text(ctx, f, file_size, &text, &n));
    char why[160];
    json_object *root = ati_json_parse_strict(text, n, HEADER_MAX_VALUES, why, sizeof why);
    free(text);
    if (!root)
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "checkpoint '%s': the header is not valid JSON (%s)",
                           f->path, why);
    at_status status = read_root(ctx, f, root);
    json_object_put(root);
    return status;
}

at_status at_safetensors_open(at_ctx *ctx, at_safetensors **out, const char *path) {
    if (!out || !path)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "safetensors_open: NULL argument");
    *out = NULL;
    at_safetensors *f = calloc(1, sizeof *f);
    if (f) f->fd = -1;
    if (f) f->path = strdup(path);
    if (!f || !f->path) {
        free(f);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "checkpoint '%s': out of memory", path);
    }
    at_status status = read_header(ctx, f);
    if (status != AT_OK) {
        at_safetensors_close(f);
        return status;
    }
    *out = f;
    return AT_OK;
}

/* ============================================================= accessors */

int at_safetensors_count(const at_safetensors *file) { return file ? file->count : 0; }

const at_metadata *at_safetensors_metadata(const at_safetensors *file) {
    return file ? &file->metadata : NULL;
}

int at_safetensors_find(const at_safetensors *file, const char *name) {
    if (!file || !name) return -1;
    int lo = 0, hi = file->count - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int order = strcmp(name, file->entries[mid].name);
        if (order == 0) return mid;
        if (order < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return -1;
}

static at_status get_entry(at_ctx *ctx, const at_safetensors *file, int index, const entry **e,
                           const char *op) {
    if (!file) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: the file is NULL", op);
    if (index < 0 || index >= file->count)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: checkpoint '%s' has no tensor %d (it has %d)",
                           op, file->path, index, file->count);
    *e = &file->entries[index];
    return AT_OK;
}

at_status at_safetensors_info(at_ctx *ctx, const at_safetensors *file, int index,
                              at_safetensor_info *out) {
    const entry *e = NULL;
    AT_TRY(get_entry(ctx, file, index, &e, "safetensors_info"));
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "safetensors_info: out is NULL");
    memset(out, 0, sizeof *out);
    out->name = e->name;
    out->dtype = e->dtype;
    out->ndim = e->ndim;
    memcpy(out->shape, e->shape, sizeof out->shape);
    out->numel = e->numel;
    out->bytes = e->end - e->begin;
    return AT_OK;
}

at_status at_safetensors_read(at_ctx *ctx, const at_safetensors *file, int index, void *buf,
                              size_t bytes) {
    const entry *e = NULL;
    AT_TRY(get_entry(ctx, file, index, &e, "safetensors_read"));
    if (bytes != e->end - e->begin || (bytes && !buf))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "safetensors_read: tensor '%s' has %llu bytes, the buffer %zu%s",
                           e->name, (unsigned long long)(e->end - e->begin), bytes,
                           buf ? "" : " (NULL)");
    return read_at(ctx, file, file->data_start + e->begin, buf, bytes, "tensor data");
}

/* The entry's values as floats, read and converted a chunk at a time. */
static at_status read_converted(at_ctx *ctx, const at_safetensors *file, const entry *e,
                                float *out) {
    unsigned char chunk[CONVERT_CHUNK_BYTES];
    size_t size = DTYPES[e->dtype].bytes, per_chunk = sizeof chunk / size;
    for (uint64_t done = 0; done < e->numel;) {
        size_t n = e->numel - done < per_chunk ? (size_t)(e->numel - done) : per_chunk;
        AT_TRY(read_at(ctx, file, file->data_start + e->begin + done * size, chunk, n * size,
                       "tensor data"));
        for (size_t i = 0; i < n; i++) out[done + i] = element_to_float(chunk + i * size, e->dtype);
        done += n;
    }
    return AT_OK;
}

at_status at_safetensors_read_f32(at_ctx *ctx, const at_safetensors *file, int index,
                                  float *out, size_t count) {
    const entry *e = NULL;
    AT_TRY(get_entry(ctx, file, index, &e, "safetensors_read_f32"));
    if (count != e->numel || (count && !out))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "safetensors_read_f32: tensor '%s' has %llu elements, the buffer "
                           "%zu%s",
                           e->name, (unsigned long long)e->numel, count, out ? "" : " (NULL)");
    return read_converted(ctx, file, e, out);
}

/* ======================================================= loading a list */

static void shape_text(char *buf, size_t bytes, int ndim, const int64_t *shape) {
    size_t used = (size_t)snprintf(buf, bytes, "(");
    for (int i = 0; i < ndim && used < bytes; i++)
        used += (size_t)snprintf(buf + used, bytes - used, i ? ", %lld" : "%lld",
                                 (long long)shape[i]);
    if (used < bytes) snprintf(buf + used, bytes - used, ")");
}

static int same_shape(int ndim, const int *shape, const entry *e) {
    if (ndim != e->ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if ((int64_t)shape[i] != e->shape[i]) return 0;
    return 1;
}

at_status ati_safetensors_check_tensor(at_ctx *ctx, const at_safetensors *file, const char *noun,
                                      const char *name, int ndim, const int *shape) {
    int index = at_safetensors_find(file, name);
    if (index < 0)
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "checkpoint '%s': %s '%s' is missing from the file",
                           file->path, noun, name);
    const entry *e = &file->entries[index];
    if (!same_shape(ndim, shape, e)) {
        char want[64], found[160];
        ati_shape_str(want, sizeof want, ndim, shape);
        shape_text(found, sizeof found, e->ndim, e->shape);
        return at_ctx_fail(ctx, AT_ERR_SHAPE,
                           "checkpoint '%s': %s '%s' has shape %s in the model but %s in the file",
                           file->path, noun, name, want, found);
    }
    if (!DTYPES[e->dtype].is_float)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "checkpoint '%s': %s '%s' has dtype '%s' in the file; a %s must be "
                           "F32, F64, F16 or BF16",
                           file->path, noun, name, DTYPES[e->dtype].name, noun);
    return AT_OK;
}

static int by_string(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The file may hold no tensor that the list does not name. Every list
 * tensor is in the file (checked first) and list names are unique, so
 * equal counts settle it; otherwise the first stranger is named. */
static at_status check_no_other_tensor(at_ctx *ctx, const at_safetensors *f,
                                       const ati_tensor_list *list) {
    if (f->count == list->count) return AT_OK;
    const char **names = malloc((size_t)(list->count > 0 ? list->count : 1) * sizeof *names);
    if (!names) return at_ctx_fail(ctx, AT_ERR_MEMORY, "checkpoint '%s': out of memory", f->path);
    for (int i = 0; i < list->count; i++) names[i] = list->items[i]->name;
    qsort(names, (size_t)list->count, sizeof *names, by_string);
    const char *stranger = NULL;
    for (int i = 0; i < f->count && !stranger; i++) {
        const char *name = f->entries[i].name;
        if (!bsearch(&name, names, (size_t)list->count, sizeof *names, by_string)) stranger = name;
    }
    free(names);
    if (!stranger) return AT_OK;
    return at_ctx_fail(ctx, AT_ERR_FORMAT,
                       "checkpoint '%s': unexpected tensor '%s' in the file: no %s has that name",
                       f->path, stranger, list->noun);
}

at_status ati_safetensors_check_list(at_ctx *ctx, const at_safetensors *file,
                                    const ati_tensor_list *list, int only_these) {
    for (int i = 0; i < list->count; i++) {
        const at_tensor *t = list->items[i];
        AT_TRY(ati_safetensors_check_tensor(ctx, file, list->noun, t->name, t->ndim, t->shape));
    }
    return only_these ? check_no_other_tensor(ctx, file, list) : AT_OK;
}

at_status ati_safetensors_fill(at_ctx *ctx, const at_safetensors *file,
                              const ati_tensor_list *list, int only_these) {
    if (!file || !list || (list->count > 0 && !list->items))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "safetensors_fill: NULL file or tensors");
    AT_TRY(ati_safetensors_check_list(ctx, file, list, only_these));
    size_t total = 0;
    for (int i = 0; i < list->count; i++) total += list->items[i]->size;
    float *staging = malloc((total > 0 ? total : 1) * sizeof *staging);
    if (!staging)
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "checkpoint '%s': cannot allocate %zu floats",
                           file->path, total);
    at_status status = AT_OK;
    size_t offset = 0;
    for (int i = 0; i < list->count && status == AT_OK; i++) {
        const entry *e = &file->entries[at_safetensors_find(file, list->items[i]->name)];
        status = read_converted(ctx, file, e, staging + offset);
        offset += list->items[i]->size;
    }
    offset = 0;
    for (int i = 0; i < list->count && status == AT_OK; i++) {
        at_tensor *t = list->items[i];
        if (t->size) memcpy(t->data, staging + offset, t->size * sizeof *staging);
        offset += t->size;
    }
    free(staging);
    return status;
}

at_status ati_safetensors_take_metadata(at_ctx *ctx, at_safetensors *file, at_metadata *out) {
    if (!file || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "safetensors: NULL argument");
    *out = file->metadata;
    file->metadata = (at_metadata){0};
    return AT_OK;
}

at_status ati_safetensors_load(at_ctx *ctx, const char *path, const ati_tensor_list *list,
                              int only_these, at_metadata *meta_out) {
    if (!path || !list || (list->count > 0 && !list->items))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "safetensors_load: NULL path or tensors");
    at_safetensors *file;
    AT_TRY(at_safetensors_open(ctx, &file, path));
    at_status status = ati_safetensors_fill(ctx, file, list, only_these);
    if (status == AT_OK && meta_out) status = ati_safetensors_take_metadata(ctx, file, meta_out);
    at_safetensors_close(file);
    return status;
}
