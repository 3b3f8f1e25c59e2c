/*
 * test_checkpoint.c - safetensors checkpoints: round trips, atomic saves,
 * and a long list of broken files that must each give the right error
 * without crashing and without touching a parameter.
 *
 * The test works in a fresh directory (ckpt_test_XXXXXX under the current
 * one), writes every corrupt file itself, byte by byte, and removes the
 * directory at the end. A model here is two parameters, w (2, 3) and b (3).
 */
#define _POSIX_C_SOURCE 200809L

#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define SENTINEL 7.0f

/* ------------------------------------------------------------- helpers */

static void put_le(unsigned char *b, uint64_t x, int bytes) {
    for (int i = 0; i < bytes; i++) b[i] = (unsigned char)(x >> (8 * i));
}

static int count_temp_files(const char *dir) {
    DIR *d = opendir(dir);
    int count = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));) count += strstr(e->d_name, ".tmp-") != NULL;
    closedir(d);
    return count;
}

/* w (2, 3), b (3), both filled with `fill` (if fill is NAN: 0.5 * index + 1). */
static at_params *make_model(at_ctx *ctx, float fill) {
    at_params *params;
    at_tensor *w, *b;
    int w_shape[2] = {2, 3}, b_shape[1] = {3};
    CHECK_OK(ctx, at_params_create(ctx, &params));
    CHECK_OK(ctx, at_params_add(ctx, params, "w", 2, w_shape, &w));
    CHECK_OK(ctx, at_params_add(ctx, params, "b", 1, b_shape, &b));
    for (size_t i = 0; i < 6; i++) w->data[i] = isnan(fill) ? 0.5f * (float)i + 1.0f : fill;
    for (size_t i = 0; i < 3; i++) b->data[i] = isnan(fill) ? -0.25f * (float)i - 3.0f : fill;
    return params;
}

static int all_equal(const at_params *params, float value) {
    for (int i = 0; i < at_params_count(params); i++) {
        const at_tensor *t = at_params_get(params, i);
        for (size_t k = 0; k < t->size; k++)
            if (t->data[k] != value) return 0;
    }
    return 1;
}

static int same_values(const at_params *a, const at_params *b) {
    if (at_params_count(a) != at_params_count(b)) return 0;
    for (int i = 0; i < at_params_count(a); i++) {
        const at_tensor *x = at_params_get(a, i), *y = at_params_find(b, x->name);
        if (!y || y->size != x->size || memcmp(x->data, y->data, x->size * sizeof(float)) != 0)
            return 0;
    }
    return 1;
}

/* Load `path` into a sentinel-filled model and expect `status` with a
 * message naming the file and containing `needle`; nothing may change. */
static void expect_load_error(const char *path, at_status status, const char *needle) {
    at_ctx *ctx;
    CHECK_OK(NULL, at_ctx_create(&ctx, NULL));
    at_params *params = make_model(ctx, SENTINEL);
    at_metadata meta = {0};
    at_status got = at_checkpoint_load(ctx, path, params, &meta);
    const char *msg = at_ctx_error(ctx);
    CHECK(got == status, "%s: load returned '%s' (%s), expected '%s'", path, at_status_name(got),
          msg, at_status_name(status));
    CHECK(strstr(msg, path) != NULL, "%s: message should name the file: %s", path, msg);
    CHECK(!needle || strstr(msg, needle) != NULL, "%s: message should mention '%s': %s", path,
          needle, msg);
    CHECK(all_equal(params, SENTINEL), "%s: a failed load changed a parameter", path);
    CHECK(meta.count == 0 && meta.keys == NULL, "%s: a failed load filled the metadata", path);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------------ metadata */

static void test_metadata(void) {
    at_ctx *ctx;
    CHECK_OK(NULL, at_ctx_create(&ctx, NULL));
    at_metadata meta = {0};
    CHECK_OK(ctx, at_metadata_set(ctx, &meta, "hidden", "32"));
    CHECK_OK(ctx, at_metadata_set(ctx, &meta, "kind", "lstm"));
    CHECK_OK(ctx, at_metadata_set(ctx, &meta, "hidden", "64"));
    CHECK(meta.count == 2, "replacing a key must not add one (count %d)", meta.count);
    CHECK(at_metadata_get(&meta, "hidden") && strcmp(at_metadata_get(&meta, "hidden"), "64") == 0,
          "hidden should be 64");
    CHECK(at_metadata_get(&meta, "absent") == NULL, "absent key gives NULL");
    CHECK_STATUS(ctx, at_metadata_set(ctx, &meta, NULL, "x"), AT_ERR_ARGUMENT);
    at_metadata_clear(&meta);
    CHECK(meta.count == 0 && meta.keys == NULL && meta.values == NULL, "clear empties it");
    at_metadata_clear(&meta); /* twice is fine */
    at_ctx_free(ctx);
}

/* ----------------------------------------------------------- round trip */

static void test_round_trip(void) {
    at_ctx *ctx;
    CHECK_OK(NULL, at_ctx_create(&ctx, NULL));
    at_params *saved = make_model(ctx, NAN);
    at_tensor *w = at_params_find(saved, "w");
    w->data[1] = -0.0f;
    w->data[2] = 1e-40f; /* subnormal */
    w->data[3] = 3.4028235e38f;
    at_metadata meta = {0};
    const char *vocab = "a b \"c\" / \\ \n\t caf\xc3\xa9";
    CHECK_OK(ctx, at_metadata_set(ctx, &meta, "model", "lstm"));
    CHECK_OK(ctx, at_metadata_set(ctx, &meta, "vocab", vocab));
    CHECK_OK(ctx, at_metadata_set(ctx, &meta, "empty", ""));
    CHECK_OK(ctx, at_checkpoint_save(ctx, "model.safetensors", saved, &meta));

    at_params *loaded = make_model(ctx, SENTINEL);
    at_metadata got = {0};
    CHECK_OK(ctx, at_checkpoint_load(ctx, "model.safetensors", loaded, &got));
    CHECK(same_values(saved, loaded), "round trip must give the same bits");
    CHECK(got.count == 3, "metadata count %d, want 3", got.count);
    for (int i = 0; i < meta.count; i++) {
        const char *value = at_metadata_get(&got, meta.keys[i]);
        CHECK(value && strcmp(value, meta.values[i]) == 0, "metadata '%s': got '%s'",
              meta.keys[i], value ? value : "(missing)");
    }
    at_metadata_clear(&got);

    CHECK_OK(ctx, at_checkpoint_read_metadata(ctx, "model.safetensors", &got));
    CHECK(got.count == 3 && at_metadata_get(&got, "vocab") &&
              strcmp(at_metadata_get(&got, "vocab"), vocab) == 0,
          "read_metadata must give the same metadata");
    at_metadata_clear(&got);

    /* the layout: header length a multiple of 8, then 9 floats */
    size_t n;
    unsigned char *bytes = test_read_file("model.safetensors", &n);
    uint64_t header = 0;
    for (int i = 7; i >= 0; i--) header = (header << 8) | bytes[i];
    CHECK(header % 8 == 0, "header length %llu should be padded to 8", (unsigned long long)header);
    CHECK(n == 8 + header + 9 * 4, "file size %zu, want %llu", n,
          (unsigned long long)(8 + header + 36));
    CHECK(bytes[8] == '{', "the header starts with '{'");
    free(bytes);

    /* no metadata, and loading without asking for it */
    CHECK_OK(ctx, at_checkpoint_save(ctx, "bare.safetensors", saved, NULL));
    CHECK_OK(ctx, at_checkpoint_read_metadata(ctx, "bare.safetensors", &got));
    CHECK(got.count == 0, "no metadata saved, %d read", got.count);
    CHECK_OK(ctx, at_checkpoint_load(ctx, "bare.safetensors", loaded, NULL));

    /* an empty parameter set makes a valid, empty checkpoint */
    at_params *none;
    CHECK_OK(ctx, at_params_create(ctx, &none));
    CHECK_OK(ctx, at_checkpoint_save(ctx, "empty.safetensors", none, NULL));
    CHECK_OK(ctx, at_checkpoint_load(ctx, "empty.safetensors", none, NULL));
    expect_load_error("empty.safetensors", AT_ERR_FORMAT, "parameter 'w' is missing");

    at_params_free(none);
    at_metadata_clear(&meta);
    at_params_free(saved);
    at_params_free(loaded);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------------- atomicity */

/* Saving fails under a file-size limit smaller than the checkpoint. */
static at_status save_with_size_limit(at_ctx *ctx, const char *path, const at_params *params,
                                      rlim_t limit) {
    struct rlimit old, small;
    getrlimit(RLIMIT_FSIZE, &old);
    small = old;
    small.rlim_cur = limit;
    void (*previous)(int) = signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &small);
    at_status status = at_checkpoint_save(ctx, path, params, NULL);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, previous);
    return status;
}

static void test_atomic_save(void) {
    at_ctx *ctx;
    CHECK_OK(NULL, at_ctx_create(&ctx, NULL));
    at_params *first = make_model(ctx, 1.0f), *second = make_model(ctx, 2.0f);
    at_params *probe = make_model(ctx, 0.0f);
    CHECK_OK(ctx, at_checkpoint_save(ctx, "atomic.safetensors", first, NULL));
    CHECK_OK(ctx, at_checkpoint_save(ctx, "atomic.safetensors", second, NULL));
    CHECK_OK(ctx, at_checkpoint_load(ctx, "atomic.safetensors", probe, NULL));
    CHECK(all_equal(probe, 2.0f), "saving over a file must replace it");

    /* the directory does not exist: an I/O error, nothing created */
    CHECK_STATUS(ctx, at_checkpoint_save(ctx, "no_such_dir/x.safetensors", first, NULL),
                 AT_ERR_IO);
    CHECK(strstr(at_ctx_error(ctx), "no_such_dir/x.safetensors") != NULL, "message: %s",
          at_ctx_error(ctx));

    /* the rename fails (path is a non-empty directory): temp file removed */
    mkdir("a_dir", 0755);
    test_write_file("a_dir/keep", "x", 1);
    CHECK_STATUS(ctx, at_checkpoint_save(ctx, "a_dir", first, NULL), AT_ERR_IO);
    struct stat st;
    CHECK(stat("a_dir/keep", &st) == 0, "the directory must be left as it was");
    CHECK(count_temp_files(".") == 0, "a failed rename must not leave a temp file");

    /* the write itself fails half way: the old file is intact */
    at_params *big;
    at_tensor *t;
    int shape[2] = {2, 3}, huge[1] = {100000};
    CHECK_OK(ctx, at_params_create(ctx, &big));
    CHECK_OK(ctx, at_params_add(ctx, big, "w", 2, shape, &t));
    CHECK_OK(ctx, at_params_add(ctx, big, "b", 1, shape + 1, &t));
    CHECK_OK(ctx, at_params_add(ctx, big, "huge", 1, huge, &t));
    CHECK_STATUS(ctx, save_with_size_limit(ctx, "atomic.safetensors", big, 65536), AT_ERR_IO);
    CHECK(count_temp_files(".") == 0, "a failed write must not leave a temp file");
    at_params *again = make_model(ctx, 0.0f);
    CHECK_OK(ctx, at_checkpoint_load(ctx, "atomic.safetensors", again, NULL));
    CHECK(all_equal(again, 2.0f), "after a failed save the old checkpoint must be intact");

    /* bad arguments never touch the file either */
    at_metadata meta = {0};
    CHECK_OK(ctx, at_metadata_set(ctx, &meta, "bad", "not utf-8 \xff"));
    CHECK_STATUS(ctx, at_checkpoint_save(ctx, "atomic.safetensors", first, &meta),
                 AT_ERR_ARGUMENT);
    at_params *named;
    CHECK_OK(ctx, at_params_create(ctx, &named));
    CHECK_OK(ctx, at_params_add(ctx, named, "__metadata__", 1, shape, &t));
    CHECK_STATUS(ctx, at_checkpoint_save(ctx, "atomic.safetensors", named, NULL),
                 AT_ERR_ARGUMENT);
    CHECK_OK(ctx, at_checkpoint_load(ctx, "atomic.safetensors", again, NULL));
    CHECK(all_equal(again, 2.0f), "after refused saves the old checkpoint must be intact");
    CHECK(count_temp_files(".") == 0, "no temp files left at all");

    at_metadata_clear(&meta);
    at_params_free(named);
    at_params_free(again);
    at_params_free(big);
    at_params_free(first);
    at_params_free(second);
    at_params_free(probe);
    at_ctx_free(ctx);
}

/* -------------------------------------------------------- broken files */

/* The 36 data bytes of w (2, 3) and b (3) as F32. */
static void model_data(unsigned char data[36]) {
    for (int i = 0; i < 9; i++) {
        float x = (float)i;
        uint32_t bits;
        memcpy(&bits, &x, 4);
        put_le(data + 4 * i, bits, 4);
    }
}

#define W_ENTRY "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}"
#define B_ENTRY "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}"

typedef struct bad_header {
    const char *file, *header;
    at_status status;
    const char *needle;
} bad_header;

static void test_bad_headers(void) {
    unsigned char data[36];
    model_data(data);
    const bad_header cases[] = {
        {"not_json.st", "hello, world", AT_ERR_FORMAT, "not valid JSON"},
        {"json_array.st", "[1, 2, 3]", AT_ERR_FORMAT, "not a JSON object"},
        {"json_short.st", "{\"w\": {\"dtype\": ", AT_ERR_FORMAT, "not valid JSON"},
        {"trailing.st", "{" W_ENTRY "," B_ENTRY "} x", AT_ERR_FORMAT, "after the JSON"},
        {"json_comma.st", "{" W_ENTRY "," B_ENTRY ",}", AT_ERR_FORMAT, "not valid JSON"},
        {"entry_not_object.st", "{\"w\": 3," B_ENTRY "}", AT_ERR_FORMAT, "'w' is not a JSON object"},
        {"dtype_i8.st",
         "{\"w\":{\"dtype\":\"I8\",\"shape\":[2,3],\"data_offsets\":[0,6]}," B_ENTRY "}",
         AT_ERR_FORMAT, "'I8'"},
        {"dtype_u16.st",
         "{\"w\":{\"dtype\":\"U16\",\"shape\":[2,3],\"data_offsets\":[0,12]}," B_ENTRY "}",
         AT_ERR_FORMAT, "unsupported dtype 'U16'"},
        {"dtype_missing.st", "{\"w\":{\"shape\":[2,3],\"data_offsets\":[0,24]}," B_ENTRY "}",
         AT_ERR_FORMAT, "no dtype"},
        {"dtype_number.st",
         "{\"w\":{\"dtype\":32,\"shape\":[2,3],\"data_offsets\":[0,24]}," B_ENTRY "}",
         AT_ERR_FORMAT, "dtype is not a string"},
        {"shape_missing.st", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,24]}," B_ENTRY "}",
         AT_ERR_FORMAT, "shape"},
        {"shape_negative.st",
         "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2,-3],\"data_offsets\":[0,24]}," B_ENTRY "}",
         AT_ERR_FORMAT, "shape[0]"},
        {"shape_float.st",
         "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0,3],\"data_offsets\":[0,24]}," B_ENTRY "}",
         AT_ERR_FORMAT, "shape[0]"},
        {"shape_string.st",
         "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,\"3\"],\"data_offsets\":[0,24]}," B_ENTRY "}",
         AT_ERR_FORMAT, "shape[1]"},
        {"shape_nine_dims.st",
         "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}," B_ENTRY
         "}",
         AT_ERR_FORMAT, "dimensions"},
        {"shape_overflow.st",
         "{\"w\":{\"dtype\":\"F64\",\"shape\":[2147483647,2147483647,2147483647],"
         "\"data_offsets\":[0,24]}," B_ENTRY "}",
         AT_ERR_FORMAT, "too large"},
        {"shape_vs_offsets.st",
         "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}," B_ENTRY "}",
         AT_ERR_FORMAT, "need 24 bytes"},
        {"offsets_past_end.st",
         "{" W_ENTRY ",\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[28,40]}}",
         AT_ERR_FORMAT, "data_offsets"},
        {"offsets_reversed.st",
         "{" W_ENTRY ",\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[36,24]}}",
         AT_ERR_FORMAT, "data_offsets"},
        {"offsets_negative.st",
         "{" W_ENTRY ",\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[-12,0]}}",
         AT_ERR_FORMAT, "non-negative"},
        {"offsets_huge.st",
         "{" W_ENTRY ",\"b\":{\"dtype\":\"F32\",\"shape\":[3],"
         "\"data_offsets\":[18446744073709551604,18446744073709551616]}}",
         AT_ERR_FORMAT, "data_offsets"},
        {"offsets_one.st", "{" W_ENTRY ",\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24]}}",
         AT_ERR_FORMAT, "two integers"},
        {"overlap.st",
         "{" W_ENTRY ",\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[20,32]}}",
         AT_ERR_FORMAT, "overlap"},
        {"overlap_inside.st",
         "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[4,28]}," B_ENTRY
         ",\"z\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
         AT_ERR_FORMAT, "overlap"},
        {"missing_param.st", "{" W_ENTRY "}", AT_ERR_FORMAT, "parameter 'b' is missing"},
        {"shape_mismatch.st",
         "{\"w\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]}," B_ENTRY "}",
         AT_ERR_SHAPE, "'w' has shape (2, 3) in the model but (3, 2) in the file"},
        {"rank_mismatch.st",
         "{\"w\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[0,24]}," B_ENTRY "}",
         AT_ERR_SHAPE, "(6)"},
        {"metadata_number.st", "{" W_ENTRY "," B_ENTRY ",\"__metadata__\":{\"epochs\":3}}",
         AT_ERR_FORMAT, "'epochs' is not a string"},
        {"metadata_array.st", "{" W_ENTRY "," B_ENTRY ",\"__metadata__\":[\"a\"]}", AT_ERR_FORMAT,
         "__metadata__"},
        {"bad_utf8.st", "{" W_ENTRY "," B_ENTRY ",\"__metadata__\":{\"k\":\"\xc3\x28\"}}",
         AT_ERR_FORMAT, "not valid JSON"},
        /* a key twice: json-c would keep the last one without a word */
        {"dup_tensor.st", "{" W_ENTRY "," B_ENTRY "," W_ENTRY "}", AT_ERR_FORMAT,
         "'w' appears twice"},
        {"dup_escaped.st",
         "{" W_ENTRY "," B_ENTRY ",\"\\u0077\":{\"dtype\":\"F32\",\"shape\":[2,3],"
         "\"data_offsets\":[0,24]}}",
         AT_ERR_FORMAT, "'w' appears twice"},
        {"dup_meta_key.st", "{" W_ENTRY "," B_ENTRY ",\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}",
         AT_ERR_FORMAT, "'k' appears twice"},
        {"dup_metadata.st",
         "{" W_ENTRY "," B_ENTRY ",\"__metadata__\":{\"k\":\"a\"},\"__metadata__\":{}}",
         AT_ERR_FORMAT, "'__metadata__' appears twice"},
        {"dup_dtype.st",
         "{\"w\":{\"dtype\":\"F16\",\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
         B_ENTRY "}",
         AT_ERR_FORMAT, "'dtype' appears twice"},
        {"dup_single_quoted.st",
         "{" W_ENTRY "," B_ENTRY ",'w':{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}",
         AT_ERR_FORMAT, "'w' appears twice"},
        {"nul_key.st", "{" W_ENTRY "," B_ENTRY ",\"__metadata__\":{\"a\\u0000b\":\"v\"}}",
         AT_ERR_FORMAT, "NUL"},
        {"int_param.st",
         "{\"w\":{\"dtype\":\"I32\",\"shape\":[2,3],\"data_offsets\":[0,24]}," B_ENTRY "}",
         AT_ERR_FORMAT, "'w' has dtype 'I32'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_write_safetensors(cases[i].file, cases[i].header, data, sizeof data);
        expect_load_error(cases[i].file, cases[i].status, cases[i].needle);
    }

    /* a NUL byte inside the header */
    char with_nul[] = "{" W_ENTRY "," B_ENTRY "}  ";
    with_nul[strlen(with_nul) - 1] = '\0';
    unsigned char buf[256];
    size_t n = sizeof with_nul - 1;
    put_le(buf, n, 8);
    memcpy(buf + 8, with_nul, n);
    memcpy(buf + 8 + n, data, sizeof data);
    test_write_file("nul.st", buf, 8 + n + sizeof data);
    expect_load_error("nul.st", AT_ERR_FORMAT, "NUL");

    /* a good file of the same form loads (so the cases above fail for their
     * own reason), extra tensors, trailing spaces and strings that hold
     * quotes, brackets and commas included (json-c takes a 'single-quoted'
     * key, though not a value) */
    test_write_safetensors("good.st",
                      "  {" W_ENTRY "," B_ENTRY ",\"extra\":{\"dtype\":\"F32\",\"shape\":[0],"
                      "\"data_offsets\":[36,36]},\"__metadata__\":{\"k\":\"v\",'q{\",[':\"x\","
                      "\"r\":\"'}\"}}   ",
                      data, sizeof data);
    at_ctx *ctx;
    CHECK_OK(NULL, at_ctx_create(&ctx, NULL));
    at_params *params = make_model(ctx, SENTINEL);
    at_metadata good_meta = {0};
    CHECK_OK(ctx, at_checkpoint_load(ctx, "good.st", params, &good_meta));
    CHECK(good_meta.count == 3 && at_metadata_get(&good_meta, "q{\",[") &&
              strcmp(at_metadata_get(&good_meta, "r"), "'}") == 0,
          "good.st: %d metadata entries", good_meta.count);
    at_metadata_clear(&good_meta);
    const float want_w[6] = {0, 1, 2, 3, 4, 5}, want_b[3] = {6, 7, 8};
    check_close("good.st w", at_params_find(params, "w")->data, want_w, 6, 0, 0);
    check_close("good.st b", at_params_find(params, "b")->data, want_b, 3, 0, 0);
    at_params_free(params);
    at_ctx_free(ctx);
}

static void test_bad_lengths(void) {
    unsigned char buf[64] = {0};
    test_write_file("zero_bytes.st", buf, 0);
    expect_load_error("zero_bytes.st", AT_ERR_FORMAT, "too few");
    test_write_file("five_bytes.st", buf, 5);
    expect_load_error("five_bytes.st", AT_ERR_FORMAT, "too few");

    put_le(buf, 1000, 8); /* header longer than the file */
    memcpy(buf + 8, "{}", 2);
    test_write_file("long_header.st", buf, 10);
    expect_load_error("long_header.st", AT_ERR_FORMAT, "header length 1000");

    put_le(buf, (uint64_t)1 << 63, 8);
    test_write_file("huge_header.st", buf, 10);
    expect_load_error("huge_header.st", AT_ERR_FORMAT, "limit");
    put_le(buf, UINT64_MAX, 8);
    test_write_file("max_header.st", buf, 10);
    expect_load_error("max_header.st", AT_ERR_FORMAT, "limit");

    put_le(buf, 0, 8); /* an empty header is not JSON */
    test_write_file("empty_header.st", buf, 8);
    expect_load_error("empty_header.st", AT_ERR_FORMAT, "not valid JSON");

    expect_load_error("does_not_exist.st", AT_ERR_IO, "open");
    mkdir("dir.st", 0755);
    expect_load_error("dir.st", AT_ERR_IO, "regular file");
    /* a FIFO with no writer: opening it must not wait for one */
    if (mkfifo("fifo.st", 0644) == 0) expect_load_error("fifo.st", AT_ERR_IO, "regular file");
    else CHECK(0, "cannot make a FIFO");
}

/* Every prefix of a real checkpoint is refused; the full file loads. */
static void test_every_truncation(void) {
    at_ctx *ctx;
    CHECK_OK(NULL, at_ctx_create(&ctx, NULL));
    at_params *model = make_model(ctx, NAN);
    at_metadata meta = {0};
    CHECK_OK(ctx, at_metadata_set(ctx, &meta, "config", "{\"hidden\": 3}"));
    CHECK_OK(ctx, at_checkpoint_save(ctx, "whole.st", model, &meta));
    size_t n;
    unsigned char *bytes = test_read_file("whole.st", &n);
    int refused = 0;
    for (size_t len = 0; len < n; len++) {
        test_write_file("prefix.st", bytes, len);
        at_params *params = make_model(ctx, SENTINEL);
        at_status status = at_checkpoint_load(ctx, "prefix.st", params, NULL);
        refused += status == AT_ERR_FORMAT && all_equal(params, SENTINEL);
        if (status != AT_ERR_FORMAT)
            CHECK(0, "prefix of %zu/%zu bytes: '%s' (%s)", len, n, at_status_name(status),
                  at_ctx_error(ctx));
        at_params_free(params);
    }
    CHECK(refused == (int)n, "%d of %zu truncated files refused cleanly", refused, n);
    free(bytes);
    at_metadata_clear(&meta);
    at_params_free(model);
    at_ctx_free(ctx);
}

/* Overwrite each byte with a few nasty values: any outcome but a crash or a
 * half-changed model is fine. Under the sanitizer build this is a fuzz test
 * for out-of-bounds reads. */
static void test_byte_corruption(void) {
    at_ctx *ctx;
    CHECK_OK(NULL, at_ctx_create(&ctx, NULL));
    at_params *model = make_model(ctx, NAN);
    CHECK_OK(ctx, at_checkpoint_save(ctx, "whole.st", model, NULL));
    size_t n;
    unsigned char *bytes = test_read_file("whole.st", &n);
    const unsigned char nasty[] = {0x00, 0xff, '"', '9', '-', '}', '[', ' ', 0x80};
    int bad = 0;
    for (size_t pos = 0; pos < n; pos++) {
        for (size_t k = 0; k < sizeof nasty; k++) {
            unsigned char keep = bytes[pos];
            bytes[pos] = nasty[k];
            test_write_file("corrupt.st", bytes, n);
            bytes[pos] = keep;
            at_params *params = make_model(ctx, SENTINEL);
            at_status status = at_checkpoint_load(ctx, "corrupt.st", params, NULL);
            int ok = status == AT_OK || ((status == AT_ERR_FORMAT || status == AT_ERR_SHAPE) &&
                                         all_equal(params, SENTINEL));
            if (!ok && bad++ < 5)
                fprintf(stderr, "  byte %zu = 0x%02x: '%s' (%s)\n", pos, nasty[k],
                        at_status_name(status), at_ctx_error(ctx));
            at_params_free(params);
        }
    }
    CHECK(bad == 0, "%d corrupted files gave an unexpected outcome", bad);
    free(bytes);
    at_params_free(model);
    at_ctx_free(ctx);
}

/* --------------------------------------------------- other float types */

static void test_conversions(void) {
    /* h (6) as F16, g (3) as BF16, d (2) as F64, and an F32 tensor the
     * model does not have; the data starts at 8-byte aligned offsets. */
    unsigned char data[48] = {0};
    const uint16_t half[6] = {0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x7C00};
    const uint16_t brain[3] = {0x3F80, 0xC040, 0x3E20};
    const double wide[2] = {1.5, -1e300};
    for (int i = 0; i < 6; i++) put_le(data + 2 * i, half[i], 2);
    for (int i = 0; i < 3; i++) put_le(data + 12 + 2 * i, brain[i], 2);
    for (int i = 0; i < 2; i++) {
        uint64_t bits;
        memcpy(&bits, &wide[i], 8);
        put_le(data + 24 + 8 * i, bits, 8);
    }
    test_write_safetensors("types.st",
                      "{\"h\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
                      "\"g\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[12,18]},"
                      "\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[24,40]},"
                      "\"unused\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[40,48]}}",
                      data, sizeof data);
    at_ctx *ctx;
    CHECK_OK(NULL, at_ctx_create(&ctx, NULL));
    at_params *params;
    at_tensor *h, *g, *d;
    int h_shape[2] = {2, 3}, g_shape[1] = {3}, d_shape[1] = {2};
    CHECK_OK(ctx, at_params_create(ctx, &params));
    CHECK_OK(ctx, at_params_add(ctx, params, "h", 2, h_shape, &h));
    CHECK_OK(ctx, at_params_add(ctx, params, "g", 1, g_shape, &g));
    CHECK_OK(ctx, at_params_add(ctx, params, "d", 1, d_shape, &d));
    CHECK_OK(ctx, at_checkpoint_load(ctx, "types.st", params, NULL));
    const float want_h[6] = {1.0f, -2.0f, 0.5f, 65504.0f, 5.9604645e-8f, INFINITY};
    const float want_g[3] = {1.0f, -3.0f, 0.15625f};
    const float want_d[2] = {1.5f, -INFINITY};
    check_close("F16 -> float", h->data, want_h, 6, 0, 0);
    check_close("BF16 -> float", g->data, want_g, 3, 0, 0);
    check_close("F64 -> float", d->data, want_d, 2, 0, 0);
    at_params_free(params);
    at_ctx_free(ctx);
}

int main(void) {
    char dir[] = "ckpt_test_XXXXXX";
    test_enter_scratch_dir(dir);
    test_metadata();
    test_round_trip();
    test_atomic_save();
    test_bad_headers();
    test_bad_lengths();
    test_every_truncation();
    test_byte_corruption();
    test_conversions();
    test_leave_scratch_dir(dir);
    return test_finish("checkpoint");
}
