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
 * Loading trusts nothing: safetensors_read.c reads and checks the whole
 * header (any dtype, no key twice, offsets, byte counts, overlaps) before
 * it reads a byte of data, and a load either changes every parameter or
 * none. Tensors in the file that the parameter set does not name are
 * ignored, so a model can load part of a bigger checkpoint.
 *
 * The reader and writer work on any list of named tensors (safetensors.h):
 * a checkpoint is the list of a parameter set's tensors; the optimiser's
 * state file is a list of views of its moment buffers, loaded with
 * only_these set, which turns the leniency above into an error.
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

#include "json_strict.h"
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

#define METADATA_KEY "__metadata__"
#define WRITE_CHUNK_FLOATS 4096

/* ================================================================ metadata
 * A handful of entries in a file attend writes, up to
 * AT_SAFETENSORS_MAX_METADATA in one it reads: set and get search them in
 * turn; the reader fills a file's metadata in one pass without set. */

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

/* "-12" -> -12: an optional '-' then decimal digits, nothing else. */
static int parse_whole_number(const char *text, long *out) {
    const char *digits = text[0] == '-' ? text + 1 : text;
    if (*digits < '0' || *digits > '9') return 0;
    for (const char *c = digits; *c; c++)
        if (*c < '0' || *c > '9') return 0;
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno || *end) return 0;
    *out = value;
    return 1;
}

at_status at_metadata_get_long(at_ctx *ctx, const at_metadata *meta, const char *key, long min,
                               long max, long *out) {
    if (!meta || !key || !out)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "metadata_get_long: NULL argument");
    const char *text = at_metadata_get(meta, key);
    if (!text) return at_ctx_fail(ctx, AT_ERR_FORMAT, "metadata '%s' is missing", key);
    long value;
    if (!parse_whole_number(text, &value) || value < min || value > max)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "metadata '%s' is '%.64s', not a whole number in [%ld, %ld]", key, text,
                           min, max);
    *out = value;
    return AT_OK;
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

/* Little-endian store of the low `bytes` bytes of x. */
static void store_le(unsigned char *b, uint64_t x, int bytes) {
    for (int i = 0; i < bytes; i++) b[i] = (unsigned char)(x >> (8 * i));
}

/* The tensors of a parameter set as a list (items malloc'ed; free them). */
static at_status params_list(at_ctx *ctx, const at_params *params, ati_tensor_list *list) {
    int n = at_params_count(params);
    at_tensor **items = malloc((size_t)(n > 0 ? n : 1) * sizeof *items);
    if (!items) return at_ctx_fail(ctx, AT_ERR_MEMORY, "checkpoint: out of memory");
    for (int i = 0; i < n; i++) items[i] = at_params_get(params, i);
    *list = (ati_tensor_list){.items = items, .count = n, .noun = "parameter"};
    return AT_OK;
}

at_status at_checkpoint_load(at_ctx *ctx, const char *path, at_params *params,
                             at_metadata *meta_out) {
    if (!path || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "checkpoint_load: NULL path or params");
    ati_tensor_list list = {0};
    AT_TRY(params_list(ctx, params, &list));
    at_status status = ati_safetensors_load(ctx, path, &list, 0, meta_out);
    free((void *)list.items);
    return status;
}

at_status ati_checkpoint_fill(at_ctx *ctx, const at_safetensors *file, at_params *params,
                             int only_these) {
    if (!file || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "checkpoint_fill: NULL file or params");
    ati_tensor_list list;
    AT_TRY(params_list(ctx, params, &list));
    at_status status = ati_safetensors_fill(ctx, file, &list, only_these);
    free((void *)list.items);
    return status;
}

at_status ati_checkpoint_save_parts(at_ctx *ctx, const char *path, const at_params *params,
                                   const at_metadata *extra, int n, const char *const *keys,
                                   char *const *values) {
    at_metadata meta = {0};
    at_status s = AT_OK;
    for (int i = 0; extra && i < extra->count && s == AT_OK; i++)
        s = at_metadata_set(ctx, &meta, extra->keys[i], extra->values[i]);
    for (int i = 0; i < n && s == AT_OK; i++) s = at_metadata_set(ctx, &meta, keys[i], values[i]);
    if (s == AT_OK) s = at_checkpoint_save(ctx, path, params, &meta);
    at_metadata_clear(&meta);
    return s;
}

at_status ati_checkpoint_check_parameter(at_ctx *ctx, void *file, const char *name, int ndim,
                                        const int *shape) {
    return ati_safetensors_check_tensor(ctx, file, "parameter", name, ndim, shape);
}

at_status ati_checkpoint_misfit(at_ctx *ctx, at_status status, const char *prefix) {
    if (status == AT_ERR_SHAPE || status == AT_ERR_FORMAT) return ati_rethrow(ctx, status, prefix);
    return status;
}

at_status ati_checkpoint_fill_model(at_ctx *ctx, at_safetensors *file, at_params *params,
                                   const char *prefix, at_metadata *meta_out) {
    AT_TRY(ati_checkpoint_misfit(ctx, ati_checkpoint_fill(ctx, file, params, 1), prefix));
    return meta_out ? ati_safetensors_take_metadata(ctx, file, meta_out) : AT_OK;
}

at_status at_checkpoint_read_metadata(at_ctx *ctx, const char *path, at_metadata *meta_out) {
    if (!path || !meta_out)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "checkpoint_read_metadata: NULL argument");
    at_safetensors *file;
    AT_TRY(at_safetensors_open(ctx, &file, path));
    at_status status = ati_safetensors_take_metadata(ctx, file, meta_out);
    at_safetensors_close(file);
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
static at_status build_header(at_ctx *ctx, const char *path, const ati_tensor_list *list,
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
                                      const ati_tensor_list *list, const at_metadata *meta) {
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
    /* what the reader would refuse is not written */
    if (list->count > AT_SAFETENSORS_MAX_TENSORS || (meta && meta->count > AT_SAFETENSORS_MAX_METADATA))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "checkpoint '%s': %d tensors and %d metadata entries; a file holds at "
                           "most %d and %d",
                           path, list->count, meta ? meta->count : 0, AT_SAFETENSORS_MAX_TENSORS,
                           AT_SAFETENSORS_MAX_METADATA);
    return AT_OK;
}

/* The header bytes as they go in the file: JSON padded with spaces to a
 * multiple of 8. Parsed back once to be sure a reader will accept it
 * (this catches names or metadata that are not valid UTF-8). */
static at_status header_bytes(at_ctx *ctx, const char *path, const ati_tensor_list *list,
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
    char why[160];
    json_object *check = ati_json_parse_strict(buf, padded, SIZE_MAX, why, sizeof why);
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
                                  size_t header_length, const ati_tensor_list *list) {
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

at_status ati_safetensors_save(at_ctx *ctx, const char *path, const ati_tensor_list *list,
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
    ati_tensor_list list = {0};
    AT_TRY(params_list(ctx, params, &list));
    at_status status = ati_safetensors_save(ctx, path, &list, meta);
    free((void *)list.items);
    return status;
}
