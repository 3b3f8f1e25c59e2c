/*
 * html.c - the text of an HTML part, with libxml2's HTML parser.
 *
 * libxml2 reads any HTML a mail program ever wrote (recovering from broken
 * markup, no network, no messages) into a tree, decoding entities on the
 * way; the input is the part already converted to UTF-8, and libxml2 is
 * told so. (libxml2 stops at markup nested deeper than 256 elements, as it
 * is built to; text below that depth is lost, which no real mail meets.)
 * The tree is then walked without recursion (first child, next
 * sibling, back up through the parents), so however deep the markup, the
 * stack does not grow:
 *   - text and CDATA nodes are written; scripts and styles are not entered
 *     (comments are never text);
 *   - block elements (p, div, li, tr, h1-h6, ...) end a line on the way in
 *     and on the way out; <br> ends one even when the line is empty, so two
 *     make a blank line; table cells are kept apart by a space;
 *   - white space is written as it would be shown: a run of spaces, tabs,
 *     newlines and no-break spaces is one space, and nothing at the start
 *     or end of a line; at most one blank line in a row.
 */
#include "mail.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <string.h>

/* The text being written: out, plus a space owed before the next word. */
typedef struct text_writer {
    GString *out;
    size_t start;      /* where this part's text begins in out            */
    int space_owed;    /* white space was seen since the last character   */
} text_writer;

static int newlines_at_end(const text_writer *w) {
    int count = 0;
    for (size_t i = w->out->len; i > w->start && w->out->str[i - 1] == '\n'; i--) count++;
    return count;
}

/* End the line (hard: even an empty one, as <br> does), keeping at most
 * one blank line and none at the start. */
static void end_line(text_writer *w, int hard) {
    w->space_owed = 0;
    int newlines = newlines_at_end(w);
    if (w->out->len == w->start || newlines >= 2 || (!hard && newlines >= 1)) return;
    g_string_append_c(w->out, '\n');
}

/* The length of the white space at s (ASCII white space or U+00A0), 0 if none. */
static size_t space_at(const unsigned char *s) {
    if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v') return 1;
    return s[0] == 0xC2 && s[1] == 0xA0 ? 2 : 0;
}

static void write_text(text_writer *w, const unsigned char *s) {
    while (*s) {
        size_t space = space_at(s);
        if (space) {
            w->space_owed = 1;
            s += space;
            continue;
        }
        if (w->space_owed && w->out->len > w->start && w->out->str[w->out->len - 1] != '\n')
            g_string_append_c(w->out, ' ');
        w->space_owed = 0;
        g_string_append_c(w->out, (char)*s++);
    }
}

static int named(const xmlNode *node, const char *const *names) {
    for (; *names; names++)
        if (!strcmp((const char *)node->name, *names)) return 1;
    return 0;
}

static const char *const BLOCKS[] = {
    "p",     "div",     "li",  "tr",    "h1",    "h2",    "h3",   "h4",     "h5",
    "h6",    "ul",      "ol",  "dl",    "dt",    "dd",    "table", "blockquote", "pre",
    "hr",    "center",  "form", "address", "title", "section", "article", "header", "footer",
    "body",  NULL};
static const char *const SKIPPED[] = {"script", "style", NULL};
static const char *const CELLS[] = {"td", "th", NULL};

static int is_element(const xmlNode *node) {
    return node->type == XML_ELEMENT_NODE && node->name;
}

static void enter(text_writer *w, const xmlNode *node) {
    if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
        if (node->content) write_text(w, node->content);
    } else if (is_element(node)) {
        if (!strcmp((const char *)node->name, "br")) end_line(w, 1);
        else if (named(node, BLOCKS)) end_line(w, 0);
        else if (named(node, CELLS)) w->space_owed = 1;
    }
}

static void leave(text_writer *w, const xmlNode *node) {
    if (is_element(node) && named(node, BLOCKS)) end_line(w, 0);
}

static int descend(const xmlNode *node) {
    if (!node->children) return 0;
    if (node->type == XML_HTML_DOCUMENT_NODE || node->type == XML_DOCUMENT_NODE) return 1;
    return is_element(node) && !named(node, SKIPPED);
}

/* Depth first from root, each node entered before its children and left
 * after them, in constant stack space. */
static void walk(text_writer *w, xmlNode *root) {
    xmlNode *node = root;
    while (node) {
        enter(w, node);
        if (descend(node)) {
            node = node->children;
            continue;
        }
        for (;;) { /* leave node, then every parent whose last child it was */
            leave(w, node);
            if (node == root) return;
            if (node->next) {
                node = node->next;
                break;
            }
            node = node->parent;
        }
    }
}

/* Take the white space off the end of what this part wrote. */
static void trim_end(text_writer *w) {
    size_t len = w->out->len;
    while (len > w->start && space_at((const unsigned char *)w->out->str + len - 1) == 1) len--;
    g_string_truncate(w->out, len);
}

void atm_html_to_text(const char *utf8, size_t n, GString *out) {
    if (n == 0 || n > (size_t)G_MAXINT) return;
    atm_init();
    int options = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                  HTML_PARSE_NONET | HTML_PARSE_NOIMPLIED;
    htmlDocPtr doc = htmlReadMemory(utf8, (int)n, NULL, "UTF-8", options);
    if (!doc) return;
    text_writer w = {out, out->len, 0};
    walk(&w, (xmlNode *)doc);
    trim_end(&w);
    xmlFreeDoc(doc);
}
