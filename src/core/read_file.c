/*
 * read_file.c - a whole file into memory, with a cap (files.h).
 *
 * A regular file's size is known before reading: one over the cap is
 * refused at once. Anything else (a pipe, /dev/stdin, a device such as
 * /dev/zero) is read in chunks until end of file or until it has given
 * one byte more than the cap, so even an endless source ends the read
 * with a message after at most cap + 1 bytes.
 */
#define _POSIX_C_SOURCE 200809L /* fstat, open */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static at_status too_big(at_ctx *ctx, const char *path, const char *what, size_t max_bytes) {
    return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: larger than %zu bytes, the most %s may hold", path,
                       max_bytes, what);
}

/* Read from fd until EOF or more than max bytes; buf grows as needed. */
static at_status read_all(at_ctx *ctx, int fd, const char *path, const char *what, size_t max_bytes,
                          size_t first_capacity, char **out, size_t *len) {
    size_t capacity = first_capacity, used = 0;
    char *buf = malloc(capacity + 1);
    if (!buf) return at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", path);
    for (;;) {
        if (used == capacity) {
            if (capacity > max_bytes) break; /* got max_bytes + 1: too big */
            size_t grown = capacity * 2 > max_bytes + 1 ? max_bytes + 1 : capacity * 2;
            char *bigger = realloc(buf, grown + 1);
            if (!bigger) {
                free(buf);
                return at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", path);
            }
            buf = bigger;
            capacity = grown;
        }
        ssize_t got = read(fd, buf + used, capacity - used);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            int err = errno;
            free(buf);
            return at_ctx_fail(ctx, AT_ERR_IO, "%s: cannot read: %s", path, strerror(err));
        }
        if (got == 0) break;
        used += (size_t)got;
    }
    if (used > max_bytes) {
        free(buf);
        return too_big(ctx, path, what, max_bytes);
    }
    buf[used] = 0;
    *out = buf;
    *len = used;
    return AT_OK;
}

at_status atf_read(at_ctx *ctx, const char *path, size_t max_bytes, const char *what, char **out,
                   size_t *len) {
    if (!path || !out || !len || !what)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "read file: NULL argument");
    *out = NULL;
    *len = 0;
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return at_ctx_fail(ctx, AT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    at_status s = AT_OK;
    size_t first = 1 << 16;
    if (fstat(fd, &st) != 0) {
        s = at_ctx_fail(ctx, AT_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        s = at_ctx_fail(ctx, AT_ERR_IO, "%s: is a directory, not %s", path, what);
    } else if (S_ISREG(st.st_mode)) {
        if ((unsigned long long)st.st_size > max_bytes)
            s = too_big(ctx, path, what, max_bytes);
        else
            first = (size_t)st.st_size + 1; /* + 1: see the end of file in one pass */
    }
    if (first > max_bytes + 1) first = max_bytes + 1;
    if (s == AT_OK) s = read_all(ctx, fd, path, what, max_bytes, first, out, len);
    close(fd);
    return s;
}
