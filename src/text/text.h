/*
 * text.h - what the files of src/text share and callers never see: the
 * insides of a vocabulary (the UTF-8 decoder they use is public:
 * at_utf8_next in attend/text.h).
 */
#ifndef ATTEND_TEXT_INTERNAL_H
#define ATTEND_TEXT_INTERNAL_H

#include "attend.h"

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------- vocabulary
 * vocab.c holds the public functions and the characters kind;
 * vocab_tokens.c the tokens kind. */

struct at_vocab {
    at_vocab_kind kind;
    int32_t n_units;        /* characters or tokens, specials excluded      */
    uint32_t *code_points;  /* chars: (n_units), strictly increasing        */
    char *token_bytes;      /* tokens: every token NUL-terminated, in order */
    uint32_t *token_start;  /* tokens: (n_units + 1) offsets in token_bytes */
    int max_token_bytes;    /* tokens: the longest, in bytes                */
};

/* The serialised form of a token vocabulary starts with this. */
#define VOCAB_TOKENS_MAGIC "attend-vocab-tokens 1 "

/* An empty vocabulary of n units: room for n code points, or for n tokens
 * of token_bytes bytes in all (NULs included; token_start[0] = 0). */
at_status vocab_alloc(at_ctx *ctx, at_vocab **out, at_vocab_kind kind, int32_t n,
                      size_t token_bytes);
/* Lowercase hex of 1..8 digits at *p (advanced past it); 0 if there is
 * none. hex_digit: the value of one lowercase hex digit, or -1. */
int parse_hex(const char **p, uint32_t *value);
int hex_digit(char c);

/* The next token of text[*pos, len): skips ASCII whitespace, sets *start
 * to the token's first byte and *pos past it, returns its length in bytes
 * (0: no token left). */
size_t token_next(const char *text, size_t len, size_t *pos, size_t *start);
/* The tokens kind's part of the public functions (same contracts). */
at_status vocab_tokens_build(at_ctx *ctx, at_vocab **out, size_t n, const char *const *texts);
int32_t vocab_tokens_find(const at_vocab *vocab, const char *token, size_t len);
at_status vocab_tokens_to_string(at_ctx *ctx, const at_vocab *vocab, char **out);
at_status vocab_tokens_from_string(at_ctx *ctx, at_vocab **out, const char *text);
/* A token too long for a vocabulary at byte `start`: the AT_ERR_ARGUMENT. */
at_status vocab_token_too_long(at_ctx *ctx, const char *what, size_t start, size_t len);

#endif
