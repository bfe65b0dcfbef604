/* AVX-512 micro-kernels: an 8 × 32 block of C stays in 16 zmm registers for a whole K chunk while
   packed B panels stream from L1 and packed A panels are broadcast one 32-bit unit at a time (the
   BLIS / MLAS register-blocking scheme). Epilogues run on the registers before the only store. */
#include "kernels_x86.h"

#include <immintrin.h>
#include <math.h>

#define KX_BASE "avx512f,avx512bw,avx512vl,avx512dq,fma"
#define KX_INLINE static inline __attribute__((always_inline, target(KX_BASE)))

#define KX_LOG2E 1.44269504088896341f

/* 2^t for t ≤ 0: t = n + f with n an integer and |f| ≤ ½, 2^f by a degree-5 polynomial (a Chebyshev fit, relative
   error 2.3e-7), scaled by 2^n. From −126 on the result becomes denormal; below −151 (−∞ included) it is 0. */
KX_INLINE __m512 kx_exp2_nonpositive(__m512 t) {
    t = _mm512_max_ps(t, _mm512_set1_ps(-152.0f));
    __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(t, n);
    __m512 p = _mm512_set1_ps(1.3395285364e-3f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6707678753e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5503406681e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022211658e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314720007e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0000000523f));
    return _mm512_scalef_ps(p, n);
}

/* GELU, x/2 · (1 + erf(x/√2)), with erfc(z) ≈ (1 + a1·z + … + a6·z⁶)^−16 for z = |x|/√2 (Abramowitz & Stegun
   7.1.28): no exponential, one divide. Against erf in Double the result is within 8.2e-7 absolute, and 4e-7 ·
   max(1, |x|). */
KX_INLINE __m512 kx_gelu(__m512 x) {
    __m512 z = _mm512_abs_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f)));
    static const float coefficients[] = {4.30638e-5f, 2.765672e-4f, 1.520143e-4f, 9.2705272e-3f, 4.22820123e-2f,
                                         7.05230784e-2f, 1.0f};
    __m512 p = _mm512_set1_ps(coefficients[0]);
    for (int index = 1; index < 7; index++) p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(coefficients[index]));
    for (int square = 0; square < 4; square++) p = _mm512_mul_ps(p, p);
    /* 1 / p: the 14-bit reciprocal and one Newton step (a divide costs Zen 4 several times as much). p overflows to
       ∞ from |x| ≈ 20 on; capped at the largest float, its reciprocal is 0 (∞ would make the step 0 · ∞). */
    p = _mm512_min_ps(p, _mm512_set1_ps(3.40282347e38f));
    __m512 erfc = _mm512_rcp14_ps(p);
    erfc = _mm512_fmadd_ps(erfc, _mm512_fnmadd_ps(p, erfc, _mm512_set1_ps(1.0f)), erfc);
    __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 one_plus_erf = _mm512_mask_blend_ps(negative, _mm512_sub_ps(_mm512_set1_ps(2.0f), erfc), erfc);
    return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)), one_plus_erf);
}

/* Prefetches the weight unit KX_PREFETCH_UNITS ahead (both of its cache lines): a panel's units are
   contiguous across K chunks, so this runs ahead of the hardware prefetchers at page boundaries. 64 units
   (8 KB) are about 1,000 cycles of an 8-row micro-kernel: enough to hide a memory miss when a short text
   streams every weight once (16 units measured about 3 % slower for one sentence, the same at batch 8). The
   tile's far prefetch (kc_tile.prefetch) meanwhile brings this row block's share of the next chunk into L2. */
#define KX_PREFETCH_UNITS 64
KX_INLINE void kx_prefetch_b(const void *b) {
    const char *ahead = (const char *)b + KX_PREFETCH_UNITS * KC_NR * sizeof(uint32_t);
    _mm_prefetch(ahead, _MM_HINT_T0);
    _mm_prefetch(ahead + 64, _MM_HINT_T0);
}

KX_INLINE __mmask16 kx_mask(uint64_t remaining) {
    return remaining >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << remaining) - 1u);
}

/* Asks for the lines of one row's `bytes` (at most 128: no more than 3 lines, which its first, middle and last
   bytes each fall in). */
KX_INLINE void kx_prefetch_row(const float *row, uint64_t bytes) {
    const char *first = (const char *)row;
    _mm_prefetch(first, _MM_HINT_T0);
    _mm_prefetch(first + (bytes - 1) / 2, _MM_HINT_T0);
    _mm_prefetch(first + bytes - 1, _MM_HINT_T0);
}

/* Asks for the lines of C a tile's epilogue touches, and of the residual rows on the last chunk, before the K loop:
   the epilogue then finds them in L1 instead of stalling on each row's misses. */
KX_INLINE void kx_prefetch_epilogue(const kc_tile *t) {
    uint64_t bytes = t->cols * sizeof(float);
    for (uint32_t i = 0; i < t->rows; i++) kx_prefetch_row(t->c + i * t->ldc, bytes);
    if (t->last && t->residual) {
        for (uint32_t i = 0; i < t->rows; i++) kx_prefetch_row(t->residual + i * t->ldr, bytes);
    }
}

/* Finishes one row of a tile: scale, accumulate into C across chunks, and on the last chunk apply the
   epilogue; then one masked store per 16 columns. */
KX_INLINE void kx_store_row(const kc_tile *t, uint32_t row, __m512 v0, __m512 v1) {
    __mmask16 m0 = kx_mask(t->cols), m1 = t->cols > 16 ? kx_mask(t->cols - 16) : 0;
    float *c = t->c + row * t->ldc;
    if (t->alpha != 1.0f) {
        v0 = _mm512_mul_ps(v0, _mm512_set1_ps(t->alpha));
        v1 = _mm512_mul_ps(v1, _mm512_set1_ps(t->alpha));
    }
    if (t->row_alpha) {
        v0 = _mm512_mul_ps(v0, _mm512_set1_ps(t->row_alpha[row]));
        v1 = _mm512_mul_ps(v1, _mm512_set1_ps(t->row_alpha[row]));
    }
    if (!t->first) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, c));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, c + 16));
    }
    if (t->last && t->flags) {
        if (t->flags & CONFIDE_EPILOGUE_BIAS) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, t->bias));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, t->bias + 16));
        }
        if (t->flags & CONFIDE_EPILOGUE_GELU) {
            v0 = kx_gelu(v0);
            v1 = kx_gelu(v1);
        }
        if (t->flags & CONFIDE_EPILOGUE_RESIDUAL) {
            const float *residual = t->residual + row * t->ldr;
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, residual));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, residual + 16));
        }
    }
    _mm512_mask_storeu_ps(c, m0, v0);
    _mm512_mask_storeu_ps(c + 16, m1, v1);
}

/* Dequantizes one INT8 row: (sum - 128 · column sum) · row scale · column scale. */
KX_INLINE void kx_store_row_s32(const kc_tile *t, uint32_t row, __m512i s0, __m512i s1) {
    __mmask16 m0 = kx_mask(t->cols), m1 = t->cols > 16 ? kx_mask(t->cols - 16) : 0;
    __m512 rs = _mm512_set1_ps(t->row_scale[row]);
    __m512 scale0 = _mm512_mul_ps(rs, _mm512_maskz_loadu_ps(m0, t->col_scale));
    __m512 scale1 = _mm512_mul_ps(rs, _mm512_maskz_loadu_ps(m1, t->col_scale + 16));
    __m512 v0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(s0, _mm512_maskz_loadu_epi32(m0, t->col_comp)));
    __m512 v1 = _mm512_cvtepi32_ps(_mm512_sub_epi32(s1, _mm512_maskz_loadu_epi32(m1, t->col_comp + 16)));
    kx_store_row(t, row, _mm512_mul_ps(v0, scale0), _mm512_mul_ps(v1, scale1));
}

/* One micro-kernel body for `mr` (a constant after inlining) rows: the accumulators of rows past `mr` never
   exist. The exported kernels pick the smallest of 8, 4, 2 or 1 rows that covers a tile, so a short last
   block (a 17-token text leaves one row) does not pay for eight. Rows past the tile's read its last row and are
   never stored. Without a far prefetch the loop prefetches the tile's own lines instead (cache hits): a branch in
   the loop made the compiler spill accumulators. */
#define KX_MICRO_BODY(ACC, ZERO, B_LOAD, BROADCAST, PRODUCT, STORE)                                                \
    kx_prefetch_epilogue(t);                                                                                       \
    ACC c0[KX_MR], c1[KX_MR];                                                                                      \
    _Pragma("clang loop unroll(full)") for (uint32_t i = 0; i < mr; i++) c0[i] = c1[i] = ZERO;                     \
    const uint32_t *b = t->b;                                                                                      \
    const char *far = t->prefetch ? t->prefetch : (const char *)b;                                                 \
    const uint32_t *rows[KX_MR];                                                                                   \
    _Pragma("clang loop unroll(full)") for (uint32_t i = 0; i < mr; i++) {                                         \
        rows[i] = t->a + (i < t->rows ? i : t->rows - 1) * t->a_row_units;                                         \
    }                                                                                                              \
    _Pragma("clang loop unroll_count(4)") for (uint64_t u = 0; u < t->units; u++) {                                \
        B_LOAD b0 = (B_LOAD)_mm512_load_si512(b), b1 = (B_LOAD)_mm512_load_si512(b + 16);                          \
        kx_prefetch_b(b);                                                                                          \
        _mm_prefetch(far + u * KC_PREFETCH_LINE, _MM_HINT_T1);                                                     \
        _Pragma("clang loop unroll(full)") for (uint32_t i = 0; i < mr; i++) {                                     \
            B_LOAD ai = BROADCAST(rows[i][u]);                                                                     \
            c0[i] = PRODUCT(c0[i], ai, b0);                                                                        \
            c1[i] = PRODUCT(c1[i], ai, b1);                                                                        \
        }                                                                                                          \
        b += KC_NR;                                                                                                \
    }                                                                                                              \
    _Pragma("clang loop unroll(full)") for (uint32_t i = 0; i < mr; i++) {                                         \
        if (i < t->rows) STORE(t, i, c0[i], c1[i]);                                                                \
    }

/* Calls BODY(t, mr) with the smallest mr of 8, 4, 2, 1 that covers the tile's rows. */
#define KX_MICRO_DISPATCH(BODY, t)                                                                                 \
    do {                                                                                                           \
        if ((t)->rows > 4) BODY(t, 8);                                                                             \
        else if ((t)->rows > 2) BODY(t, 4);                                                                        \
        else if ((t)->rows > 1) BODY(t, 2);                                                                        \
        else BODY(t, 1);                                                                                           \
    } while (0)

#define KX_FP32_BROADCAST(unit) _mm512_castsi512_ps(_mm512_set1_epi32((int)(unit)))
#define KX_FP32_PRODUCT(c, a, b) _mm512_fmadd_ps(a, b, c)

KX_INLINE void kx_micro_fp32_rows(const kc_tile *t, const uint32_t mr) {
    KX_MICRO_BODY(__m512, _mm512_setzero_ps(), __m512, KX_FP32_BROADCAST, KX_FP32_PRODUCT, kx_store_row)
}

__attribute__((target(KX_BASE))) void kx_micro_fp32(const kc_tile *t) { KX_MICRO_DISPATCH(kx_micro_fp32_rows, t); }

#define KX_BF16_BROADCAST(unit) (__m512bh)_mm512_set1_epi32((int)(unit))

static inline __attribute__((always_inline, target(KX_BASE ",avx512bf16"))) void kx_micro_bf16_rows(const kc_tile *t,
                                                                                                     const uint32_t mr) {
    KX_MICRO_BODY(__m512, _mm512_setzero_ps(), __m512bh, KX_BF16_BROADCAST, _mm512_dpbf16_ps, kx_store_row)
}

__attribute__((target(KX_BASE ",avx512bf16"))) void kx_micro_bf16(const kc_tile *t) {
    KX_MICRO_DISPATCH(kx_micro_bf16_rows, t);
}

#define KX_INT8_BROADCAST(unit) _mm512_set1_epi32((int)(unit))

static inline __attribute__((always_inline, target(KX_BASE ",avx512vnni"))) void kx_micro_int8_rows(const kc_tile *t,
                                                                                                     const uint32_t mr) {
    KX_MICRO_BODY(__m512i, _mm512_setzero_si512(), __m512i, KX_INT8_BROADCAST, _mm512_dpbusd_epi32, kx_store_row_s32)
}

__attribute__((target(KX_BASE ",avx512vnni"))) void kx_micro_int8(const kc_tile *t) {
    KX_MICRO_DISPATCH(kx_micro_int8_rows, t);
}

/* Writes `count` (≤ 16) units at dst[u·step], ... */
KX_INLINE void kx_put_units(uint32_t *dst, uint64_t step, uint64_t u, uint64_t count, __m512i units) {
    if (step == 1) {
        _mm512_mask_storeu_epi32(dst + u, kx_mask(count), units);
        return;
    }
    uint32_t values[16];
    _mm512_storeu_si512(values, units);
    for (uint64_t i = 0; i < count; i++) dst[(u + i) * step] = values[i];
}

KX_INLINE __mmask16 kx_tail(uint64_t k, uint64_t position) { return kx_mask(k > position ? k - position : 0); }

/* FP32 values u0 … u0 + 15 of a row, as units. */
KX_INLINE __m512i kx_row_units(const float *row, uint64_t k, uint64_t u0) {
    return _mm512_castps_si512(_mm512_maskz_loadu_ps(kx_tail(k, u0), row + u0));
}

/* BF16 pairs u0 … u0 + 15 (values 2u0 … 2u0 + 31) of a row, as units. */
static inline __attribute__((always_inline, target(KX_BASE ",avx512bf16"))) __m512i kx_row_pairs(const float *row,
                                                                                                uint64_t k, uint64_t u0) {
    __m512 low = _mm512_maskz_loadu_ps(kx_tail(k, 2 * u0), row + 2 * u0);
    __m512 high = _mm512_maskz_loadu_ps(kx_tail(k, 2 * u0 + 16), row + 2 * u0 + 16);
    return (__m512i)_mm512_cvtne2ps_pbh(high, low);
}

__attribute__((target(KX_BASE))) void kx_pack_row_fp32(const float *src, uint64_t k, uint32_t *dst, uint64_t step,
                                                       uint64_t units, float *row_scale) {
    (void)row_scale;
    for (uint64_t u = 0; u < units; u += 16) {
        kx_put_units(dst, step, u, units - u < 16 ? units - u : 16, kx_row_units(src, k, u));
    }
}

__attribute__((target(KX_BASE ",avx512bf16"))) void kx_pack_row_bf16(const float *src, uint64_t k, uint32_t *dst,
                                                                    uint64_t step, uint64_t units, float *row_scale) {
    (void)row_scale;
    for (uint64_t u = 0; u < units; u += 16) {
        kx_put_units(dst, step, u, units - u < 16 ? units - u : 16, kx_row_pairs(src, k, u));
    }
}

/* Sixteen values of `low` and of `high` (0 when NULL), past `cols` zero, rounded to BF16 and interleaved into units. */
__attribute__((target(KX_BASE ",avx512bf16"))) void kx_pack_pairs_bf16(const float *low, const float *high,
                                                                      uint64_t cols, uint32_t *units) {
    for (uint64_t c = 0; c < KC_NR; c += 16) {
        __mmask16 mask = kx_tail(cols, c);
        __m512i l = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, low + c)));
        __m512i h = high ? _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, high + c)))
                         : _mm512_setzero_si512();
        _mm512_storeu_si512(units + c, _mm512_or_si512(l, _mm512_slli_epi32(h, 16)));
    }
}

/* Sixteen values of a row times `inverse`, rounded to int32 (within ±127: `inverse` is 127 / the row's largest). */
KX_INLINE __m512i kx_quantize16(const float *src, __mmask16 mask, __m512 inverse) {
    return _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mask, src), inverse));
}

__attribute__((target(KX_BASE))) void kx_pack_row_int8(const float *src, uint64_t k, uint32_t *dst, uint64_t step,
                                                       uint64_t units, float *row_scale) {
    __m512 largest = _mm512_setzero_ps();
    for (uint64_t j = 0; j < k; j += 16) {
        largest = _mm512_max_ps(largest, _mm512_abs_ps(_mm512_maskz_loadu_ps(kx_mask(k - j), src + j)));
    }
    float top = _mm512_reduce_max_ps(largest);
    *row_scale = top / 127.0f;
    __m512 inverse = _mm512_set1_ps(top > 0.0f ? 127.0f / top : 0.0f);
    /* The saturating packs narrow 64 values to bytes lane by lane: lane i holds units i, 4 + i, 8 + i, 12 + i,
       which the permutation puts in order. Adding 128 to a byte is flipping its top bit. */
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    for (uint64_t u = 0; u < units; u += 16) {
        uint64_t base = 4 * u;
        __m512i low = _mm512_packs_epi32(kx_quantize16(src + base, kx_tail(k, base), inverse),
                                         kx_quantize16(src + base + 16, kx_tail(k, base + 16), inverse));
        __m512i high = _mm512_packs_epi32(kx_quantize16(src + base + 32, kx_tail(k, base + 32), inverse),
                                          kx_quantize16(src + base + 48, kx_tail(k, base + 48), inverse));
        __m512i bytes = _mm512_xor_si512(_mm512_packs_epi16(low, high), _mm512_set1_epi8((char)0x80));
        kx_put_units(dst, step, u, units - u < 16 ? units - u : 16, _mm512_permutexvar_epi32(order, bytes));
    }
}

/* Transposes 16 × 16 32-bit units in registers: r[i] holds row i on entry and column i on return. Units, then unit
   pairs, swap within 128-bit lanes; two lane shuffles then move each lane of four rows to its column. */
KX_INLINE void kx_transpose16(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    /* r[4g + j], lane l: rows 4g … 4g + 3 of column 4l + j. */
    for (int g = 0; g < 16; g += 4) {
        r[g] = _mm512_unpacklo_epi64(t[g], t[g + 2]);
        r[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]);
        r[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
        r[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
    }
    for (int j = 0; j < 4; j++) {
        __m512i low01 = _mm512_shuffle_i32x4(r[j], r[4 + j], 0x44), high01 = _mm512_shuffle_i32x4(r[j], r[4 + j], 0xee);
        __m512i low23 = _mm512_shuffle_i32x4(r[8 + j], r[12 + j], 0x44);
        __m512i high23 = _mm512_shuffle_i32x4(r[8 + j], r[12 + j], 0xee);
        t[j] = _mm512_shuffle_i32x4(low01, low23, 0x88);
        t[4 + j] = _mm512_shuffle_i32x4(low01, low23, 0xdd);
        t[8 + j] = _mm512_shuffle_i32x4(high01, high23, 0x88);
        t[12 + j] = _mm512_shuffle_i32x4(high01, high23, 0xdd);
    }
    for (int i = 0; i < 16; i++) r[i] = t[i];
}

/* The body of a column packer: for each block of 16 units and 16 rows, ROW(row, k, u0) gives a row's units u0 …
   u0 + 15 (zero past k), the block is transposed in registers, and each unit's 16 rows are one store. Rows past
   `rows` are zero. */
#define KX_PACK_COLUMNS_BODY(ROW)                                                                                  \
    for (uint64_t u0 = 0; u0 < units; u0 += 16) {                                                                 \
        uint64_t count = units - u0 < 16 ? units - u0 : 16;                                                        \
        for (uint64_t c0 = 0; c0 < KC_NR; c0 += 16) {                                                              \
            __m512i r[16];                                                                                         \
            for (uint64_t i = 0; i < 16; i++) {                                                                    \
                r[i] = c0 + i < rows ? ROW(src + (c0 + i) * ld, k, u0) : _mm512_setzero_si512();                   \
            }                                                                                                      \
            kx_transpose16(r);                                                                                     \
            for (uint64_t j = 0; j < count; j++) _mm512_storeu_si512(panel + (u0 + j) * KC_NR + c0, r[j]);        \
        }                                                                                                          \
    }

__attribute__((target(KX_BASE))) void kx_pack_columns_fp32(const float *src, uint64_t ld, uint64_t rows, uint64_t k,
                                                           uint32_t *panel, uint64_t units) {
    KX_PACK_COLUMNS_BODY(kx_row_units)
}

__attribute__((target(KX_BASE ",avx512bf16"))) void kx_pack_columns_bf16(const float *src, uint64_t ld, uint64_t rows,
                                                                        uint64_t k, uint32_t *panel, uint64_t units) {
    KX_PACK_COLUMNS_BODY(kx_row_pairs)
}

__attribute__((target(KX_BASE))) void kx_store_rows_f32(const kc_tile *t, const float *sums, uint64_t ld) {
    for (uint32_t i = 0; i < t->rows; i++) {
        kx_store_row(t, i, _mm512_loadu_ps(sums + i * ld), _mm512_loadu_ps(sums + i * ld + 16));
    }
}

__attribute__((target(KX_BASE))) void kx_store_rows_s32(const kc_tile *t, const int32_t *sums, uint64_t ld) {
    for (uint32_t i = 0; i < t->rows; i++) {
        kx_store_row_s32(t, i, _mm512_loadu_si512(sums + i * ld), _mm512_loadu_si512(sums + i * ld + 16));
    }
}

/* The largest of x[0, n) + mask (mask may be NULL). */
KX_INLINE float kx_row_max(const float *x, const float *mask, uint64_t n) {
    __m512 largest = _mm512_set1_ps(-INFINITY);
    for (uint64_t j = 0; j < n; j += 16) {
        __mmask16 m = kx_mask(n - j);
        __m512 v = _mm512_maskz_loadu_ps(m, x + j);
        if (mask) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, mask + j));
        largest = _mm512_mask_max_ps(largest, m, largest, v);
    }
    return _mm512_reduce_max_ps(largest);
}

/* exp(v − top) for the `m` lanes of 16 values from x (0 for the others): 2^(v·log₂e − top·log₂e), one fused
   multiply-add to the exponent (`shift` is −top·log₂e). */
KX_INLINE __m512 kx_exp_shifted(const float *x, const float *mask, __mmask16 m, __m512 shift) {
    __m512 v = _mm512_maskz_loadu_ps(m, x);
    if (mask) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, mask));
    return _mm512_maskz_mov_ps(m, kx_exp2_nonpositive(_mm512_fmadd_ps(v, _mm512_set1_ps(KX_LOG2E), shift)));
}

__attribute__((target(KX_BASE))) float kx_exp_row(float *x, const float *mask, uint64_t n) {
    float top = kx_row_max(x, mask, n);
    if (top == -INFINITY) {
        for (uint64_t j = 0; j < n; j += 16) _mm512_mask_storeu_ps(x + j, kx_mask(n - j), _mm512_setzero_ps());
        return 0.0f;
    }
    __m512 shift = _mm512_set1_ps(-top * KX_LOG2E), sum = _mm512_setzero_ps();
    for (uint64_t j = 0; j < n; j += 16) {
        __mmask16 m = kx_mask(n - j);
        __m512 e = kx_exp_shifted(x + j, mask ? mask + j : NULL, m, shift);
        sum = _mm512_add_ps(sum, e);
        _mm512_mask_storeu_ps(x + j, m, e);
    }
    return _mm512_reduce_add_ps(sum);
}

__attribute__((target(KX_BASE ",avx512bf16"))) float kx_exp_row_bf16(const float *x, uint64_t n, uint32_t *units) {
    float top = kx_row_max(x, NULL, n);
    uint64_t count = (n + 1) / 2;
    if (top == -INFINITY) {
        for (uint64_t u = 0; u < count; u += 16) {
            _mm512_mask_storeu_epi32(units + u, kx_mask(count - u), _mm512_setzero_si512());
        }
        return 0.0f;
    }
    __m512 shift = _mm512_set1_ps(-top * KX_LOG2E), sum = _mm512_setzero_ps();
    for (uint64_t u = 0; u < count; u += 16) {
        __m512 low = kx_exp_shifted(x + 2 * u, NULL, kx_tail(n, 2 * u), shift);
        __m512 high = kx_exp_shifted(x + 2 * u + 16, NULL, kx_tail(n, 2 * u + 16), shift);
        sum = _mm512_add_ps(sum, _mm512_add_ps(low, high));
        _mm512_mask_storeu_epi32(units + u, kx_mask(count - u), (__m512i)_mm512_cvtne2ps_pbh(high, low));
    }
    return _mm512_reduce_add_ps(sum);
}

__attribute__((target(KX_BASE))) void kx_layer_norm_row(const float *x, float *y, const float *gamma, const float *beta,
                                                        float eps, uint64_t n) {
    __m512 sum = _mm512_setzero_ps();
    for (uint64_t j = 0; j < n; j += 16) sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(kx_mask(n - j), x + j));
    __m512 mean = _mm512_set1_ps(_mm512_reduce_add_ps(sum) / (float)n);
    __m512 squares = _mm512_setzero_ps();
    for (uint64_t j = 0; j < n; j += 16) {
        __mmask16 m = kx_mask(n - j);
        __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + j), mean);
        squares = _mm512_fmadd_ps(d, d, squares);
    }
    __m512 inverse = _mm512_set1_ps(1.0f / sqrtf(_mm512_reduce_add_ps(squares) / (float)n + eps));
    for (uint64_t j = 0; j < n; j += 16) {
        __mmask16 m = kx_mask(n - j);
        __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + j), mean), inverse);
        __m512 v = _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, gamma + j), _mm512_maskz_loadu_ps(m, beta + j));
        _mm512_mask_storeu_ps(y + j, m, v);
    }
}
