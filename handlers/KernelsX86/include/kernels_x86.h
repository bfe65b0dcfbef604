/* kernels_x86.h — AVX-512 micro-kernels and row operations shared by the AVX-512 and AMX kernel
   plugins. Every function is compiled with a target attribute, so an image holding them loads on any
   x86-64 CPU; call one only when the CPU has its features (see each comment). */
#ifndef KERNELS_X86_H
#define KERNELS_X86_H

#include <kernels_core.h>

/** The features every function here needs, and the extras of the BF16 and INT8 micro-kernels. */
#define KX_FEATURES_BASE (CONFIDE_CPU_AVX512F | CONFIDE_CPU_AVX512BW | CONFIDE_CPU_AVX512VL | CONFIDE_CPU_AVX512DQ | CONFIDE_CPU_FMA)

/** Rows of the AVX-512 micro-kernels, which read A in the row layout (KC_A_ROWS). */
#define KX_MR 8u

/** 8 × 32 FP32 micro-kernel (FMA). */
KC_HIDDEN void kx_micro_fp32(const kc_tile *tile);
/** 8 × 32 BF16 micro-kernel (vdpbf16ps); needs AVX512_BF16. */
KC_HIDDEN void kx_micro_bf16(const kc_tile *tile);
/** 8 × 32 INT8 micro-kernel (vpdpbusd); needs AVX512_VNNI. */
KC_HIDDEN void kx_micro_int8(const kc_tile *tile);
/** Row converters for kc_path.pack_row: FP32 copy, BF16 pairs (needs AVX512_BF16), uint8 quads. */
KC_HIDDEN void kx_pack_row_fp32(const float *src, uint64_t k, uint32_t *dst, uint64_t step, uint64_t units, float *row_scale);
KC_HIDDEN void kx_pack_row_bf16(const float *src, uint64_t k, uint32_t *dst, uint64_t step, uint64_t units, float *row_scale);
KC_HIDDEN void kx_pack_row_int8(const float *src, uint64_t k, uint32_t *dst, uint64_t step, uint64_t units, float *row_scale);
/** Column packers for kc_path.pack_columns (16 × 16 transposes in registers): FP32, and BF16 pairs (needs
    AVX512_BF16). */
KC_HIDDEN void kx_pack_columns_fp32(const float *src, uint64_t ld, uint64_t rows, uint64_t k, uint32_t *panel, uint64_t units);
KC_HIDDEN void kx_pack_columns_bf16(const float *src, uint64_t ld, uint64_t rows, uint64_t k, uint32_t *panel, uint64_t units);
/** BF16 pair interleaver for kc_path.pack_pairs (attention's V); needs AVX512_BF16. */
KC_HIDDEN void kx_pack_pairs_bf16(const float *low, const float *high, uint64_t cols, uint32_t *units);
/** Finishes `tile->rows` rows of a tile from FP32 sums laid out with `ld` floats between rows. */
KC_HIDDEN void kx_store_rows_f32(const kc_tile *tile, const float *sums, uint64_t ld);
/** Finishes `tile->rows` rows of a tile from INT8 int32 sums laid out with `ld` values between rows. */
KC_HIDDEN void kx_store_rows_s32(const kc_tile *tile, const int32_t *sums, uint64_t ld);
KC_HIDDEN float kx_exp_row(float *x, const float *mask, uint64_t n);
/** exp_row_bf16 (needs AVX512_BF16). */
KC_HIDDEN float kx_exp_row_bf16(const float *x, uint64_t n, uint32_t *units);
KC_HIDDEN void kx_layer_norm_row(const float *x, float *y, const float *gamma, const float *beta, float eps, uint64_t n);

#endif /* KERNELS_X86_H */
