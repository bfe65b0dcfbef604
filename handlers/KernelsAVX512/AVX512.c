/* KernelsAVX512: FP32 with FMA, BF16 with AVX512_BF16 (vdpbf16ps) and INT8 with AVX512_VNNI
   (vpdpbusd), 8 × 32 register-blocked micro-kernels on packed panels. */
#include <kernels_x86.h>

static const kc_impl avx512 = {
    .path = {
        [CONFIDE_PRECISION_FP32] = {.mr = KX_MR, .a_layout = KC_A_ROWS, .micro = kx_micro_fp32, .pack_row = kx_pack_row_fp32,
                                    .pack_columns = kx_pack_columns_fp32},
        [CONFIDE_PRECISION_BF16] = {.mr = KX_MR, .a_layout = KC_A_ROWS, .micro = kx_micro_bf16, .pack_row = kx_pack_row_bf16,
                                    .pack_columns = kx_pack_columns_bf16,
                                    .pack_pairs = kx_pack_pairs_bf16},
        [CONFIDE_PRECISION_INT8] = {.mr = KX_MR, .a_layout = KC_A_ROWS, .micro = kx_micro_int8, .pack_row = kx_pack_row_int8},
    },
    .exp_row = kx_exp_row,
    .exp_row_bf16 = kx_exp_row_bf16,
    .layer_norm_row = kx_layer_norm_row,
};

KC_DEFINE_PLUGIN(avx512, kc_init, "avx512", 100,
                 KX_FEATURES_BASE | CONFIDE_CPU_AVX512_BF16 | CONFIDE_CPU_AVX512_VNNI,
                 "AVX-512 kernels: FP32 (FMA), BF16 (vdpbf16ps), INT8 (vpdpbusd)")
