/*
 * fastmath.h - branch-free exp, sigmoid and tanh that the compiler can
 * vectorise.
 *
 * The recurrent layers and the attention families evaluate ~10^5 sigmoids
 * and tanhs per training step, and libm's tanhf costs more than all the
 * matrix products together. These versions are branch-free, so the
 * compiler vectorises the loops that call them.
 *
 * ati_fast_exp: e^x = 2^n e^r with n = round(x / ln 2), r = x - n ln 2 (ln 2 in
 * two parts so r is exact), |r| <= ln2/2, e^r by its Taylor series to r^7
 * (truncation below 1e-8 relative), 2^n built in the exponent bits.
 * ati_fast_tanh: for |x| < 1/4 the odd Taylor series to x^11 (error below
 * 1e-9 relative); above, (1 - e) / (1 + e) with e = e^(-2|x|), which has no
 * cancellation to fear there. Both are within a few float ulps of libm.
 * ati_fast_normal_cdf: Φ(x) and φ(x) for GELU, see below. */
#ifndef ATTEND_FASTMATH_H
#define ATTEND_FASTMATH_H

#include <math.h>
#include <stdint.h>

static inline float ati_fast_exp(float x) {
    float c = x > -87.0f ? x : -87.0f; // keeps 2^n a normal float; NaN handled at the end
    c = c < 88.0f ? c : 88.0f;
    const float round_magic = 12582912.0f; // 1.5 * 2^23: adding it rounds to an integer
    float n = (c * 1.44269504f + round_magic) - round_magic;
    float r = c - n * 0.693359375f + n * 2.12194440e-4f; // ln 2 = 355/512 - 2.1219444e-4
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union { int32_t bits; float value; } scale = {.bits = ((int32_t)n + 127) << 23}; // 2^n
    return x == x ? p * scale.value : x; // a NaN stays NaN
}

static inline float ati_fast_sigmoid(float x) { return 1.0f / (1.0f + ati_fast_exp(-x)); }

static inline float ati_fast_tanh(float x) {
    float a = fabsf(x), x2 = x * x;
    float series = -1382.0f / 155925.0f;
    series = series * x2 + 62.0f / 2835.0f;
    series = series * x2 - 17.0f / 315.0f;
    series = series * x2 + 2.0f / 15.0f;
    series = series * x2 - 1.0f / 3.0f;
    series = x + x * x2 * series;
    float e = ati_fast_exp(-2.0f * a);
    float far = copysignf((1.0f - e) / (1.0f + e), x);
    return a < 0.25f ? series : far;
}

/* The standard normal distribution at x: returns Φ(x) = P(N(0,1) <= x)
 * and puts the density φ(x) = e^(-x²/2) / √(2π) in *density (GELU and its
 * derivative need both). With z = |x|/√2 (capped at 9, where Φ(-x) is
 * below 1e-36):
 *     z < 3/4:  erf(z) = z P(z²)                     erfc(z) = 1 - erf(z)
 *     z >= 3/4: erfc(z) = e^(-z²) t S(t),  t = 1 / (1 + z/2)
 *     Φ(x) = erfc(z) / 2 for x < 0,  1 - erfc(z) / 2 for x >= 0
 * so Φ of a negative x is computed without the cancellation of
 * (1 + erf(x/√2)) / 2, and e^(-z²) serves the density too. P (degree 5)
 * and S (degree 8) were fitted to erf and erfc by weighted least squares
 * (Lawson's iteration toward minimax) in double: relative errors 1.4e-9
 * and 3.3e-9 before rounding to float. In float, Φ is within 1e-7 of the
 * exact value everywhere, and for x < 0 within 2e-6 relative (30 ulps, the
 * rounding of z²) down to x = -5, where (1 + erff(x/√2)) / 2 has lost all
 * but a few bits (GELU 8% off at x = -5); checked against double erfc on
 * a grid of step 1e-5 over [-13, 13], and in test_ops_basic.c. */
static inline float ati_fast_normal_cdf(float x, float *density) {
    float z = fabsf(x) * 0.70710678f;
    z = z < 9.0f ? z : 9.0f; // NaN too: the result is made NaN at the end
    float z2 = z * z, e = ati_fast_exp(-z2);
    float p = -6.74973999e-4f; // erf(z) / z as a polynomial in z²
    p = p * z2 + 5.11438074e-3f;
    p = p * z2 - 2.68346444e-2f;
    p = p * z2 + 1.12833768e-1f;
    p = p * z2 - 3.76126200e-1f;
    p = p * z2 + 1.12837911f;
    float t = 1.0f / (1.0f + 0.5f * z);
    float s = -5.67840114e-2f; // erfc(z) e^(z²) / t as a polynomial in t
    s = s * t + 2.82068789e-1f;
    s = s * t - 4.93271619e-1f;
    s = s * t + 2.92591900e-1f;
    s = s * t - 3.93422954e-2f;
    s = s * t + 2.08504528e-1f;
    s = s * t + 2.41637692e-1f;
    s = s * t + 2.82566905e-1f;
    s = s * t + 2.82076329e-1f;
    float erfc_z = z < 0.75f ? 1.0f - z * p : e * t * s;
    float half = 0.5f * erfc_z;
    *density = x == x ? 0.39894228f * e : x;
    return x == x ? (x < 0.0f ? half : 1.0f - half) : x;
}

/* p[0] + ... + p[15] as a fixed tree (halves added pairwise): the same
 * order every call, so results do not vary, and four dependent additions
 * where a running sum has sixteen. Constant bounds and fresh locals let the
 * compiler keep it in registers. */
static inline float ati_sum16(const float p[16]) {
    float h8[8], h4[4];
    for (int l = 0; l < 8; l++) h8[l] = p[l] + p[l + 8];
    for (int l = 0; l < 4; l++) h4[l] = h8[l] + h8[l + 4];
    return (h4[0] + h4[2]) + (h4[1] + h4[3]);
}

/* Σ_k x[k] y[k], in 16 partial sums so that the loop vectorises. */
static inline float ati_dot(int n, const float *x, const float *y) {
    enum { LANES = 16 };
    float partial[LANES] = {0};
    int k = 0;
    for (; k + LANES <= n; k += LANES)
        for (int l = 0; l < LANES; l++) partial[l] += x[k + l] * y[k + l];
    for (; k < n; k++) partial[k % LANES] += x[k] * y[k];
    return ati_sum16(partial);
}

#endif /* ATTEND_FASTMATH_H */
