/*
 * corpus.c - the SpamAssassin public corpus as train, dev and test
 * documents (at_mail_corpus_read).
 *
 * The corpus is five folders of raw messages, each folder one group:
 *   easy-ham-1, easy-ham-2  ham   easy_ham
 *   hard-ham-1              ham   hard_ham
 *   spam-1, spam-2          spam  spam
 * Every NNNNN.MD5.txt file is parsed (parse.c) and becomes one document,
 * its text the subject, a blank line and the body (at_mail_text_join).
 * A file that does not parse is counted, and the first few are described,
 * but it is no error: real mail is like that.
 *
 * The split is stratified and deterministic: the documents of each group
 * are sorted by the MD5 in their file name (the checksum of the content,
 * so a uniform and content-bound order), then by file name and folder;
 * the first 70% (rounded down) of those that parsed train, the next 10%
 * (rounded down) are the development set, the rest test. A cut never falls between two
 * documents with the same MD5, so identical messages share a split.
 * Folders are listed with opendir/readdir and their names sorted, so the
 * result does not depend on the file system's order.
 */
#define _POSIX_C_SOURCE 200809L
#include "mail.h"
#include "internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *folder, *label, *group;
} FOLDERS[] = {
    {"easy-ham-1", "ham", "easy_ham"}, {"easy-ham-2", "ham", "easy_ham"},
    {"hard-ham-1", "ham", "hard_ham"}, {"spam-1", "spam", "spam"},
    {"spam-2", "spam", "spam"},
};
enum { FOLDER_COUNT = sizeof FOLDERS / sizeof FOLDERS[0], GROUP_COUNT = 3 };
static const char *const GROUPS[GROUP_COUNT] = {"easy_ham", "hard_ham", "spam"};

/* One file of the corpus. */
typedef struct message {
    int folder;  /* index into FOLDERS                     */
    char *name;  /* the file name, e.g. 00001.MD5.txt      */
    char *md5;   /* the name's middle field ("" if none)    */
    char *text;  /* the joined text; NULL if it failed     */
} message;

typedef struct message_list {
    message *items;
    size_t count, capacity;
} message_list;

static void list_clear(message_list *list) {
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].name);
        free(list->items[i].md5);
        free(list->items[i].text);
    }
    free(list->items);
    memset(list, 0, sizeof *list);
}

static int ends_with_txt(const char *name) {
    size_t n = strlen(name);
    return n > 4 && !strcmp(name + n - 4, ".txt");
}

/* "NNNNN.MD5.txt" -> "MD5"; a name of another shape -> "". */
static char *md5_of(const char *name) {
    const char *first = strchr(name, '.'), *last = strrchr(name, '.');
    if (!first || first == last) return ati_strdup("");
    char *md5 = ati_strdup(first + 1);
    if (md5) md5[last - first - 1] = '\0';
    return md5;
}

static at_status list_add(at_ctx *ctx, message_list *list, int folder, const char *name) {
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? 2 * list->capacity : 1024;
        message *grown = realloc(list->items, capacity * sizeof *grown);
        if (!grown) return at_ctx_fail(ctx, AT_ERR_MEMORY, "mail corpus: out of memory");
        list->items = grown;
        list->capacity = capacity;
    }
    message *m = &list->items[list->count];
    *m = (message){folder, ati_strdup(name), md5_of(name), NULL};
    list->count++;
    if (!m->name || !m->md5) return at_ctx_fail(ctx, AT_ERR_MEMORY, "mail corpus: out of memory");
    return AT_OK;
}

/* dir/sub, malloc'd. */
static char *path_join(const char *dir, const char *sub) {
    size_t a = strlen(dir), b = strlen(sub);
    char *path = malloc(a + b + 2);
    if (path) snprintf(path, a + b + 2, "%s/%s", dir, sub);
    return path;
}

/* Every .txt file of one folder, appended to list. */
static at_status list_folder(at_ctx *ctx, const char *dir, int folder, message_list *list) {
    char *path = path_join(dir, FOLDERS[folder].folder);
    if (!path) return at_ctx_fail(ctx, AT_ERR_MEMORY, "mail corpus: out of memory");
    DIR *d = opendir(path);
    if (!d) {
        at_status status = at_ctx_fail(ctx, AT_ERR_IO, "mail corpus: cannot open the folder %s",
                                       path);
        free(path);
        return status;
    }
    size_t before = list->count;
    at_status status = AT_OK;
    for (struct dirent *e; status == AT_OK && (e = readdir(d));)
        if (e->d_name[0] != '.' && ends_with_txt(e->d_name))
            status = list_add(ctx, list, folder, e->d_name);
    closedir(d);
    if (status == AT_OK && list->count == before)
        status = at_ctx_fail(ctx, AT_ERR_IO, "mail corpus: the folder %s has no .txt message",
                             path);
    free(path);
    return status;
}

static const char *group_of(const message *m) {
    return FOLDERS[m->folder].group;
}

static int group_index(const message *m) {
    for (int g = 0; g < GROUP_COUNT; g++)
        if (!strcmp(GROUPS[g], group_of(m))) return g;
    return GROUP_COUNT;
}

/* Group, then MD5, then file name, then folder. */
static int by_split_order(const void *pa, const void *pb) {
    const message *a = pa, *b = pb;
    int ga = group_index(a), gb = group_index(b);
    if (ga != gb) return ga < gb ? -1 : 1;
    int c = strcmp(a->md5, b->md5);
    if (c) return c;
    c = strcmp(a->name, b->name);
    if (c) return c;
    return a->folder < b->folder ? -1 : a->folder > b->folder;
}

/* "FOLDER/FILE" into buffer. */
static void id_of(const message *m, char *buffer, size_t size) {
    snprintf(buffer, size, "%s/%s", FOLDERS[m->folder].folder, m->name);
}

static void note_failure(at_mail_corpus *out, const message *m, const char *why) {
    size_t slots = sizeof out->failures / sizeof out->failures[0];
    if (out->failed < slots) {
        char id[256];
        id_of(m, id, sizeof id);
        size_t room = sizeof out->failures[0];
        if (snprintf(out->failures[out->failed], room, "%s: %s", id, why) >= (int)room)
            memcpy(out->failures[out->failed] + room - 4, "...", 4); /* cut, and says so */
    }
    out->failed++;
}

/* Parse one file into m->text; a message that will not parse (or whose
 * text a document refuses) is noted in out and left NULL. Only running
 * out of memory is an error. */
static at_status read_message(at_ctx *ctx, const char *dir, message *m, at_mail_corpus *out) {
    char id[1024];
    id_of(m, id, sizeof id);
    char *path = path_join(dir, id);
    if (!path) return at_ctx_fail(ctx, AT_ERR_MEMORY, "mail corpus: out of memory");
    at_mail_text mail = {0};
    at_status status = at_mail_parse_file(ctx, path, &mail);
    free(path);
    if (status == AT_OK) {
        status = at_mail_text_join(ctx, &mail, &m->text);
        out->html += mail.html != 0;
        out->charset_guessed += mail.charset_guessed != 0;
    }
    at_mail_text_clear(&mail);
    if (status == AT_ERR_MEMORY) return status;
    if (status != AT_OK) note_failure(out, m, at_ctx_error(ctx));
    return AT_OK;
}

/* The end of the part of a sorted group that starts at begin and should
 * hold want documents, moved on past documents of the same MD5. */
static size_t cut_after(const message *group, size_t count, size_t begin, size_t want) {
    size_t cut = begin + want;
    while (cut > 0 && cut < count && !strcmp(group[cut].md5, group[cut - 1].md5)) cut++;
    return cut;
}

/* Add the messages of group[0 .. count) (sorted, all parsed) to train,
 * dev and test. */
static at_status split_group(at_ctx *ctx, const message *group, size_t count,
                             at_mail_corpus *out) {
    size_t train_end = cut_after(group, count, 0, count * 7 / 10);
    size_t dev_end = train_end >= count ? count : cut_after(group, count, train_end, count / 10);
    for (size_t i = 0; i < count; i++) {
        at_class_docs *part = i < train_end ? &out->train : i < dev_end ? &out->dev : &out->test;
        char id[1024];
        id_of(&group[i], id, sizeof id);
        at_status status = at_class_docs_add(ctx, part, FOLDERS[group[i].folder].label,
                                             group[i].text, group_of(&group[i]), id);
        if (status == AT_ERR_MEMORY) return status;
        if (status != AT_OK) note_failure(out, &group[i], at_ctx_error(ctx));
    }
    return AT_OK;
}

/* Free the messages that failed and close up the list. */
static void drop_failed(message_list *list) {
    size_t kept = 0;
    for (size_t i = 0; i < list->count; i++) {
        if (list->items[i].text) {
            list->items[kept++] = list->items[i];
        } else {
            free(list->items[i].name);
            free(list->items[i].md5);
        }
    }
    list->count = kept;
}

static at_status split_all(at_ctx *ctx, message_list *list, at_mail_corpus *out) {
    drop_failed(list);
    qsort(list->items, list->count, sizeof *list->items, by_split_order);
    for (size_t begin = 0, end; begin < list->count; begin = end) {
        end = begin + 1;
        while (end < list->count && group_index(&list->items[end]) == group_index(&list->items[begin]))
            end++;
        AT_TRY(split_group(ctx, list->items + begin, end - begin, out));
    }
    return AT_OK;
}

static at_status read_all(at_ctx *ctx, const char *dir, message_list *list, at_mail_corpus *out,
                          at_mail_progress progress, void *user) {
    for (int f = 0; f < FOLDER_COUNT; f++) AT_TRY(list_folder(ctx, dir, f, list));
    out->files = list->count;
    for (size_t i = 0; i < list->count; i++) {
        AT_TRY(read_message(ctx, dir, &list->items[i], out));
        if (progress && ((i + 1) % 256 == 0 || i + 1 == list->count))
            progress(user, i + 1, list->count);
    }
    return split_all(ctx, list, out);
}

at_status at_mail_corpus_read(at_ctx *ctx, const char *dir, at_mail_corpus *out,
                              at_mail_progress progress, void *user) {
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "mail corpus: NULL output");
    memset(out, 0, sizeof *out);
    if (!dir) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "mail corpus: NULL folder");
    message_list list = {0};
    at_status status = read_all(ctx, dir, &list, out, progress, user);
    list_clear(&list);
    if (status != AT_OK) at_mail_corpus_clear(out);
    return status;
}

void at_mail_corpus_clear(at_mail_corpus *corpus) {
    if (!corpus) return;
    at_class_docs_clear(&corpus->train);
    at_class_docs_clear(&corpus->dev);
    at_class_docs_clear(&corpus->test);
    memset(corpus, 0, sizeof *corpus);
}
