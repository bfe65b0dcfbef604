/*
 * confide_kernels.h — the Confide kernel ABI, version 1.0.
 *
 * A kernel plugin (a plugin of kind CONFIDE_PLUGIN_KERNELS, see confide.h) provides the compute a BERT
 * encoder spends its time in, for one instruction-set family. Its descriptor's `api` points to a
 * ConfideKernelApi, whose first fields state the kernel ABI version it implements. The host probes the
 * CPU, picks the best table of its own kernel major whose `required_features` the machine has (highest
 * `rank`), calls its `init` once, and serves it to handlers through ConfideHostApi.kernels.
 *
 * The kernel ABI is versioned apart from the plugin ABI of confide.h (the descriptor, the host and
 * handler tables), with the same rules: the major changes only with an incompatible change and must
 * match; a minor only appends functions at the end of the table, which a caller finds through the
 * table's abi_minor or struct_size. Adding a kernel therefore changes neither confide.h's version nor
 * any handler that does not call it.
 *
 * Conventions for every kernel function:
 *  - Matrices are row-major FP32; `ld*` is the distance in elements between consecutive rows and
 *    is at least the row length. The caller owns every pointer it passes; the kernel reads inputs
 *    and writes outputs only during the call and keeps no pointer after it returns.
 *  - Functions run on the calling thread and split their work with the host's parallel_for, i.e.
 *    across the calling worker's cores; from a thread without a team they run single-threaded.
 *    They are thread-safe: different workers may call them concurrently, also on the same packed
 *    weights. They must not be called from inside a parallel_for body.
 *  - Functions that return ConfideError * return NULL on success; an error (bad sizes, NULL
 *    pointers, out of memory) is created with the host's error_new and owned by the caller.
 *  - Each calling thread keeps a scratch buffer (for packed activations) inside the plugin, freed
 *    when the thread exits.
 */
#ifndef CONFIDE_KERNELS_H
#define CONFIDE_KERNELS_H

#include "confide.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The kernel ABI major version this header describes. */
#define CONFIDE_KERNELS_ABI_MAJOR 1
/** The kernel ABI minor version this header describes. */
#define CONFIDE_KERNELS_ABI_MINOR 0


/** CPU features, as bits of ConfideKernelApi.required_features (values are fixed forever). A
    feature counts as present only when the CPU reports it and the OS enables its register state
    (XCR0; for AMX also the Linux XTILEDATA permission). */
typedef enum ConfideCpuFeature {
    CONFIDE_CPU_AVX2 = 1 << 0,
    CONFIDE_CPU_FMA = 1 << 1,
    CONFIDE_CPU_AVX512F = 1 << 2,
    CONFIDE_CPU_AVX512BW = 1 << 3,
    CONFIDE_CPU_AVX512VL = 1 << 4,
    CONFIDE_CPU_AVX512DQ = 1 << 5,
    CONFIDE_CPU_AVX512_BF16 = 1 << 6,
    CONFIDE_CPU_AVX512_VNNI = 1 << 7,
    CONFIDE_CPU_AMX_TILE = 1 << 8,
    CONFIDE_CPU_AMX_BF16 = 1 << 9,
    CONFIDE_CPU_AMX_INT8 = 1 << 10,
} ConfideCpuFeature;

/** The arithmetic of a GEMM, chosen when the weights are packed. */
typedef enum ConfideKernelPrecision {
    /** FP32 × FP32, FP32 accumulation. */
    CONFIDE_PRECISION_FP32 = 1,
    /** Activations and weights rounded to BF16 (round to nearest even), FP32 accumulation. */
    CONFIDE_PRECISION_BF16 = 2,
    /** Weights quantized per column to int8 (symmetric: scale = max|w| / 127); activations quantized
        per row at each call to uint8 (symmetric int8 + 128: scale = max|a| / 127); u8 × s8 products
        summed in int32, the +128 shift removed with column sums precomputed at packing, and the row
        and column scales applied in the epilogue. */
    CONFIDE_PRECISION_INT8 = 3,
} ConfideKernelPrecision;

/** How the FP32 weights handed to pack_weights are laid out. */
typedef enum ConfideWeightLayout {
    /** w[k * ld + n]: K rows of N. */
    CONFIDE_WEIGHTS_KN = 0,
    /** w[n * ld + k]: N rows of K, as PyTorch's nn.Linear.weight and safetensors store it. */
    CONFIDE_WEIGHTS_NK = 1,
} ConfideWeightLayout;

/** Fused epilogue operations, bits of ConfideEpilogue.flags, applied in this order:
    C = ((A·B) + bias) → GELU → + residual. */
typedef enum ConfideEpilogueFlag {
    CONFIDE_EPILOGUE_BIAS = 1 << 0,      /* + bias[n] */
    CONFIDE_EPILOGUE_GELU = 1 << 1,      /* exact GELU: x/2 · (1 + erf(x/√2)) */
    CONFIDE_EPILOGUE_RESIDUAL = 1 << 2,  /* + residual[m][n]; must not alias C (partial sums are stored in C) */
} ConfideEpilogueFlag;

/** Weights packed once (at model load) for one kernel plugin: an opaque blob that plugin allocated
    with the host's aligned_alloc. Owned by the caller of pack_weights until it calls packed_free on
    the same table; usable only with the table that packed it. Read-only once packed. */
typedef struct ConfidePackedWeights ConfidePackedWeights;

/** FP32 weights to pack. Owned by the caller; read during pack_weights only. */
typedef struct ConfideWeightsDesc {
    uint32_t struct_size;
    uint32_t precision;    /* ConfideKernelPrecision */
    uint32_t layout;       /* ConfideWeightLayout */
    uint32_t reserved;
    uint64_t k;            /* reduction dimension (input features), >= 1 */
    uint64_t n;            /* output columns (output features), >= 1 */
    const float *data;
    uint64_t ld;           /* elements between rows of `data`: >= n for KN, >= k for NK */
} ConfideWeightsDesc;

/** What to fuse into a GEMM's output. Owned by the caller; read during the call only. */
typedef struct ConfideEpilogue {
    uint32_t struct_size;
    uint32_t flags;            /* ConfideEpilogueFlag bits */
    const float *bias;         /* [n], with CONFIDE_EPILOGUE_BIAS */
    const float *residual;     /* [m][ld_residual], with CONFIDE_EPILOGUE_RESIDUAL */
    uint64_t ld_residual;
} ConfideEpilogue;

/**
 * A batch of small FP32 matrix products, for attention: for every (outer, inner) pair,
 * C = alpha · A · op(B), with A [m][k], op(B) = B [k][n] or, with trans_b, Bᵀ where B is [n][k].
 * Each operand's item starts at `base + outer * outer_stride + inner * inner_stride` (elements), so
 * per-head slices of a fused [tokens][3·hidden] QKV tensor are addressed in place:
 * outer = sequence, inner = head. Owned by the caller; read during the call only.
 */
typedef struct ConfideBatchedMatmul {
    uint32_t struct_size;
    uint32_t trans_b;
    uint64_t outer_count, inner_count;
    uint64_t m, n, k;
    const float *a;
    uint64_t lda, a_outer_stride, a_inner_stride;
    const float *b;
    uint64_t ldb, b_outer_stride, b_inner_stride;
    float *c;
    uint64_t ldc, c_outer_stride, c_inner_stride;
    float alpha;
    uint32_t reserved;
} ConfideBatchedMatmul;

/**
 * Row softmax in place, for attention scores: for every (outer, inner) item and each of its `rows`
 * rows, x ← softmax(x + mask), where `mask` (additive, e.g. 0 for tokens and -10000 or -inf for
 * padding) is one row of `cols` values per outer item (at mask + outer * mask_outer_stride) or NULL.
 * A row whose every value is -inf becomes zeros. Owned by the caller; read during the call only.
 */
typedef struct ConfideSoftmax {
    uint32_t struct_size;
    uint32_t reserved;
    uint64_t outer_count, inner_count;
    uint64_t rows, cols;
    float *x;
    uint64_t ldx, x_outer_stride, x_inner_stride;
    const float *mask;
    uint64_t mask_outer_stride;
} ConfideSoftmax;

/**
 * Multi-head self-attention over sequences packed one after another without padding: sequence s is
 * the lengths[s] rows that follow the rows of the sequences before it, and for
 * each sequence and head h, O = softmax(scale · Q·Kᵀ) · V, where Q, K, V and O are the head's
 * head_size columns starting at `base + row · ld + h · head_size` of q, k, v (ld_qkv) and out
 * (ld_out). Tokens attend only within their own sequence. The two products run in `precision`:
 * CONFIDE_PRECISION_FP32, or CONFIDE_PRECISION_BF16 (Q, K, V and each exp(score − row maximum) rounded
 * to BF16, FP32 sums, then divided by the row's FP32 sum of the exponentials); the softmax is FP32.
 * `out` must not overlap q, k or v. Owned by the caller; read during the call only.
 */
typedef struct ConfideAttention {
    uint32_t struct_size;
    uint32_t precision;        /* ConfideKernelPrecision: FP32 or BF16 */
    uint64_t sequence_count;
    const uint64_t *lengths;   /* [sequence_count] rows per sequence; 0 is allowed */
    uint64_t heads, head_size;
    const float *q, *k, *v;
    uint64_t ld_qkv;           /* elements between rows of q, k and v: >= heads · head_size */
    float *out;
    uint64_t ld_out;           /* elements between rows of out: >= heads · head_size */
    float scale;
    uint32_t reserved;
} ConfideAttention;

/**
 * A kernel plugin's functions. Owned by the plugin; valid for the life of the process. Every function
 * pointer of the table's kernel ABI version is required. The first three fields keep their place in
 * every kernel ABI version, so a reader can always tell which version a table implements.
 */
struct ConfideKernelApi {
    uint32_t struct_size;
    /** CONFIDE_KERNELS_ABI_MAJOR the table implements: the host serves only tables of its own major. */
    uint32_t abi_major;
    /** CONFIDE_KERNELS_ABI_MINOR the table implements: a caller checks it (or struct_size) before calling
        a function a later minor appended. */
    uint32_t abi_minor;
    /** Preference among plugins whose required features are present: the highest wins (portable 0,
        AVX-512 100, AMX 200). */
    uint32_t rank;
    /** ConfideCpuFeature bits that must all be present before any other function is called. */
    uint64_t required_features;

    /** Called by the host once, before any other function, with the host table (kept by the plugin
        for parallel_for, aligned_alloc and error_new). Returns an error if the plugin cannot run
        (e.g. AMX permission refused by the OS). Calling it again with the same host is harmless. */
    ConfideError *(*init)(const ConfideHostApi *host);

    /** Packs FP32 weights for GEMMs in `desc->precision` (quantizing for INT8, rounding for BF16) and
        stores the blob in `*out_weights`. The plugin allocates it; the caller frees it with
        packed_free. `desc` and its data are only read during the call. */
    ConfideError *(*pack_weights)(const ConfideWeightsDesc *desc, ConfidePackedWeights **out_weights);

    /** Frees packed weights from this table's pack_weights. NULL is ignored. */
    void (*packed_free)(ConfidePackedWeights *weights);

    /** C[m][n] = epilogue(A[m][k] · W[k][n]) in the precision W was packed for. A is FP32 (rounded or
        quantized per row during the call for BF16 and INT8); C is FP32 and may not alias A. `epilogue`
        may be NULL (no fused operation). m may be 0 (nothing to do). */
    ConfideError *(*gemm)(const ConfidePackedWeights *weights, uint64_t m, const float *a, uint64_t lda,
                          float *c, uint64_t ldc, const ConfideEpilogue *epilogue);

    /** Runs a batch of FP32 matrix products (attention's Q·Kᵀ and P·V per head). */
    ConfideError *(*batched_matmul)(const ConfideBatchedMatmul *desc);

    /** Runs a masked row softmax in place (attention probabilities). */
    ConfideError *(*softmax)(const ConfideSoftmax *desc);

    /** y[r] = (x[r] - mean) / sqrt(var + eps) · gamma + beta for each of `rows` rows of `cols`
        (biased variance, as BERT). `y` may equal `x` (in place) when ldy == ldx. */
    ConfideError *(*layer_norm)(uint64_t rows, uint64_t cols, const float *x, uint64_t ldx,
                                const float *gamma, const float *beta, float eps, float *y, uint64_t ldy);

    /** Runs fused multi-head self-attention (see ConfideAttention) on the worker's team: each
        (sequence, head) item's scores stay in the cache of the thread that runs it instead of going
        through memory between a batched matmul, a softmax and another batched matmul. Returns
        CONFIDE_ERROR_UNSUPPORTED for a precision other than FP32 and BF16. */
    ConfideError *(*attention)(const ConfideAttention *desc);

    /* Later minor versions append functions here. */
};

#ifdef __cplusplus
}
#endif

#endif /* CONFIDE_KERNELS_H */
