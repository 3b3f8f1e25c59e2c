/*
 * fuzz.h - what every harness in tests/fuzz shares.
 *
 * A harness is one function, LLVMFuzzerTestOneInput(data, size), that hands
 * the bytes to one of attend's parsers through the public API and returns
 * 0. It is built twice:
 *   - with libFuzzer (cmake -DATTEND_FUZZ=ON, clang, ASan + UBSan), as
 *     fuzz_NAME, which tests/fuzz/run.sh runs for a bounded time;
 *   - with fuzz_main.c instead of libFuzzer, as fuzz_replay_NAME, in every
 *     build (gcc too), which ctest runs over tests/fuzz/corpus/NAME and
 *     tests/fuzz/regressions/NAME: every input that ever crashed a harness
 *     stays a test.
 * A harness may also check a property (a round trip gives back what went
 * in); it calls fuzz_fail, which aborts, so the fuzzer keeps the input.
 */
#ifndef ATTEND_FUZZ_H
#define ATTEND_FUZZ_H

#include "attend.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a file (the parsers read files): one path per process and
 * harness slot (0 or 1), rewritten for each input. NULL if it cannot be
 * written (the harness then returns). */
const char *fuzz_input_file(int slot, const uint8_t *data, size_t size);

/* The input as a NUL-terminated string (a copy that lives until the next
 * call); bytes after an embedded NUL are cut off. */
const char *fuzz_input_text(const uint8_t *data, size_t size);

/* One context for the whole run, reset before each input. */
at_ctx *fuzz_ctx(void);

/* A safetensors file of metadata only, {keys[i]: values[i]} and no
 * tensor, written to the input file of `slot`; its path, or NULL. A header
 * too long for the harness's buffer (64 KB) is cut, which the reader
 * refuses as JSON. So any text reaches a checkpoint's metadata reader. */
const char *fuzz_metadata_file(int slot, int n, const char *const *keys,
                               const char *const *values);

/* A broken property: print it and abort (the fuzzer saves the input). */
void fuzz_fail(const char *what, const char *detail);

#endif
