/*
 * cpu_features.h — the runtime's CPU probe and peak-throughput loops (not part of the plugin ABI).
 */
#ifndef CONFIDE_CPU_FEATURES_H
#define CONFIDE_CPU_FEATURES_H

#include <stdint.h>

/** What the probe found. */
typedef struct ConfideCPUProbe {
    /** ConfideCpuFeature bits usable now: reported by CPUID, their register state enabled in XCR0,
        and for AMX the Linux XTILEDATA permission granted. */
    uint64_t features;
    /** ConfideCpuFeature bits CPUID reports, whether or not the OS enables them. */
    uint64_t cpuid_features;
    /** XCR0, or 0 without OSXSAVE. */
    uint64_t xcr0;
    /** 1 when the AMX permission request succeeded, 0 when refused, -1 when not attempted. */
    int32_t amx_permission;
    /** The CPU's brand string, NUL-terminated. */
    char brand[49];
} ConfideCPUProbe;

/** Probes the CPU: CPUID leaves 1, 7/0 and 7/1, XGETBV(0), and on Linux, when AMX is reported and
    XCR0 enables the tile state, arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA). */
void confide_cpu_probe(ConfideCPUProbe *probe);

/** Runs `iterations` rounds of independent 512-bit FMAs (needs AVX512F) and returns the FLOPs done. */
double confide_peak_fp32(uint64_t iterations);
/** Runs `iterations` rounds of independent 256-bit FMAs (needs AVX2 and FMA) and returns the FLOPs done. */
double confide_peak_fp32_avx2(uint64_t iterations);
/** Runs `iterations` rounds of independent vdpbf16ps (needs AVX512_BF16) and returns the FLOPs done. */
double confide_peak_bf16(uint64_t iterations);
/** Runs `iterations` rounds of independent vpdpbusd (needs AVX512_VNNI) and returns the ops done. */
double confide_peak_int8(uint64_t iterations);
/** Runs `iterations` rounds of independent vpmaddubsw, vpmaddwd and vpaddd (AVX2's sequence for vpdpbusd; needs
    AVX2) and returns the ops done. */
double confide_peak_int8_avx2(uint64_t iterations);
/** Runs `iterations` rounds of four independent 16 × 16 tdpbf16ps (needs AMX_BF16 and the tile permission)
    and returns the FLOPs done. */
double confide_peak_amx_bf16(uint64_t iterations);
/** Runs `iterations` rounds of four independent 16 × 16 tdpbusd (needs AMX_INT8 and the tile permission)
    and returns the ops done. */
double confide_peak_amx_int8(uint64_t iterations);

#endif /* CONFIDE_CPU_FEATURES_H */
