/*
 * attend/viz.h - pictures of attention: heatmaps, HTML, the terminal,
 * training curves (libattend-viz, which needs cairo and pango).
 *
 * Part of the public contract of libattend; include <attend.h> for all of
 * it. The conventions (errors, shapes, the one mask convention, memory,
 * gradients) are written once, at the top of attend/core.h.
 */
#ifndef ATTEND_API_VIZ_H
#define ATTEND_API_VIZ_H

#include "attend/core.h"
#include "attend/lm.h" /* at_lm_attention, for at_plot_lm_attention */
#include <stdio.h>     /* FILE, for at_plot_terminal */

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------------------------------------- visualisation
 * Pictures of attention: heatmaps (PNG, PDF, SVG), a self-contained
 * interactive HTML page, the terminal, and training curves. Rendering uses
 * cairo with pango, so labels in any script (Latin, Cyrillic, CJK, Arabic)
 * are shaped and drawn with real fonts found through fontconfig.
 *
 * An attention map is one picture's data: heads × rows × cols weights,
 * rows = the query / output tokens (T_q, drawn down the side), cols = the
 * key / input tokens (T_k, drawn along the top), as the (B, Tq, Tk) or
 * (B, H, Tq, Tk) weights of one batch row. Static attention (HAN) with
 * per-feature weights (B, T, D) fits too: rows = features, cols = tokens.
 * The colour scale is fixed to [0, 1] (weights are probabilities), so maps
 * of different models compare by eye; values outside are clamped.
 *
 * A weights file (attend's own JSON format, written by
 * at_attention_map_save and read strictly by at_attention_map_load):
 *   {"format": "attend-attention", "version": 1, "kind": "map",
 *    "title": "...", "model": "...", "mechanism": "...",
 *    "heads": H, "rows": Tq, "cols": Tk,
 *    "row_labels": [Tq strings], "col_labels": [Tk strings],
 *    "weights": [H][Tq][Tk] numbers}
 * Limits: 1 <= rows, cols <= AT_VIZ_MAX_TOKENS, 1 <= heads <= AT_VIZ_MAX_HEADS.
 * at_attention_map_load also reads one line of `attend translate --weights
 * json` ({"input", "output", "source": [chars], "target": [chars],
 * "heads": H, "weights": [H][Ty][Tx]}), just as strictly. */
#define AT_VIZ_MAX_TOKENS 4096
#define AT_VIZ_MAX_HEADS 64
/* A weights file is at most AT_VIZ_MAX_FILE_BYTES bytes holding at most
 * AT_VIZ_MAX_FILE_VALUES JSON values (numbers and strings), so reading one
 * takes at most about a gigabyte; a bigger file is an AT_ERR_FORMAT, and
 * saving a map that would make one is an AT_ERR_ARGUMENT (64 heads of
 * 256 x 256 fit). */
#define AT_VIZ_MAX_FILE_BYTES (128 << 20)
#define AT_VIZ_MAX_FILE_VALUES (8 << 20)

typedef struct at_attention_map {
    int heads, rows, cols;
    float *weights;     /* heads*rows*cols, (H, Tq, Tk) row-major         */
    char **row_labels;  /* rows UTF-8 strings: output tokens ("" at first) */
    char **col_labels;  /* cols UTF-8 strings: input tokens               */
    char *title;        /* free text, e.g. the input sentence ("" if none)*/
    char *model;        /* e.g. "bilstm-gru"                   ("" if none)*/
    char *mechanism;    /* e.g. "additive (Bahdanau)"          ("" if none)*/
} at_attention_map;

/* A zero-filled map with empty labels and texts. Sizes outside the limits
 * are an AT_ERR_ARGUMENT. Free with at_attention_map_free (NULL is fine). */
AT_API at_status at_attention_map_create(at_ctx *ctx, at_attention_map **out, int heads, int rows,
                                  int cols);
AT_API void at_attention_map_free(at_attention_map *map);
/* Copy rows (resp. cols) label strings in; NULL keeps the current ones.
 * Labels must be valid UTF-8 (else AT_ERR_ARGUMENT). */
AT_API at_status at_attention_map_set_labels(at_ctx *ctx, at_attention_map *map,
                                      const char *const *row_labels,
                                      const char *const *col_labels);
/* One label per code point of output_text (rows) and input_text (cols),
 * the usual case for a character model. A text whose length in code points
 * differs from rows (cols) is an AT_ERR_ARGUMENT; NULL skips that side. */
AT_API at_status at_attention_map_set_chars(at_ctx *ctx, at_attention_map *map,
                                     const char *output_text, const char *input_text);
/* Copy the title, model and mechanism names; NULL keeps the current one. */
AT_API at_status at_attention_map_set_text(at_ctx *ctx, at_attention_map *map, const char *title,
                                    const char *model, const char *mechanism);
/* Copy head `head`'s (rows, cols) weights in, e.g. from a (B, [H,] Tq, Tk)
 * tensor: weights->data + b*H*Tq*Tk + head*Tq*Tk with row_stride = Tk. */
AT_API at_status at_attention_map_set_weights(at_ctx *ctx, at_attention_map *map, int head,
                                       const float *weights, int row_stride);

/* Save (atomically: a temporary file renamed over path) and load the
 * weights file above. Load validates everything: a malformed file is an
 * AT_ERR_FORMAT whose message names the file and the problem; impossible
 * sizes are an AT_ERR_FORMAT too, never a crash or a huge allocation. */
AT_API at_status at_attention_map_save(at_ctx *ctx, const at_attention_map *map, const char *path);
AT_API at_status at_attention_map_load(at_ctx *ctx, at_attention_map **out, const char *path);
/* The same from len bytes of text in memory (a weights file, or one line of
 * `attend translate --weights json`), as strictly; name stands for the
 * file in messages (e.g. "maps.json line 3"). */
AT_API at_status at_attention_map_parse(at_ctx *ctx, at_attention_map **out, const char *text, size_t len,
                                 const char *name);
/* Export for bertviz-style tools: {"attention": [1 layer][H][Tq][Tk],
 * "left_text": row labels, "right_text": col labels, "decoder_tokens",
 * "encoder_tokens" (the same), "model", "mechanism", "title"}. In Python:
 *   d = json.load(open(path)); a = [torch.tensor(l)[None] for l in d["attention"]]
 *   bertviz.head_view(cross_attention=a, encoder_tokens=d["encoder_tokens"],
 *                     decoder_tokens=d["decoder_tokens"])          */
AT_API at_status at_attention_map_export_bertviz(at_ctx *ctx, const at_attention_map *map,
                                          const char *path);

/* A document for static (HAN) attention at two levels: sentences of words,
 * one weight per word (within its sentence) and one per sentence. Its
 * weights file has "kind": "document" and
 *   "sentences": [{"weight": w, "words": ["..", ..], "word_weights": [..]}, ..] */
typedef struct at_attention_doc {
    int sentences;            /* >= 1                                     */
    int *lengths;             /* words per sentence, each >= 1            */
    int words;                /* sum of lengths                           */
    char **word_text;         /* words strings, sentence after sentence   */
    float *word_weights;      /* words values                             */
    float *sentence_weights;  /* sentences values                         */
    char *title, *model, *mechanism;
} at_attention_doc;
AT_API at_status at_attention_doc_create(at_ctx *ctx, at_attention_doc **out, int sentences,
                                  const int *lengths);
AT_API void at_attention_doc_free(at_attention_doc *doc);
/* Copy word strings (doc->words of them) and the texts; NULL keeps. */
AT_API at_status at_attention_doc_set_words(at_ctx *ctx, at_attention_doc *doc,
                                     const char *const *words);
AT_API at_status at_attention_doc_set_text(at_ctx *ctx, at_attention_doc *doc, const char *title,
                                    const char *model, const char *mechanism);
AT_API at_status at_attention_doc_save(at_ctx *ctx, const at_attention_doc *doc, const char *path);
AT_API at_status at_attention_doc_load(at_ctx *ctx, at_attention_doc **out, const char *path);

/* What a weights file holds, read from its "kind": AT_VIZ_MAP or
 * AT_VIZ_DOC (AT_ERR_FORMAT if neither, AT_ERR_IO if unreadable). */
typedef enum at_viz_kind { AT_VIZ_MAP = 1, AT_VIZ_DOC = 2 } at_viz_kind;
AT_API at_status at_viz_file_kind(at_ctx *ctx, const char *path, at_viz_kind *kind);

/* The colour map: a perceptual, viridis-like ramp from dark purple (0)
 * through blue and green to yellow (1). value is clamped to [0, 1]. */
AT_API void at_viz_colour(float value, uint8_t rgb[3]);

/* Draw one map to path; the format follows the extension: .png, .svg,
 * .pdf or .html (case-insensitive); any other is an AT_ERR_ARGUMENT.
 * One head: a heatmap with the output tokens down the side, the input
 * tokens along the top, a colour bar and a title naming the model and the
 * mechanism. Several heads: a grid with every head (HTML adds a head
 * selector). Files are written atomically. Drawing has a budget: a figure
 * whose drawing is estimated to need more than 1 GB of memory (a PDF of
 * 64 heads of 256 x 256 would need over 4 GB) is refused with an
 * AT_ERR_ARGUMENT before anything big is allocated; the message gives the
 * estimate (.html, which shows one head at a time, takes far larger maps). */
AT_API at_status at_plot_map(at_ctx *ctx, const at_attention_map *map, const char *path);
/* Several maps side by side in one figure, n >= 1; .png, .svg, .pdf or
 * .html. The same input under several models: panels are named "model ·
 * mechanism" under the shared input. Several inputs (maps whose titles
 * differ, e.g. example dates under one model): each panel is titled with
 * its own map's title. A multi-head map is shown as the mean of its heads
 * (its panel says so). title (the heading) may be NULL. */
AT_API at_status at_plot_compare(at_ctx *ctx, int n, const at_attention_map *const *maps,
                          const char *title, const char *path);
/* A document's word and sentence weights: .html (interactive), or .png,
 * .svg, .pdf (the text with each word shaded). */
AT_API at_status at_plot_doc(at_ctx *ctx, const at_attention_doc *doc, const char *path);
/* Many documents in one self-contained HTML page (path ends in .html; no
 * network, the data, script and style inline): e.g. a classifier's test
 * messages. n >= 1 documents, docs[i] shown as at_plot_doc's page shows
 * one (the same shading, the same level choice), under its own title
 * (e.g. the message id) and "model · mechanism", with notes[i], a line of
 * text above it (e.g. "true spam · predicted ham (p = 0.91) · hard_ham"),
 * and tags[i], a space-separated set of filter tags (e.g. "wrong
 * hard_ham"). The page offers "show: all | <each tag, in order of first
 * use, with its count>" and shows only the documents with the chosen tag.
 * notes and tags may be NULL (none), as may any of their n entries.
 * title is the heading (NULL: "documents"). A flat model's document is one
 * sentence of weight 1. Every weight must be a finite number >= 0 and
 * every text valid UTF-8 (else AT_ERR_ARGUMENT, naming the document);
 * all text is escaped, so a word such as "</script>" stays a word. Weights
 * are written with 4 significant digits, so 1,200 documents of 1,000 words
 * make about 20 MB; a document is drawn when it first comes near the
 * screen, so such a page opens at once. Written atomically; the budget of
 * at_plot_map applies (about 60 million words). */
AT_API at_status at_plot_doc_report(at_ctx *ctx, int n, const at_attention_doc *const *docs,
                                    const char *const *notes, const char *const *tags,
                                    const char *title, const char *path);
/* The top-weighted words of each class as a figure: `panels` horizontal
 * bar charts side by side (1..AT_VIZ_MAX_SERIES, one colour each), panel
 * p titled panel_titles[p] (e.g. "spam"), with k bars (1..AT_VIZ_MAX_TOP_WORDS),
 * top to bottom: word words[p * k + i] beside a bar as long as
 * values[p * k + i]. words and values are (panels, k) row-major; every
 * word and title is valid UTF-8 and not NULL, every value a finite number
 * >= 0 (the panels share one scale, from 0 to the largest value, so they
 * compare by eye; the value is written at the bar's end). value_label
 * names the scale (NULL: "weight"). .png, .svg or .pdf; in the SVG the
 * bar of word i of panel p is the rect of class "bar p<p> w<i>". Bad
 * input is an AT_ERR_ARGUMENT naming the problem, before anything is
 * written. */
#define AT_VIZ_MAX_TOP_WORDS 100
AT_API at_status at_plot_top_words(at_ctx *ctx, int panels, const char *const *panel_titles,
                                   int k, const char *const *words, const double *values,
                                   const char *value_label, const char *path);

/* Where cell (row, col) of head `head` of at_plot_map's figure is centred,
 * in the PNG's pixels (for tests and tools). */
AT_API at_status at_plot_cell_center(at_ctx *ctx, const at_attention_map *map, int head, int row,
                              int col, double *x, double *y);

/* The terminal. The library never looks at the environment or calls
 * isatty: the caller decides the colour mode, e.g. with
 *   at_term_mode_for(isatty(fileno(stdout)), getenv("NO_COLOR"),
 *                    getenv("COLORTERM"), getenv("TERM"))
 * which gives ASCII when not a terminal, when NO_COLOR is set and not
 * empty, or when TERM is "dumb"; 24-bit colour when COLORTERM is
 * "truecolor" or "24bit"; 256 colours otherwise. */
typedef enum at_term_mode { AT_TERM_ASCII, AT_TERM_256, AT_TERM_TRUECOLOR } at_term_mode;
AT_API at_term_mode at_term_mode_for(int is_tty, const char *no_color, const char *colorterm,
                              const char *term);
/* Write UTF-8 text for a terminal: every control character (C0, DEL, C1,
 * which a terminal would take as the start of an escape sequence) as
 * U+FFFD, the rest as it is. For any text from outside (inputs, titles,
 * data) shown on a terminal. */
AT_API void at_term_puts(FILE *out, const char *text);
/* Draw the map (every head, one after another) with its labels to out:
 * two character cells per weight, coloured blocks or ASCII shades.
 * Control characters in the title, names and labels are written as U+FFFD
 * (no escape of the map's own text reaches the terminal). A write error on
 * out is an AT_ERR_IO (out is not flushed: the caller checks its flush). */
AT_API at_status at_plot_terminal(at_ctx *ctx, const at_attention_map *map, FILE *out,
                           at_term_mode mode);

/* The map of one translation (at_seq2seq_translate, models section
 * below): rows = the output's units, cols = the input's units (characters
 * or tokens, as the model's vocabularies read them; "1", "2", ... if a text
 * does not split into as many), every head, title "input -> output",
 * mechanism = the attention kind's name (e.g. "additive", "multi-head"),
 * model = model_name, or when NULL the decoder's name ("seed decoder",
 * "luong-gru", "luong-lstm"). */
struct at_seq2seq;
struct at_translation;
AT_API at_status at_attention_map_from_translation(at_ctx *ctx, at_attention_map **out,
                                            const struct at_seq2seq *model,
                                            const char *model_name, const char *input,
                                            const struct at_translation *translation);

/* ------------------------------------------------ snapshots during training
 * Watching alignment emerge (src/viz/snapshot_record.c): while a seq2seq
 * model trains, a collector translates a few probe inputs every N steps
 * and keeps, per snapshot, the step, the smoothed training loss, the
 * latest validation metrics and, per probe, the greedy translation and its
 * attention map (at_seq2seq_translate, then
 * at_attention_map_from_translation). It also keeps the loss of every
 * step it sees and every evaluation, for the curves.
 *
 * Use: create it with the model, the probes and N, then call
 * at_snapshots_record from the trainer's progress callback (with the
 * trainer's context; optionally once before at_train with step 0, the
 * untrained model). Recording changes nothing in the training: translating
 * runs with gradients off, out of training mode and draws no random
 * number, so the same options give bit-identical weights with and without
 * snapshots.
 *
 * Memory is bounded. At most max_snapshots snapshots (2 ..
 * AT_SNAPSHOTS_MAX) are kept: when one more is due and the collector is
 * full, N doubles and the snapshots whose step is not a multiple of the
 * new N are dropped, so a long run keeps an evenly spaced history of its
 * whole length. Likewise at most AT_SNAPSHOTS_MAX_POINTS curve points:
 * when full, the points of every other step are dropped and the points
 * are then kept every 2, 4, ... steps (evaluations always recorded, thinned
 * with the rest only when they alone would fill it). Each snapshot holds
 * probes maps of at most max_target_len x max_source_len x heads floats. */
#define AT_SNAPSHOTS_MAX 1000
#define AT_SNAPSHOTS_MAX_PROBES 16
#define AT_SNAPSHOTS_MAX_POINTS 4096

typedef struct at_snapshot {
    long step;                 /* steps done when it was taken (0: untrained)   */
    double loss;               /* the smoothed training loss (NaN at step 0)   */
    at_metrics valid;          /* the latest evaluation (count 0: none yet)    */
    long valid_step;           /* the step of that evaluation (-1: none yet)   */
    char **outputs;            /* (probes) each probe's translation (UTF-8)    */
    at_attention_map **maps;   /* (probes) its attention, or NULL when the
                                  output is empty (the model wrote END first) */
} at_snapshot;

/* A point of the curves: the smoothed loss at a step, and the validation
 * metrics when that step ended with an evaluation (evaluated = 1). */
typedef struct at_snapshot_point {
    long step;
    double loss;
    int evaluated;
    at_metrics valid;
} at_snapshot_point;

typedef struct at_snapshots at_snapshots;
struct at_seq2seq;
/* A collector for `model` (borrowed: it must outlive the collector) and
 * `probes` inputs (1 .. AT_SNAPSHOTS_MAX_PROBES, copied), a snapshot every
 * `every` steps (>= 1) and at the last step, at most max_snapshots (2 ..
 * AT_SNAPSHOTS_MAX). Each probe is translated once here, so a probe the
 * model cannot read (empty, invalid UTF-8, too long) is an AT_ERR_ARGUMENT
 * naming it now, not in the middle of training. */
AT_API at_status at_snapshots_create(at_ctx *ctx, at_snapshots **out,
                                     const struct at_seq2seq *model, int probes,
                                     const char *const *probe_texts, long every,
                                     int max_snapshots);
AT_API void at_snapshots_free(at_snapshots *snapshots);
/* Called with each progress report: keeps a curve point, and takes a
 * snapshot when progress->step is a multiple of the current N or is
 * progress->total_steps (or is 0: before training). A step not after the
 * latest one seen is ignored. The context is reset (as at_seq2seq_translate
 * does); gradients and training mode are restored. */
AT_API at_status at_snapshots_record(at_ctx *ctx, at_snapshots *snapshots,
                                     const at_train_progress *progress);
AT_API int at_snapshots_count(const at_snapshots *snapshots);
/* Snapshot i (0 .. count-1, oldest first), NULL if out of range. */
AT_API const at_snapshot *at_snapshots_get(const at_snapshots *snapshots, int i);
AT_API int at_snapshots_probes(const at_snapshots *snapshots);
AT_API const char *at_snapshots_probe(const at_snapshots *snapshots, int i);
/* The current N (the one asked for, doubled at each thinning). */
AT_API long at_snapshots_every(const at_snapshots *snapshots);
/* The curve points, oldest first; *count gets their number. */
AT_API const at_snapshot_point *at_snapshots_points(const at_snapshots *snapshots, int *count);

/* The snapshots as one self-contained HTML page (path ends in .html; no
 * network: the data, script and style inline, every text escaped): the
 * loss and validation curves, and for each probe its attention map at the
 * chosen snapshot, drawn as at_plot_map's page draws a map (the same
 * colours; hovering a cell shows the exact weight). A slider
 * (#snapshot-slider) and a play button (#snapshot-play) scrub through the
 * snapshots; the curves mark the chosen step (.step-marker). Weights are
 * written as the shortest decimal that reads back as the same float.
 * Written atomically; the drawing budget of at_plot_map applies. No
 * snapshot yet, or another extension, is an AT_ERR_ARGUMENT. */
AT_API at_status at_plot_snapshots(at_ctx *ctx, const at_snapshots *snapshots, const char *path);

/* Training curves from a metrics file of JSON lines, one object per line,
 * e.g. {"step": 100, "loss": 0.91, "valid_loss": 1.02, "valid_exact": 0.4}.
 * "step" is required on a line for it to count (lines without it, blank
 * lines and non-numeric values are skipped; a line that is not JSON is an
 * AT_ERR_FORMAT naming the line). Fields whose name contains "loss" go in
 * the left panel; names containing "acc", "exact", "match" or "char"
 * (e.g. "valid_char") go in the right panel (accuracy in [0, 1]); other
 * fields ("lr", "seconds", ...) are ignored. Writes
 * out_path: .png, .svg or .pdf. title may be NULL. The file is read whole,
 * at most AT_VIZ_MAX_METRICS_BYTES (AT_ERR_FORMAT beyond); more points
 * than the drawing budget (see at_plot_map) are an AT_ERR_ARGUMENT. */
#define AT_VIZ_MAX_METRICS_BYTES (256 << 20)
AT_API at_status at_plot_metrics(at_ctx *ctx, const char *metrics_path, const char *out_path,
                          const char *title);

/* ------------------------------------------------- language-model figures
 * (attend/lm.h). Each is written atomically; bad input is refused with an
 * AT_ERR_ARGUMENT (AT_ERR_FORMAT for a bad metrics file) naming the
 * problem, before anything is drawn or written. */
#define AT_VIZ_MAX_LAYERS 64  /* at_plot_lm_attention                      */
#define AT_VIZ_MAX_SERIES 10  /* models or runs on one plot: one colour each */
#define AT_VIZ_MAX_SPAN 256   /* distances of at_plot_attention_span        */

/* Every head of every layer of a language model on one passage, the
 * weights of at_lm_attention_of: layers L (1..AT_VIZ_MAX_LAYERS), heads H
 * (1..AT_VIZ_MAX_HEADS), length T (1..AT_VIZ_MAX_TOKENS), weights
 * (L, H, T, T) with row t = the position whose attention it is (the query)
 * over the keys s <= t, and T labels (valid UTF-8, one per position,
 * usually one character). Every weight must be a finite number in [0, 1],
 * each row sums to at most 1 (+ 1e-3), and a weight on a later key
 * (s > t) must be 0: the attention of a language model is causal, so a
 * weight there means the weights are transposed or laid out for another
 * length. The format follows out_path's extension (case-insensitive):
 *   .html   one self-contained page (no network: the data, script and
 *           style are inline) with a layer selector (#layer-select: all
 *           layers, or one) and a head selector (#head-select: all heads,
 *           their mean, or one): bertviz's head view (one layer) and
 *           model view (all layers x all heads). Hovering a cell shows
 *           the two characters and the exact weight (the shortest decimal
 *           that reads back as the same float).
 *   .png, .svg, .pdf   a grid of small heatmaps, one row per layer and one
 *           column per head (panels "layer l · head h"), the passage as
 *           subheading; characters label the rows and columns when every
 *           one fits its cell, else none are written.
 * Newlines, tabs and spaces in the labels are shown as ⏎, ⇥ and ␣. title
 * (the heading) may be NULL. The drawing budget of at_plot_map applies. */
AT_API at_status at_plot_lm_attention(at_ctx *ctx, const at_lm_attention *attention,
                                      const char *title, const char *out_path);

/* Daniluk et al.'s attention-span figure: the mean attention mass that
 * each of `models` models (1..AT_VIZ_MAX_SERIES) puts on the output at
 * distance 1..L (1 = the previous output; L in 1..AT_VIZ_MAX_SPAN), as
 * grouped bars (lines with markers when the bars would be thinner than
 * 3 px) on the fixed scale [0, 1]. names: `models` strings (valid UTF-8)
 * for the legend; mass (models, L) row-major, mass[m * L + d - 1] for
 * distance d, each a number in [0, 1] (NaN and values outside refused):
 * row m is what at_lm_attention_span gives model m (a model with a
 * shorter memory than L pads its row with zeros). title may be NULL.
 * .png, .svg or .pdf. */
AT_API at_status at_plot_attention_span(at_ctx *ctx, int models, const char *const *names,
                                        const double *mass, int L, const char *title,
                                        const char *out_path);

/* Training curves of several runs (1..AT_VIZ_MAX_SERIES) on one plot
 * against wall-clock time, e.g. the metrics.jsonl of `attend lm train`:
 * lines {"step", "loss", "lr", ["valid_nats", "valid_bpc"], "seconds",
 * "examples_per_second"}. x = "seconds" (drawn in minutes), y = nats per
 * character; per run one colour, "loss" (training) a thin line and
 * "valid_nats" (validation) a thicker line with a marker per point; a
 * legend with the labels. labels: `runs` strings, or NULL to name each
 * run by the folder holding its file. Each file is read as at_plot_metrics
 * reads one, more strictly: a line that is not JSON, a line with a "step"
 * but no numeric "seconds", or a "loss" or "valid_nats" that is not a
 * finite number is an AT_ERR_FORMAT naming the file and line; a file
 * with neither field anywhere is an AT_ERR_FORMAT too. title may be NULL.
 * .png, .svg or .pdf. */
AT_API at_status at_plot_runs(at_ctx *ctx, int runs, const char *const *metrics_paths,
                              const char *const *labels, const char *title,
                              const char *out_path);

#ifdef __cplusplus
}
#endif
#endif /* ATTEND_API_VIZ_H */
