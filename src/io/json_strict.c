/*
 * json_strict.c - one JSON text read with nothing taken on trust.
 *
 * json-c does the parsing. Two things it does not do are done here, each
 * in one linear pass over the raw text that only needs to know where
 * strings begin and end (between two " or, as json-c takes them for keys,
 * two '; a backslash escapes the byte after it):
 *
 *   before json-c: count the values. Every value but the first in a
 *   container follows a comma, and every container opens with a bracket,
 *   so commas + brackets + 1 bounds the number of values json-c would
 *   build. A hostile header of tiny values is refused before it costs
 *   memory.
 *
 *   after json-c: find repeated keys. json-c keeps the last of two equal
 *   keys and says nothing. The pass keeps, for each object open at this
 *   point of the text, the set of keys seen so far (a json-c object used
 *   as a hash set, so the pass stays linear), and stops at the first key
 *   already in its set. A key with an escape is decoded by json-c first,
 *   so that "a" and "\u0061" compare equal as they do for json-c.
 */
#include "json_strict.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* json-c, even in strict mode, takes 'single-quoted' keys too. */
static int is_quote(char c) { return c == '"' || c == '\''; }

/* The index of the closing quote of the string opening at text[open]
 * (len if the string never closes). */
static size_t string_end(const char *text, size_t len, size_t open) {
    char quote = text[open];
    size_t i = open + 1;
    while (i < len && text[i] != quote) i += text[i] == '\\' ? 2 : 1;
    return i < len ? i : len;
}

/* An upper bound on the number of values in text (see above). */
static size_t count_values(const char *text, size_t len) {
    size_t count = 1;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (is_quote(c)) i = string_end(text, len, i);
        else if (c == ',' || c == '{' || c == '[') count++;
    }
    return count;
}

/* ------------------------------------------------------ repeated keys */

/* An object or array open at the current point of the text. */
typedef struct scope {
    int is_object;
    int expect_key;   /* the next string is a key                     */
    json_object *keys; /* keys seen so far (objects; NULL until one)  */
} scope;

typedef struct key_pass {
    scope stack[JSON_TOKENER_DEFAULT_DEPTH + 1];
    int depth;
    json_tokener *decoder; /* for keys with an escape  */
    char *why;
    size_t why_bytes;
} key_pass;

/* The key of the string token text[0, n) (quotes included), as a string
 * json-c owns (*holder) or a copy (*copy); NULL if it cannot be decoded. */
static const char *decode_key(key_pass *p, const char *token, size_t n, json_object **holder,
                              char **copy) {
    if (!memchr(token, '\\', n)) {
        *copy = malloc(n - 1);
        if (!*copy) return NULL;
        memcpy(*copy, token + 1, n - 2);
        (*copy)[n - 2] = '\0';
        return *copy;
    }
    json_tokener_reset(p->decoder);
    *holder = json_tokener_parse_ex(p->decoder, token, (int)n);
    if (!*holder || !json_object_is_type(*holder, json_type_string)) return NULL;
    const char *key = json_object_get_string(*holder);
    if (strlen(key) != (size_t)json_object_get_string_len(*holder)) {
        snprintf(p->why, p->why_bytes, "an object key holds a NUL character ('%.64s...')", key);
        return NULL;
    }
    return key;
}

/* Add the key token text[0, n) to the innermost object's set; 0 (with
 * p->why) if it is there already or cannot be read. */
static int add_key(key_pass *p, scope *s, const char *token, size_t n) {
    json_object *holder = NULL;
    char *copy = NULL;
    snprintf(p->why, p->why_bytes, "an object key cannot be read");
    const char *key = decode_key(p, token, n, &holder, &copy);
    int ok = key != NULL;
    if (ok && !s->keys) s->keys = json_object_new_object();
    if (ok && json_object_object_get_ex(s->keys, key, NULL)) {
        snprintf(p->why, p->why_bytes, "the key '%.64s' appears twice in one object", key);
        ok = 0;
    } else if (ok && (!s->keys || json_object_object_add(s->keys, key, NULL) != 0)) {
        snprintf(p->why, p->why_bytes, "out of memory");
        ok = 0;
    }
    json_object_put(holder);
    free(copy);
    return ok;
}

static int open_scope(key_pass *p, int is_object) {
    if (p->depth == (int)(sizeof p->stack / sizeof p->stack[0])) {
        snprintf(p->why, p->why_bytes, "JSON nested too deeply");
        return 0;
    }
    p->stack[p->depth++] = (scope){.is_object = is_object, .expect_key = is_object};
    return 1;
}

static void close_scope(key_pass *p) {
    if (p->depth == 0) return;
    json_object_put(p->stack[--p->depth].keys);
}

/* 1 if no object of the (valid) JSON text repeats a key. */
static int keys_unique(const char *text, size_t len, char *why, size_t why_bytes) {
    key_pass p = {.depth = 0, .why = why, .why_bytes = why_bytes};
    p.decoder = json_tokener_new();
    if (!p.decoder) {
        snprintf(why, why_bytes, "out of memory");
        return 0;
    }
    int ok = 1;
    for (size_t i = 0; ok && i < len; i++) {
        scope *top = p.depth ? &p.stack[p.depth - 1] : NULL;
        switch (text[i]) {
        case '\'':
        case '"': {
            size_t end = string_end(text, len, i);
            if (top && top->expect_key && end < len) {
                ok = add_key(&p, top, text + i, end - i + 1);
                top->expect_key = 0;
            }
            i = end;
            break;
        }
        case '{': ok = open_scope(&p, 1); break;
        case '[': ok = open_scope(&p, 0); break;
        case '}':
        case ']': close_scope(&p); break;
        case ',':
            if (top && top->is_object) top->expect_key = 1;
            break;
        default: break;
        }
    }
    while (p.depth > 0) close_scope(&p);
    json_tokener_free(p.decoder);
    return ok;
}

/* --------------------------------------------------------------- parse */

static json_object *parse_one_value(const char *text, size_t len, char *why, size_t why_bytes) {
    json_tokener *tok = json_tokener_new();
    if (!tok) {
        snprintf(why, why_bytes, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
                                    JSON_TOKENER_VALIDATE_UTF8);
    json_object *root = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error err = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (err != json_tokener_success || !root) {
        json_object_put(root);
        snprintf(why, why_bytes, "%s",
                 err == json_tokener_continue ? "JSON that ends early" : json_tokener_error_desc(err));
        return NULL;
    }
    for (size_t i = end; i < len; i++)
        if (!strchr(" \t\r\n", text[i])) {
            json_object_put(root);
            snprintf(why, why_bytes, "bytes after the JSON value");
            return NULL;
        }
    return root;
}

json_object *ati_json_parse_strict(const char *text, size_t len, size_t max_values, char *why,
                                  size_t why_bytes) {
    if (!text || len > INT_MAX) {
        snprintf(why, why_bytes, "no text, or over %d bytes", INT_MAX);
        return NULL;
    }
    if (memchr(text, '\0', len)) {
        snprintf(why, why_bytes, "a NUL byte");
        return NULL;
    }
    if (count_values(text, len) > max_values) {
        snprintf(why, why_bytes, "more than %zu JSON values", max_values);
        return NULL;
    }
    json_object *root = parse_one_value(text, len, why, why_bytes);
    if (root && !keys_unique(text, len, why, why_bytes)) {
        json_object_put(root);
        return NULL;
    }
    return root;
}
