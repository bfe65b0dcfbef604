/* KernelsAVX512: FP32 with FMA, BF16 with AVX512_BF16 (vdpbf16ps) and INT8 with AVX512_VNNI
   (vpdpbusd), 8 × 32 register-blocked micro-kernels on packed panels. */
#include <kernels_x86.h>

static const kc_impl avx512 = {
    .path = {
        [CONFIDE_PRECISION_FP32] = {.mr = KX_MR, .a_layout = KC_A_PANELS, .micro = kx_micro_fp32, .pack_row = kx_pack_row_fp32},
        [CONFIDE_PRECISION_BF16] = {.mr = KX_MR, .a_layout = KC_A_PANELS, .micro = kx_micro_bf16, .pack_row = kx_pack_row_bf16},
        [CONFIDE_PRECISION_INT8] = {.mr = KX_MR, .a_layout = KC_A_PANELS, .micro = kx_micro_int8, .pack_row = kx_pack_row_int8},
    },
    .softmax_row = kx_softmax_row,
    .layer_norm_row = kx_layer_norm_row,
};

static ConfideError *gemm(const ConfidePackedWeights *w, uint64_t m, const float *a, uint64_t lda, float *c,
                          uint64_t ldc, const ConfideEpilogue *epilogue) {
    return kc_gemm(&avx512, w, m, a, lda, c, ldc, epilogue);
}

static ConfideError *batched_matmul(const ConfideBatchedMatmul *desc) { return kc_batched_matmul(&avx512, desc); }

static ConfideError *softmax(const ConfideSoftmax *desc) { return kc_softmax(&avx512, desc); }

static ConfideError *layer_norm(uint64_t rows, uint64_t cols, const float *x, uint64_t ldx, const float *gamma,
                                const float *beta, float eps, float *y, uint64_t ldy) {
    return kc_layer_norm(&avx512, rows, cols, x, ldx, gamma, beta, eps, y, ldy);
}

static const ConfideKernelApi table = {
    .struct_size = sizeof(ConfideKernelApi),
    .rank = 100,
    .required_features = KX_FEATURES_BASE | CONFIDE_CPU_AVX512_BF16 | CONFIDE_CPU_AVX512_VNNI,
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
    .name = "avx512",
    .version = "1.0.0",
    .compiler = "clang " __clang_version__,
    .description = "AVX-512 kernels: FP32 (FMA), BF16 (vdpbf16ps), INT8 (vpdpbusd)",
    .min_host_abi_minor = 2,
    .api = &table,
};

__attribute__((visibility("default"))) const ConfidePluginDescriptor *confide_plugin_entry(uint32_t major, uint32_t minor) {
    (void)major;
    (void)minor;
    return &descriptor;
}
