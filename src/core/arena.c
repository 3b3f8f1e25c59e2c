/*
 * arena.c - bump allocation for everything a training step makes.
 *
 * A step creates hundreds of short-lived tensors and frees them all at
 * once. An arena serves them from large blocks by moving a pointer, and
 * ati_arena_reset() makes the whole arena reusable in O(blocks). When a
 * step needed more than one block, reset replaces the blocks by a single
 * block as large as all of them together, so from the second step on a
 * step of the same shape is served from one block and never calls malloc.
 */
#include "internal.h"

#include <stdlib.h>

#define AT_ALIGN 64

static ati_arena_block *block_new(size_t capacity) {
    ati_arena_block *block = malloc(sizeof *block + capacity + AT_ALIGN);
    if (!block) return NULL;
    uintptr_t raw = (uintptr_t)(block + 1);
    block->base = (unsigned char *)((raw + AT_ALIGN - 1) & ~(uintptr_t)(AT_ALIGN - 1));
    block->capacity = capacity;
    block->used = 0;
    block->next = NULL;
    return block;
}

void ati_arena_init(ati_arena *arena, size_t first_block_bytes) {
    arena->first = arena->current = NULL;
    arena->first_block_bytes = first_block_bytes ? first_block_bytes : (size_t)1 << 20;
}

void ati_arena_release(ati_arena *arena) {
    ati_arena_block *block = arena->first;
    while (block) {
        ati_arena_block *next = block->next;
        free(block);
        block = next;
    }
    arena->first = arena->current = NULL;
}

void *ati_arena_alloc(ati_arena *arena, size_t bytes) {
    size_t rounded = (bytes + AT_ALIGN - 1) & ~(size_t)(AT_ALIGN - 1);
    if (rounded < bytes) return NULL; /* overflow */
    ati_arena_block *block = arena->current;
    while (block && block->used + rounded > block->capacity) block = block->next;
    if (!block) {
        size_t last = arena->current ? arena->current->capacity : 0;
        size_t capacity = arena->first_block_bytes;
        if (capacity < 2 * last) capacity = 2 * last;
        if (capacity < rounded) capacity = rounded;
        block = block_new(capacity);
        if (!block) return NULL;
        if (!arena->first) {
            arena->first = block;
        } else {
            ati_arena_block *tail = arena->current ? arena->current : arena->first;
            while (tail->next) tail = tail->next;
            tail->next = block;
        }
    }
    void *p = block->base + block->used;
    block->used += rounded;
    arena->current = block;
    return p;
}

void ati_arena_reset(ati_arena *arena) {
    if (arena->first && arena->first->next) {
        size_t total = ati_arena_capacity(arena);
        ati_arena_block *merged = block_new(total);
        if (merged) { /* if this fails we keep the chain, which still works */
            ati_arena_release(arena);
            arena->first = merged;
        }
    }
    for (ati_arena_block *b = arena->first; b; b = b->next) b->used = 0;
    arena->current = arena->first;
}

size_t ati_arena_used(const ati_arena *arena) {
    size_t used = 0;
    for (const ati_arena_block *b = arena->first; b; b = b->next) used += b->used;
    return used;
}

size_t ati_arena_capacity(const ati_arena *arena) {
    size_t capacity = 0;
    for (const ati_arena_block *b = arena->first; b; b = b->next) capacity += b->capacity;
    return capacity;
}
