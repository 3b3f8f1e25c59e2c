/*
 * fuzz_util.c - the input as a file or a string, and the shared context
 * (see fuzz.h). Files go to $TMPDIR (or /tmp) under names made unique by
 * mkstemp, and are removed when the process exits.
 */
#define _POSIX_C_SOURCE 200809L

#include "fuzz.h"

#include <json-c/json.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 2

static char paths[SLOTS][256];
static int fds[SLOTS] = {-1, -1};

static void remove_files(void) {
    for (int i = 0; i < SLOTS; i++)
        if (fds[i] >= 0) {
            close(fds[i]);
            unlink(paths[i]);
        }
}

static int open_slot(int slot) {
    const char *dir = getenv("TMPDIR");
    snprintf(paths[slot], sizeof paths[slot], "%s/attend_fuzz_XXXXXX", dir && *dir ? dir : "/tmp");
    fds[slot] = mkstemp(paths[slot]);
    static int registered;
    if (fds[slot] >= 0 && !registered) registered = atexit(remove_files) == 0;
    return fds[slot] >= 0;
}

const char *fuzz_input_file(int slot, const uint8_t *data, size_t size) {
    if (slot < 0 || slot >= SLOTS) return NULL;
    if (fds[slot] < 0 && !open_slot(slot)) return NULL;
    if (ftruncate(fds[slot], 0) != 0) return NULL;
    for (size_t done = 0; done < size;) {
        ssize_t n = pwrite(fds[slot], data + done, size - done, (off_t)done);
        if (n <= 0) return NULL;
        done += (size_t)n;
    }
    return paths[slot];
}

const char *fuzz_input_text(const uint8_t *data, size_t size) {
    static char *text;
    static size_t capacity;
    if (size + 1 > capacity) {
        char *grown = realloc(text, size + 1);
        if (!grown) abort();
        text = grown;
        capacity = size + 1;
    }
    if (size) memcpy(text, data, size);
    text[size] = '\0';
    return text;
}

static at_ctx *shared_ctx;

static void free_ctx(void) { at_ctx_free(shared_ctx); }

at_ctx *fuzz_ctx(void) {
    if (!shared_ctx) {
        if (at_ctx_create(&shared_ctx, NULL) != AT_OK) abort();
        atexit(free_ctx);
    }
    at_ctx_reset(shared_ctx);
    return shared_ctx;
}

void fuzz_fail(const char *what, const char *detail) {
    fprintf(stderr, "fuzz: property broken: %s (%s)\n", what, detail ? detail : "");
    abort();
}

const char *fuzz_metadata_file(int slot, int n, const char *const *keys,
                               const char *const *values) {
    static unsigned char file[1 << 16];
    json_object *root = json_object_new_object(), *meta = json_object_new_object();
    for (int i = 0; i < n; i++) json_object_object_add(meta, keys[i], json_object_new_string(values[i]));
    json_object_object_add(root, "__metadata__", meta);
    const char *header = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
    size_t len = strlen(header);
    if (len + 8 > sizeof file) len = sizeof file - 8; /* cut: refused as JSON */
    for (int i = 0; i < 8; i++) file[i] = (unsigned char)((uint64_t)len >> (8 * i));
    memcpy(file + 8, header, len);
    json_object_put(root);
    return fuzz_input_file(slot, file, len + 8);
}
