/*
 * dot_kernel.c - fused scaled dot-product attention, forward and backward,
 * in tiles with an online softmax, so that memory stays linear in T.
 *
 * For one group g (a batch entry and a head) with queries Q (Tq, d), keys
 * K (Tk, d) and values V (Tk, dv):
 *     S = scale · Q Kᵀ      P = softmax_rows(S + mask)      O = P V
 * Stored whole, S and P cost Tq·Tk floats each. The idea of FlashAttention
 * (Dao et al. 2022) is never to store them: walk the keys one tile at a
 * time, and keep per query row i only three running quantities,
 *     m_i  the largest score seen so far (starts at -INFINITY),
 *     l_i  Σ_j exp(s_ij − m_i) over the keys seen so far,
 *     o_i  Σ_j exp(s_ij − m_i) v_j  (unnormalised output row, length dv).
 * When a new tile raises the maximum to m' = max(m, max_j s_ij), the old
 * terms were taken against the old maximum, so they are rescaled by
 * c = exp(m − m') (the "online softmax"):
 *     l_i ← c·l_i + Σ_j exp(s_ij − m')     o_i ← c·o_i + Σ_j exp(s_ij − m') v_j
 * After the last tile O_i = o_i / l_i and lse_i = m_i + log l_i. A row that
 * never sees a kept key keeps l_i = 0: its output is 0 and lse_i = -INFINITY.
 * (exp(-inf − -inf) is NaN, so a row whose max is still -inf shifts by 0.)
 *
 * Backward recomputes instead of storing (FlashAttention-2, Dao 2023): with
 * lse kept, P_ij = exp(s_ij − lse_i) comes back tile by tile from q and k.
 * With dP = dO Vᵀ and D_i = Σ_c dO_ic O_ic (= Σ_j P_ij dP_ij):
 *     dV = Pᵀ dO     dS = P ∘ (dP − D)     dQ = scale·dS K     dK = scale·dSᵀ Q
 * When the caller kept the weights W = P and a loss reads them too, their
 * gradient dW joins dP: dP = dO Vᵀ + dW, and D_i gains Σ_j W_ij dW_ij
 * (computed once per row from the stored W). Without weights nothing of
 * this runs and no (Tq, Tk) buffer exists.
 *
 * Tiles and threads. The forward's unit of work is (group, query tile of
 * BQ rows); it loops over key tiles of BK rows, skipping every key tile
 * that lies wholly beyond the causal limit. In the backward a key tile
 * owns its dK and dV rows and loops over the query tiles that can see it. dQ rows are shared by all key tiles of a group, so one
 * work item takes a whole group (or, when there are fewer groups than the
 * threads need, one of a few interleaved chunks of its key tiles, each
 * adding into its own copy of dQ, summed in chunk order at the end). No
 * two items ever add into the same memory, so there are no atomics, and
 * the result does not depend on which thread ran what: deterministic for
 * a given thread count (which fixes the number of chunks).
 *
 * Layouts inside a tile. The forward keeps the score tile transposed,
 * st (BK, BQ): one row per key, one column per query. Then the softmax
 * statistics of BQ queries are plain vector operations across a row (no
 * horizontal reductions), and st = K_tile · Qtᵀ needs only the query tile
 * transposed, which is done once per work item, not once per key tile.
 * The backward keeps s (BQ, BK) the natural way round and transposes the
 * key and value tiles once per key tile instead.
 *
 * Every product is one shape, C (m, n) (+)= Σ_k A(i, k) B(k, :), with A read
 * through two strides (so Aᵀ costs nothing) and B row-major: tile_gemm()
 * below, whose register-blocked microkernel is the only hot loop.
 */
#include "attention.h"

#include <math.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

enum {
    BQ = 64, /* query rows per tile */
    BK = 64, /* key rows per tile   */
    MR = 6,  /* rows of C per microkernel block              */
    NR = 64  /* columns of C per microkernel block (4 × 16)  */
};

/* ------------------------------------------------------------- exp, lanes */

#if defined(__AVX512F__)
#define AT_INLINE static inline __attribute__((always_inline))

/* e^x for 16 floats, and exactly 0 where x <= -87 (a masked -inf score).
 * e^x = 2^n e^r with n = round(x log2 e), r = x − n ln 2 (ln 2 in two parts,
 * so r is exact), |r| <= ln2/2, e^r by its Taylor series to r^6 (error
 * about 1e-7 relative), and 2^n applied by vscalefps. */
AT_INLINE __m512 exp16(__m512 x) {
    __mmask16 alive = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.0f), _CMP_GT_OQ);
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_maskz_scalef_ps(alive, p, n);
}

static inline __mmask16 lanes(int count) { /* the first min(count, 16) lanes */
    return count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1u);
}
#else
/* exp(x), and exactly 0 below -87 (in particular for a masked -inf score),
 * where ati_fast_exp would clamp to a tiny positive number. */
static inline float exp_or_zero(float x) {
    float e = ati_fast_exp(x);
    return x < -87.0f ? 0.0f : e;
}
#endif

/* ------------------------------------------------------------ tile products
 *
 * tile_gemm: C (m, n) (+)= Σ_k A(i, k) B(k, :), with A(i, k) =
 * A[i·a_row + k·a_col] (so Aᵀ is just other strides), B row-major with row
 * stride ldb, C row-major with row stride ldc; accumulate: add into C
 * rather than overwrite it. */

#if defined(__AVX512F__)
/* The microkernel: C (rows ≤ MR, nv·16 columns) (+)= Σ_k A(r, k) B(k, :).
 *
 * Register tiling: MR = 6 rows × nv ≤ 4 vectors of 16 floats = up to 24
 * zmm accumulators stay in registers for the whole k loop. Per k it loads
 * nv vectors of B's row k (the last one masked to the columns that exist)
 * and, per row r, broadcasts the one float A(r, k) and issues nv FMAs:
 * 24 FMAs for 10 loads, enough independent chains to cover the FMA latency
 * of both pipes. mr (6, or 4 for a short tail) is the number of rows
 * computed; rows past `rows` re-read the last row (their results are
 * dropped), so the trip counts stay constants and the compiler unrolls;
 * the store loop also indexes acc with constants only, or the compiler
 * would keep acc in memory. nv and mr are constants at every call site
 * (see tile_gemm), which makes unused accumulators vanish. */
AT_INLINE void micro_kernel(int nv, int mr, int rows, int kdim, const float *A, size_t a_row,
                            size_t a_col, const float *B, size_t ldb, __mmask16 last, float *C,
                            size_t ldc, int accumulate) {
    __m512 acc[MR][4];
    const float *a[MR];
    for (int r = 0; r < mr; r++) {
        a[r] = A + (size_t)(r < rows ? r : rows - 1) * a_row;
        for (int v = 0; v < 4; v++) acc[r][v] = _mm512_setzero_ps();
    }
    for (int k = 0; k < kdim; k++) {
        const float *b = B + (size_t)k * ldb;
        __m512 bv[4];
        for (int v = 0; v < nv; v++)
            bv[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(last, b + 16 * v) : _mm512_loadu_ps(b + 16 * v);
        size_t ak = (size_t)k * a_col;
        for (int r = 0; r < mr; r++) {
            __m512 x = _mm512_set1_ps(a[r][ak]);
            for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < mr; r++) {
        if (r >= rows) break;
        float *c = C + (size_t)r * ldc;
        for (int v = 0; v < nv; v++) {
            __mmask16 keep = v == nv - 1 ? last : (__mmask16)0xFFFF;
            __m512 x = acc[r][v];
            if (accumulate) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(keep, c + 16 * v));
            _mm512_mask_storeu_ps(c + 16 * v, keep, x);
        }
    }
}

/* Blocks of MR rows by up to NR columns, each finished in registers
 * before the next. */
static void tile_gemm(int m, int n, int kdim, const float *A, size_t a_row, size_t a_col,
                      const float *B, size_t ldb, float *C, size_t ldc, int accumulate) {
    for (int j0 = 0; j0 < n; j0 += NR) {
        int cols = n - j0 < NR ? n - j0 : NR;
        int nv = (cols + 15) / 16;
        __mmask16 last = lanes(cols - 16 * (nv - 1)); /* 1..16 columns in the last vector */
        for (int i0 = 0; i0 < m; i0 += MR) {
            int rows = m - i0 < MR ? m - i0 : MR;
            const float *a = A + (size_t)i0 * a_row;
            float *c = C + (size_t)i0 * ldc + j0;
            /* a block of at most 4 rows (the tail of a 64-row tile) runs the
             * 4-row kernel rather than computing 6 rows and dropping 2 */
            int mr = rows <= 4 ? 4 : MR;
#define AT_MICRO(NV, MRC) micro_kernel(NV, MRC, rows, kdim, a, a_row, a_col, B + j0, ldb, last, c, ldc, accumulate)
            switch (nv * 8 + mr) {
            case 1 * 8 + 4: AT_MICRO(1, 4); break;
            case 2 * 8 + 4: AT_MICRO(2, 4); break;
            case 3 * 8 + 4: AT_MICRO(3, 4); break;
            case 4 * 8 + 4: AT_MICRO(4, 4); break;
            case 1 * 8 + MR: AT_MICRO(1, MR); break;
            case 2 * 8 + MR: AT_MICRO(2, MR); break;
            case 3 * 8 + MR: AT_MICRO(3, MR); break;
            default: AT_MICRO(4, MR); break;
            }
#undef AT_MICRO
        }
    }
}

#else /* portable: the same blocking in plain C, for the compiler to vectorise */

/* C (rows ≤ MR, cols ≤ NR) (+)= Σ_k A(r, k) B(k, :); MR × NR accumulators. */
static void micro_kernel(int rows, int cols, int kdim, const float *A, size_t a_row, size_t a_col,
                         const float *B, size_t ldb, float *C, size_t ldc, int accumulate) {
    float acc[MR][NR] = {{0.0f}};
    const float *a[MR];
    for (int r = 0; r < MR; r++) a[r] = A + (size_t)(r < rows ? r : rows - 1) * a_row;
    for (int k = 0; k < kdim; k++) {
        const float *b = B + (size_t)k * ldb;
        for (int r = 0; r < MR; r++) {
            float x = a[r][(size_t)k * a_col];
            for (int j = 0; j < cols; j++) acc[r][j] += x * b[j];
        }
    }
    for (int r = 0; r < rows; r++) {
        float *c = C + (size_t)r * ldc;
        for (int j = 0; j < cols; j++) c[j] = accumulate ? c[j] + acc[r][j] : acc[r][j];
    }
}

static void tile_gemm(int m, int n, int kdim, const float *A, size_t a_row, size_t a_col,
                      const float *B, size_t ldb, float *C, size_t ldc, int accumulate) {
    for (int j0 = 0; j0 < n; j0 += NR) {
        int cols = n - j0 < NR ? n - j0 : NR;
        for (int i0 = 0; i0 < m; i0 += MR)
            micro_kernel(m - i0 < MR ? m - i0 : MR, cols, kdim, A + (size_t)i0 * a_row, a_row,
                         a_col, B + j0, ldb, C + (size_t)i0 * ldc + j0, ldc, accumulate);
    }
}
#endif

/* dst[c·ldd + r] = scale · src[r·lds + c] for r < rows, c < cols: a tile
 * transposed (and scaled) into a packed buffer. */
#if defined(__AVX512F__)
static void pack_transposed(float *dst, size_t ldd, const float *src, size_t lds, int rows,
                            int cols, float scale) {
    /* 16 rows at a time: one gather reads column c of 16 rows */
    const __m512i stride = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                              _mm512_set1_epi32((int)lds));
    const __m512 s = _mm512_set1_ps(scale);
    for (int r = 0; r < rows; r += 16) {
        __mmask16 k = lanes(rows - r);
        const float *base = src + (size_t)r * lds;
        for (int c = 0; c < cols; c++) {
            __m512 x = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, stride, base + c, 4);
            _mm512_mask_storeu_ps(dst + (size_t)c * ldd + r, k, _mm512_mul_ps(x, s));
        }
    }
}
#else
static void pack_transposed(float *dst, size_t ldd, const float *src, size_t lds, int rows,
                            int cols, float scale) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) dst[(size_t)c * ldd + r] = scale * src[(size_t)r * lds + c];
}
#endif

/* ------------------------------------------------------------ causal cuts
 *
 * A tile that the causal limit crosses is half visible, half hidden:
 * query i of the tile (row i0 + i) sees key j (key j0 + j) only if
 * j <= i + rel, with rel = i0 + (tk − tq) − j0. When rel is a multiple of
 * 16 the tile falls into 16 × 16 blocks that are wholly visible, wholly
 * hidden or cut by the diagonal, and only the blocks not wholly hidden are
 * computed: per strip of 16 queries the keys [0, strip_keys), per strip of
 * 16 keys the queries [strip_first_query, bq). The skipped scores are
 * hidden ones, whose probabilities are exactly 0, so every sum gets the
 * same terms but for exact zeros: the results are those of the whole tile.
 * Other tiles (cut.on = 0) are computed whole. */
typedef struct tile_cut {
    int on;  /* 1: compute only the blocks not wholly hidden */
    int rel; /* query i sees key j if j <= i + rel            */
} tile_cut;

static tile_cut cut_of(const attn_mask_view *view, int i0, int j0, int bk) {
    tile_cut cut = {0, 0};
    if (!view->causal) return cut;
    cut.rel = i0 + (view->tk - view->tq) - j0;
    cut.on = j0 + bk - 1 > i0 + (view->tk - view->tq) /* something is hidden */
             && cut.rel % 16 == 0;
    return cut;
}

static int clamp_to(int x, int hi) { return x < 0 ? 0 : x > hi ? hi : x; }

/* The keys [0, n) that queries s .. s+16 of the tile can see. */
static int strip_keys(tile_cut cut, int s, int bk) {
    return cut.on ? clamp_to(s + 16 + cut.rel, bk) : bk;
}

/* The first query of the tile that sees any of keys t .. t+16. */
static int strip_first_query(tile_cut cut, int t, int bq) {
    return cut.on ? clamp_to(t - cut.rel, bq) : 0;
}

static int strip_rows(int s, int n) { return n - s < 16 ? n - s : 16; }

/* ---------------------------------------------------------- softmax steps
 *
 * softmax_update: one key tile of the online softmax, on the transposed
 * tile st (bk rows of BQ floats: st[j·BQ + i] = s_ij), in place:
 *     m'_i = max(m_i, max_j s_ij)      c_i = exp(m_i − m'_i)
 *     st_ji ← exp(s_ij − m'_i)         l_i ← c_i·l_i + Σ_j st_ji
 * The shift is 0 while m'_i is still -inf (a row that has seen no key),
 * so that no -inf − -inf is ever taken.
 * On a tile the causal limit cuts (tile_cut above), the queries of block
 * i .. i+16 read only the keys they can see, [0, strip_keys(cut, i)): the
 * rest stay -inf, and the product with V reads no further either.
 * exp_rows: p[i·ld + j] ← exp(p[i·ld + j] − shift_i) for a natural tile. */
#if defined(__AVX512F__)
/* 16 queries at a time: every step is a vertical operation across st's
 * rows, so the statistics never need a horizontal reduction. */
static void softmax_update(float *st, int bq, int bk, tile_cut cut, float *m, float *l,
                           float *corr) {
    const __m512 neg_inf = _mm512_set1_ps(-INFINITY);
    for (int i = 0; i < bq; i += 16) {
        __mmask16 k = lanes(bq - i);
        int keys = strip_keys(cut, i, bk);
        __m512 tile_max = neg_inf;
        for (int j = 0; j < keys; j++)
            tile_max = _mm512_max_ps(tile_max, _mm512_maskz_loadu_ps(k, st + (size_t)j * BQ + i));
        __m512 old_max = _mm512_maskz_loadu_ps(k, m + i);
        __m512 new_max = _mm512_max_ps(old_max, tile_max);
        __mmask16 seen = _mm512_cmp_ps_mask(new_max, neg_inf, _CMP_NEQ_OQ);
        __m512 shift = _mm512_maskz_mov_ps(seen, new_max);
        __m512 c = exp16(_mm512_sub_ps(old_max, shift));
        __m512 sum = _mm512_setzero_ps();
        for (int j = 0; j < keys; j++) {
            float *row = st + (size_t)j * BQ + i;
            __m512 p = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row), shift));
            _mm512_mask_storeu_ps(row, k, p);
            sum = _mm512_add_ps(sum, p);
        }
        __m512 old_sum = _mm512_maskz_loadu_ps(k, l + i);
        _mm512_mask_storeu_ps(l + i, k, _mm512_fmadd_ps(c, old_sum, sum));
        _mm512_mask_storeu_ps(m + i, k, new_max);
        _mm512_mask_storeu_ps(corr + i, k, c);
    }
}

static void exp_rows(float *p, size_t ld, int rows, int cols, const float *shift) {
    for (int i = 0; i < rows; i++) {
        __m512 sh = _mm512_set1_ps(shift[i]);
        float *row = p + (size_t)i * ld;
        for (int j = 0; j < cols; j += 16) {
            __mmask16 k = lanes(cols - j);
            _mm512_mask_storeu_ps(row + j, k, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row + j), sh)));
        }
    }
}
#else
static void softmax_update(float *st, int bq, int bk, tile_cut cut, float *m, float *l,
                           float *corr) {
    for (int i = 0; i < bq; i++) {
        float tile_max = -INFINITY, sum = 0.0f;
        int keys = strip_keys(cut, i - i % 16, bk);
        for (int j = 0; j < keys; j++) tile_max = fmaxf(tile_max, st[(size_t)j * BQ + i]);
        float new_max = fmaxf(m[i], tile_max);
        float shift = new_max == -INFINITY ? 0.0f : new_max;
        corr[i] = exp_or_zero(m[i] - shift);
        for (int j = 0; j < keys; j++) {
            float *x = st + (size_t)j * BQ + i;
            *x = exp_or_zero(*x - shift);
            sum += *x;
        }
        l[i] = corr[i] * l[i] + sum;
        m[i] = new_max;
    }
}

static void exp_rows(float *p, size_t ld, int rows, int cols, const float *shift) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) p[(size_t)i * ld + j] = exp_or_zero(p[(size_t)i * ld + j] - shift[i]);
}
#endif

/* ------------------------------------------------------------------ masks */

/* Set to -inf every score of the tile (query rows i0 .. i0+bq of group g,
 * keys j0 .. j0+bk) that the mask hides. Score (i, j) is s[i·si + j·sj], so
 * the same code serves the forward's transposed tile and the backward's
 * natural one. */
static void mask_tile(float *s, size_t si, size_t sj, const attn_mask_view *view, int g, int i0,
                      int bq, int j0, int bk) {
    if (view->keep) {
        size_t r0 = (size_t)g * (size_t)view->tq + (size_t)i0; /* first score row */
        int shared = view->rows_per_mask % (size_t)view->tq == 0; /* one keep row per group */
        for (int i = 0; i < bq; i++) {
            if (shared && i > 0) break;
            const uint8_t *keep = view->keep + ((r0 + (size_t)i) / view->rows_per_mask) * (size_t)view->tk + j0;
            for (int j = 0; j < bk; j++) {
                if (keep[j]) continue;
                if (shared)
                    for (int ii = 0; ii < bq; ii++) s[(size_t)ii * si + (size_t)j * sj] = -INFINITY;
                else
                    s[(size_t)i * si + (size_t)j * sj] = -INFINITY;
            }
        }
    }
    if (view->causal) {
        int off = view->tk - view->tq; /* query i sees keys j <= i + off */
        if (j0 + bk - 1 <= i0 + off) return; /* the whole tile is visible */
        for (int i = 0; i < bq; i++) {
            int first_hidden = i0 + i + off + 1 - j0;
            for (int j = first_hidden < 0 ? 0 : first_hidden; j < bk; j++)
                s[(size_t)i * si + (size_t)j * sj] = -INFINITY;
        }
    }
}

/* The keys query tile [i0, i0+bq) can see at all: [0, end). */
static int key_end(const attn_mask_view *view, int i0, int bq) {
    if (!view->causal) return view->tk;
    int end = i0 + bq + (view->tk - view->tq); /* last row's limit + 1 */
    return end < 0 ? 0 : end > view->tk ? view->tk : end;
}

/* --------------------------------------------------------------- forward */

typedef struct fwd_scratch {
    float *qt;   /* (d, BQ)  the query tile transposed, times scale          */
    float *st;   /* (BK, BQ) scores, then probabilities, of one key tile     */
    float *o;    /* (BQ, dv) unnormalised output rows                        */
    float *m;    /* (BQ)     running max                                     */
    float *l;    /* (BQ)     running sum                                     */
    float *corr; /* (BQ)     exp(old max − new max)                          */
    float *shift;/* (BQ)     what the scores are shifted by before exp        */
} fwd_scratch;

/* One work item: query rows i0 .. i0+bq of group g. */
static void forward_tile(int g, int i0, int tq, int tk, int d, int dv, float scale, const float *q,
                         const float *k, const float *v, const attn_mask_view *mask, float *out,
                         float *lse, float *weights, float *scores, const fwd_scratch *w) {
    int bq = tq - i0 < BQ ? tq - i0 : BQ;
    const float *Q = q + ((size_t)g * tq + i0) * d;   /* (bq, d)  */
    const float *K = k + (size_t)g * tk * d;          /* (tk, d)  */
    const float *V = v + (size_t)g * tk * dv;         /* (tk, dv) */
    float *qt = w->qt, *st = w->st, *o = w->o, *m = w->m, *l = w->l;

    pack_transposed(qt, BQ, Q, (size_t)d, bq, d, scale);
    for (int i = 0; i < bq; i++) m[i] = -INFINITY, l[i] = 0.0f;
    memset(o, 0, sizeof(float) * (size_t)bq * dv);

    int end = key_end(mask, i0, bq);
    for (int j0 = 0; j0 < end; j0 += BK) {
        int bk = end - j0 < BK ? end - j0 : BK;
        tile_cut cut = cut_of(mask, i0, j0, bk);
        // st (bk, bq): st[j][i] = scale · q_i · k_j  (a cut tile: strips of 16 keys)
        for (int t = 0; t < bk; t += cut.on ? 16 : bk) {
            int first = strip_first_query(cut, t, bq);
            tile_gemm(cut.on ? strip_rows(t, bk) : bk, bq - first, d, K + (size_t)(j0 + t) * d, d,
                      1, qt + first, BQ, st + (size_t)t * BQ + first, BQ, 0);
        }
        mask_tile(st, 1, BQ, mask, g, i0, bq, j0, bk);

        // m' = max(m, max_j s_ij), p_ij = exp(s_ij − m'), l_i ← c·l_i + Σ_j p_ij
        softmax_update(st, bq, bk, cut, m, l, w->corr);
        // o_i ← c·o_i + Σ_j p_ij v_j
        for (int i = 0; i < bq; i++) {
            if (w->corr[i] == 1.0f) continue;
            float *oi = o + (size_t)i * dv;
            for (int c = 0; c < dv; c++) oi[c] *= w->corr[i];
        }
        for (int s = 0; s < bq; s += cut.on ? 16 : bq) /* a cut tile: strips of 16 queries */
            tile_gemm(cut.on ? strip_rows(s, bq) : bq, dv, strip_keys(cut, s, bk), st + s, 1, BQ,
                      V + (size_t)j0 * dv, dv, o + (size_t)s * dv, dv, 1);
    }

    // O_i = o_i / l_i, lse_i = m_i + log l_i; a row that saw no key: 0, -inf
    for (int i = 0; i < bq; i++) {
        size_t r = (size_t)g * tq + i0 + i;
        float *dst = out + r * dv;
        const float *oi = o + (size_t)i * dv;
        if (l[i] > 0.0f) {
            float inv = 1.0f / l[i];
            for (int c = 0; c < dv; c++) dst[c] = oi[c] * inv;
            lse[r] = m[i] + logf(l[i]);
        } else {
            for (int c = 0; c < dv; c++) dst[c] = 0.0f;
            lse[r] = -INFINITY;
        }
    }
    if (!weights) return;

    // weights: a second pass, α_ij = exp(s_ij − lse_i) (0 where hidden)
    for (int i = 0; i < bq; i++) {
        float x = lse[(size_t)g * tq + i0 + i];
        w->shift[i] = x == -INFINITY ? INFINITY : x;
    }
    for (int j0 = 0; j0 < tk; j0 += BK) {
        int bk = tk - j0 < BK ? tk - j0 : BK;
        float *wrow0 = weights + ((size_t)g * tq + i0) * tk + j0; /* (bq, bk) of (tq, tk) */
        float *srow0 = scores ? scores + ((size_t)g * tq + i0) * tk + j0 : NULL;
        if (j0 >= end) {
            for (int i = 0; i < bq; i++) memset(wrow0 + (size_t)i * tk, 0, sizeof(float) * bk);
            for (int i = 0; srow0 && i < bq; i++)
                for (int j = 0; j < bk; j++) srow0[(size_t)i * tk + j] = -INFINITY;
            continue;
        }
        tile_gemm(bk, bq, d, K + (size_t)j0 * d, d, 1, qt, BQ, st, BQ, 0);
        mask_tile(st, 1, BQ, mask, g, i0, bq, j0, bk);
        for (int i = 0; i < bq; i++)
            for (int j = 0; j < bk; j++) wrow0[(size_t)i * tk + j] = st[(size_t)j * BQ + i];
        // explain one step: the scaled scores s_ij (-inf where hidden), before the exp
        for (int i = 0; srow0 && i < bq; i++)
            memcpy(srow0 + (size_t)i * tk, wrow0 + (size_t)i * tk, sizeof(float) * bk);
        exp_rows(wrow0, (size_t)tk, bq, bk, w->shift);
    }
}

static int thread_count(const at_ctx *ctx) { return ctx->threads > 0 ? ctx->threads : 1; }

static int thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

at_status attn_dot_forward(at_ctx *ctx, int G, int tq, int tk, int d, int dv, float scale,
                           const float *q, const float *k, const float *v,
                           const attn_mask_view *mask, float *out, float *lse, float *weights) {
    return attn_dot_forward_scores(ctx, G, tq, tk, d, dv, scale, q, k, v, mask, out, lse, weights,
                                   NULL);
}

at_status attn_dot_forward_scores(at_ctx *ctx, int G, int tq, int tk, int d, int dv, float scale,
                                  const float *q, const float *k, const float *v,
                                  const attn_mask_view *mask, float *out, float *lse,
                                  float *weights, float *scores) {
    if (G <= 0 || tq <= 0) return AT_OK;
    attn_mask_view none = {NULL, (size_t)G * tq, 0, tq, tk};
    if (!mask) mask = &none;
    int threads = thread_count(ctx);
    size_t per_thread = (size_t)d * BQ + (size_t)BK * BQ + (size_t)BQ * dv + 4 * (size_t)BQ;
    float *pool;
    AT_TRY(ati_scratch(ctx, (void **)&pool, sizeof(float) * per_thread * threads));

    int tiles = (tq + BQ - 1) / BQ;
    long items = (long)G * tiles;
#pragma omp parallel num_threads(threads)
    {
        float *mine = pool + per_thread * (size_t)thread_id();
        fwd_scratch w;
        w.qt = mine;
        w.st = w.qt + (size_t)d * BQ;
        w.o = w.st + (size_t)BK * BQ;
        w.m = w.o + (size_t)BQ * dv;
        w.l = w.m + BQ;
        w.corr = w.l + BQ;
        w.shift = w.corr + BQ;
        /* items differ in cost under a causal mask (a later query tile sees
         * more keys): they are handed out heaviest first, the last query
         * tiles of every group before the earlier ones, so that no thread is
         * left alone with a long item at the end. Each writes only its own
         * rows, so a dynamic schedule is still deterministic. */
#pragma omp for schedule(dynamic, 1)
        for (long item = 0; item < items; item++) {
            int g = mask->causal ? (int)(item % G) : (int)(item / tiles);
            int tile = mask->causal ? tiles - 1 - (int)(item / G) : (int)(item % tiles);
            int i0 = tile * BQ;
            forward_tile(g, i0, tq, tk, d, dv, scale, q, k, v, mask, out, lse, weights, scores,
                         &w);
        }
    }
    return AT_OK;
}

/* -------------------------------------------------------------- backward */

typedef struct bwd_scratch {
    float *kt;  /* (d, BK)  the key tile transposed, times scale  */
    float *vt;  /* (dv, BK) the value tile transposed              */
    float *p;   /* (BQ, BK) probabilities                          */
    float *ds;  /* (BQ, BK) dP, then scale · dS                    */
    float *dk;  /* (BK, d)  this key tile's dK                     */
    float *dv;  /* (BK, dv) this key tile's dV                     */
    float *shift; /* (BQ)   lse of the query tile (+inf for -inf)   */
} bwd_scratch;

/* One work item: key rows j0 .. j0+bk of group g, against every query tile
 * that sees them. Adds into dk, dv (its own rows) and dq_mine (rows shared
 * with the other key tiles of the group: the work item's dQ). */
static void backward_tile(int g, int j0, int tq, int tk, int d, int dv, float scale,
                          const float *q, const float *k, const float *v, const float *lse,
                          const float *D, const float *d_out, const float *d_weights,
                          const attn_mask_view *mask, float *dq_mine, float *dk, float *d_v,
                          const bwd_scratch *w) {
    int bk = tk - j0 < BK ? tk - j0 : BK;
    const float *K = k + ((size_t)g * tk + j0) * d;  /* (bk, d)  */
    const float *V = v + ((size_t)g * tk + j0) * dv; /* (bk, dv) */
    pack_transposed(w->kt, BK, K, (size_t)d, bk, d, scale);
    pack_transposed(w->vt, BK, V, (size_t)dv, bk, dv, 1.0f);
    memset(w->dk, 0, sizeof(float) * (size_t)bk * d);
    memset(w->dv, 0, sizeof(float) * (size_t)bk * dv);

    /* under the causal rule query i sees key j0 only if i + (tk − tq) >= j0 */
    int first = mask->causal ? j0 - (tk - tq) : 0;
    if (first < 0) first = 0;
    for (int i0 = first / BQ * BQ; i0 < tq; i0 += BQ) {
        int bq = tq - i0 < BQ ? tq - i0 : BQ;
        size_t r0 = (size_t)g * tq + i0;
        const float *Q = q + r0 * d;       /* (bq, d)  */
        const float *dO = d_out + r0 * dv; /* (bq, dv) */

        /* a tile the causal limit cuts: per strip s of 16 queries only the
         * keys [0, strip_keys), per strip t of 16 keys only the queries
         * [strip_first_query, bq) (the whole tile otherwise) */
        tile_cut cut = cut_of(mask, i0, j0, bk);
        // forward: s_ij = scale · q_i · k_j ; p_ij = exp(s_ij − lse_i), hidden ones 0
        for (int s = 0; s < bq; s += cut.on ? 16 : bq)
            tile_gemm(cut.on ? strip_rows(s, bq) : bq, strip_keys(cut, s, bk), d, Q + (size_t)s * d,
                      d, 1, w->kt, BK, w->p + (size_t)s * BK, BK, 0);
        mask_tile(w->p, BK, 1, mask, g, i0, bq, j0, bk);
        for (int i = 0; i < bq; i++) /* a row that saw no key: every p_ij = 0 */
            w->shift[i] = lse[r0 + i] == -INFINITY ? INFINITY : lse[r0 + i];
        for (int s = 0; s < bq; s += cut.on ? 16 : bq)
            exp_rows(w->p + (size_t)s * BK, BK, cut.on ? strip_rows(s, bq) : bq,
                     strip_keys(cut, s, bk), w->shift + s);
        // forward: o_i = Σ_j p_ij v_j  →  dV_j += Σ_i p_ij dO_i
        for (int t = 0; d_v && t < bk; t += cut.on ? 16 : bk) {
            int first = strip_first_query(cut, t, bq);
            tile_gemm(cut.on ? strip_rows(t, bk) : bk, dv, bq - first, w->p + (size_t)first * BK + t,
                      1, BK, dO + (size_t)first * dv, dv, w->dv + (size_t)t * dv, dv, 1);
        }
        if (!dq_mine && !dk) continue;
        // forward: o_i = Σ_j p_ij v_j  →  dP_ij = dO_i · v_j
        for (int s = 0; s < bq; s += cut.on ? 16 : bq)
            tile_gemm(cut.on ? strip_rows(s, bq) : bq, strip_keys(cut, s, bk), dv,
                      dO + (size_t)s * dv, dv, 1, w->vt, BK, w->ds + (size_t)s * BK, BK, 0);
        // forward: weights_ij = p_ij, handed to the caller  →  dP_ij += dW_ij
        if (d_weights)
            for (int i = 0; i < bq; i++) {
                const float *dw = d_weights + (r0 + i) * tk + j0;
                float *ds = w->ds + (size_t)i * BK;
                int keys = strip_keys(cut, i - i % 16, bk);
                for (int j = 0; j < keys; j++) ds[j] += dw[j];
            }
        // forward: p_i = softmax(s_i)  →  dS_ij = p_ij (dP_ij − D_i), times scale
        for (int i = 0; i < bq; i++) {
            float Di = D[r0 + i];
            const float *p = w->p + (size_t)i * BK;
            float *ds = w->ds + (size_t)i * BK;
            int keys = strip_keys(cut, i - i % 16, bk);
            for (int j = 0; j < keys; j++) ds[j] = scale * p[j] * (ds[j] - Di);
        }
        // forward: s_ij = scale · q_i · k_j  →  dK_j += scale Σ_i dS_ij q_i
        for (int t = 0; dk && t < bk; t += cut.on ? 16 : bk) {
            int first = strip_first_query(cut, t, bq);
            tile_gemm(cut.on ? strip_rows(t, bk) : bk, d, bq - first, w->ds + (size_t)first * BK + t,
                      1, BK, Q + (size_t)first * d, d, w->dk + (size_t)t * d, d, 1);
        }
        //                                    →  dQ_i += scale Σ_j dS_ij k_j
        for (int s = 0; dq_mine && s < bq; s += cut.on ? 16 : bq)
            tile_gemm(cut.on ? strip_rows(s, bq) : bq, d, strip_keys(cut, s, bk),
                      w->ds + (size_t)s * BK, BK, 1, K, d, dq_mine + (r0 + s) * d, d, 1);
    }

    size_t base = (size_t)g * tk + j0;
    if (dk)
        for (size_t x = 0; x < (size_t)bk * d; x++) dk[base * d + x] += w->dk[x];
    if (d_v)
        for (size_t x = 0; x < (size_t)bk * dv; x++) d_v[base * dv + x] += w->dv[x];
}

/* How many interleaved chunks the key tiles of a group are split into for
 * the backward: enough work items (G·chunks) to keep the threads busy. Each
 * chunk adds into its own copy of dQ when there are several. */
static int backward_chunks(int G, int tiles, int threads, int has_dq) {
    if (!has_dq) return tiles; /* no shared rows: one key tile per item */
    int want = 4 * threads;    /* items per thread, for balance under a dynamic schedule */
    if (threads == 1 || G >= want) return 1;
    int chunks = (want + G - 1) / G;
    return chunks < tiles ? chunks : tiles;
}

at_status attn_dot_backward(at_ctx *ctx, int G, int tq, int tk, int d, int dv, float scale,
                            const float *q, const float *k, const float *v, const float *out,
                            const float *lse, const float *d_out, const float *weights,
                            const float *d_weights, const attn_mask_view *mask, float *dq,
                            float *dk, float *d_v) {
    if (G <= 0 || tq <= 0 || tk <= 0 || (!dq && !dk && !d_v)) return AT_OK;
    attn_mask_view none = {NULL, (size_t)G * tq, 0, tq, tk};
    if (!mask) mask = &none;
    int threads = thread_count(ctx);
    size_t rows = (size_t)G * tq;
    int tiles = (tk + BK - 1) / BK;
    int chunks = backward_chunks(G, tiles, threads, dq != NULL);
    int shared = dq && chunks > 1; /* dQ goes through per-chunk copies */
    size_t per_thread = (size_t)(d + dv) * BK * 2 + 2 * (size_t)BQ * BK + BQ;
    float *pool, *D, *dq_parts = NULL;
    AT_TRY(ati_scratch(ctx, (void **)&pool, sizeof(float) * per_thread * threads));
    AT_TRY(ati_scratch(ctx, (void **)&D, sizeof(float) * rows)); /* (G, Tq) */
    if (shared) /* (chunks, G, Tq, d) */
        AT_TRY(ati_scratch(ctx, (void **)&dq_parts, sizeof(float) * (size_t)chunks * rows * d));

    long items = (long)G * chunks;
#pragma omp parallel num_threads(threads)
    {
        float *mine = pool + per_thread * (size_t)thread_id();
        bwd_scratch w;
        w.kt = mine;
        w.vt = w.kt + (size_t)d * BK;
        w.p = w.vt + (size_t)dv * BK;
        w.ds = w.p + (size_t)BQ * BK;
        w.dk = w.ds + (size_t)BQ * BK;
        w.dv = w.dk + (size_t)BK * d;
        w.shift = w.dv + (size_t)BK * dv;

        // forward: o_i = Σ_j p_ij v_j  →  D_i = Σ_j p_ij dP_ij = dO_i · o_i
        //          (+ Σ_j w_ij dW_ij when the weights carry a gradient)
#pragma omp for schedule(static)
        for (long r = 0; r < (long)rows; r++) {
            float sum = 0.0f;
            for (int c = 0; c < dv; c++) sum += d_out[r * dv + c] * out[r * dv + c];
            if (d_weights)
                for (int j = 0; j < tk; j++)
                    sum += weights[(size_t)r * tk + j] * d_weights[(size_t)r * tk + j];
            D[r] = sum;
        }
        if (shared) {
#pragma omp for schedule(static)
            for (long x = 0; x < (long)((size_t)chunks * rows * d); x++) dq_parts[x] = 0.0f;
        }
        /* Item (g, c) does key tiles c, c + chunks, ... of group g in order and
         * alone owns its dK, dV rows and its dQ copy: whichever thread runs
         * it, the sums are the same, so the schedule may be dynamic. */
#pragma omp for schedule(dynamic, 1)
        for (long item = 0; item < items; item++) {
            int g = (int)(item / chunks), c = (int)(item % chunks);
            float *dq_mine = !dq ? NULL : shared ? dq_parts + (size_t)c * rows * d : dq;
            for (int t = c; t < tiles; t += chunks)
                backward_tile(g, t * BK, tq, tk, d, dv, scale, q, k, v, lse, D, d_out,
                              d_weights, mask, dq_mine, dk, d_v, &w);
        }
        if (shared) { /* dq += the chunks' copies, in chunk order */
#pragma omp for schedule(static)
            for (long x = 0; x < (long)(rows * d); x++) {
                float sum = dq[x];
                for (int c = 0; c < chunks; c++) sum += dq_parts[(size_t)c * rows * d + x];
                dq[x] = sum;
            }
        }
    }
    return AT_OK;
}
