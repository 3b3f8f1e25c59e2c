/*
 * test_optim_state.c - an optimiser's state saved and loaded again
 * (at_optim_save / at_optim_load).
 *
 * The promise under test: 3 steps, save, a fresh optimiser loads the file,
 * 2 more steps, and the parameters are bit for bit those of 5 steps in one
 * go - for Adam, AdamW and SGD with momentum. A fresh optimiser that does
 * not load the file must end elsewhere, or the check would prove nothing.
 *
 * Then broken files: truncated at every length, a wrong shape, a missing
 * or an extra tensor, a NaN or a negative second moment, another kind, a
 * bad step count, a model checkpoint, no file. Each must give its error
 * and leave the optimiser as it was: its state saved before and after the
 * failed load must be the same bytes.
 *
 * The model is two parameters, a (2, 3) and b (3). The test works in a
 * fresh directory (optim_state_test_XXXXXX under the current one) and
 * removes it at the end.
 */
#define _POSIX_C_SOURCE 200809L

#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

static int same_file(const char *x, const char *y) {
    size_t nx = 0, ny = 0;
    unsigned char *bx = test_read_file(x, &nx), *by = test_read_file(y, &ny);
    int same = bx && by && nx == ny && memcmp(bx, by, nx) == 0;
    free(bx);
    free(by);
    return same;
}

/* A parameter set: a (a_rows, 3) and b (3), filled from a fixed seed;
 * with_c adds c (4). */
static at_params *make_params(at_ctx *ctx, int a_rows, int with_c) {
    at_params *params;
    at_tensor *t;
    int a_shape[2] = {a_rows, 3}, b_shape[1] = {3}, c_shape[1] = {4};
    CHECK_OK(ctx, at_params_create(ctx, &params));
    CHECK_OK(ctx, at_params_add(ctx, params, "a", 2, a_shape, &t));
    CHECK_OK(ctx, at_params_add(ctx, params, "b", 1, b_shape, &t));
    if (with_c) CHECK_OK(ctx, at_params_add(ctx, params, "c", 1, c_shape, &t));
    at_rng rng;
    at_rng_seed(&rng, 42);
    for (int i = 0; i < at_params_count(params); i++) {
        t = at_params_get(params, i);
        fill_uniform(t->data, t->size, -1.0f, 1.0f, &rng);
    }
    return params;
}

static void copy_values(at_params *to, const at_params *from) {
    for (int i = 0; i < at_params_count(from); i++) {
        const at_tensor *x = at_params_get(from, i);
        memcpy(at_params_get(to, i)->data, x->data, x->size * sizeof(float));
    }
}

static int same_values(const at_params *x, const at_params *y) {
    for (int i = 0; i < at_params_count(x); i++) {
        const at_tensor *p = at_params_get(x, i), *q = at_params_get(y, i);
        if (memcmp(p->data, q->data, p->size * sizeof(float)) != 0) return 0;
    }
    return 1;
}

/* Step `step` (1, 2, ...): a gradient that depends on the parameters and
 * on the step, and a learning rate that changes, as under a schedule. */
static void take_step(at_ctx *ctx, at_optim *opt, at_params *params, int step) {
    for (int i = 0; i < at_params_count(params); i++) {
        at_tensor *t = at_params_get(params, i);
        for (size_t k = 0; k < t->size; k++)
            t->grad[k] = 0.7f * t->data[k] + sinf((float)(step * 3 + (int)k + i));
    }
    at_optim_set_lr(opt, 0.05f / (float)step);
    CHECK_OK(ctx, at_optim_step(ctx, opt));
}

static at_optim_config config_of(at_optim_kind kind) {
    return (at_optim_config){.kind = kind, .lr = 0.05f, .momentum = 0.9f, .weight_decay = 0.01f};
}

static const char *kind_label(at_optim_kind kind) {
    return kind == AT_SGD ? "sgd" : kind == AT_ADAM ? "adam" : "adamw";
}

/* An optimiser of `kind` over params after `steps` steps. */
static at_optim *trained(at_ctx *ctx, at_params *params, at_optim_kind kind, int steps) {
    at_optim *opt = NULL;
    at_optim_config c = config_of(kind);
    CHECK_OK(ctx, at_optim_create(ctx, &opt, params, &c));
    for (int s = 1; s <= steps; s++)
        take_step(ctx, opt, params, s);
    return opt;
}

/* ------------------------------------------------ resume = straight run */

static void check_resume(at_optim_kind kind) {
    const char *label = kind_label(kind);
    at_ctx *ctx = test_new_ctx();
    /* five steps straight */
    at_params *straight = make_params(ctx, 2, 0);
    at_optim *opt_straight = trained(ctx, straight, kind, 5);
    /* three steps, save; a new set and optimiser load it and take two more */
    at_params *first = make_params(ctx, 2, 0);
    at_optim *opt_first = trained(ctx, first, kind, 3);
    at_metadata extra = {0};
    CHECK_OK(ctx, at_metadata_set(ctx, &extra, "train.step", "3"));
    CHECK_OK(ctx, at_optim_save(ctx, opt_first, "state.st", &extra));
    at_params *resumed = make_params(ctx, 2, 0), *fresh = make_params(ctx, 2, 0);
    copy_values(resumed, first);
    copy_values(fresh, first);
    at_optim *opt_resumed = NULL, *opt_fresh = NULL;
    at_optim_config c = config_of(kind);
    CHECK_OK(ctx, at_optim_create(ctx, &opt_resumed, resumed, &c));
    CHECK_OK(ctx, at_optim_create(ctx, &opt_fresh, fresh, &c));
    at_metadata meta = {0};
    CHECK_OK(ctx, at_optim_load(ctx, opt_resumed, "state.st", &meta));
    CHECK(at_optim_steps(opt_resumed) == 3, "%s: %ld steps after load, 3 expected", label,
          at_optim_steps(opt_resumed));
    const char *step = at_metadata_get(&meta, "train.step");
    CHECK(step && strcmp(step, "3") == 0, "%s: the caller's metadata did not come back", label);
    const char *saved_kind = at_metadata_get(&meta, "optim.kind");
    CHECK(saved_kind && strcmp(saved_kind, label) == 0, "%s: optim.kind is %s", label,
          saved_kind ? saved_kind : "missing");
    for (int s = 4; s <= 5; s++) {
        take_step(ctx, opt_first, first, s);
        take_step(ctx, opt_resumed, resumed, s);
        take_step(ctx, opt_fresh, fresh, s);
    }
    CHECK(same_values(first, straight), "%s: 3 + 2 steps in one optimiser differ from 5", label);
    CHECK(same_values(resumed, straight), "%s: 3 steps, save, load, 2 steps differ from 5 steps",
          label);
    CHECK(!same_values(fresh, straight),
          "%s: a fresh optimiser ends where the loaded one does: the test proves nothing", label);
    CHECK(at_optim_steps(opt_resumed) == 5, "%s: %ld steps at the end", label,
          at_optim_steps(opt_resumed));
    at_metadata_clear(&meta);
    at_metadata_clear(&extra);
    at_optim_free(opt_straight);
    at_optim_free(opt_first);
    at_optim_free(opt_resumed);
    at_optim_free(opt_fresh);
    at_params_free(straight);
    at_params_free(first);
    at_params_free(resumed);
    at_params_free(fresh);
    at_ctx_free(ctx);
}

static void test_resume_matches_straight_run(void) {
    check_resume(AT_ADAM);
    check_resume(AT_ADAMW);
    check_resume(AT_SGD);
}

/* Plain SGD has no buffer: only the step count travels. */
static void test_plain_sgd(void) {
    at_ctx *ctx = test_new_ctx();
    at_params *params = make_params(ctx, 2, 0);
    at_optim *opt = NULL, *other = NULL;
    at_optim_config c = {.kind = AT_SGD, .lr = 0.1f};
    CHECK_OK(ctx, at_optim_create(ctx, &opt, params, &c));
    take_step(ctx, opt, params, 1);
    take_step(ctx, opt, params, 2);
    CHECK_OK(ctx, at_optim_save(ctx, opt, "sgd.st", NULL));
    CHECK_OK(ctx, at_optim_create(ctx, &other, params, &c));
    CHECK_OK(ctx, at_optim_load(ctx, other, "sgd.st", NULL));
    CHECK(at_optim_steps(other) == 2, "plain sgd: %ld steps after load", at_optim_steps(other));
    at_optim_free(opt);
    at_optim_free(other);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------------- errors */

/* Load `path` into an Adam optimiser over a (2, 3), b (3) after 2 steps;
 * expect `status` and a message with the file's name and `needle`; the
 * optimiser must be unchanged (its saved state the same bytes before and
 * after, the step count the same). */
static void expect_load_error(const char *path, at_status status, const char *needle) {
    at_ctx *ctx = test_new_ctx();
    at_params *params = make_params(ctx, 2, 0);
    at_optim *opt = trained(ctx, params, AT_ADAM, 2);
    CHECK_OK(ctx, at_optim_save(ctx, opt, "before.st", NULL));
    at_metadata meta = {0};
    at_status got = at_optim_load(ctx, opt, path, &meta);
    const char *msg = at_ctx_error(ctx);
    CHECK(got == status, "%s: load returned '%s' (%s), expected '%s'", path, at_status_name(got),
          msg, at_status_name(status));
    CHECK(strstr(msg, path) != NULL, "%s: the message should name the file: %s", path, msg);
    CHECK(!needle || strstr(msg, needle) != NULL, "%s: the message should mention '%s': %s", path,
          needle, msg);
    CHECK(meta.count == 0, "%s: a failed load filled the metadata", path);
    CHECK(at_optim_steps(opt) == 2, "%s: a failed load changed the step count to %ld", path,
          at_optim_steps(opt));
    CHECK_OK(ctx, at_optim_save(ctx, opt, "after.st", NULL));
    CHECK(same_file("before.st", "after.st"), "%s: a failed load changed the state", path);
    at_optim_free(opt);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* Save the state of `kind` over a set with a (a_rows, 3), b and maybe c. */
static void save_state_of(const char *path, at_optim_kind kind, int a_rows, int with_c) {
    at_ctx *ctx = test_new_ctx();
    at_params *params = make_params(ctx, a_rows, with_c);
    at_optim *opt = trained(ctx, params, kind, 2);
    CHECK_OK(ctx, at_optim_save(ctx, opt, path, NULL));
    at_optim_free(opt);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* A good Adam file with the float at `index` of the data part replaced. */
static void save_with_value(const char *path, size_t index, float value) {
    save_state_of(path, AT_ADAM, 2, 0);
    size_t n;
    unsigned char *bytes = test_read_file(path, &n);
    uint64_t header = 0;
    for (int i = 7; i >= 0; i--)
        header = (header << 8) | bytes[i];
    size_t at = 8 + (size_t)header + 4 * index;
    CHECK(at + 4 <= n, "%s: float %zu is past the end", path, index);
    if (at + 4 <= n) memcpy(bytes + at, &value, 4); /* little-endian host */
    test_write_file(path, bytes, n);
    free(bytes);
}

/* A file made as a plain checkpoint: Adam's tensors for a and b, with the
 * given metadata kind and steps. */
static void save_by_hand(const char *path, const char *kind, const char *steps) {
    at_ctx *ctx = test_new_ctx();
    at_params *state;
    at_tensor *t;
    int a_shape[2] = {2, 3}, b_shape[1] = {3};
    CHECK_OK(ctx, at_params_create(ctx, &state));
    CHECK_OK(ctx, at_params_add(ctx, state, "exp_avg.a", 2, a_shape, &t));
    CHECK_OK(ctx, at_params_add(ctx, state, "exp_avg.b", 1, b_shape, &t));
    CHECK_OK(ctx, at_params_add(ctx, state, "exp_avg_sq.a", 2, a_shape, &t));
    CHECK_OK(ctx, at_params_add(ctx, state, "exp_avg_sq.b", 1, b_shape, &t));
    at_metadata meta = {0};
    if (kind) CHECK_OK(ctx, at_metadata_set(ctx, &meta, "optim.kind", kind));
    if (steps) CHECK_OK(ctx, at_metadata_set(ctx, &meta, "optim.steps", steps));
    CHECK_OK(ctx, at_checkpoint_save(ctx, path, state, &meta));
    at_metadata_clear(&meta);
    at_params_free(state);
    at_ctx_free(ctx);
}

static void test_broken_files(void) {
    save_state_of("wrong_shape.st", AT_ADAM, 3, 0);
    expect_load_error("wrong_shape.st", AT_ERR_SHAPE, "exp_avg.a");
    save_state_of("extra.st", AT_ADAM, 2, 1);
    expect_load_error("extra.st", AT_ERR_FORMAT, "exp_avg.c");
    save_state_of("sgd.st", AT_SGD, 2, 0);
    expect_load_error("sgd.st", AT_ERR_FORMAT, "sgd");
    save_state_of("adamw.st", AT_ADAMW, 2, 0);
    expect_load_error("adamw.st", AT_ERR_FORMAT, "adamw");
    /* data order: exp_avg.a (6), exp_avg.b (3), exp_avg_sq.a (6), .b (3) */
    save_with_value("nan.st", 4, NAN);
    expect_load_error("nan.st", AT_ERR_NUMERIC, "exp_avg.a");
    save_with_value("infinite.st", 7, -INFINITY);
    expect_load_error("infinite.st", AT_ERR_NUMERIC, "exp_avg.b");
    save_with_value("negative.st", 10, -0.5f);
    expect_load_error("negative.st", AT_ERR_NUMERIC, "exp_avg_sq.a");
    save_by_hand("by_hand.st", "adam", "7");
    at_ctx *ctx = test_new_ctx();
    at_params *params = make_params(ctx, 2, 0);
    at_optim *opt = trained(ctx, params, AT_ADAM, 1);
    CHECK_OK(ctx, at_optim_load(ctx, opt, "by_hand.st", NULL));
    CHECK(at_optim_steps(opt) == 7, "a file made by hand: %ld steps", at_optim_steps(opt));
    /* a model checkpoint is not a state file */
    CHECK_OK(ctx, at_checkpoint_save(ctx, "model.st", params, NULL));
    expect_load_error("model.st", AT_ERR_FORMAT, "optim.kind");
    at_optim_free(opt);
    at_params_free(params);
    at_ctx_free(ctx);
    save_by_hand("no_kind.st", NULL, "2");
    expect_load_error("no_kind.st", AT_ERR_FORMAT, "optim.kind");
    save_by_hand("no_steps.st", "adam", NULL);
    expect_load_error("no_steps.st", AT_ERR_FORMAT, "optim.steps");
    save_by_hand("negative_steps.st", "adam", "-3");
    expect_load_error("negative_steps.st", AT_ERR_FORMAT, "-3");
    save_by_hand("word_steps.st", "adam", "12abc");
    expect_load_error("word_steps.st", AT_ERR_FORMAT, "12abc");
    save_by_hand("huge_steps.st", "adam", "99999999999999999999");
    expect_load_error("huge_steps.st", AT_ERR_FORMAT, "optim.steps");
    expect_load_error("no/such/file.st", AT_ERR_IO, NULL);
    test_write_file("garbage.st", "garbage!", 8);
    expect_load_error("garbage.st", AT_ERR_FORMAT, NULL);
}

/* The same file without one tensor, written as a plain checkpoint. */
static void test_missing_tensor(void) {
    at_ctx *ctx = test_new_ctx();
    at_params *state;
    at_tensor *t;
    int a_shape[2] = {2, 3}, b_shape[1] = {3};
    CHECK_OK(ctx, at_params_create(ctx, &state));
    CHECK_OK(ctx, at_params_add(ctx, state, "exp_avg.a", 2, a_shape, &t));
    CHECK_OK(ctx, at_params_add(ctx, state, "exp_avg.b", 1, b_shape, &t));
    CHECK_OK(ctx, at_params_add(ctx, state, "exp_avg_sq.a", 2, a_shape, &t));
    at_metadata meta = {0};
    CHECK_OK(ctx, at_metadata_set(ctx, &meta, "optim.kind", "adam"));
    CHECK_OK(ctx, at_metadata_set(ctx, &meta, "optim.steps", "2"));
    CHECK_OK(ctx, at_checkpoint_save(ctx, "missing.st", state, &meta));
    expect_load_error("missing.st", AT_ERR_FORMAT, "exp_avg_sq.b");
    at_metadata_clear(&meta);
    at_params_free(state);
    at_ctx_free(ctx);
}

/* Every prefix of a good file is refused and changes nothing. */
static void test_every_truncation(void) {
    save_state_of("whole.st", AT_ADAM, 2, 0);
    size_t n;
    unsigned char *bytes = test_read_file("whole.st", &n);
    at_ctx *ctx = test_new_ctx();
    at_params *params = make_params(ctx, 2, 0);
    at_optim *opt = trained(ctx, params, AT_ADAM, 2);
    CHECK_OK(ctx, at_optim_save(ctx, opt, "before.st", NULL));
    int refused = 0;
    for (size_t len = 0; len < n; len++) {
        test_write_file("prefix.st", bytes, len);
        at_status status = at_optim_load(ctx, opt, "prefix.st", NULL);
        refused += status == AT_ERR_FORMAT;
        if (status != AT_ERR_FORMAT)
            CHECK(0, "prefix of %zu/%zu bytes: '%s' (%s)", len, n, at_status_name(status),
                  at_ctx_error(ctx));
    }
    CHECK(refused == (int)n, "%d of %zu truncated files refused", refused, n);
    CHECK_OK(ctx, at_optim_save(ctx, opt, "after.st", NULL));
    CHECK(same_file("before.st", "after.st"), "a truncated file changed the state");
    CHECK(at_optim_steps(opt) == 2, "a truncated file changed the step count");
    free(bytes);
    at_optim_free(opt);
    at_params_free(params);
    at_ctx_free(ctx);
}

static void test_bad_calls(void) {
    at_ctx *ctx = test_new_ctx();
    at_params *params = make_params(ctx, 2, 0);
    at_optim *opt = trained(ctx, params, AT_ADAM, 1);
    at_metadata extra = {0};
    CHECK_OK(ctx, at_metadata_set(ctx, &extra, "optim.steps", "99"));
    CHECK_STATUS(ctx, at_optim_save(ctx, opt, "x.st", &extra), AT_ERR_ARGUMENT);
    CHECK(access("x.st", F_OK) != 0, "a refused save wrote a file");
    CHECK_STATUS(ctx, at_optim_save(ctx, NULL, "x.st", NULL), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_optim_save(ctx, opt, "", NULL), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_optim_load(ctx, NULL, "x.st", NULL), AT_ERR_ARGUMENT);
    CHECK_OK(ctx, at_optim_save(ctx, opt, "good.st", NULL));
    at_tensor *t;
    int shape[1] = {2};
    CHECK_OK(ctx, at_params_add(ctx, params, "late", 1, shape, &t));
    CHECK_STATUS(ctx, at_optim_load(ctx, opt, "good.st", NULL), AT_ERR_STATE);
    CHECK_STATUS(ctx, at_optim_save(ctx, opt, "late.st", NULL), AT_ERR_STATE);
    at_metadata_clear(&extra);
    at_optim_free(opt);
    at_params_free(params);
    at_ctx_free(ctx);
}

int main(void) {
    char dir[] = "optim_state_test_XXXXXX";
    test_enter_scratch_dir(dir);
    test_resume_matches_straight_run();
    test_plain_sgd();
    test_broken_files();
    test_missing_tensor();
    test_every_truncation();
    test_bad_calls();
    test_leave_scratch_dir(dir);
    return test_finish("optim_state");
}
