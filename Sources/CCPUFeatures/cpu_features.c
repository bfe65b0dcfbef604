/* The CPU probe and the peak loops. The loops are compiled with target attributes, so this file builds
   and the probe runs on any x86-64 CPU; on other architectures the probe reports no features. */
#include "cpu_features.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* ConfideCpuFeature bits (confide.h), repeated so this target needs no dependency. */
enum {
    AVX2 = 1 << 0, FMA = 1 << 1, AVX512F = 1 << 2, AVX512BW = 1 << 3, AVX512VL = 1 << 4, AVX512DQ = 1 << 5,
    AVX512_BF16 = 1 << 6, AVX512_VNNI = 1 << 7, AMX_TILE = 1 << 8, AMX_BF16 = 1 << 9, AMX_INT8 = 1 << 10,
};

static uint64_t read_xcr0(void) {
    uint32_t low, high;
    __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    return ((uint64_t)high << 32) | low;
}

void confide_cpu_probe(ConfideCPUProbe *probe) {
    memset(probe, 0, sizeof *probe);
    probe->amx_permission = -1;
    unsigned a, b, c, d;
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf < 1) return;
    __cpuid(1, a, b, c, d);
    int osxsave = (c >> 27) & 1;
    uint64_t found = 0;
    if ((c >> 12) & 1) found |= FMA;
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        if ((b >> 5) & 1) found |= AVX2;
        if ((b >> 16) & 1) found |= AVX512F;
        if ((b >> 17) & 1) found |= AVX512DQ;
        if ((b >> 30) & 1) found |= AVX512BW;
        if ((b >> 31) & 1) found |= AVX512VL;
        if ((c >> 11) & 1) found |= AVX512_VNNI;
        if ((d >> 22) & 1) found |= AMX_BF16;
        if ((d >> 24) & 1) found |= AMX_TILE;
        if ((d >> 25) & 1) found |= AMX_INT8;
        unsigned subleaves = a;
        if (subleaves >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            if ((a >> 5) & 1) found |= AVX512_BF16;
        }
    }
    probe->cpuid_features = found;
    uint64_t usable = 0;
    if (osxsave) {
        uint64_t xcr0 = read_xcr0();
        probe->xcr0 = xcr0;
        int ymm = (xcr0 & 0x6) == 0x6;                 /* SSE and AVX state */
        int zmm = ymm && (xcr0 & 0xe0) == 0xe0;        /* opmask, ZMM_Hi256, Hi16_ZMM */
        int tiles = (xcr0 & 0x60000) == 0x60000;       /* XTILECFG, XTILEDATA */
        if (ymm) usable |= found & (AVX2 | FMA);
        if (zmm) usable |= found & (AVX512F | AVX512BW | AVX512VL | AVX512DQ | AVX512_BF16 | AVX512_VNNI);
        if (tiles && (found & AMX_TILE)) {
#if defined(__linux__)
            long granted = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */);
            probe->amx_permission = granted == 0;
            if (granted == 0) usable |= found & (AMX_TILE | AMX_BF16 | AMX_INT8);
#else
            usable |= found & (AMX_TILE | AMX_BF16 | AMX_INT8);
#endif
        }
    }
    probe->features = usable;
    if (__get_cpuid_max(0x80000000, NULL) >= 0x80000004) {
        unsigned *brand = (unsigned *)probe->brand;
        for (unsigned leaf = 0; leaf < 3; leaf++) {
            __cpuid(0x80000002 + leaf, brand[4 * leaf], brand[4 * leaf + 1], brand[4 * leaf + 2], brand[4 * leaf + 3]);
        }
        probe->brand[48] = 0;
    }
}

/* Twelve independent accumulators cover the latency of one or two 512-bit pipes. */
#define PEAK_LOOP(TYPE, ZERO, OP, A, B)                                                                            \
    TYPE acc[12];                                                                                                  \
    for (int i = 0; i < 12; i++) acc[i] = ZERO;                                                                    \
    for (uint64_t n = 0; n < iterations; n++) {                                                                    \
        _Pragma("clang loop unroll(full)") for (int i = 0; i < 12; i++) acc[i] = OP(acc[i], A, B);                 \
        __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]), "+v"(acc[4]), "+v"(acc[5]), \
                         "+v"(acc[6]), "+v"(acc[7]), "+v"(acc[8]), "+v"(acc[9]), "+v"(acc[10]), "+v"(acc[11]));   \
    }                                                                                                              \
    volatile TYPE sink = acc[0];                                                                                   \
    for (int i = 1; i < 12; i++) sink = acc[i];                                                                    \
    (void)sink;

__attribute__((target("avx512f"))) static __m512 fma_op(__m512 acc, __m512 a, __m512 b) {
    return _mm512_fmadd_ps(a, b, acc);
}

__attribute__((target("avx512f,avx512bf16"))) static __m512 bf16_op(__m512 acc, __m512i a, __m512i b) {
    return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b);
}

__attribute__((target("avx512f,avx512vnni"))) static __m512i vnni_op(__m512i acc, __m512i a, __m512i b) {
    return _mm512_dpbusd_epi32(acc, a, b);
}

__attribute__((target("avx2,fma"))) static __m256 fma256_op(__m256 acc, __m256 a, __m256 b) {
    return _mm256_fmadd_ps(a, b, acc);
}

/* What AVX2 has for vpdpbusd: unsigned × signed byte pairs into int16, pairs of those into int32, accumulated. The
   accumulator is the signed operand, so that the compiler cannot hoist the products out of the loop. */
__attribute__((target("avx2"))) static __m256i maddubs_op(__m256i acc, __m256i a, __m256i b) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, acc), b));
}

__attribute__((target("avx512f"))) double confide_peak_fp32(uint64_t iterations) {
    __m512 x = _mm512_set1_ps(1.0f), y = _mm512_set1_ps(1e-7f);
    PEAK_LOOP(__m512, _mm512_setzero_ps(), fma_op, x, y)
    return (double)iterations * 12 * 16 * 2;
}

__attribute__((target("avx2,fma"))) double confide_peak_fp32_avx2(uint64_t iterations) {
    __m256 x = _mm256_set1_ps(1.0f), y = _mm256_set1_ps(1e-7f);
    PEAK_LOOP(__m256, _mm256_setzero_ps(), fma256_op, x, y)
    return (double)iterations * 12 * 8 * 2;
}

__attribute__((target("avx512f,avx512bf16"))) double confide_peak_bf16(uint64_t iterations) {
    __m512i x = _mm512_set1_epi32(0x3f803f80), y = _mm512_set1_epi32(0x33d633d6);
    PEAK_LOOP(__m512, _mm512_setzero_ps(), bf16_op, x, y)
    return (double)iterations * 12 * 32 * 2;
}

__attribute__((target("avx512f,avx512vnni"))) double confide_peak_int8(uint64_t iterations) {
    __m512i x = _mm512_set1_epi8(1), y = _mm512_set1_epi8(1);
    PEAK_LOOP(__m512i, _mm512_setzero_si512(), vnni_op, x, y)
    return (double)iterations * 12 * 64 * 2;
}

__attribute__((target("avx2"))) double confide_peak_int8_avx2(uint64_t iterations) {
    __m256i x = _mm256_set1_epi8(1), y = _mm256_set1_epi16(1);
    PEAK_LOOP(__m256i, _mm256_setzero_si256(), maddubs_op, x, y)
    return (double)iterations * 12 * 32 * 2;
}

/* AMX: four independent 16 × 16 accumulator tiles (0-3) fed by the same two operand tiles (4, 5). The caller's
   process must hold the XTILEDATA permission (confide_cpu_probe asks for it). */
typedef struct peak_tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} peak_tile_config;

#define PEAK_AMX_LOOP(OP)                                                                                          \
    peak_tile_config config;                                                                                       \
    memset(&config, 0, sizeof config);                                                                             \
    config.palette = 1;                                                                                            \
    for (int tile = 0; tile < 6; tile++) {                                                                         \
        config.rows[tile] = 16;                                                                                    \
        config.colsb[tile] = 64;                                                                                   \
    }                                                                                                              \
    uint8_t operand[16 * 64] __attribute__((aligned(64)));                                                         \
    memset(operand, 0x3c, sizeof operand);                                                                         \
    _tile_loadconfig(&config);                                                                                     \
    _tile_zero(0);                                                                                                 \
    _tile_zero(1);                                                                                                 \
    _tile_zero(2);                                                                                                 \
    _tile_zero(3);                                                                                                 \
    _tile_loadd(4, operand, 64);                                                                                   \
    _tile_loadd(5, operand, 64);                                                                                   \
    for (uint64_t n = 0; n < iterations; n++) {                                                                    \
        OP(0, 4, 5);                                                                                               \
        OP(1, 4, 5);                                                                                               \
        OP(2, 4, 5);                                                                                               \
        OP(3, 4, 5);                                                                                               \
    }                                                                                                              \
    _tile_stored(0, operand, 64);                                                                                  \
    _tile_release();                                                                                               \
    volatile uint8_t sink = operand[0];                                                                            \
    (void)sink;

__attribute__((target("amx-tile,amx-bf16"))) double confide_peak_amx_bf16(uint64_t iterations) {
    PEAK_AMX_LOOP(_tile_dpbf16ps)
    return (double)iterations * 4 * 16 * 16 * 32 * 2;
}

__attribute__((target("amx-tile,amx-int8"))) double confide_peak_amx_int8(uint64_t iterations) {
    PEAK_AMX_LOOP(_tile_dpbusd)
    return (double)iterations * 4 * 16 * 16 * 64 * 2;
}

#else

void confide_cpu_probe(ConfideCPUProbe *probe) {
    memset(probe, 0, sizeof *probe);
    probe->amx_permission = -1;
}

double confide_peak_fp32(uint64_t iterations) { (void)iterations; return 0; }
double confide_peak_fp32_avx2(uint64_t iterations) { (void)iterations; return 0; }
double confide_peak_int8_avx2(uint64_t iterations) { (void)iterations; return 0; }
double confide_peak_bf16(uint64_t iterations) { (void)iterations; return 0; }
double confide_peak_int8(uint64_t iterations) { (void)iterations; return 0; }
double confide_peak_amx_bf16(uint64_t iterations) { (void)iterations; return 0; }
double confide_peak_amx_int8(uint64_t iterations) { (void)iterations; return 0; }

#endif
