/*
 * json_strict.h - one JSON text read with nothing taken on trust (json_strict.c).
 *
 * json-c parses JSON well, but a file that names the same key twice in one
 * object loads silently with the last value (a checkpoint holding a tensor
 * twice would load the second copy), and a text can make it build millions
 * of nodes before any check runs. ati_json_parse_strict adds what a reader of
 * untrusted files needs on top of json-c's strict mode.
 */
#ifndef ATTEND_IO_JSON_STRICT_H
#define ATTEND_IO_JSON_STRICT_H

#include <json-c/json.h>
#include <stddef.h>

/* Parse text[0, len) as exactly one JSON value (json-c strict mode, valid
 * UTF-8) followed only by white space. Refused: a NUL byte, more than
 * max_values values and keys (counted before json-c builds anything),
 * nesting deeper than json-c's 32 levels, an object key that holds a
 * NUL character, and an object with the same key twice (compared after
 * escapes are decoded, so "a" and "\u0061" are the same key). Returns the
 * value (release it with json_object_put), or NULL with the reason in
 * why[0, why_bytes) - "the key 'w' appears twice in one object", "JSON
 * that ends early", ... */
json_object *ati_json_parse_strict(const char *text, size_t len, size_t max_values, char *why,
                                  size_t why_bytes);

#endif
