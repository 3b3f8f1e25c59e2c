/*
 * ckpt_tool.c - checkpoints and optimiser steps on the command line, so
 * that tests/parity/test_checkpoint_roundtrip.py can check them with
 * PyTorch.
 *
 *   ckpt_tool write OUT
 *       Save a small model with known values and metadata to OUT: an LSTM
 *       (input 3, hidden 2) as "lstm.weight_ih_l0" (8, 3), "lstm.weight_hh_l0"
 *       (8, 2), "lstm.bias_ih_l0" (8), "lstm.bias_hh_l0" (8), and a Linear
 *       (2 -> 4) as "out.weight" (4, 2), "out.bias" (4). Element k of the
 *       i-th parameter is known_value(i, k) below, exact in float32.
 *       Metadata: model=lstm, hidden_size=2, vocab=<the string VOCAB>.
 *
 *   ckpt_tool read IN NAME=D0xD1... ...
 *       Make a parameter set with these names and shapes, load IN into it,
 *       and print "param NAME v0 v1 ..." (%.9g, exact for float32) for each,
 *       then "meta HEXKEY HEXVALUE" for each metadata entry (hex of the
 *       UTF-8 bytes, so any string survives). Exit 1 with the error message
 *       on stderr if the load fails.
 *
 *   ckpt_tool optim KIND IN OUT STEPS LR BETA1 BETA2 EPS WD MOMENTUM NESTEROV
 *                   NAME=SHAPE ...
 *       KIND is sgd, adam or adamw. IN holds the starting parameters under
 *       their names and, for t = 1..STEPS, the gradient of step t under
 *       "grad<t>/NAME". Runs STEPS optimiser steps and saves the parameters
 *       to OUT.
 */
#include "attend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARAMS 32
#define NAME_BYTES 256
#define VOCAB "<pad> <unk> the cat sat caf\xc3\xa9 \"quoted\" back\\slash tab\there\nnewline"

static void die(at_ctx *ctx, const char *what) {
    fprintf(stderr, "ckpt_tool: %s: %s\n", what, ctx ? at_ctx_error(ctx) : "");
    exit(1);
}

static void check(at_ctx *ctx, at_status status, const char *what) {
    if (status != AT_OK) die(ctx, what);
}

/* Exact in float32: a multiple of 1/64 in [-50/64, 50/64]. */
static float known_value(int param, size_t k) {
    return (float)((int)((k * 7 + (size_t)param * 13) % 101) - 50) / 64.0f;
}

/* ----------------------------------------------------------------- write */

static int cmd_write(at_ctx *ctx, const char *out) {
    static const struct {
        const char *name;
        int ndim, shape[2];
    } model[] = {
        {"lstm.weight_ih_l0", 2, {8, 3}}, {"lstm.weight_hh_l0", 2, {8, 2}},
        {"lstm.bias_ih_l0", 1, {8, 1}},   {"lstm.bias_hh_l0", 1, {8, 1}},
        {"out.weight", 2, {4, 2}},        {"out.bias", 1, {4, 1}},
    };
    at_params *params;
    check(ctx, at_params_create(ctx, &params), "params");
    for (int i = 0; i < (int)(sizeof model / sizeof model[0]); i++) {
        at_tensor *t;
        check(ctx, at_params_add(ctx, params, model[i].name, model[i].ndim, model[i].shape, &t),
              model[i].name);
        for (size_t k = 0; k < t->size; k++) t->data[k] = known_value(i, k);
    }
    at_metadata meta = {0};
    check(ctx, at_metadata_set(ctx, &meta, "model", "lstm"), "metadata");
    check(ctx, at_metadata_set(ctx, &meta, "hidden_size", "2"), "metadata");
    check(ctx, at_metadata_set(ctx, &meta, "vocab", VOCAB), "metadata");
    check(ctx, at_checkpoint_save(ctx, out, params, &meta), "save");
    at_metadata_clear(&meta);
    at_params_free(params);
    return 0;
}

/* ------------------------------------------------------------------ read */

/* "NAME=2x3x4" -> a parameter of that name and shape in params. */
static at_tensor *add_from_spec(at_ctx *ctx, at_params *params, const char *prefix,
                                const char *spec) {
    const char *eq = strrchr(spec, '=');
    if (!eq) {
        fprintf(stderr, "ckpt_tool: '%s' is not NAME=SHAPE\n", spec);
        exit(2);
    }
    char name[NAME_BYTES];
    snprintf(name, sizeof name, "%s%.*s", prefix, (int)(eq - spec), spec);
    int shape[AT_MAX_DIMS], ndim = 0;
    for (const char *p = eq + 1;;) {
        char *end;
        long dim = strtol(p, &end, 10);
        if (end == p || ndim == AT_MAX_DIMS || (*end && *end != 'x')) {
            fprintf(stderr, "ckpt_tool: bad shape in '%s' (want e.g. name=2x3)\n", spec);
            exit(2);
        }
        shape[ndim++] = (int)dim;
        if (!*end) break;
        p = end + 1;
    }
    at_tensor *t;
    check(ctx, at_params_add(ctx, params, name, ndim, shape, &t), name);
    return t;
}

static void print_hex(const char *s) {
    if (!*s) printf("-");
    for (; *s; s++) printf("%02x", (unsigned char)*s);
}

static int cmd_read(at_ctx *ctx, const char *in, int nspec, char **specs) {
    at_params *params;
    check(ctx, at_params_create(ctx, &params), "params");
    for (int i = 0; i < nspec; i++) add_from_spec(ctx, params, "", specs[i]);
    at_metadata meta = {0};
    check(ctx, at_checkpoint_load(ctx, in, params, &meta), "load");
    for (int i = 0; i < at_params_count(params); i++) {
        const at_tensor *t = at_params_get(params, i);
        printf("param %s", t->name);
        for (size_t k = 0; k < t->size; k++) printf(" %.9g", (double)t->data[k]);
        printf("\n");
    }
    for (int i = 0; i < meta.count; i++) {
        printf("meta ");
        print_hex(meta.keys[i]);
        printf(" ");
        print_hex(meta.values[i]);
        printf("\n");
    }
    at_metadata_clear(&meta);
    at_params_free(params);
    return 0;
}

/* ----------------------------------------------------------------- optim */

static at_optim_kind kind_from_name(const char *name) {
    if (strcmp(name, "sgd") == 0) return AT_SGD;
    if (strcmp(name, "adam") == 0) return AT_ADAM;
    if (strcmp(name, "adamw") == 0) return AT_ADAMW;
    fprintf(stderr, "ckpt_tool: unknown optimiser '%s'\n", name);
    exit(2);
}

/* argv: KIND IN OUT STEPS LR BETA1 BETA2 EPS WD MOMENTUM NESTEROV SPEC... */
static int cmd_optim(at_ctx *ctx, int argc, char **argv) {
    if (argc < 12) {
        fprintf(stderr, "ckpt_tool optim: too few arguments\n");
        return 2;
    }
    at_optim_config config = {
        .kind = kind_from_name(argv[0]),
        .lr = strtof(argv[4], NULL),
        .beta1 = strtof(argv[5], NULL),
        .beta2 = strtof(argv[6], NULL),
        .eps = strtof(argv[7], NULL),
        .weight_decay = strtof(argv[8], NULL),
        .momentum = strtof(argv[9], NULL),
        .nesterov = atoi(argv[10]),
    };
    int steps = atoi(argv[3]), nspec = argc - 11;
    char **specs = argv + 11;
    if (nspec > MAX_PARAMS || steps < 1) return 2;

    /* the model, and one container holding the start values and all grads */
    at_params *model, *input;
    at_tensor *start[MAX_PARAMS];
    check(ctx, at_params_create(ctx, &model), "params");
    check(ctx, at_params_create(ctx, &input), "params");
    for (int i = 0; i < nspec; i++) add_from_spec(ctx, model, "", specs[i]);
    for (int i = 0; i < nspec; i++) start[i] = add_from_spec(ctx, input, "", specs[i]);
    for (int t = 1; t <= steps; t++)
        for (int i = 0; i < nspec; i++) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "grad%d/", t);
            add_from_spec(ctx, input, prefix, specs[i]);
        }
    check(ctx, at_checkpoint_load(ctx, argv[1], input, NULL), "load");

    at_optim *opt;
    check(ctx, at_optim_create(ctx, &opt, model, &config), "optim_create");
    for (int i = 0; i < nspec; i++) {
        at_tensor *p = at_params_get(model, i);
        memcpy(p->data, start[i]->data, p->size * sizeof(float));
    }
    for (int t = 1; t <= steps; t++) {
        for (int i = 0; i < nspec; i++) {
            at_tensor *p = at_params_get(model, i);
            const at_tensor *grad = at_params_get(input, nspec * t + i); /* grad<t>/NAME */
            memcpy(p->grad, grad->data, p->size * sizeof(float));
        }
        check(ctx, at_optim_step(ctx, opt), "optim_step");
    }
    check(ctx, at_checkpoint_save(ctx, argv[2], model, NULL), "save");
    at_optim_free(opt);
    at_params_free(model);
    at_params_free(input);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: ckpt_tool write OUT | read IN NAME=SHAPE... | optim ...\n");
        return 2;
    }
    at_ctx *ctx;
    if (at_ctx_create(&ctx, NULL) != AT_OK) die(NULL, "context");
    int rc = 2;
    if (strcmp(argv[1], "write") == 0) rc = cmd_write(ctx, argv[2]);
    else if (strcmp(argv[1], "read") == 0) rc = cmd_read(ctx, argv[2], argc - 3, argv + 3);
    else if (strcmp(argv[1], "optim") == 0) rc = cmd_optim(ctx, argc - 2, argv + 2);
    else fprintf(stderr, "ckpt_tool: unknown command '%s'\n", argv[1]);
    at_ctx_free(ctx);
    return rc;
}
