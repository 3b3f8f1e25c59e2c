/*
 * safetensors_dump.c - everything attend's public reader sees in a
 * safetensors file, printed so that tests/parity/test_safetensors_read.py
 * can compare it with what PyTorch wrote.
 *
 *   safetensors_dump FILE
 *       For each tensor, in the reader's order:
 *           tensor HEXNAME DTYPE NDIM D0 D1 ... NUMEL BYTES
 *           bytes HEX            (the raw bytes, "-" if there are none)
 *           f32 B0 B1 ...        (at_safetensors_read_f32, each value as
 *                                 the 8 hex digits of its bits)
 *       then "meta HEXKEY HEXVALUE" per metadata entry ("-" for an empty
 *       string). Exit 1 with the error message on stderr if anything
 *       fails; the first line of stderr is then "error STATUS".
 */
#include "attend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_hex(const void *bytes, size_t n) {
    const unsigned char *b = bytes;
    if (n == 0) fputs("-", stdout);
    for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
}

static int fail(at_ctx *ctx, at_status status) {
    fprintf(stderr, "error %s\n%s\n", at_status_name(status), at_ctx_error(ctx));
    return 1;
}

static at_status dump_tensor(at_ctx *ctx, const at_safetensors *file, int index) {
    at_safetensor_info info;
    at_status s = at_safetensors_info(ctx, file, index, &info);
    if (s != AT_OK) return s;
    fputs("tensor ", stdout);
    print_hex(info.name, strlen(info.name));
    printf(" %s %d", at_dtype_name(info.dtype), info.ndim);
    for (int d = 0; d < info.ndim; d++) printf(" %lld", (long long)info.shape[d]);
    printf(" %llu %llu\n", (unsigned long long)info.numel, (unsigned long long)info.bytes);
    unsigned char *raw = malloc(info.bytes + 1);
    float *values = malloc((info.numel + 1) * sizeof *values);
    if (!raw || !values) {
        free(raw);
        free(values);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "safetensors_dump: out of memory");
    }
    s = at_safetensors_read(ctx, file, index, raw, info.bytes);
    if (s == AT_OK) s = at_safetensors_read_f32(ctx, file, index, values, info.numel);
    if (s == AT_OK) {
        fputs("bytes ", stdout);
        print_hex(raw, info.bytes);
        fputs("\nf32", stdout);
        for (uint64_t i = 0; i < info.numel; i++) {
            uint32_t bits;
            memcpy(&bits, &values[i], sizeof bits);
            printf(" %08x", bits);
        }
        fputs("\n", stdout);
    }
    free(raw);
    free(values);
    return s;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: safetensors_dump FILE\n");
        return 2;
    }
    at_ctx *ctx;
    if (at_ctx_create(&ctx, NULL) != AT_OK) return 2;
    at_safetensors *file;
    at_status s = at_safetensors_open(ctx, &file, argv[1]);
    for (int i = 0; s == AT_OK && i < at_safetensors_count(file); i++) s = dump_tensor(ctx, file, i);
    const at_metadata *meta = s == AT_OK ? at_safetensors_metadata(file) : NULL;
    for (int i = 0; meta && i < meta->count; i++) {
        fputs("meta ", stdout);
        print_hex(meta->keys[i], strlen(meta->keys[i]));
        fputs(" ", stdout);
        print_hex(meta->values[i], strlen(meta->values[i]));
        fputs("\n", stdout);
    }
    int code = s == AT_OK ? 0 : fail(ctx, s);
    at_safetensors_close(file);
    at_ctx_free(ctx);
    return code;
}
