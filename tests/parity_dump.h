/*
 * parity_dump.h - what the parity tools (the programs in tests/tools) share: run
 * one attend computation and write down everything PyTorch needs to redo
 * it, in ONE safetensors file saved with at_checkpoint_save (a second
 * parameter set, `dump`, is the container).
 *
 * A tool is a table of named cases and a main() that hands it to
 * pd_main():
 *
 *     TOOL CASE OUT.safetensors [SEED]        TOOL --list
 *
 * pd_main makes the context, the layer's parameter set (`model`) and two
 * generators seeded from SEED (init_rng for layer initialisation,
 * data_rng for inputs, masks, parameter overwrites and output-gradient
 * seeds), runs the case, adds the metadata "case" and "seed" and saves
 * the file. The names in the file follow one convention:
 *
 *     NAME            a parameter or an input, under the name the oracle
 *                     uses for it
 *     seed.Y          the output gradient given to backward for output Y
 *     out.Y           each output
 *     grad.NAME       the gradient of every input and every parameter
 *
 * Several outputs at once: gradients accumulate into ->grad and backward
 * walks the whole tape (attend.h), so pd_seed_extra adds the seeds of the
 * secondary outputs into their ->grad before pd_backward_from runs
 * at_backward_seeded on the main output. That is the gradient of
 * L = sum_Y sum(Y * seed.Y) without routing it through other ops.
 *
 * Every failure stops the tool with "TOOL: case 'CASE': what failed" and
 * exit status 1; bad arguments give status 2.
 */
#ifndef ATTEND_PARITY_DUMP_H
#define ATTEND_PARITY_DUMP_H

#include "attend.h"

#include <stdint.h>

#define PD_NAME_BYTES 128
#define PD_LIST_BYTES 4096
#define PD_MAX_PARAMS 32

typedef struct pd_run pd_run;

/* One named case of a tool. data: whatever the case function needs (a row
 * of the tool's own table), reachable as r->pc->data. */
typedef struct pd_case {
    const char *name;
    void (*fn)(pd_run *r);
    int threads;      /* the context's OpenMP threads (0 = 1) */
    const void *data; /* may be NULL */
} pd_case;

struct pd_run {
    const char *tool; /* the program's name, for messages */
    const char *case_name;
    const pd_case *pc;
    at_ctx *ctx;
    at_params *model; /* the layer's own parameters                     */
    at_params *dump;  /* copies of everything that goes into the file   */
    at_metadata meta;
    at_rng init_rng; /* layer initialisation                           */
    at_rng data_rng; /* inputs, masks, parameter overwrites, seeds     */
    /* pd_param's bookkeeping (tools with pd_tool.list_params) */
    const at_tensor *written[PD_MAX_PARAMS]; /* parameters already dumped */
    int n_written;
    char params_json[PD_LIST_BYTES];   /* {"W_a": "attention.W_a", ...}    */
    char unseeded_json[PD_LIST_BYTES]; /* ["weights", ...]                 */
};

/* What pd_main needs to know about a tool. */
typedef struct pd_tool {
    const char *name; /* "parity_tool" */
    const pd_case *cases;
    int n_cases;
    const char *description;  /* the usage message's last lines */
    unsigned long long seed;  /* SEED when none is given */
    unsigned long long data_xor; /* data_rng is seeded with SEED ^ data_xor */
    int inference;   /* run in inference mode (no dropout, no noise)   */
    int list_params; /* pd_param was used: check that every parameter of
                      * `model` was written, and add the metadata
                      * "params" (symbol -> the library's name) and
                      * "unseeded" (outputs written without a seed)    */
} pd_tool;

/* Parse the arguments, run the case, save the file; returns the exit code. */
int pd_main(int argc, char **argv, const pd_tool *tool);

/* ------------------------------------------------------------- failures */

void pd_die(const pd_run *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3), noreturn))
#endif
    ;

/* Run an attend call; on failure name it and print the context's message. */
#define TRY(r, call)                                                                          \
    do {                                                                                      \
        at_status try_status_ = (call);                                                       \
        if (try_status_ != AT_OK)                                                             \
            pd_die((r), "%s failed: %s: %s", #call, at_status_name(try_status_),              \
                   at_ctx_error((r)->ctx));                                                   \
    } while (0)

/* ------------------------------------------------------------- the file */

/* Add a tensor called name to the file, copying n = prod(shape) floats from
 * data (or zeros if data is NULL). Returns the stored copy. */
float *pd_put(pd_run *r, const char *name, int ndim, const int *shape, const float *data);

/* t's values under name. */
void pd_put_value(pd_run *r, const char *name, const at_tensor *t);

/* The gradient that backward left in t, under "grad.NAME". */
void pd_put_grad(pd_run *r, const char *name, const at_tensor *t);

/* Every parameter of r->model under its own name, and its gradient. */
void pd_put_params(pd_run *r);

/* A parameter under its symbol (and its gradient when grad), recorded for
 * the "params" metadata and the every-parameter-written check. */
void pd_param(pd_run *r, const char *symbol, const at_tensor *p, int grad);

/* A metadata string, printf-style. */
void pd_meta(pd_run *r, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A JSON array of n integers, e.g. "[3, 1, 5]"; a mask as 0/1 integers. */
void pd_meta_ints(pd_run *r, const char *key, const int32_t *v, int n);
void pd_meta_mask(pd_run *r, const char *key, const uint8_t *mask, int n);

/* ------------------------------------------------------ inputs and seeds */

/* An arena tensor holding a copy of data, stored as `name`; with grad it
 * collects a gradient. */
at_tensor *pd_input_from(pd_run *r, const char *name, int ndim, const int *shape,
                         const float *data, int grad);

/* The same with values uniform in [lo, hi) from data_rng. */
at_tensor *pd_input(pd_run *r, const char *name, int ndim, const int *shape, float lo, float hi,
                    int grad);

/* Overwrite a parameter that starts constant (a bias, a gain) with values
 * uniform in [lo, hi) from data_rng, so that a wrong term would show. */
void pd_randomise(pd_run *r, at_tensor *p, float lo, float hi);

/* A random normal output gradient for y, stored as "seed.NAME". */
const float *pd_make_seed(pd_run *r, const char *name, const at_tensor *y);

/* Output y stored as "out.NAME" (y must not be NULL). */
void pd_put_output(pd_run *r, const char *name, const at_tensor *y);

/* A secondary output: stored, and a random seed added into its gradient
 * before backward runs. optional: the header does not promise a gradient
 * here, so a missing gradient buffer only lists it in "unseeded" (and the
 * oracle leaves it out of L); otherwise a missing gradient stops the tool. */
void pd_seed_extra(pd_run *r, const char *name, at_tensor *y, int optional);

/* The main output: stored, and backward run from it with a random seed. */
void pd_backward_from(pd_run *r, const char *name, at_tensor *y);

/* A scalar loss stored as "out.loss", backpropagated with seed 1. */
void pd_backward_loss(pd_run *r, at_tensor *loss);

#endif
