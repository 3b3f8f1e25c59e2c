/*
 * order.h - the order in which a training run visits its examples
 * (src/train/order.c): shared by the trainer and the seq2seq model's own
 * bucket order.
 */
#ifndef ATTEND_TRAIN_ORDER_H
#define ATTEND_TRAIN_ORDER_H

#include "internal.h"

/* Length of example i of `self`; NULL means "no lengths": a plain shuffle. */
typedef int (*order_length_fn)(void *self, size_t index);

/* order[0 .. count) gets a permutation of 0 .. count-1: shuffled, then cut
 * into chunks of `pool` batches, each chunk sorted by length (stable) and
 * the full batches shuffled as blocks, so a batch holds examples of similar
 * length and the batches still come in random order. Without `length` the
 * shuffle alone. Draws from rng only. */
void order_buckets(size_t count, order_length_fn length, void *self, int batch_size, int pool,
                   at_rng *rng, size_t *order);

#endif
