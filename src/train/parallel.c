/*
 * parallel.c - data parallelism: what the trainer needs when `ranks`
 * processes train one model, each on its slice of every batch.
 *
 * Every process holds the whole model and computes the same data order
 * from the same seed. Step by step, with B the global batch, b_r the rows
 * of rank r's slice and L_r its mean loss:
 *
 *     g_r    = (b_r / B) ∇L_r          each rank, its slice only
 *     g      = Σ_r g_r = ∇ (1/B) Σ_{i in batch} loss_i
 *     loss   = Σ_r (b_r / B) L_r       the batch's mean loss
 *
 * so after the sum every process holds the gradient of the batch's mean
 * loss, as one process with the whole batch would (the float sums differ
 * in order only), and takes the same optimiser step. The gradients travel
 * in buffers of PAR_FUSED_FLOATS: the parameters are one stream of floats,
 * cut into a few large pieces, never one reducer call per tensor.
 *
 * The processes must stay identical; par_agree checks it (a digest of the
 * run's state and of the parameters, summed: every process compares the
 * sum with ranks times its own; then the verdicts are summed, so all of
 * them fail together or none does).
 */
#include "parallel.h"

#include <string.h>

void par_slice(int n, int rank, int ranks, int *first, int *rows) {
    long begin = (long)n * rank / ranks, end = (long)n * (rank + 1) / ranks;
    *first = (int)begin;
    *rows = (int)(end - begin);
}

void par_slice_rng(const at_rng *shared, int rank, at_rng *out) {
    uint64_t seed = ((uint64_t)shared->s[0] << 32 | shared->s[1]) ^
                    ((uint64_t)shared->s[2] << 32 | shared->s[3]);
    at_rng_seed(out, seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(rank + 1)));
}

uint64_t par_hash(uint64_t h, const void *bytes, size_t n) {
    const unsigned char *p = bytes;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* to[k] = from[k] * weight: two distinct arrays, a vector loop. */
static void scaled_copy(float *restrict to, const float *restrict from, size_t n, float weight) {
    for (size_t k = 0; k < n; k++) to[k] = from[k] * weight;
}

/* The stream's floats [start, start + n) between the gradients (each times
 * weight) plus the tail, and buffer: pack copies into buffer, else the
 * buffer's sums go back. */
static void copy_stream(at_params *params, float weight, float *tail, int tail_count,
                        size_t start, size_t n, float *buffer, int pack) {
    size_t offset = 0, end = start + n;
    for (int i = 0; i < at_params_count(params) && offset < end; i++) {
        at_tensor *p = at_params_get(params, i);
        size_t lo = start > offset ? start - offset : 0;
        size_t hi = end - offset < p->size ? end - offset : p->size;
        if (hi > lo) {
            float *slots = buffer + (offset + lo - start);
            if (pack) scaled_copy(slots, p->grad + lo, hi - lo, weight);
            else memcpy(p->grad + lo, slots, (hi - lo) * sizeof(float));
        }
        offset += p->size;
    }
    for (int k = 0; k < tail_count; k++, offset++)
        if (offset >= start && offset < end) {
            if (pack)
                buffer[offset - start] = tail[k];
            else
                tail[k] = buffer[offset - start];
        }
}

at_status par_sum_gradients(at_ctx *ctx, const at_reducer *r, at_params *params, float weight,
                            float *tail, int tail_count, float *buffer, size_t capacity) {
    size_t total = at_params_numel(params) + (size_t)tail_count;
    for (size_t start = 0; start < total; start += capacity) {
        size_t n = total - start < capacity ? total - start : capacity;
        copy_stream(params, weight, tail, tail_count, start, n, buffer, 1);
        AT_TRY(r->sum_floats(ctx, r->user, buffer, n));
        copy_stream(params, weight, tail, tail_count, start, n, buffer, 0);
    }
    return AT_OK;
}

/* The sums go through a small local block, so that the compiler sees no
 * aliasing between the buffers and every loop is a vector loop; the order
 * of the additions is the rank order all the same. */
#define SHARE_BLOCK 512

/* One body for both element types (float gradients, double counts). */
#define DEFINE_SHARE(name, type)                                                              \
    void name(type *const *slots, int count, size_t lo, size_t hi) {                          \
        type sum[SHARE_BLOCK];                                                                \
        for (size_t at = lo; at < hi; at += SHARE_BLOCK) {                                    \
            size_t n = hi - at < SHARE_BLOCK ? hi - at : SHARE_BLOCK;                         \
            for (size_t k = 0; k < n; k++) sum[k] = slots[0][at + k];                         \
            for (int q = 1; q < count; q++)                                                   \
                for (size_t k = 0; k < n; k++) sum[k] += slots[q][at + k];                    \
            for (int q = 0; q < count; q++) memcpy(slots[q] + at, sum, n * sizeof *sum);      \
        }                                                                                     \
    }

DEFINE_SHARE(par_share_floats, float)
DEFINE_SHARE(par_share_doubles, double)

static uint64_t hash_params(const at_params *params) {
    uint64_t h = PAR_HASH_START;
    for (int i = 0; i < at_params_count(params); i++) {
        const at_tensor *p = at_params_get(params, i);
        h = par_hash(h, &p->size, sizeof p->size);
        h = par_hash(h, p->data, p->size * sizeof *p->data);
    }
    return h;
}

/* A digest as four 16-bit pieces: sums of up to 65536 of them stay exact. */
static void pieces(uint64_t h, double out[4]) {
    for (int i = 0; i < 4; i++) out[i] = (double)((h >> (16 * i)) & 0xffff);
}

at_status par_agree(at_ctx *ctx, const at_reducer *r, uint64_t state, const at_params *params,
                    const char *when) {
    double mine[8], sums[8], differs[2] = {0, 0};
    pieces(state, mine);
    pieces(hash_params(params), mine + 4);
    memcpy(sums, mine, sizeof sums);
    AT_TRY(r->sum_doubles(ctx, r->user, sums, 8));
    for (int i = 0; i < 8; i++)
        if (sums[i] != (double)r->ranks * mine[i]) differs[i / 4] = 1;
    AT_TRY(r->sum_doubles(ctx, r->user, differs, 2));
    if (differs[0] > 0 || differs[1] > 0)
        return at_ctx_fail(ctx, AT_ERR_STATE,
                           "train: the %d processes disagree %s on their %s: every process "
                           "needs the same data, options, seed and checkpoint files",
                           r->ranks, when,
                           differs[0] > 0 ? "state (step, data order, generators)" : "parameters");
    return AT_OK;
}
