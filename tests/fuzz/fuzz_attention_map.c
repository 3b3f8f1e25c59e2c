/*
 * fuzz_attention_map.c - any bytes as an attention weights file: the kind
 * (at_viz_file_kind), a map (at_attention_map_load) and a document
 * (at_attention_doc_load).
 *
 * Property: a map or document that loads saves and loads again with the
 * same sizes.
 */
#include "fuzz.h"

static void map_round_trip(at_ctx *ctx, const at_attention_map *map) {
    const char *copy = fuzz_input_file(1, (const uint8_t *)"", 0);
    at_attention_map *again = NULL;
    if (!copy) return;
    if (at_attention_map_save(ctx, map, copy) != AT_OK ||
        at_attention_map_load(ctx, &again, copy) != AT_OK)
        fuzz_fail("a loaded map does not save and load again", at_ctx_error(ctx));
    if (again->heads != map->heads || again->rows != map->rows || again->cols != map->cols)
        fuzz_fail("a map changed size in a round trip", "");
    at_attention_map_free(again);
}

static void doc_round_trip(at_ctx *ctx, const at_attention_doc *doc) {
    const char *copy = fuzz_input_file(1, (const uint8_t *)"", 0);
    at_attention_doc *again = NULL;
    if (!copy) return;
    if (at_attention_doc_save(ctx, doc, copy) != AT_OK ||
        at_attention_doc_load(ctx, &again, copy) != AT_OK)
        fuzz_fail("a loaded document does not save and load again", at_ctx_error(ctx));
    if (again->sentences != doc->sentences || again->words != doc->words)
        fuzz_fail("a document changed size in a round trip", "");
    at_attention_doc_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    at_ctx *ctx = fuzz_ctx();
    const char *path = fuzz_input_file(0, data, size);
    if (!path) return 0;
    at_viz_kind kind;
    at_viz_file_kind(ctx, path, &kind);
    at_attention_map *map = NULL;
    if (at_attention_map_load(ctx, &map, path) == AT_OK) map_round_trip(ctx, map);
    at_attention_map_free(map);
    at_attention_doc *doc = NULL;
    if (at_attention_doc_load(ctx, &doc, path) == AT_OK) doc_round_trip(ctx, doc);
    at_attention_doc_free(doc);
    return 0;
}
