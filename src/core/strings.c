/*
 * strings.c - the library's one string copy (strdup is POSIX, not C11).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

char *ati_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy) memcpy(copy, s, n);
    return copy;
}
