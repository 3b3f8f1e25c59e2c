/*
 * parallel.h - what the trainer does differently when several processes
 * train one model (data parallelism through an at_reducer; parallel.c).
 */
#ifndef ATTEND_TRAIN_PARALLEL_H
#define ATTEND_TRAIN_PARALLEL_H

#include "internal.h"

/* Floats summed per reducer call, at most: the gradients travel in buffers
 * of this size (16 MiB), never one call per tensor. */
#define PAR_FUSED_FLOATS ((size_t)1 << 22)

/* Rank `rank`'s slice of a batch of n rows: rows [*first, *first + *rows).
 * Equal slices when ranks divides n; else the first slices are shorter by
 * one row at most. */
void par_slice(int n, int rank, int ranks, int *first, int *rows);

/* The generator a rank draws its slice's dropout masks from: a function of
 * the shared generator and the rank only (so repeated runs and resumed
 * ones draw the same masks). */
void par_slice_rng(const at_rng *shared, int rank, at_rng *out);

/* Sum the gradients of params, each scaled by weight, over the processes,
 * and write the sums back; tail[0 .. tail_count) (the loss, flags) travels
 * in the same buffers and is summed too. buffer holds `capacity` floats. */
at_status par_sum_gradients(at_ctx *ctx, const at_reducer *r, at_params *params, float weight,
                            float *tail, int tail_count, float *buffer, size_t capacity);

/* Elements [lo, hi) of count buffers in one address space (threads that
 * train replicas): each becomes the rank-order sum
 *     s[k] = ((slots[0][k] + slots[1][k]) + slots[2][k]) + ...
 * written into every buffer, so all hold the same bytes. */
void par_share_floats(float *const *slots, int count, size_t lo, size_t hi);
void par_share_doubles(double *const *slots, int count, size_t lo, size_t hi);

/* Every process passes its own `state` (a digest of its step, data order,
 * generators) and its parameters; AT_ERR_STATE on every process if any of
 * them differs from another's, naming `when`. */
at_status par_agree(at_ctx *ctx, const at_reducer *r, uint64_t state, const at_params *params,
                    const char *when);

/* A 64-bit FNV-1a digest of bytes, continued from h (start with PAR_HASH_START). */
#define PAR_HASH_START 0xcbf29ce484222325ull
uint64_t par_hash(uint64_t h, const void *bytes, size_t n);

#endif
