/* KernelsAMX: BF16 (tdpbf16ps) and INT8 (tdpbusd) on Intel AMX tiles, FP32 with AVX-512 FMA.
   A micro-tile is 32 × 32: four 16 × 16 FP32/int32 accumulator tiles (0-3), two A tiles of 16 rows
   (4, 5) loaded straight from row-major packed A, two B tiles (6, 7) loaded from the same
   [K/2][N][2] / [K/4][N][4] weight panels the AVX-512 kernels use (row stride 128 bytes). */
#include <kernels_x86.h>

#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AMX_TARGET "amx-tile,amx-bf16,amx-int8,avx512f,avx512bw,avx512vl,avx512dq,fma"
#define AMX_MR 32u
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

typedef struct amx_config {
    uint8_t palette;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_config;

__attribute__((target(AMX_TARGET))) static void amx_begin(void) {
    amx_config config;
    memset(&config, 0, sizeof config);
    config.palette = 1;
    for (int tile = 0; tile < 8; tile++) {
        config.rows[tile] = 16;
        config.colsb[tile] = 64;
    }
    _tile_loadconfig(&config);
}

__attribute__((target(AMX_TARGET))) static void amx_end(void) { _tile_release(); }

#define AMX_LOAD_AB(u)                                                                                             \
    do {                                                                                                           \
        _tile_loadd(4, a + (u) * 4, stride);                                                                       \
        _tile_loadd(5, a + 16 * stride + (u) * 4, stride);                                                         \
        _tile_loadd(6, b + (u) * KC_NR * 4, KC_NR * 4);                                                            \
        _tile_loadd(7, b + (u) * KC_NR * 4 + 64, KC_NR * 4);                                                       \
    } while (0)

#define AMX_STORE_C(out)                                                                                           \
    do {                                                                                                           \
        _tile_stored(0, (out), 128);                                                                               \
        _tile_stored(1, (out) + 16, 128);                                                                          \
        _tile_stored(2, (out) + 16 * 32, 128);                                                                     \
        _tile_stored(3, (out) + 16 * 32 + 16, 128);                                                                \
    } while (0)

__attribute__((target(AMX_TARGET))) static void amx_micro_bf16(const kc_tile *t) {
    const uint8_t *a = (const uint8_t *)t->a, *b = (const uint8_t *)t->b;
    uint64_t stride = t->a_row_units * 4;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (uint64_t u = 0; u < t->units; u += 16) {
        AMX_LOAD_AB(u);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    float out[32 * 32] __attribute__((aligned(64)));
    AMX_STORE_C(out);
    kx_store_rows_f32(t, out, 32);
}

__attribute__((target(AMX_TARGET))) static void amx_micro_int8(const kc_tile *t) {
    const uint8_t *a = (const uint8_t *)t->a, *b = (const uint8_t *)t->b;
    uint64_t stride = t->a_row_units * 4;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (uint64_t u = 0; u < t->units; u += 16) {
        AMX_LOAD_AB(u);
        _tile_dpbusd(0, 4, 6);
        _tile_dpbusd(1, 4, 7);
        _tile_dpbusd(2, 5, 6);
        _tile_dpbusd(3, 5, 7);
    }
    int32_t out[32 * 32] __attribute__((aligned(64)));
    AMX_STORE_C(out);
    kx_store_rows_s32(t, out, 32);
}

/* Attention's products are small and their K (a head, a sequence) is rarely a multiple of AMX's 16 rows:
   they run on the AVX-512 micro-kernels. */
static const kc_path attention_paths[4] = {
    [CONFIDE_PRECISION_FP32] = {.mr = KX_MR, .a_layout = KC_A_ROWS, .micro = kx_micro_fp32, .pack_row = kx_pack_row_fp32,
                                    .pack_columns = kx_pack_columns_fp32},
    [CONFIDE_PRECISION_BF16] = {.mr = KX_MR, .a_layout = KC_A_ROWS, .micro = kx_micro_bf16, .pack_row = kx_pack_row_bf16,
                                    .pack_columns = kx_pack_columns_bf16,
                                    .pack_pairs = kx_pack_pairs_bf16},
};

static const kc_impl amx = {
    .path = {
        [CONFIDE_PRECISION_FP32] = {.mr = KX_MR, .a_layout = KC_A_ROWS, .micro = kx_micro_fp32, .pack_row = kx_pack_row_fp32},
        [CONFIDE_PRECISION_BF16] = {.mr = AMX_MR, .a_layout = KC_A_ROWS, .micro = amx_micro_bf16, .pack_row = kx_pack_row_bf16,
                                    .thread_begin = amx_begin, .thread_end = amx_end},
        [CONFIDE_PRECISION_INT8] = {.mr = AMX_MR, .a_layout = KC_A_ROWS, .micro = amx_micro_int8, .pack_row = kx_pack_row_int8,
                                    .thread_begin = amx_begin, .thread_end = amx_end},
    },
    .attention_path = attention_paths,
    .exp_row = kx_exp_row,
    .exp_row_bf16 = kx_exp_row_bf16,
    .layer_norm_row = kx_layer_norm_row,
};

/* Asks Linux for the AMX tile state (idempotent), then keeps the host table. */
static ConfideError *init(const ConfideHostApi *host) {
    ConfideError *error = kc_init(host);
    if (error != NULL || host == NULL) return error;
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) {
        return host->error_new(CONFIDE_ERROR_UNSUPPORTED, "amx: the kernel refused the AMX tile state (arch_prctl)");
    }
    return NULL;
}

KC_DEFINE_PLUGIN(amx, init, "amx", 200,
                 KX_FEATURES_BASE | CONFIDE_CPU_AVX512_BF16 | CONFIDE_CPU_AMX_TILE | CONFIDE_CPU_AMX_BF16 | CONFIDE_CPU_AMX_INT8,
                 "Intel AMX kernels: BF16 (tdpbf16ps), INT8 (tdpbusd); FP32 with AVX-512 FMA")
