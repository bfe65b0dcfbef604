/*
 * kernels_core.h — the machinery every Confide kernel plugin shares (not part of the ABI).
 *
 * Weights are packed once into panels of KC_NR columns: panel p holds, for each 32-bit "k-unit" u,
 * KC_NR consecutive units (one per column). A k-unit is 1 FP32 value, 2 BF16 values (k even, k odd:
 * the [K/2][N][2] layout of vdpbf16ps / tdpbf16ps) or 4 int8 values (the [K/4][N][4] layout of
 * vpdpbusd / tdpbusd). K is zero-padded to a multiple of 16 units (one AMX tile of rows).
 *
 * At each call A is packed (rounded to BF16, or quantized per row to uint8) either into panels of
 * `mr` rows ([unit][mr], for broadcast-style register-blocked micro-kernels) or row-major
 * ([row][unit], for AMX tile loads and the AVX-512 micro-kernels); FP32 row-major A with no K
 * padding is read in place. The driver then walks tiles of C in parallel (host
 * parallel_for) and, for each K chunk of KC_KCU units, calls the micro-kernel of the plugin's
 * instruction set on every mr × KC_NR block.
 */
#ifndef KERNELS_CORE_H
#define KERNELS_CORE_H

#include <confide_kernels.h>
#include <stddef.h>
#include <stdint.h>

#define KC_NR 32u         /* columns per packed weight panel and per micro-tile */
#define KC_KCU 1024u      /* 32-bit k-units per K chunk: a tile's 64 rows of A and one panel over a chunk stay in L2 */
#define KC_KPAD 16u       /* K units are padded to a multiple of this */
#define KC_MAGIC 0x434b5043u
#define KC_PREFETCH_LINE 64u  /* bytes of kc_tile.prefetch per unit */

#define KC_HIDDEN __attribute__((visibility("hidden")))

/** Packed weights (the opaque ConfidePackedWeights of the ABI). */
struct ConfidePackedWeights {
    uint32_t magic;
    uint32_t precision;
    uint64_t k, n;          /* logical sizes */
    uint64_t kg;            /* k values per unit: 1, 2 or 4 */
    uint64_t units;         /* padded K in units, a multiple of KC_KPAD */
    uint64_t panels;        /* ceil(n / KC_NR) */
    uint64_t chunks;        /* ceil(units / KC_KCU) */
    uint32_t *data;         /* panels × units × KC_NR units */
    float *col_scale;       /* INT8: [panels × KC_NR] */
    int32_t *col_comp;      /* INT8: [chunks][panels × KC_NR], 128 × the column's sum over the chunk */
};

/** One micro-tile call: rows × cols (≤ mr × KC_NR) of C over one K chunk. */
typedef struct kc_tile {
    const uint32_t *a;      /* A at this chunk: panel layout [unit][mr]; row layout row 0 of the tile, whose FP32
                               micro-kernels read only `rows` rows (FP32 A is read in place) */
    uint64_t a_row_units;   /* row layout: units between rows */
    const uint32_t *b;      /* the weight panel at this chunk: [unit][KC_NR] */
    uint64_t units;         /* units in this chunk */
    float *c;
    uint64_t ldc;
    uint32_t rows, cols;
    uint32_t first, last;   /* first chunk: C = value; later chunks: C += value; last: apply epilogue */
    uint32_t flags;         /* ConfideEpilogueFlag bits, applied on the last chunk */
    float alpha;
    const float *row_alpha; /* FP32 and BF16: a factor per tile row, after alpha (attention's 1 / Σ exp); NULL: none */
    const float *row_scale; /* INT8: per tile row */
    const float *col_scale; /* INT8: per tile column */
    const int32_t *col_comp;/* INT8: per tile column, for this chunk */
    const float *bias;      /* per tile column */
    const float *residual;  /* tile row 0 */
    uint64_t ldr;
    /* Weights the micro-kernel may bring into L2 while it computes from the cache (the driver's next chunk): one
       cache line per unit, KC_PREFETCH_LINE · u bytes from `prefetch` at unit u. NULL: none. */
    const char *prefetch;
} kc_tile;

typedef void (*kc_micro_fn)(const kc_tile *tile);

enum { KC_A_PANELS = 0, KC_A_ROWS = 1 };

/** How one precision runs in a plugin. */
typedef struct kc_path {
    uint32_t mr;            /* rows per micro-tile */
    uint32_t a_layout;      /* KC_A_PANELS or KC_A_ROWS */
    kc_micro_fn micro;
    /** Converts one row of A (k values) into `units` k-units written at dst[0], dst[step], ...: the
        values, BF16 pairs, or quantized uint8 quads (storing the row's scale in *row_scale).
        NULL: the portable conversion. */
    void (*pack_row)(const float *src, uint64_t k, uint32_t *dst, uint64_t step, uint64_t units, float *row_scale);
    /** FP32 and BF16: packs `rows` (≤ KC_NR) rows of `k` values, `ld` apart, as the columns of one weight panel
        (unit u of column c at panel[u·KC_NR + c]), zero past `rows` and past `k`: attention's Kᵀ. NULL: pack_row
        per row. */
    void (*pack_columns)(const float *src, uint64_t ld, uint64_t rows, uint64_t k, uint32_t *panel, uint64_t units);
    /** BF16: one unit row of a weight panel from two rows of `cols` (≤ KC_NR) values: unit c holds low[c] and
        high[c] (0 when high is NULL) rounded to BF16, zero past cols: attention's V. NULL: the portable one. */
    void (*pack_pairs)(const float *low, const float *high, uint64_t cols, uint32_t *units);
    void (*thread_begin)(void);  /* before a thread runs micro-tiles (e.g. load the AMX tile config); may be NULL */
    void (*thread_end)(void);    /* after; may be NULL */
} kc_path;

/** A plugin's implementation: paths per precision and its row operations. */
typedef struct kc_impl {
    kc_path path[4];        /* indexed by ConfideKernelPrecision */
    /** The paths fused attention's small products run on (FP32 and BF16 entries), when `path`'s need
        more than these products give them (AMX tiles want K in multiples of 16 units); NULL: `path`. */
    const kc_path *attention_path;
    /** Softmax without its division: x ← exp(x + mask − max) (mask may be NULL), returning the sum; a row whose
        values are all −∞ becomes zeros and returns 0. */
    float (*exp_row)(float *x, const float *mask, uint64_t n);
    /** exp_row's exponentials of a row without mask, rounded to BF16 pairs into units[0, ⌈n/2⌉) (the high half of
        an odd row's last unit 0) instead of into x: BF16 attention's undivided probabilities, packed as P·V's A in
        the row layout. NULL: exp_row, then the path's pack_row. */
    float (*exp_row_bf16)(const float *x, uint64_t n, uint32_t *units);
    void (*layer_norm_row)(const float *x, float *y, const float *gamma, const float *beta, float eps, uint64_t n);
} kc_impl;

/** The host table from init. */
extern const ConfideHostApi *kc_host KC_HIDDEN;

KC_HIDDEN ConfideError *kc_init(const ConfideHostApi *host);
KC_HIDDEN ConfideError *kc_pack_weights(const ConfideWeightsDesc *desc, ConfidePackedWeights **out);
KC_HIDDEN void kc_packed_free(ConfidePackedWeights *weights);
KC_HIDDEN ConfideError *kc_gemm(const kc_impl *impl, const ConfidePackedWeights *w, uint64_t m, const float *a,
                                uint64_t lda, float *c, uint64_t ldc, const ConfideEpilogue *epilogue);
KC_HIDDEN ConfideError *kc_batched_matmul(const kc_impl *impl, const ConfideBatchedMatmul *desc);
KC_HIDDEN ConfideError *kc_softmax(const kc_impl *impl, const ConfideSoftmax *desc);
KC_HIDDEN ConfideError *kc_attention(const kc_impl *impl, const ConfideAttention *desc);
KC_HIDDEN ConfideError *kc_layer_norm(const kc_impl *impl, uint64_t rows, uint64_t cols, const float *x,
                                      uint64_t ldx, const float *gamma, const float *beta, float eps, float *y,
                                      uint64_t ldy);

/** Portable (scalar C) implementations, the reference for the others. */
KC_HIDDEN void kc_scalar_micro_fp32(const kc_tile *tile);
KC_HIDDEN void kc_scalar_micro_bf16(const kc_tile *tile);
KC_HIDDEN void kc_scalar_micro_int8(const kc_tile *tile);
KC_HIDDEN void kc_scalar_store(const kc_tile *tile, uint32_t row, const float *values);
KC_HIDDEN float kc_scalar_exp_row(float *x, const float *mask, uint64_t n);
KC_HIDDEN void kc_scalar_layer_norm_row(const float *x, float *y, const float *gamma, const float *beta, float eps,
                                        uint64_t n);
KC_HIDDEN float kc_gelu(float x);
KC_HIDDEN uint16_t kc_bf16(float x);

/**
 * Defines a kernel plugin over an implementation: the table's functions bound to `IMPL`, the table, the
 * descriptor and the exported `confide_plugin_entry`. `INIT` is the table's init (usually kc_init).
 */
#define KC_DEFINE_PLUGIN(IMPL, INIT, NAME, RANK, FEATURES, DESCRIPTION)                                         \
    static ConfideError *kc_plugin_gemm(const ConfidePackedWeights *w, uint64_t m, const float *a, uint64_t lda,   \
                                        float *c, uint64_t ldc, const ConfideEpilogue *epilogue) {               \
        return kc_gemm(&(IMPL), w, m, a, lda, c, ldc, epilogue);                                               \
    }                                                                                                          \
    static ConfideError *kc_plugin_batched_matmul(const ConfideBatchedMatmul *desc) {                          \
        return kc_batched_matmul(&(IMPL), desc);                                                               \
    }                                                                                                          \
    static ConfideError *kc_plugin_softmax(const ConfideSoftmax *desc) { return kc_softmax(&(IMPL), desc); }   \
    static ConfideError *kc_plugin_attention(const ConfideAttention *desc) { return kc_attention(&(IMPL), desc); } \
    static ConfideError *kc_plugin_layer_norm(uint64_t rows, uint64_t cols, const float *x, uint64_t ldx,      \
                                              const float *gamma, const float *beta, float eps, float *y,      \
                                              uint64_t ldy) {                                                  \
        return kc_layer_norm(&(IMPL), rows, cols, x, ldx, gamma, beta, eps, y, ldy);                          \
    }                                                                                                          \
    static const ConfideKernelApi kc_plugin_table = {                                                         \
        .struct_size = sizeof(ConfideKernelApi),                                                               \
        .abi_major = CONFIDE_KERNELS_ABI_MAJOR,                                                                \
        .abi_minor = CONFIDE_KERNELS_ABI_MINOR,                                                                \
        .rank = (RANK),                                                                                        \
        .required_features = (FEATURES),                                                                       \
        .init = (INIT),                                                                                        \
        .pack_weights = kc_pack_weights,                                                                       \
        .packed_free = kc_packed_free,                                                                         \
        .gemm = kc_plugin_gemm,                                                                                \
        .batched_matmul = kc_plugin_batched_matmul,                                                            \
        .softmax = kc_plugin_softmax,                                                                          \
        .layer_norm = kc_plugin_layer_norm,                                                                    \
        .attention = kc_plugin_attention,                                                                      \
    };                                                                                                         \
    static const ConfidePluginDescriptor kc_plugin_descriptor = {                                              \
        .struct_size = sizeof(ConfidePluginDescriptor),                                                        \
        .abi_major = CONFIDE_ABI_MAJOR,                                                                        \
        .abi_minor = CONFIDE_ABI_MINOR,                                                                        \
        .kind = CONFIDE_PLUGIN_KERNELS,                                                                        \
        .name = (NAME),                                                                                        \
        .version = "1.0.0",                                                                                    \
        .description = (DESCRIPTION),                                                                          \
        .min_host_abi_minor = 0,                                                                               \
        .language = CONFIDE_LANGUAGE_C,                                                                        \
        .compiler = CONFIDE_COMPILER_ID,                                                                       \
        .api = &kc_plugin_table,                                                                               \
        .context = NULL,                                                                                       \
    };                                                                                                         \
    __attribute__((visibility("default"))) const ConfidePluginDescriptor *confide_plugin_entry(uint32_t major,  \
                                                                                               uint32_t minor) { \
        (void)major;                                                                                           \
        (void)minor;                                                                                           \
        return &kc_plugin_descriptor;                                                                          \
    }

#endif /* KERNELS_CORE_H */
