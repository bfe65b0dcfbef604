/* KernelsPortable: the reference kernel plugin. Plain C, no instruction-set-specific code; correct on
   every CPU, and the reference the other kernel plugins are tested against. */
#include <kernels_core.h>

static const kc_impl portable = {
    .path = {
        [CONFIDE_PRECISION_FP32] = {.mr = 8, .a_layout = KC_A_PANELS, .micro = kc_scalar_micro_fp32},
        [CONFIDE_PRECISION_BF16] = {.mr = 8, .a_layout = KC_A_PANELS, .micro = kc_scalar_micro_bf16},
        [CONFIDE_PRECISION_INT8] = {.mr = 8, .a_layout = KC_A_PANELS, .micro = kc_scalar_micro_int8},
    },
    .exp_row = kc_scalar_exp_row,
    .layer_norm_row = kc_scalar_layer_norm_row,
};

KC_DEFINE_PLUGIN(portable, kc_init, "portable", 0,
                 0,
                 "portable C kernels (FP32, BF16, INT8): correct on every CPU, the reference")
