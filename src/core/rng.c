/*
 * rng.c - a small, seeded, explicit random generator.
 *
 * xoshiro128** (Blackman and Vigna): four 32-bit words of state, fast, and
 * good enough for initialisation, dropout and data sampling. The state is a
 * plain value owned by the caller, so nothing is global and a run with the
 * same seed repeats exactly. The seed is expanded with splitmix64, which
 * guarantees a non-zero state.
 */
#include "internal.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void at_rng_seed(at_rng *rng, uint64_t seed) {
    uint64_t x = seed;
    uint64_t a = splitmix64(&x), b = splitmix64(&x);
    rng->s[0] = (uint32_t)a;
    rng->s[1] = (uint32_t)(a >> 32);
    rng->s[2] = (uint32_t)b;
    rng->s[3] = (uint32_t)(b >> 32);
}

/* The step itself is ati_rng_next (internal.h), inline for the loops that
 * draw one number per element. */
uint32_t at_rng_u32(at_rng *rng) { return ati_rng_next(rng); }

float at_rng_uniform(at_rng *rng) {
    return (float)(at_rng_u32(rng) >> 8) * (1.0f / 16777216.0f); /* 24 bits */
}

float at_rng_normal(at_rng *rng) {
    /* Box-Muller; u1 in (0, 1] so the log is finite. */
    double u1 = ((double)(at_rng_u32(rng) >> 8) + 1.0) / 16777216.0;
    double u2 = (double)(at_rng_u32(rng) >> 8) / 16777216.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint32_t at_rng_below(at_rng *rng, uint32_t n) {
    /* Lemire's multiply-shift with rejection: unbiased. */
    uint64_t m = (uint64_t)at_rng_u32(rng) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (uint64_t)at_rng_u32(rng) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}
