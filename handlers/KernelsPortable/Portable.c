/* KernelsPortable: the reference kernel plugin. Plain C, no instruction-set-specific code; correct on
   every CPU, and the reference the other kernel plugins are tested against. */
#include <kernels_core.h>

static const kc_impl portable = {
    .path = {
        [CONFIDE_PRECISION_FP32] = {.mr = 8, .a_layout = KC_A_PANELS, .micro = kc_scalar_micro_fp32},
        [CONFIDE_PRECISION_BF16] = {.mr = 8, .a_layout = KC_A_PANELS, .micro = kc_scalar_micro_bf16},
        [CONFIDE_PRECISION_INT8] = {.mr = 8, .a_layout = KC_A_PANELS, .micro = kc_scalar_micro_int8},
    },
    .softmax_row = kc_scalar_softmax_row,
    .layer_norm_row = kc_scalar_layer_norm_row,
};

static ConfideError *gemm(const ConfidePackedWeights *w, uint64_t m, const float *a, uint64_t lda, float *c,
                          uint64_t ldc, const ConfideEpilogue *epilogue) {
    return kc_gemm(&portable, w, m, a, lda, c, ldc, epilogue);
}

static ConfideError *batched_matmul(const ConfideBatchedMatmul *desc) { return kc_batched_matmul(&portable, desc); }

static ConfideError *softmax(const ConfideSoftmax *desc) { return kc_softmax(&portable, desc); }

static ConfideError *layer_norm(uint64_t rows, uint64_t cols, const float *x, uint64_t ldx, const float *gamma,
                                const float *beta, float eps, float *y, uint64_t ldy) {
    return kc_layer_norm(&portable, rows, cols, x, ldx, gamma, beta, eps, y, ldy);
}

static const ConfideKernelApi table = {
    .struct_size = sizeof(ConfideKernelApi),
    .rank = 0,
    .required_features = 0,
    .init = kc_init,
    .pack_weights = kc_pack_weights,
    .packed_free = kc_packed_free,
    .gemm = gemm,
    .batched_matmul = batched_matmul,
    .softmax = softmax,
    .layer_norm = layer_norm,
};

static const ConfidePluginDescriptor descriptor = {
    .struct_size = sizeof(ConfidePluginDescriptor),
    .abi_major = CONFIDE_ABI_MAJOR,
    .abi_minor = CONFIDE_ABI_MINOR,
    .kind = CONFIDE_PLUGIN_KERNELS,
    .name = "portable",
    .version = "1.0.0",
    .compiler = "clang " __clang_version__,
    .description = "portable C kernels (FP32, BF16, INT8): correct on every CPU, the reference",
    .min_host_abi_minor = 2,
    .api = &table,
};

__attribute__((visibility("default"))) const ConfidePluginDescriptor *confide_plugin_entry(uint32_t major, uint32_t minor) {
    (void)major;
    (void)minor;
    return &descriptor;
}
