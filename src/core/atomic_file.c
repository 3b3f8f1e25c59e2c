/*
 * atomic_file.c - the one way libattend writes a file (files.h): a
 * temporary file beside the target, written in full, synced and renamed
 * over it; only a regular file (or nothing) is ever replaced.
 *
 * Steps and what each guards against:
 *   lstat(target)        a symlink, FIFO, device or directory is refused,
 *                        since rename would replace the node itself
 *   mkstemp(PATH.tmp-XXXXXX)
 *                        a fresh name no one else holds (no planted
 *                        symlink is followed; two writers never share one)
 *   fchmod               the old file's permission bits, or 0644
 *   write loop           short writes and EINTR; the first errno is kept
 *   fsync, close         the bytes are on disk before the name changes
 *   rename               the switch, atomic for readers
 *   fsync(directory)     the new name is on disk too (best effort)
 * Any failure removes the temporary file and leaves the target as it was.
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp, fsync, fchmod, lstat */
#include "files.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a non-regular file is, for the refusal's message. */
static const char *kind_of(mode_t mode) {
    if (S_ISLNK(mode)) return "a symbolic link";
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

/* AT_OK when path is absent or a regular file; *mode gets the permission
 * bits the new file should have. */
static at_status check_target(at_ctx *ctx, const char *path, mode_t *mode) {
    struct stat st;
    *mode = 0644;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) return AT_OK;
        return at_ctx_fail(ctx, AT_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return at_ctx_fail(ctx, AT_ERR_IO,
                           "%s: is %s; attend only writes regular files (it would replace "
                           "the %s itself), choose another path",
                           path, kind_of(st.st_mode), S_ISLNK(st.st_mode) ? "link" : "node");
    *mode = st.st_mode & 07777;
    return AT_OK;
}

static void clear(atf_writer *w) {
    free(w->path);
    free(w->tmp);
    w->path = w->tmp = NULL;
    w->fd = -1;
    w->used = 0;
}

at_status atf_open(at_ctx *ctx, atf_writer *w, const char *path) {
    if (!w) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "write file: NULL writer");
    w->path = w->tmp = NULL;
    w->fd = -1;
    w->error = 0;
    w->used = 0;
    if (!path || !*path) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "write file: empty path");
    mode_t mode;
    AT_TRY(check_target(ctx, path, &mode));
    size_t n = strlen(path);
    w->path = malloc(n + 1);
    w->tmp = malloc(n + sizeof ".tmp-XXXXXX");
    if (!w->path || !w->tmp) {
        clear(w);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", path);
    }
    memcpy(w->path, path, n + 1);
    snprintf(w->tmp, n + sizeof ".tmp-XXXXXX", "%s.tmp-XXXXXX", path);
    w->fd = mkstemp(w->tmp);
    if (w->fd < 0) {
        int err = errno;
        clear(w);
        if (err == ENOENT)
            return at_ctx_fail(ctx, AT_ERR_IO, "%s: cannot write: its directory does not exist",
                               path);
        return at_ctx_fail(ctx, AT_ERR_IO, "%s: cannot create a temporary file beside it: %s", path,
                           strerror(err));
    }
    (void)fchmod(w->fd, mode); /* some file systems (vfat) have no modes: not an error */
    return AT_OK;
}

/* Write n bytes to fd in full; 0 on success, else errno. */
static int write_fully(int fd, const unsigned char *data, size_t n) {
    while (n > 0) {
        ssize_t done = write(fd, data, n);
        if (done < 0 && errno == EINTR) continue;
        if (done < 0) return errno;
        if (done == 0) return EIO;
        data += done;
        n -= (size_t)done;
    }
    return 0;
}

static int flush(atf_writer *w) {
    if (!w->error && w->used > 0) w->error = write_fully(w->fd, w->buffer, w->used);
    w->used = 0;
    return !w->error;
}

int atf_write(atf_writer *w, const void *data, size_t n) {
    if (w->error || w->fd < 0) return 0;
    if (w->used + n > sizeof w->buffer && !flush(w)) return 0;
    if (n >= sizeof w->buffer) {
        w->error = write_fully(w->fd, data, n);
        return !w->error;
    }
    memcpy(w->buffer + w->used, data, n);
    w->used += n;
    return 1;
}

/* Make the rename durable; a failure here loses nothing written. */
static void sync_directory_of(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = NULL;
    if (slash) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(n + 1);
        if (!dir) return;
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    int fd = open(dir ? dir : ".", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

at_status atf_commit(at_ctx *ctx, atf_writer *w) {
    if (!w || w->fd < 0 || !w->tmp)
        return at_ctx_fail(ctx, AT_ERR_STATE, "write file: the writer is not open");
    flush(w);
    if (!w->error && fsync(w->fd) != 0) w->error = errno;
    if (close(w->fd) != 0 && !w->error) w->error = errno;
    w->fd = -1;
    if (!w->error && rename(w->tmp, w->path) != 0) w->error = errno;
    if (w->error) {
        int err = w->error;
        unlink(w->tmp);
        at_status s = at_ctx_fail(ctx, AT_ERR_IO, "%s: cannot write: %s", w->path, strerror(err));
        clear(w);
        return s;
    }
    sync_directory_of(w->path);
    clear(w);
    return AT_OK;
}

void atf_abort(atf_writer *w) {
    if (!w) return;
    if (w->fd >= 0) close(w->fd);
    if (w->tmp) unlink(w->tmp);
    clear(w);
}

at_status atf_write_file(at_ctx *ctx, const char *path, const void *data, size_t n) {
    atf_writer *w = malloc(sizeof *w);
    if (!w) return at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", path ? path : "");
    at_status s = atf_open(ctx, w, path);
    if (s == AT_OK) {
        atf_write(w, data, n);
        s = atf_commit(ctx, w);
    }
    free(w);
    return s;
}
