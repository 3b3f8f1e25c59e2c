/*
 * test_files.c - the library's whole-file reader and its one atomic writer
 * (src/core/files.h).
 *
 * The writer: a new file and a replaced one (content, permission bits);
 * refusals of every non-regular target (symbolic link, FIFO, directory,
 * and as root a character device made with mknod) with the link's target
 * untouched; no temporary file left after any failure (missing directory,
 * a size limit cutting the write half way, atf_abort), the old file intact;
 * eight processes writing one path at once while a reader watches: every
 * read sees one writer's whole file, never a mix or a torn one.
 * The reader: a cap on regular files (refused before reading), on an
 * endless device (/dev/zero ends), a pipe read whole, a directory refused.
 */
#define _XOPEN_SOURCE 700 /* mknod, S_IFCHR */
#include "files.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

/* Files in the current directory whose name holds ".tmp-". */
static int count_temp_files(void) {
    DIR *d = opendir(".");
    int count = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        count += strstr(e->d_name, ".tmp-") != NULL;
    closedir(d);
    return count;
}

static int file_is(const char *path, const char *want) {
    size_t n;
    unsigned char *got = test_read_file(path, &n);
    int same = got && n == strlen(want) && !memcmp(got, want, n);
    free(got);
    return same;
}

static void test_write_and_replace(at_ctx *ctx) {
    CHECK_OK(ctx, atf_write_file(ctx, "new.txt", "first\n", 6));
    CHECK(file_is("new.txt", "first\n"), "a new file holds what was written");
    struct stat st;
    CHECK(stat("new.txt", &st) == 0 && (st.st_mode & 0777) == 0644, "a new file is 0644, not %o",
          (unsigned)(st.st_mode & 0777));
    chmod("new.txt", 0600);
    CHECK_OK(ctx, atf_write_file(ctx, "new.txt", "second\n", 7));
    CHECK(file_is("new.txt", "second\n"), "a replaced file holds the new bytes");
    CHECK(stat("new.txt", &st) == 0 && (st.st_mode & 0777) == 0600,
          "a replaced file keeps its permission bits, not %o", (unsigned)(st.st_mode & 0777));

    /* the buffered writer: many small writes and one larger than its buffer */
    atf_writer *w = malloc(sizeof *w);
    static char big[200000];
    memset(big, 'b', sizeof big);
    CHECK_OK(ctx, atf_open(ctx, w, "pieces.txt"));
    for (int i = 0; i < 5000; i++)
        atf_write(w, "0123456789", 10);
    atf_write(w, big, sizeof big);
    CHECK_OK(ctx, atf_commit(ctx, w));
    size_t n;
    unsigned char *got = test_read_file("pieces.txt", &n);
    CHECK(got && n == 50000 + sizeof big && !memcmp(got + 10, "0123456789", 10) &&
              got[n - 1] == 'b',
          "buffered pieces: %zu bytes", n);
    free(got);

    /* atf_abort: nothing written, no temporary file */
    CHECK_OK(ctx, atf_open(ctx, w, "new.txt"));
    atf_write(w, "never", 5);
    atf_abort(w);
    atf_abort(w); /* twice is harmless */
    CHECK(file_is("new.txt", "second\n"), "an aborted write leaves the old file");
    CHECK(count_temp_files() == 0, "an aborted write leaves no temporary file");
    free(w);
}

/* A refused target: AT_ERR_IO naming it and its kind; nothing else made. */
static void check_refused(at_ctx *ctx, const char *path, const char *kind) {
    CHECK_STATUS(ctx, atf_write_file(ctx, path, "x", 1), AT_ERR_IO);
    CHECK(strstr(at_ctx_error(ctx), path) && strstr(at_ctx_error(ctx), kind),
          "refusing %s: the message names it and '%s': %s", path, kind, at_ctx_error(ctx));
    CHECK(count_temp_files() == 0, "refusing %s leaves no temporary file", path);
}

static void test_refusals(at_ctx *ctx) {
    test_write_file("victim.txt", "keep me\n", 8);
    CHECK(symlink("victim.txt", "link.txt") == 0, "symlink: %s", strerror(errno));
    check_refused(ctx, "link.txt", "symbolic link");
    struct stat st;
    CHECK(lstat("link.txt", &st) == 0 && S_ISLNK(st.st_mode), "the link is still a link");
    CHECK(file_is("victim.txt", "keep me\n"), "the link's target is untouched");
    CHECK(symlink("nowhere.txt", "dangling.txt") == 0, "symlink: %s", strerror(errno));
    check_refused(ctx, "dangling.txt", "symbolic link");
    CHECK(access("nowhere.txt", F_OK) != 0, "a dangling link's target is not created");

    CHECK(mkfifo("fifo", 0644) == 0, "mkfifo: %s", strerror(errno));
    check_refused(ctx, "fifo", "FIFO");
    CHECK(lstat("fifo", &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO is still a FIFO");

    mkdir("a_dir", 0755);
    check_refused(ctx, "a_dir", "directory");

    /* A device node of our own (as root only: mknod needs it), never a
     * system one: a broken refusal would replace it. */
    if (geteuid() == 0) {
        CHECK(mknod("null_device", S_IFCHR | 0666, makedev(1, 3)) == 0, "mknod: %s",
              strerror(errno));
        check_refused(ctx, "null_device", "character device");
        CHECK(lstat("null_device", &st) == 0 && S_ISCHR(st.st_mode),
              "the device is still a device");
    }

    CHECK_STATUS(ctx, atf_write_file(ctx, "no_such_dir/x.txt", "x", 1), AT_ERR_IO);
    CHECK(strstr(at_ctx_error(ctx), "no_such_dir/x.txt") != NULL, "message: %s", at_ctx_error(ctx));
}

/* Write 1 MB under a 64 KB file size limit: EFBIG half way. */
static at_status write_with_size_limit(at_ctx *ctx, const char *path) {
    static char data[1 << 20];
    memset(data, 'n', sizeof data);
    struct rlimit old, small = {.rlim_cur = 65536, .rlim_max = 0};
    getrlimit(RLIMIT_FSIZE, &old);
    small.rlim_max = old.rlim_max;
    void (*previous)(int) = signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &small);
    at_status status = atf_write_file(ctx, path, data, sizeof data);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, previous);
    return status;
}

static void test_failed_write(at_ctx *ctx) {
    test_write_file("old.txt", "old\n", 4);
    CHECK_STATUS(ctx, write_with_size_limit(ctx, "old.txt"), AT_ERR_IO);
    CHECK(strstr(at_ctx_error(ctx), "old.txt") != NULL, "message: %s", at_ctx_error(ctx));
    CHECK(file_is("old.txt", "old\n"), "a write cut by the size limit leaves the old file");
    CHECK(count_temp_files() == 0, "a write cut by the size limit leaves no temporary file");
}

enum { WRITERS = 8, ROUNDS = 12, FILE_BYTES = 1 << 19 };

/* Child k: ROUNDS whole files of FILE_BYTES bytes 'A' + k. */
static int writer_child(int k) {
    at_ctx *ctx;
    if (at_ctx_create(&ctx, NULL) != AT_OK) return 1;
    char *data = malloc(FILE_BYTES);
    if (!data) return 1;
    memset(data, 'A' + k, FILE_BYTES);
    int bad = 0;
    for (int r = 0; r < ROUNDS; r++)
        bad |= atf_write_file(ctx, "shared.bin", data, FILE_BYTES) != AT_OK;
    free(data);
    at_ctx_free(ctx);
    return bad;
}

/* 1 if the file is whole: FILE_BYTES bytes, all one writer's letter. */
static int whole_file(const char *path) {
    size_t n;
    unsigned char *got = test_read_file(path, &n);
    int ok = got && n == FILE_BYTES && got[0] >= 'A' && got[0] < 'A' + WRITERS;
    for (size_t i = 1; ok && i < n; i++)
        ok = got[i] == got[0];
    free(got);
    return ok;
}

static void test_concurrent_writers(void) {
    pid_t pids[WRITERS];
    for (int k = 0; k < WRITERS; k++) {
        pids[k] = fork();
        if (pids[k] == 0) _exit(writer_child(k));
    }
    int torn = 0, reads = 0;
    for (int i = 0; i < 200; i++) {
        if (access("shared.bin", F_OK) != 0) continue;
        reads++;
        torn += !whole_file("shared.bin");
    }
    int failed_children = 0;
    for (int k = 0; k < WRITERS; k++) {
        int status = 0;
        waitpid(pids[k], &status, 0);
        failed_children += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    CHECK(failed_children == 0, "%d of %d concurrent writers failed", failed_children, WRITERS);
    CHECK(torn == 0, "%d of %d reads during concurrent writes saw a torn or mixed file", torn,
          reads);
    CHECK(whole_file("shared.bin"), "after concurrent writers the file is one writer's whole file");
    CHECK(count_temp_files() == 0, "concurrent writers leave no temporary file");
}

static void test_reader(at_ctx *ctx) {
    char *text = NULL;
    size_t len = 0;
    test_write_file("ten.txt", "0123456789", 10);
    CHECK_OK(ctx, atf_read(ctx, "ten.txt", 10, "a test file", &text, &len));
    CHECK(text && len == 10 && text[10] == 0 && !memcmp(text, "0123456789", 10),
          "a file of exactly the cap is read, NUL-terminated");
    free(text);
    CHECK_STATUS(ctx, atf_read(ctx, "ten.txt", 9, "a test file", &text, &len), AT_ERR_FORMAT);
    CHECK(strstr(at_ctx_error(ctx), "ten.txt") && strstr(at_ctx_error(ctx), "a test file") &&
              strstr(at_ctx_error(ctx), "9 bytes"),
          "over the cap: %s", at_ctx_error(ctx));
    CHECK(text == NULL, "no buffer after a refusal");

    /* an endless device: the read ends at the cap */
    CHECK_STATUS(ctx, atf_read(ctx, "/dev/zero", 1 << 20, "a test file", &text, &len),
                 AT_ERR_FORMAT);
    CHECK(strstr(at_ctx_error(ctx), "/dev/zero") != NULL, "message: %s", at_ctx_error(ctx));
    CHECK_OK(ctx, atf_read(ctx, "/dev/null", 100, "a test file", &text, &len));
    CHECK(text && len == 0, "an empty device reads as empty");
    free(text);

    /* a pipe (FIFO) with a writer: read whole */
    mkfifo("pipe", 0644);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = fopen("pipe", "w");
        if (f) fputs("through a pipe", f), fclose(f);
        _exit(0);
    }
    CHECK_OK(ctx, atf_read(ctx, "pipe", 100, "a test file", &text, &len));
    CHECK(text && len == 14 && !strcmp(text, "through a pipe"), "a FIFO is read whole");
    free(text);
    waitpid(pid, NULL, 0);

    mkdir("dir", 0755);
    CHECK_STATUS(ctx, atf_read(ctx, "dir", 100, "a test file", &text, &len), AT_ERR_IO);
    CHECK_STATUS(ctx, atf_read(ctx, "missing.txt", 100, "a test file", &text, &len), AT_ERR_IO);
}

int main(void) {
    char dir[] = "files_test_XXXXXX";
    test_enter_scratch_dir(dir);
    at_ctx *ctx = test_new_ctx();
    test_write_and_replace(ctx);
    test_refusals(ctx);
    test_failed_write(ctx);
    test_concurrent_writers();
    test_reader(ctx);
    CHECK(count_temp_files() == 0, "no temporary files left at all");
    at_ctx_free(ctx);
    test_leave_scratch_dir(dir);
    return test_finish("files");
}
