/* KernelsAVX2: FP32 with FMA, BF16 widened to FP32 in registers, and INT8 with vpmaddubsw on signed bytes, for
   x86-64 CPUs with AVX2 and FMA but not the AVX-512 of the avx512 plugin (Haswell to Alder Lake, Zen 1 to 3, and
   virtual machines that hide AVX-512). The micro-kernels keep 6 (FP32) or 4 (BF16, INT8) rows × 16 columns of C
   in registers and pass over a 32-column weight panel in two halves; A is read in the row layout, FP32 in place. */
#include <kernels_core.h>

#include <immintrin.h>
#include <math.h>

#define KA_TARGET "avx2,fma"
#define KA_INLINE static inline __attribute__((always_inline, target(KA_TARGET)))
#define KA_FUNCTION static __attribute__((target(KA_TARGET)))

#define KA_MR_FP32 6u   /* 12 accumulators, two weight vectors and a broadcast: 15 of the 16 ymm registers */
#define KA_MR 4u        /* BF16 and INT8: their products need more registers per row */
#define KA_HALF 16u     /* columns per pass over a panel */
#define KA_PREFETCH_UNITS 64u
#define KA_LOG2E 1.44269504088896341f

/* The first `remaining` of eight lanes, as a vmaskmov mask. */
KA_INLINE __m256i ka_mask(uint64_t remaining) {
    int32_t lanes = remaining >= 8 ? 8 : (int32_t)remaining;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Eight floats from p, of which the first `remaining` are read (the others are 0). */
KA_INLINE __m256 ka_load(const float *p, uint64_t remaining) {
    return remaining >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, ka_mask(remaining));
}

/* Stores the first `remaining` of eight floats at p. */
KA_INLINE void ka_store(float *p, uint64_t remaining, __m256 v) {
    if (remaining >= 8) {
        _mm256_storeu_ps(p, v);
    } else {
        _mm256_maskstore_ps(p, ka_mask(remaining), v);
    }
}

KA_INLINE float ka_sum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

KA_INLINE float ka_max8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}

/* GELU as the AVX-512 plugin computes it: x/2 · (1 + erf(x/√2)) with erfc(z) ≈ (1 + a1·z + … + a6·z⁶)^−16
   (Abramowitz & Stegun 7.1.28), within 8.2e-7 absolute of erf in Double; one divide. */
KA_INLINE __m256 ka_gelu(__m256 x) {
    __m256 z = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f)));
    static const float coefficients[] = {4.30638e-5f, 2.765672e-4f, 1.520143e-4f, 9.2705272e-3f, 4.22820123e-2f,
                                         7.05230784e-2f, 1.0f};
    __m256 p = _mm256_set1_ps(coefficients[0]);
    for (int index = 1; index < 7; index++) p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(coefficients[index]));
    for (int square = 0; square < 4; square++) p = _mm256_mul_ps(p, p);
    /* p overflows to ∞ from |x| ≈ 20 on; capped at the largest float, its reciprocal is 0 to float precision. */
    __m256 erfc = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_min_ps(p, _mm256_set1_ps(3.40282347e38f)));
    __m256 negative = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 one_plus_erf = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), erfc), erfc, negative);
    return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.5f)), one_plus_erf);
}

/* Finishes columns col … col + 7 of one row of a tile: scale, accumulate into C across chunks, and on the last
   chunk apply the epilogue. Columns past the tile's are neither read nor written. */
KA_INLINE void ka_store_row8(const kc_tile *t, uint32_t row, uint32_t col, __m256 v) {
    if (col >= t->cols) return;
    uint64_t remaining = t->cols - col;
    float *c = t->c + row * t->ldc + col;
    if (t->alpha != 1.0f) v = _mm256_mul_ps(v, _mm256_set1_ps(t->alpha));
    if (t->row_alpha) v = _mm256_mul_ps(v, _mm256_set1_ps(t->row_alpha[row]));
    if (!t->first) v = _mm256_add_ps(v, ka_load(c, remaining));
    if (t->last && t->flags) {
        if (t->flags & CONFIDE_EPILOGUE_BIAS) v = _mm256_add_ps(v, ka_load(t->bias + col, remaining));
        if (t->flags & CONFIDE_EPILOGUE_GELU) v = ka_gelu(v);
        if (t->flags & CONFIDE_EPILOGUE_RESIDUAL) {
            v = _mm256_add_ps(v, ka_load(t->residual + row * t->ldr + col, remaining));
        }
    }
    ka_store(c, remaining, v);
}

/* Dequantizes eight INT8 sums (exact sums of signed products: no column compensation) and finishes them. */
KA_INLINE void ka_store_row8_s32(const kc_tile *t, uint32_t row, uint32_t col, __m256i sums) {
    if (col >= t->cols) return;
    __m256 scale = _mm256_mul_ps(_mm256_set1_ps(t->row_scale[row]), ka_load(t->col_scale + col, t->cols - col));
    ka_store_row8(t, row, col, _mm256_mul_ps(_mm256_cvtepi32_ps(sums), scale));
}

/* One micro-kernel body for `mr` (a constant after inlining) rows and the 16 columns from `half`: the accumulators
   of rows past `mr` never exist, and rows past the tile's read its last row and are never stored. Each weight
   unit's 16 columns are two vectors (W_LOAD), each row's unit one broadcast (A_LOAD); STEP folds them into the
   row's two accumulators. The weights KA_PREFETCH_UNITS ahead, and the tile's far prefetch (the driver's next
   chunk, else the panel itself), are asked for on the way. */
#define KA_MICRO_BODY(ACC, ZERO, W, W_LOAD, A_LOAD, STEP, STORE, MR_MAX)                                          \
    const uint32_t *rows[MR_MAX];                                                                                  \
    _Pragma("clang loop unroll(full)") for (uint32_t i = 0; i < mr; i++) {                                         \
        rows[i] = t->a + (i < t->rows ? i : t->rows - 1) * t->a_row_units;                                         \
    }                                                                                                              \
    const char *far = t->prefetch ? t->prefetch : (const char *)t->b;                                              \
    for (uint32_t half = 0; half < KC_NR && half < t->cols; half += KA_HALF) {                                     \
        ACC s0[MR_MAX], s1[MR_MAX];                                                                                \
        _Pragma("clang loop unroll(full)") for (uint32_t i = 0; i < mr; i++) s0[i] = s1[i] = ZERO;                 \
        const uint32_t *b = t->b + half;                                                                           \
        _Pragma("clang loop unroll_count(2)") for (uint64_t u = 0; u < t->units; u++, b += KC_NR) {                \
            W w0 = W_LOAD(b), w1 = W_LOAD(b + 8);                                                                  \
            _mm_prefetch((const char *)(b + KA_PREFETCH_UNITS * KC_NR), _MM_HINT_T0);                              \
            _mm_prefetch(far + u * KC_PREFETCH_LINE, _MM_HINT_T1);                                                 \
            _Pragma("clang loop unroll(full)") for (uint32_t i = 0; i < mr; i++) {                                 \
                STEP(s0[i], s1[i], A_LOAD(rows[i] + u), w0, w1);                                                   \
            }                                                                                                      \
        }                                                                                                          \
        _Pragma("clang loop unroll(full)") for (uint32_t i = 0; i < mr; i++) {                                     \
            if (i < t->rows) {                                                                                     \
                STORE(t, i, half, s0[i]);                                                                          \
                STORE(t, i, half + 8, s1[i]);                                                                      \
            }                                                                                                      \
        }                                                                                                          \
    }

/* Calls BODY(t, mr) with the smallest of LARGEST, 4, 2, 1 rows that covers the tile's. */
#define KA_MICRO_DISPATCH(BODY, t, LARGEST)                                                                        \
    do {                                                                                                           \
        if ((t)->rows > 4) BODY(t, LARGEST);                                                                       \
        else if ((t)->rows > 2) BODY(t, 4);                                                                        \
        else if ((t)->rows > 1) BODY(t, 2);                                                                        \
        else BODY(t, 1);                                                                                           \
    } while (0)

/* ---- FP32: one FMA per row and weight vector ---- */

#define KA_FP32_W_LOAD(p) _mm256_load_ps((const float *)(p))
#define KA_FP32_A_LOAD(p) _mm256_broadcast_ss((const float *)(p))
#define KA_FP32_STEP(c0, c1, a, w0, w1)                                                                            \
    do {                                                                                                           \
        __m256 a_ = (a);                                                                                           \
        c0 = _mm256_fmadd_ps(a_, w0, c0);                                                                          \
        c1 = _mm256_fmadd_ps(a_, w1, c1);                                                                          \
    } while (0)

KA_INLINE void ka_micro_fp32_rows(const kc_tile *t, const uint32_t mr) {
    KA_MICRO_BODY(__m256, _mm256_setzero_ps(), __m256, KA_FP32_W_LOAD, KA_FP32_A_LOAD, KA_FP32_STEP, ka_store_row8,
                  KA_MR_FP32)
}

KA_FUNCTION void ka_micro_fp32(const kc_tile *t) { KA_MICRO_DISPATCH(ka_micro_fp32_rows, t, KA_MR_FP32); }

/* ---- BF16: a unit holds values k (low half) and k + 1 (high half); shifted or masked, each is an FP32 value ---- */

typedef struct ka_bf16_weights {
    __m256 low, high;
} ka_bf16_weights;

KA_INLINE ka_bf16_weights ka_bf16_w_load(const uint32_t *p) {
    __m256i units = _mm256_load_si256((const __m256i *)p);
    ka_bf16_weights w = {
        _mm256_castsi256_ps(_mm256_slli_epi32(units, 16)),
        _mm256_castsi256_ps(_mm256_and_si256(units, _mm256_set1_epi32((int)0xffff0000u))),
    };
    return w;
}

#define KA_BF16_A_LOAD(p) _mm256_set1_epi32((int)*(p))
#define KA_BF16_STEP(c0, c1, a, w0, w1)                                                                            \
    do {                                                                                                           \
        __m256i a_ = (a);                                                                                          \
        __m256 low_ = _mm256_castsi256_ps(_mm256_slli_epi32(a_, 16));                                              \
        __m256 high_ = _mm256_castsi256_ps(_mm256_and_si256(a_, _mm256_set1_epi32((int)0xffff0000u)));             \
        c0 = _mm256_fmadd_ps(high_, w0.high, _mm256_fmadd_ps(low_, w0.low, c0));                                   \
        c1 = _mm256_fmadd_ps(high_, w1.high, _mm256_fmadd_ps(low_, w1.low, c1));                                   \
    } while (0)

KA_INLINE void ka_micro_bf16_rows(const kc_tile *t, const uint32_t mr) {
    KA_MICRO_BODY(__m256, _mm256_setzero_ps(), ka_bf16_weights, ka_bf16_w_load, KA_BF16_A_LOAD, KA_BF16_STEP,
                  ka_store_row8, KA_MR)
}

KA_FUNCTION void ka_micro_bf16(const kc_tile *t) { KA_MICRO_DISPATCH(ka_micro_bf16_rows, t, KA_MR); }

/* ---- INT8: signed activations (ka_pack_row_int8) times signed weights. vpmaddubsw multiplies unsigned by signed
   bytes, so it gets |a| and the weights with a's sign: |a|, |w| ≤ 127 keep each pair's sum within ±32,258, exact
   in its int16; vpmaddwd by ones then adds the pairs of a unit into int32. ---- */

#define KA_INT8_W_LOAD(p) _mm256_load_si256((const __m256i *)(p))
#define KA_INT8_A_LOAD(p) _mm256_set1_epi32((int)*(p))
#define KA_INT8_PRODUCT(a, magnitude, w)                                                                           \
    _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(w, a)), _mm256_set1_epi16(1))
#define KA_INT8_STEP(s0, s1, a, w0, w1)                                                                            \
    do {                                                                                                           \
        __m256i a_ = (a), magnitude_ = _mm256_abs_epi8(a_);                                                        \
        s0 = _mm256_add_epi32(s0, KA_INT8_PRODUCT(a_, magnitude_, w0));                                            \
        s1 = _mm256_add_epi32(s1, KA_INT8_PRODUCT(a_, magnitude_, w1));                                            \
    } while (0)

KA_INLINE void ka_micro_int8_rows(const kc_tile *t, const uint32_t mr) {
    KA_MICRO_BODY(__m256i, _mm256_setzero_si256(), __m256i, KA_INT8_W_LOAD, KA_INT8_A_LOAD, KA_INT8_STEP,
                  ka_store_row8_s32, KA_MR)
}

KA_FUNCTION void ka_micro_int8(const kc_tile *t) { KA_MICRO_DISPATCH(ka_micro_int8_rows, t, KA_MR); }

/* Writes `count` (≤ 8) units at dst[u·step], ... */
KA_INLINE void ka_put_units(uint32_t *dst, uint64_t step, uint64_t u, uint64_t count, __m256i units) {
    if (step == 1 && count == 8) {
        _mm256_storeu_si256((__m256i *)(dst + u), units);
        return;
    }
    uint32_t values[8];
    _mm256_storeu_si256((__m256i *)values, units);
    for (uint64_t i = 0; i < count; i++) dst[(u + i) * step] = values[i];
}

/* Eight values rounded to BF16 (nearest, ties to even; NaN stays NaN), in the low halves of their lanes. */
KA_INLINE __m256i ka_bf16(__m256 v) {
    __m256i bits = _mm256_castps_si256(v);
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(bits, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff))), 16);
    __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(0x7fffffff)),
                                     _mm256_set1_epi32(0x7f800000));
    __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(0x40));
    return _mm256_blendv_epi8(rounded, quiet, nan);
}

/* One row of A as BF16 pairs: unit u holds values 2u (low half) and 2u + 1, zero past k. */
KA_FUNCTION void ka_pack_row_bf16(const float *src, uint64_t k, uint32_t *dst, uint64_t step, uint64_t units,
                                  float *row_scale) {
    (void)row_scale;
    for (uint64_t u = 0; u < units; u += 8) {
        uint64_t base = 2 * u;
        __m256i low = ka_bf16(ka_load(src + base, k > base ? k - base : 0));
        __m256i high = ka_bf16(ka_load(src + base + 8, k > base + 8 ? k - base - 8 : 0));
        /* packus interleaves the two by 128-bit lane; the permutation puts the four quarters back in order. */
        __m256i pairs = _mm256_permute4x64_epi64(_mm256_packus_epi32(low, high), 0xd8);
        ka_put_units(dst, step, u, units - u < 8 ? units - u : 8, pairs);
    }
}

/* One row of A quantized to signed bytes (the portable scale: 127 / the row's largest magnitude, rounded to
   nearest even), four to a unit, zero past k. */
KA_FUNCTION void ka_pack_row_int8(const float *src, uint64_t k, uint32_t *dst, uint64_t step, uint64_t units,
                                  float *row_scale) {
    __m256 largest = _mm256_setzero_ps();
    for (uint64_t j = 0; j < k; j += 8) {
        largest = _mm256_max_ps(largest, _mm256_andnot_ps(_mm256_set1_ps(-0.0f), ka_load(src + j, k - j)));
    }
    float top = ka_max8(largest);
    *row_scale = top / 127.0f;
    __m256 inverse = _mm256_set1_ps(top > 0.0f ? 127.0f / top : 0.0f);
    __m256 bound = _mm256_set1_ps(127.0f);
    for (uint64_t u = 0; u < units; u += 8) {
        __m256i q[4];
        for (uint64_t part = 0; part < 4; part++) {
            uint64_t base = 4 * u + 8 * part;
            __m256 v = _mm256_mul_ps(ka_load(src + base, k > base ? k - base : 0), inverse);
            v = _mm256_min_ps(_mm256_max_ps(v, _mm256_sub_ps(_mm256_setzero_ps(), bound)), bound);
            q[part] = _mm256_cvtps_epi32(v);
        }
        /* The saturating packs narrow by 128-bit lane: unit i of the result holds units 0, 2, 4, 6, 1, 3, 5, 7 of
           the row's eight, which the permutation puts in order. */
        __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        __m256i units8 = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        ka_put_units(dst, step, u, units - u < 8 ? units - u : 8, units8);
    }
}

/* ---- Row operations ---- */

/* 2^t for t ≤ 0 (as the AVX-512 plugin's): t = n + f with n an integer and |f| ≤ ½, 2^f by a degree-5 polynomial,
   scaled by 2^n as two normal powers of two, so that results from −126 on round once to denormals and below −151
   (−∞ included) are 0. */
KA_INLINE __m256 ka_exp2_nonpositive(__m256 t) {
    t = _mm256_max_ps(t, _mm256_set1_ps(-152.0f));
    __m256 n = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_sub_ps(t, n);
    __m256 p = _mm256_set1_ps(1.3395285364e-3f);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.6707678753e-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.5503406681e-2f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4022211658e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.9314720007e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0000000523f));
    __m256i whole = _mm256_cvtps_epi32(n), first = _mm256_srai_epi32(whole, 1);
    __m256i bias = _mm256_set1_epi32(127);
    __m256 scale1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(first, bias), 23));
    __m256 scale2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(whole, first), bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, scale1), scale2);
}

KA_FUNCTION float ka_exp_row(float *x, const float *mask, uint64_t n) {
    __m256 largest = _mm256_set1_ps(-INFINITY);
    for (uint64_t j = 0; j < n; j += 8) {
        __m256 v = ka_load(x + j, n - j);
        if (mask) v = _mm256_add_ps(v, ka_load(mask + j, n - j));
        v = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), v, _mm256_castsi256_ps(ka_mask(n - j)));
        largest = _mm256_max_ps(largest, v);
    }
    float top = ka_max8(largest);
    if (top == -INFINITY) {
        for (uint64_t j = 0; j < n; j += 8) ka_store(x + j, n - j, _mm256_setzero_ps());
        return 0.0f;
    }
    __m256 shift = _mm256_set1_ps(-top * KA_LOG2E), sum = _mm256_setzero_ps();
    for (uint64_t j = 0; j < n; j += 8) {
        __m256 v = ka_load(x + j, n - j);
        if (mask) v = _mm256_add_ps(v, ka_load(mask + j, n - j));
        __m256 e = ka_exp2_nonpositive(_mm256_fmadd_ps(v, _mm256_set1_ps(KA_LOG2E), shift));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(ka_mask(n - j)));
        sum = _mm256_add_ps(sum, e);
        ka_store(x + j, n - j, e);
    }
    return ka_sum8(sum);
}

KA_FUNCTION void ka_layer_norm_row(const float *x, float *y, const float *gamma, const float *beta, float eps,
                                   uint64_t n) {
    __m256 sum = _mm256_setzero_ps();
    for (uint64_t j = 0; j < n; j += 8) sum = _mm256_add_ps(sum, ka_load(x + j, n - j));
    __m256 mean = _mm256_set1_ps(ka_sum8(sum) / (float)n);
    __m256 squares = _mm256_setzero_ps();
    for (uint64_t j = 0; j < n; j += 8) {
        __m256 d = _mm256_and_ps(_mm256_sub_ps(ka_load(x + j, n - j), mean), _mm256_castsi256_ps(ka_mask(n - j)));
        squares = _mm256_fmadd_ps(d, d, squares);
    }
    __m256 inverse = _mm256_set1_ps(1.0f / sqrtf(ka_sum8(squares) / (float)n + eps));
    for (uint64_t j = 0; j < n; j += 8) {
        __m256 d = _mm256_mul_ps(_mm256_sub_ps(ka_load(x + j, n - j), mean), inverse);
        ka_store(y + j, n - j, _mm256_fmadd_ps(d, ka_load(gamma + j, n - j), ka_load(beta + j, n - j)));
    }
}

static const kc_impl avx2 = {
    .path = {
        [CONFIDE_PRECISION_FP32] = {.mr = KA_MR_FP32, .a_layout = KC_A_ROWS, .micro = ka_micro_fp32},
        [CONFIDE_PRECISION_BF16] = {.mr = KA_MR, .a_layout = KC_A_ROWS, .micro = ka_micro_bf16,
                                    .pack_row = ka_pack_row_bf16},
        [CONFIDE_PRECISION_INT8] = {.mr = KA_MR, .a_layout = KC_A_ROWS, .micro = ka_micro_int8,
                                    .pack_row = ka_pack_row_int8},
    },
    .exp_row = ka_exp_row,
    .layer_norm_row = ka_layer_norm_row,
};

KC_DEFINE_PLUGIN(avx2, kc_init, "avx2", 50, CONFIDE_CPU_AVX2 | CONFIDE_CPU_FMA,
                 "AVX2 kernels: FP32 (FMA), BF16 (widened to FP32), INT8 (vpmaddubsw)")
