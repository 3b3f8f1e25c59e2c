/*
 * fuzz_main.c - a harness without libFuzzer: every file named on the
 * command line, or found in a directory named there (one level, sorted,
 * names starting with '.' skipped), goes through LLVMFuzzerTestOneInput
 * once. ctest runs it over a harness's seed corpus and its regressions, so
 * inputs that once crashed it stay tests in every build. A crash or a
 * broken property aborts; a path that cannot be read fails the run.
 */
#define _POSIX_C_SOURCE 200809L

#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz replay: cannot open %s\n", path);
        return 0;
    }
    size_t capacity = 4096, size = 0;
    unsigned char *data = malloc(capacity);
    for (size_t n; data && (n = fread(data + size, 1, capacity - size, f)) > 0;) {
        size += n;
        if (size == capacity) {
            unsigned char *grown = realloc(data, capacity *= 2);
            if (!grown) free(data);
            data = grown;
        }
    }
    int ok = data && !ferror(f);
    fclose(f);
    if (ok) LLVMFuzzerTestOneInput(data, size);
    else fprintf(stderr, "fuzz replay: cannot read %s\n", path);
    free(data);
    return ok;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir, in name order; -1 if dir cannot be read. */
static int replay_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    char **names = NULL;
    size_t count = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char **grown = realloc(names, (count + 1) * sizeof *names);
        if (!grown) break;
        names = grown;
        names[count] = malloc(strlen(dir) + strlen(e->d_name) + 2);
        if (!names[count]) break;
        sprintf(names[count], "%s/%s", dir, e->d_name);
        count++;
    }
    closedir(d);
    if (count > 1) qsort(names, count, sizeof *names, by_name);
    int replayed = 0, failed = 0;
    for (size_t i = 0; i < count; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            if (replay_file(names[i])) replayed++;
            else failed++;
        }
        free(names[i]);
    }
    free(names);
    return failed ? -1 : replayed;
}

int main(int argc, char **argv) {
    int total = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int n = stat(argv[i], &st) != 0        ? -1
                : S_ISDIR(st.st_mode)          ? replay_dir(argv[i])
                : replay_file(argv[i])         ? 1
                                               : -1;
        if (n < 0) {
            fprintf(stderr, "fuzz replay: cannot replay %s\n", argv[i]);
            bad++;
        } else {
            total += n;
        }
    }
    printf("%d passed, %d failed\n", total, bad);
    return bad ? 1 : 0;
}
