/*
 * test_safetensors.c - the public safetensors reader (at_safetensors_open
 * and its accessors), the header limits, the time a large header takes,
 * and at_metadata_get_long.
 *
 * Every file is written here byte by byte, in a fresh directory
 * (st_test_XXXXXX) removed at the end; every prefix of one, and the file
 * with each byte spoilt, must be refused or read cleanly. Files that PyTorch wrote are the
 * job of tests/parity/test_safetensors_read.py.
 */
#define _POSIX_C_SOURCE 200809L

#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A growing string for headers of many keys. */
typedef struct text {
    char *s;
    size_t len, cap;
} text;

static void text_add(text *t, const char *piece) {
    size_t n = strlen(piece);
    if (t->len + n + 1 > t->cap) {
        t->cap = 2 * (t->len + n + 1);
        t->s = realloc(t->s, t->cap);
        if (!t->s) exit(2);
    }
    memcpy(t->s + t->len, piece, n + 1);
    t->len += n;
}

/* ------------------------------------------------------- every dtype */

/* One tensor of each dtype, in the header in an order that is neither by
 * name nor by offset, plus metadata. */
static void test_every_dtype(void) {
    unsigned char data[64] = {0};
    const float f32[2] = {1.5f, -2.0f};
    const double f64[1] = {-0.25};
    const uint16_t f16[2] = {0x3C00, 0xFC00}, bf16[1] = {0xC040};
    const int64_t i64[1] = {-9};
    const int32_t i32[2] = {7, -70000};
    const int16_t i16[1] = {-300};
    const int8_t i8[2] = {-128, 5};
    const uint8_t u8[2] = {255, 3}, flags[3] = {0, 1, 2};
    memcpy(data + 0, f32, 8);
    memcpy(data + 8, f64, 8);
    memcpy(data + 16, f16, 4);
    memcpy(data + 20, bf16, 2);
    memcpy(data + 24, i64, 8);
    memcpy(data + 32, i32, 8);
    memcpy(data + 40, i16, 2);
    memcpy(data + 42, i8, 2);
    memcpy(data + 44, u8, 2);
    memcpy(data + 46, flags, 3);
    test_write_safetensors(
        "all.st",
        "{\"u8\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[44,46]},"
        "\"f32\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]},"
        "\"bool\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[46,49]},"
        "\"f64\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[8,16]},"
        "\"f16\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[16,20]},"
        "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[1,1,1],\"data_offsets\":[20,22]},"
        "\"i64\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[24,32]},"
        "\"i32\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[32,40]},"
        "\"i16\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[40,42]},"
        "\"i8\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[42,44]},"
        "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[49,49]},"
        "\"__metadata__\":{\"format\":\"pt\",\"k\":\"v\"}}",
        data, sizeof data);
    at_ctx *ctx = test_new_ctx();
    at_safetensors *file = NULL;
    CHECK_OK(ctx, at_safetensors_open(ctx, &file, "all.st"));
    if (!file) {
        at_ctx_free(ctx);
        return;
    }
    static const struct {
        const char *name, *dtype;
        int ndim;
        int64_t shape[3];
        uint64_t numel;
        float values[3];
    } want[] = {
        /* in byte order of the names */
        {"bf16", "BF16", 3, {1, 1, 1}, 1, {-3.0f}},
        {"bool", "BOOL", 1, {3}, 3, {0.0f, 1.0f, 1.0f}},
        {"empty", "F32", 2, {0, 5}, 0, {0}},
        {"f16", "F16", 1, {2}, 2, {1.0f, -INFINITY}},
        {"f32", "F32", 2, {1, 2}, 2, {1.5f, -2.0f}},
        {"f64", "F64", 0, {0}, 1, {-0.25f}},
        {"i16", "I16", 1, {1}, 1, {-300.0f}},
        {"i32", "I32", 1, {2}, 2, {7.0f, -70000.0f}},
        {"i64", "I64", 1, {1}, 1, {-9.0f}},
        {"i8", "I8", 1, {2}, 2, {-128.0f, 5.0f}},
        {"u8", "U8", 1, {2}, 2, {255.0f, 3.0f}},
    };
    int n = (int)(sizeof want / sizeof want[0]);
    CHECK(at_safetensors_count(file) == n, "count %d, want %d", at_safetensors_count(file), n);
    for (int i = 0; i < n && i < at_safetensors_count(file); i++) {
        at_safetensor_info info;
        CHECK_OK(ctx, at_safetensors_info(ctx, file, i, &info));
        CHECK(strcmp(info.name, want[i].name) == 0, "tensor %d is '%s', want '%s'", i, info.name,
              want[i].name);
        CHECK(strcmp(at_dtype_name(info.dtype), want[i].dtype) == 0, "%s: dtype %s, want %s",
              want[i].name, at_dtype_name(info.dtype), want[i].dtype);
        CHECK(info.ndim == want[i].ndim && info.numel == want[i].numel &&
                  info.bytes == want[i].numel * at_dtype_size(info.dtype),
              "%s: ndim %d numel %llu bytes %llu", want[i].name, info.ndim,
              (unsigned long long)info.numel, (unsigned long long)info.bytes);
        for (int d = 0; d < info.ndim && d < 3; d++)
            CHECK(info.shape[d] == want[i].shape[d], "%s: shape[%d] = %lld", want[i].name, d,
                  (long long)info.shape[d]);
        CHECK(at_safetensors_find(file, want[i].name) == i, "find('%s') = %d", want[i].name,
              at_safetensors_find(file, want[i].name));
        float got[3] = {0};
        CHECK_OK(ctx, at_safetensors_read_f32(ctx, file, i, got, info.numel));
        check_close(want[i].name, got, want[i].values, info.numel, 0, 0);
        unsigned char raw[16];
        CHECK_OK(ctx, at_safetensors_read(ctx, file, i, raw, info.bytes));
    }
    /* raw bytes are the file's */
    int32_t i32_back[2];
    CHECK_OK(ctx, at_safetensors_read(ctx, file, at_safetensors_find(file, "i32"), i32_back, 8));
    CHECK(i32_back[0] == 7 && i32_back[1] == -70000, "raw I32 bytes %d %d", i32_back[0],
          i32_back[1]);
    CHECK(at_safetensors_find(file, "f3") == -1 && at_safetensors_find(file, "") == -1 &&
              at_safetensors_find(file, "zzz") == -1,
          "find of absent names gives -1");
    const at_metadata *meta = at_safetensors_metadata(file);
    CHECK(meta->count == 2 && at_metadata_get(meta, "format") &&
              strcmp(at_metadata_get(meta, "format"), "pt") == 0,
          "metadata: %d entries", meta->count);
    /* wrong calls */
    float four[4];
    at_safetensor_info info;
    CHECK_STATUS(ctx, at_safetensors_info(ctx, file, n, &info), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_safetensors_info(ctx, file, -1, &info), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_safetensors_read_f32(ctx, file, 0, four, 4), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "'bf16' has 1 elements, the buffer 4"), "message: %s",
          at_ctx_error(ctx));
    CHECK_STATUS(ctx, at_safetensors_read(ctx, file, 0, four, 3), AT_ERR_ARGUMENT);
    CHECK(at_dtype_name((at_dtype)99) == NULL && at_dtype_size((at_dtype)99) == 0,
          "an unknown dtype has no name and no size");
    at_safetensors_close(file);
    at_safetensors_close(NULL);
    at_ctx_free(ctx);
}

/* Every tensor of an open file reads, raw and as float. */
static int reads_all(at_ctx *ctx, const at_safetensors *file) {
    for (int i = 0; i < at_safetensors_count(file); i++) {
        at_safetensor_info info;
        unsigned char raw[64];
        float values[16];
        if (at_safetensors_info(ctx, file, i, &info) != AT_OK || info.bytes > sizeof raw ||
            info.numel > 16 || at_safetensors_read(ctx, file, i, raw, info.bytes) != AT_OK ||
            at_safetensors_read_f32(ctx, file, i, values, info.numel) != AT_OK)
            return 0;
    }
    return 1;
}

/* Every prefix of all.st, and every byte of it set to a few nasty values:
 * the reader refuses the file (AT_ERR_FORMAT) or opens one whose every
 * tensor reads; it never crashes (the sanitizer build checks its reads). */
static void test_corrupt_files(void) {
    size_t n;
    unsigned char *bytes = test_read_file("all.st", &n);
    CHECK(bytes != NULL, "all.st is there");
    if (!bytes) return;
    at_ctx *ctx = test_new_ctx();
    int bad = 0, opened = 0, refused = 0;
    const unsigned char nasty[] = {0x00, 0xff, '"', '9', '-', '}', '[', ',', '\\', 0x80};
    for (size_t pos = 0; pos <= n; pos++) {
        for (size_t k = 0; k <= sizeof nasty; k++) {
            size_t len = n;
            unsigned char keep = pos < n ? bytes[pos] : 0;
            if (k == sizeof nasty) len = pos; /* the prefix of pos bytes */
            else if (pos < n) bytes[pos] = nasty[k];
            else continue;
            test_write_file("corrupt.st", bytes, len);
            if (pos < n) bytes[pos] = keep;
            at_safetensors *file = NULL;
            at_status s = at_safetensors_open(ctx, &file, "corrupt.st");
            if (s == AT_OK) opened++, bad += !reads_all(ctx, file);
            else if (s == AT_ERR_FORMAT && strstr(at_ctx_error(ctx), "corrupt.st")) refused++;
            else if (bad++ < 5)
                fprintf(stderr, "  byte %zu, case %zu: '%s' (%s)\n", pos, k, at_status_name(s),
                        at_ctx_error(ctx));
            at_safetensors_close(file);
        }
    }
    printf("  %d corrupt or cut files refused, %d opened and read\n", refused, opened);
    CHECK(bad == 0 && refused > 0 && opened > 0, "%d corrupt files gave an unexpected outcome", bad);
    free(bytes);
    at_ctx_free(ctx);
}

/* A file that shrinks after it was opened: reading its data is an
 * AT_ERR_IO, never a read past the end. */
static void test_file_changes(void) {
    float data[4] = {1, 2, 3, 4};
    test_write_safetensors("shrinks.st",
                           "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
                           data, sizeof data);
    at_ctx *ctx = test_new_ctx();
    at_safetensors *file = NULL;
    CHECK_OK(ctx, at_safetensors_open(ctx, &file, "shrinks.st"));
    CHECK(truncate("shrinks.st", 60) == 0, "truncate");
    float back[4];
    CHECK_STATUS(ctx, at_safetensors_read_f32(ctx, file, 0, back, 4), AT_ERR_IO);
    CHECK(strstr(at_ctx_error(ctx), "ended while reading"), "message: %s", at_ctx_error(ctx));
    at_safetensors_close(file);
    file = (at_safetensors *)1;
    CHECK_STATUS(ctx, at_safetensors_open(ctx, &file, "no_such.st"), AT_ERR_IO);
    CHECK(file == NULL, "a failed open leaves *out NULL");
    at_ctx_free(ctx);
}

/* ------------------------------------------------------------- limits */

/* A header of `keys` metadata entries "kNNNNNN": "v". */
static void write_metadata_file(const char *path, int keys) {
    text t = {0};
    text_add(&t, "{\"__metadata__\":{");
    char piece[48];
    for (int i = 0; i < keys; i++) {
        snprintf(piece, sizeof piece, "%s\"k%06d\":\"v\"", i ? "," : "", i);
        text_add(&t, piece);
    }
    text_add(&t, "}}");
    test_write_safetensors(path, t.s, NULL, 0);
    free(t.s);
}

/* The client's 2 MB header of 100,000 metadata keys took 17 s (a linear
 * search per key) and was then accepted; the limit refuses it at once,
 * and the largest header allowed reads in linear time. */
static void test_metadata_limit_and_time(void) {
    at_ctx *ctx = test_new_ctx();
    write_metadata_file("many_keys.st", 100000);
    at_metadata meta = {0};
    double start = test_seconds();
    CHECK_STATUS(ctx, at_checkpoint_read_metadata(ctx, "many_keys.st", &meta), AT_ERR_FORMAT);
    double refused = test_seconds() - start;
    CHECK(strstr(at_ctx_error(ctx), "100000 metadata entries, more than the 10000 allowed"),
          "message: %s", at_ctx_error(ctx));
    CHECK(refused < 1.0, "100,000 keys took %.2f s to refuse (limit 1 s)", refused);

    write_metadata_file("max_keys.st", AT_SAFETENSORS_MAX_METADATA);
    start = test_seconds();
    for (int round = 0; round < 5; round++) {
        CHECK_OK(ctx, at_checkpoint_read_metadata(ctx, "max_keys.st", &meta));
        CHECK(meta.count == AT_SAFETENSORS_MAX_METADATA, "%d entries", meta.count);
        CHECK(at_metadata_get(&meta, "k009999") && !at_metadata_get(&meta, "k010000"),
              "the last key is there");
        at_metadata_clear(&meta);
    }
    double five = test_seconds() - start;
    printf("  5 reads of %d metadata keys: %.3f s\n", AT_SAFETENSORS_MAX_METADATA, five);
    CHECK(five < 1.0, "5 reads of %d keys took %.2f s (limit 1 s)", AT_SAFETENSORS_MAX_METADATA,
          five);
    at_ctx_free(ctx);
}

/* More tensors than the limit; and a header of a million tiny values is
 * refused before json-c builds them. */
static void test_tensor_limits(void) {
    at_ctx *ctx = test_new_ctx();
    text t = {0};
    text_add(&t, "{");
    char piece[96];
    for (int i = 0; i <= AT_SAFETENSORS_MAX_TENSORS; i++) {
        snprintf(piece, sizeof piece, "%s\"t%d\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}",
                 i ? "," : "", i);
        text_add(&t, piece);
    }
    text_add(&t, "}");
    test_write_safetensors("many_tensors.st", t.s, NULL, 0);
    at_safetensors *file = NULL;
    CHECK_STATUS(ctx, at_safetensors_open(ctx, &file, "many_tensors.st"), AT_ERR_FORMAT);
    CHECK(strstr(at_ctx_error(ctx), "100001 tensors, more than the 100000 allowed"), "message: %s",
          at_ctx_error(ctx));

    t.len = 0;
    text_add(&t, "{\"__metadata__\":{\"a\":\"b\"},\"x\":[0");
    for (int i = 0; i < 2000000; i++) text_add(&t, ",0");
    text_add(&t, "]}");
    test_write_safetensors("many_values.st", t.s, NULL, 0);
    CHECK_STATUS(ctx, at_safetensors_open(ctx, &file, "many_values.st"), AT_ERR_FORMAT);
    CHECK(strstr(at_ctx_error(ctx), "JSON values"), "message: %s", at_ctx_error(ctx));
    free(t.s);

    /* a thousand tensors are all found by name */
    t = (text){0};
    text_add(&t, "{");
    for (int i = 0; i < 1000; i++) {
        snprintf(piece, sizeof piece, "%s\"w%d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[%d,%d]}",
                 i ? "," : "", (i * 7919) % 1000, i, i + 1);
        text_add(&t, piece);
    }
    text_add(&t, "}");
    unsigned char bytes[1000];
    for (int i = 0; i < 1000; i++) bytes[i] = (unsigned char)(i % 251);
    test_write_safetensors("thousand.st", t.s, bytes, sizeof bytes);
    free(t.s);
    CHECK_OK(ctx, at_safetensors_open(ctx, &file, "thousand.st"));
    int found = 0;
    for (int i = 0; file && i < 1000; i++) {
        char name[16];
        snprintf(name, sizeof name, "w%d", (i * 7919) % 1000);
        int index = at_safetensors_find(file, name);
        float v = -1;
        if (index >= 0) at_safetensors_read_f32(ctx, file, index, &v, 1);
        found += v == (float)(i % 251);
    }
    CHECK(found == 1000, "%d of 1000 tensors found by name with their byte", found);
    at_safetensors_close(file);
    at_ctx_free(ctx);
}

/* ------------------------------------------------- at_metadata_get_long */

static void test_get_long(void) {
    at_ctx *ctx = test_new_ctx();
    at_metadata meta = {0};
    static const struct {
        const char *text;
        int ok;
        long value;
    } cases[] = {
        {"12", 1, 12},       {"-5", 1, -5},        {"0", 1, 0},         {"007", 1, 7},
        {"1000", 1, 1000},   {"1001", 0, 0},       {"-11", 0, 0},       {"", 0, 0},
        {" 12", 0, 0},       {"12 ", 0, 0},        {"+12", 0, 0},       {"1e3", 0, 0},
        {"0x10", 0, 0},      {"12abc", 0, 0},      {"1.0", 0, 0},       {"-", 0, 0},
        {"--1", 0, 0},       {"99999999999999999999", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_OK(ctx, at_metadata_set(ctx, &meta, "n", cases[i].text));
        long out = 4242;
        at_status s = at_metadata_get_long(ctx, &meta, "n", -10, 1000, &out);
        if (cases[i].ok)
            CHECK(s == AT_OK && out == cases[i].value, "'%s' -> %s %ld", cases[i].text,
                  at_status_name(s), out);
        else
            CHECK(s == AT_ERR_FORMAT && out == 4242 && strstr(at_ctx_error(ctx), "'n'"),
                  "'%s' must be refused, got %s %ld (%s)", cases[i].text, at_status_name(s), out,
                  at_ctx_error(ctx));
    }
    long out = 1;
    CHECK_STATUS(ctx, at_metadata_get_long(ctx, &meta, "absent", 0, 1, &out), AT_ERR_FORMAT);
    CHECK(strstr(at_ctx_error(ctx), "'absent' is missing"), "message: %s", at_ctx_error(ctx));
    CHECK_OK(ctx, at_metadata_set(ctx, &meta, "big", "9223372036854775807"));
    CHECK_OK(ctx, at_metadata_get_long(ctx, &meta, "big", 0, 9223372036854775807L, &out));
    CHECK(out == 9223372036854775807L, "LONG_MAX parses (%ld)", out);
    at_metadata_clear(&meta);
    at_ctx_free(ctx);
}

int main(void) {
    char dir[] = "st_test_XXXXXX";
    test_enter_scratch_dir(dir);
    test_every_dtype();
    test_corrupt_files();
    test_file_changes();
    test_metadata_limit_and_time();
    test_tensor_limits();
    test_get_long();
    test_leave_scratch_dir(dir);
    return test_finish("safetensors");
}
