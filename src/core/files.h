/*
 * files.h - whole files in and out, for every part of libattend and the CLI
 * (not public; the atf_ prefix marks these as internal).
 *
 * Reading (read_file.c): a file read whole into memory, never more than a
 * cap the caller names, so a huge file, /dev/zero or an endless pipe gets a
 * message instead of eating memory.
 *
 * Writing (atomic_file.c): the one way libattend writes a file. The bytes
 * go to a fresh temporary file made with mkstemp beside the target (same
 * directory, so the rename cannot cross file systems), which is written in
 * full, flushed, fsync'ed and renamed over the target; the directory is
 * fsync'ed too, so the new name survives a crash. A reader sees the old
 * file or the new one, never half of one; two writers of one path each
 * leave a whole file (the last rename wins); on any failure the temporary
 * file is removed and the target is untouched.
 *
 * Only a regular file (or nothing) is replaced: the target is lstat'ed
 * first and a symbolic link, FIFO, device, socket or directory is an
 * AT_ERR_IO naming the path and what it is, because renaming over it would
 * replace the link or the device node itself (as root, `--bertviz
 * /dev/full` made /dev/full a regular file). The new file keeps the
 * replaced file's permission bits, or gets 0644.
 *
 *   atf_writer w;
 *   AT_TRY(atf_open(ctx, &w, path));
 *   atf_write(&w, header, n);            // buffered; errors are sticky
 *   atf_write(&w, body, m);
 *   AT_TRY(atf_commit(ctx, &w));         // checks, renames, frees; or cleans up
 *
 * or atf_abort(&w) to give up (removes the temporary file). atf_write_file
 * does all of it for bytes already in memory.
 */
#ifndef ATTEND_FILES_H
#define ATTEND_FILES_H

#include "attend.h"

#include <stddef.h>

/* ------------------------------------------------------------- reading */

/* Read the whole file at path into *out (malloc'ed, NUL-terminated after
 * *len bytes; free it). More than max_bytes is an AT_ERR_FORMAT naming the
 * path, `what` (e.g. "a weights file") and the cap, found from the size of
 * a regular file before anything is read, and after max_bytes + 1 bytes of
 * anything else (a pipe, a device), so the read always ends. A directory
 * or an unopenable path is an AT_ERR_IO. */
at_status atf_read(at_ctx *ctx, const char *path, size_t max_bytes, const char *what, char **out,
                   size_t *len);

/* ------------------------------------------------------------- writing */

typedef struct atf_writer {
    char *path;  /* the target, copied                          */
    char *tmp;   /* the temporary file beside it                */
    int fd;      /* open on tmp; -1 when closed                 */
    int error;   /* first errno of a failed write, 0 if none    */
    size_t used; /* bytes waiting in buffer                     */
    unsigned char buffer[1 << 16];
} atf_writer;

/* Check the target (absent or a regular file, else AT_ERR_IO) and create
 * the temporary file. On failure nothing is left behind and w needs no
 * atf_abort. */
at_status atf_open(at_ctx *ctx, atf_writer *w, const char *path);
/* Append n bytes (buffered). Returns 1, or 0 once any write has failed
 * (the error is kept and reported by atf_commit). */
int atf_write(atf_writer *w, const void *data, size_t n);
/* Flush, fsync, close and rename over the target, then fsync the directory.
 * On any failure (a write error before included) the temporary file is
 * removed and the message names the target and the reason. Frees w's
 * strings either way. */
at_status atf_commit(at_ctx *ctx, atf_writer *w);
/* Give up: close and remove the temporary file, free w's strings. Safe to
 * call after atf_commit or twice. */
void atf_abort(atf_writer *w);

/* n bytes of data to path, atomically (open, write, commit). */
at_status atf_write_file(at_ctx *ctx, const char *path, const void *data, size_t n);

#endif /* ATTEND_FILES_H */
