/*
 * fuzz_tsv.c - any bytes as a user's TSV file of pairs (at_pairs_read_tsv),
 * with no length limit and with a limit of 3 characters.
 *
 * Property: what is read is valid UTF-8 without tab, CR or LF, so
 * at_pairs_add accepts every pair again; a refused file leaves the set
 * empty.
 */
#include "fuzz.h"

#include <string.h>

static void read_with_limit(at_ctx *ctx, const char *path, int max_chars) {
    at_pairs pairs = {0};
    if (at_pairs_read_tsv(ctx, path, max_chars, &pairs) != AT_OK) {
        if (pairs.count != 0) fuzz_fail("a refused TSV left pairs", at_ctx_error(ctx));
        at_pairs_clear(&pairs);
        return;
    }
    at_pairs again = {0};
    for (size_t i = 0; i < pairs.count; i++) {
        if (at_pairs_add(ctx, &again, pairs.source[i], pairs.target[i]) != AT_OK)
            fuzz_fail("a pair read from TSV is not a valid pair", at_ctx_error(ctx));
        if (max_chars > 0 && (at_utf8_length(pairs.source[i]) > (size_t)max_chars ||
                              at_utf8_length(pairs.target[i]) > (size_t)max_chars))
            fuzz_fail("a field longer than max_chars was read", pairs.source[i]);
    }
    at_pairs_clear(&again);
    at_pairs_clear(&pairs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    at_ctx *ctx = fuzz_ctx();
    const char *path = fuzz_input_file(0, data, size);
    if (!path) return 0;
    read_with_limit(ctx, path, 0);
    read_with_limit(ctx, path, 3);
    return 0;
}
