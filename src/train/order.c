/*
 * order.c - the order of the examples in one pass over the data.
 *
 * A plain shuffle makes every batch as long as its longest example, so
 * short examples are padded to the longest length of the whole data. The
 * bucket order keeps most of the randomness and little of the padding:
 * shuffle everything, sort each chunk of `pool` batches by length, cut the
 * chunk into batches, and shuffle the batches. Every draw comes from the
 * caller's generator, so the same seed gives the same order.
 */
#include "order.h"

#include <stdlib.h>
#include <string.h>

static void shuffle(size_t *a, size_t n, at_rng *rng) {
    for (size_t i = n; i > 1; i--) {
        size_t j = at_rng_below(rng, (uint32_t)i);
        size_t tmp = a[i - 1];
        a[i - 1] = a[j];
        a[j] = tmp;
    }
}

/* Sort a[0, n) by length, stably (a counting pass per length). */
static void sort_by_length(order_length_fn length, void *self, size_t *a, size_t n,
                           size_t *tmp) {
    int longest = 0;
    for (size_t i = 0; i < n; i++) {
        int len = length(self, a[i]);
        if (len > longest) longest = len;
    }
    size_t k = 0;
    for (int len = 0; len <= longest; len++)
        for (size_t i = 0; i < n; i++)
            if (length(self, a[i]) == len) tmp[k++] = a[i];
    memcpy(a, tmp, n * sizeof *a);
}

/* Shuffle the full batches of order as blocks (a Fisher-Yates over block ids). */
static void shuffle_blocks(size_t *order, size_t n, size_t bs, at_rng *rng) {
    size_t blocks = n / bs;
    for (size_t i = blocks; i > 1; i--) {
        size_t j = at_rng_below(rng, (uint32_t)i);
        for (size_t k = 0; k < bs && j != i - 1; k++) {
            size_t tmp = order[(i - 1) * bs + k];
            order[(i - 1) * bs + k] = order[j * bs + k];
            order[j * bs + k] = tmp;
        }
    }
}

void order_buckets(size_t count, order_length_fn length, void *self, int batch_size, int pool,
                   at_rng *rng, size_t *order) {
    size_t bs = (size_t)(batch_size > 0 ? batch_size : 1);
    size_t chunk = bs * (size_t)(pool > 0 ? pool : 1);
    for (size_t i = 0; i < count; i++)
        order[i] = i;
    shuffle(order, count, rng);
    if (!length) return;
    size_t *tmp = malloc(chunk * sizeof *tmp);
    if (tmp)
        for (size_t start = 0; start < count; start += chunk)
            sort_by_length(length, self, order + start,
                           count - start < chunk ? count - start : chunk, tmp);
    free(tmp); /* without memory the order stays shuffled: still correct */
    shuffle_blocks(order, count, bs, rng);
}
