/*
 * confide.h — the Confide plugin ABI, version 1.3.
 *
 * This header is the only thing a Confide plugin (a handler or a kernel set) shares with the
 * runtime. Swift has no stable ABI on Linux, so nothing Swift crosses this boundary: only the C
 * types below.
 *
 * Rules that keep the ABI stable (in the style of Triton's tritonbackend.h, SQLite's sqlite3ext.h and
 * the Vulkan loader's ICD negotiation):
 *
 *  - A plugin exports exactly one symbol, CONFIDE_PLUGIN_ENTRY ("confide_plugin_entry"), of type
 *    ConfidePluginEntryFn. The host calls it first, with the ABI version it implements, and the
 *    plugin returns a descriptor.
 *  - The major version changes only with an incompatible change; the host refuses a plugin whose
 *    major differs from its own. The minor version only ever appends: fields at the end of structs,
 *    functions at the end of tables. A plugin states the lowest host minor it needs
 *    (min_host_abi_minor); the host refuses a plugin that needs more than it provides.
 *  - Every shared struct starts with `struct_size`, the size the writer compiled against. A reader
 *    checks `struct_size` before touching a field that a later minor version appended.
 *  - Handles are opaque. Errors are objects with a code and a message, created only through the
 *    host's `error_new` and therefore always freed by the host.
 *  - The plugin reports the compiler that built it (`compiler`); the host refuses a plugin built by
 *    another Swift toolchain instead of crashing later inside the Swift runtime.
 *  - The host opens plugins with dlopen(RTLD_NOW | RTLD_LOCAL) and never dlcloses them.
 *
 * Threading: `model_load`, `model_signature` and `model_unload` are called on one thread at a time.
 * `instance_create`, `instance_execute` and `instance_destroy` for one instance are called on the
 * thread of the worker that owns it, never concurrently; different instances of one model run in
 * parallel on different workers, so model state must be safe to read from several threads.
 */
#ifndef CONFIDE_H
#define CONFIDE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------- */
/* Versions                                                                                        */

/** The ABI major version this header describes. */
#define CONFIDE_ABI_MAJOR 1
/** The ABI minor version this header describes. */
#define CONFIDE_ABI_MINOR 3
/** The name of the one symbol every plugin exports. */
#define CONFIDE_PLUGIN_ENTRY "confide_plugin_entry"

/**
 * Identifies the toolchain that compiled the code calling it. Compiled inside the plugin (through the
 * Swift compiler's Clang importer, or the C compiler of a C plugin), so the host can compare the
 * plugin's toolchain with its own. Swift 6.3 toolchains embed their own Clang, so its full version
 * string (with the toolchain's commit) names the Swift toolchain exactly. GCC names itself by its version.
 */
static inline const char *confide_compiler_id(void) {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#else
    return "unknown C compiler";
#endif
}

/* ---------------------------------------------------------------------------------------------- */
/* Enumerations (values are fixed forever; new values are only added)                              */

/** Tensor element types. Values match Triton's TRITONSERVER_DataType. */
typedef enum ConfideDataType {
    CONFIDE_TYPE_INVALID = 0,
    CONFIDE_TYPE_BOOL = 1,   /* one byte, 0 or 1 */
    CONFIDE_TYPE_UINT8 = 2,
    CONFIDE_TYPE_UINT16 = 3,
    CONFIDE_TYPE_UINT32 = 4,
    CONFIDE_TYPE_UINT64 = 5,
    CONFIDE_TYPE_INT8 = 6,
    CONFIDE_TYPE_INT16 = 7,
    CONFIDE_TYPE_INT32 = 8,
    CONFIDE_TYPE_INT64 = 9,
    CONFIDE_TYPE_FP16 = 10,
    CONFIDE_TYPE_FP32 = 11,
    CONFIDE_TYPE_FP64 = 12,
    /* Each element is a little-endian uint32 byte length followed by that many bytes (Triton's
       serialisation of BYTES tensors). */
    CONFIDE_TYPE_BYTES = 13,
    CONFIDE_TYPE_BF16 = 14,
} ConfideDataType;

/** Error codes. The server maps them to HTTP statuses (400, 404, 503, 500, ...). */
typedef enum ConfideErrorCode {
    CONFIDE_ERROR_UNKNOWN = 0,
    CONFIDE_ERROR_INTERNAL = 1,
    CONFIDE_ERROR_NOT_FOUND = 2,
    CONFIDE_ERROR_INVALID_ARGUMENT = 3,
    CONFIDE_ERROR_UNAVAILABLE = 4,
    CONFIDE_ERROR_UNSUPPORTED = 5,
    CONFIDE_ERROR_ALREADY_EXISTS = 6,
} ConfideErrorCode;

/** Log levels for ConfideHostApi.log. */
typedef enum ConfideLogLevel {
    CONFIDE_LOG_ERROR = 0,
    CONFIDE_LOG_WARNING = 1,
    CONFIDE_LOG_INFO = 2,
    CONFIDE_LOG_DEBUG = 3,
} ConfideLogLevel;

/** What a plugin provides. */
typedef enum ConfidePluginKind {
    CONFIDE_PLUGIN_HANDLER = 1, /* `api` points to a ConfideHandlerApi */
    CONFIDE_PLUGIN_KERNELS = 2, /* `api` points to a ConfideKernelApi (ABI 1.2) */
} ConfidePluginKind;

/* ---------------------------------------------------------------------------------------------- */
/* Opaque handles                                                                                  */

/** An error: a code and a message. Created by the host (ConfideHostApi.error_new), freed by the host. */
typedef struct ConfideError ConfideError;
/** Where a handler puts the outputs of one request. Owned by the host. */
typedef struct ConfideResponse ConfideResponse;
/** A handler's state for one loaded model. Owned by the plugin. */
typedef struct ConfideModelState ConfideModelState;
/** A handler's per-worker state. Owned by the plugin. */
typedef struct ConfideInstanceState ConfideInstanceState;

/* ---------------------------------------------------------------------------------------------- */
/* Data passed from host to plugin                                                                 */

/**
 * A named tensor. All pointers are owned by the host and valid only for the duration of the call
 * that passed the tensor. `data` is aligned to at least 64 bytes; `byte_size` is exact.
 */
typedef struct ConfideTensor {
    uint32_t struct_size;
    uint32_t datatype;       /* ConfideDataType */
    const char *name;        /* NUL-terminated UTF-8 */
    const int64_t *shape;    /* `rank` dimensions */
    uint32_t rank;
    uint32_t reserved;
    const void *data;
    uint64_t byte_size;
} ConfideTensor;

/**
 * One inference request in a batch. Owned by the host; valid until instance_execute returns.
 * The handler answers it through `response` with ConfideHostApi.response_add_output or
 * ConfideHostApi.response_fail.
 */
typedef struct ConfideRequest {
    uint32_t struct_size;
    uint32_t input_count;
    const ConfideTensor *const *inputs;     /* `input_count` tensors */
    const char *id;                         /* the client's request id, "" when none; never NULL */
    ConfideResponse *response;
    uint32_t requested_output_count;        /* 0: the client wants every output */
    uint32_t reserved;
    const char *const *requested_outputs;   /* names the client asked for */
} ConfideRequest;

/** One artifact file of a model held in memory (a model loaded from a decrypted archive). */
typedef struct ConfideArtifact {
    uint32_t struct_size;
    uint32_t reserved;
    const char *name;          /* the path relative to the model version's folder, e.g. "model.safetensors" */
    const void *data;          /* 64-byte aligned */
    uint64_t size;
} ConfideArtifact;

/**
 * A model as the host hands it to model_load. Owned by the host; the strings are valid during
 * model_load only; the artifacts (ABI 1.2) stay valid until model_unload.
 */
typedef struct ConfideModelConfig {
    uint32_t struct_size;
    uint32_t reserved;
    const char *name;          /* the model's name */
    const char *version;       /* the version being loaded, e.g. "1" */
    const char *path;          /* absolute path of the folder holding this version's artifacts ("" when in memory) */
    const char *config_json;   /* the model's model.json, as written */
    const char *parameters_json; /* the "parameters" object of model.json, "{}" when absent */

    /* ---- Added in ABI 1.2: check struct_size before reading ---- */

    /* When artifact_count > 0 the model's files are these, in memory only (decrypted from an
       archive; they never touch disk), and `path` is empty. */
    uint32_t artifact_count;
    uint32_t reserved2;
    const ConfideArtifact *const *artifacts;
} ConfideModelConfig;

/** The worker an instance belongs to. Owned by the host; valid during instance_create only. */
typedef struct ConfideWorkerInfo {
    uint32_t struct_size;
    uint32_t worker_index;     /* 0 ..< workers */
    int32_t numa_node;         /* -1 when unknown */
    uint32_t core_count;       /* cores this worker owns: its intra-op parallelism */
} ConfideWorkerInfo;

/* ---------------------------------------------------------------------------------------------- */
/* Data passed from plugin to host                                                                 */

/** The description of one input or output, for model metadata. Owned by the plugin. */
typedef struct ConfideTensorSpec {
    uint32_t struct_size;
    uint32_t datatype;         /* ConfideDataType */
    const char *name;
    const int64_t *shape;      /* -1 marks a dimension of any size */
    uint32_t rank;
    uint32_t reserved;
} ConfideTensorSpec;

/* ---------------------------------------------------------------------------------------------- */
/* The host API: functions the host gives every plugin                                             */

/** A kernel plugin's function table (ABI 1.2); declared in the Kernels section below. */
typedef struct ConfideKernelApi ConfideKernelApi;

/** A loop body for parallel_for: runs the iterations [begin, end) with the caller's `context`. */
typedef void (*ConfideParallelBody)(void *context, uint64_t begin, uint64_t end);

/**
 * Functions the host provides. Owned by the host, valid for the life of the process. A plugin built
 * against a later minor version checks `abi_minor` (or `struct_size`) before calling a function
 * appended after 1.0.
 */
typedef struct ConfideHostApi {
    uint32_t struct_size;
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t reserved;

    /** Creates an error. `message` is copied. The caller passes the result to the host (by returning
        it, or to response_fail), which frees it. Never returns NULL. */
    ConfideError *(*error_new)(uint32_t code, const char *message);

    /** The code of an error the host returned to the plugin. */
    uint32_t (*error_code)(const ConfideError *error);

    /** The message of an error the host returned to the plugin; valid until error_delete. */
    const char *(*error_message)(const ConfideError *error);

    /** Frees an error the host returned to the plugin and that the plugin does not pass back. */
    void (*error_delete)(ConfideError *error);

    /** Writes a line to the server's log. `message` is copied; the plugin keeps ownership. */
    void (*log)(uint32_t level, const char *message);

    /** Allocates `size` bytes aligned to `alignment` (a power of two) on the calling worker's NUMA
        node. Returns NULL on failure. Free with aligned_free. */
    void *(*aligned_alloc)(uint64_t alignment, uint64_t size);

    /** Frees memory from aligned_alloc. NULL is ignored. */
    void (*aligned_free)(void *pointer);

    /** Adds an output tensor to a response. The host copies `name` and `shape` and allocates
        `byte_size` bytes (64-byte aligned), which it returns in `*out_data` for the handler to fill
        before instance_execute returns. The host owns that memory. Returns NULL on success or an
        error (duplicate name, bad datatype, byte_size that does not match the shape). */
    ConfideError *(*response_add_output)(ConfideResponse *response, const char *name, uint32_t datatype,
                                         const int64_t *shape, uint32_t rank, uint64_t byte_size,
                                         void **out_data);

    /** Fails one request of a batch; the other requests are unaffected. Takes ownership of `error`.
        Outputs already added to this response are discarded. */
    void (*response_fail)(ConfideResponse *response, ConfideError *error);

    /* ---- Added in ABI 1.1 ---- */

    /** Runs `body` over [0, count) in chunks of at least `grain` iterations, on the threads of the
        calling worker's intra-op team (the worker's own cores; the calling thread takes part), and
        returns when every chunk is done. Chunks run concurrently: `body` must only write memory no
        other chunk writes. On a thread that is not a worker thread the loop runs on the caller alone.
        Not reentrant: a body must not call parallel_for.
        Placement (a performance property, not a guarantee): thread i of the team starts with the i-th of
        equal contiguous shares of [0, count) and only then helps with the others', so loops that map their
        indices to the same rows in the same order keep each row on one core from loop to loop. */
    void (*parallel_for)(uint64_t count, uint64_t grain, void *context, ConfideParallelBody body);

    /** The number of threads parallel_for uses when called from this thread (1 without a team). */
    uint32_t (*parallel_thread_count)(void);

    /* ---- Added in ABI 1.2 ---- */

    /** The kernel table the host chose for this machine (the best kernel plugin whose required CPU
        features are present, or the one the operator forced), already initialised; NULL when no
        kernel plugin is available. Owned by the host's kernel plugin; valid for the life of the
        process. Handlers call its functions from instance_execute (and from model_load to pack
        weights). */
    const ConfideKernelApi *(*kernels)(void);

    /* Later minor versions append functions here. */
} ConfideHostApi;

/* ---------------------------------------------------------------------------------------------- */
/* The handler API: functions a handler plugin gives the host                                      */

/**
 * A handler turns batches of requests into responses for one kind of model. Every function that
 * returns ConfideError* returns NULL on success; an error it returns is freed by the host.
 */
typedef struct ConfideHandlerApi {
    uint32_t struct_size;
    uint32_t reserved;

    /** Loads a model once; the state is shared by all workers. `host` stays valid for the life of the
        process and may be kept. On success stores the state in `*out_model`. */
    ConfideError *(*model_load)(const ConfideHostApi *host, const ConfideModelConfig *config,
                                ConfideModelState **out_model);

    /** Describes the model's inputs and outputs. The arrays and everything they point to are owned by
        the model state and stay valid until model_unload. */
    ConfideError *(*model_signature)(ConfideModelState *model,
                                     const ConfideTensorSpec *const **out_inputs, uint32_t *out_input_count,
                                     const ConfideTensorSpec *const **out_outputs, uint32_t *out_output_count);

    /** Releases a model after all its instances were destroyed. */
    void (*model_unload)(ConfideModelState *model);

    /** Creates one worker's instance, on that worker's thread. */
    ConfideError *(*instance_create)(ConfideModelState *model, const ConfideWorkerInfo *worker,
                                     ConfideInstanceState **out_instance);

    /** Executes a batch. Answers each request through its response. Returning an error fails every
        request of the batch that was not already failed, with that error. */
    ConfideError *(*instance_execute)(ConfideInstanceState *instance, const ConfideRequest *const *requests,
                                      uint32_t request_count);

    /** Destroys an instance, on its worker's thread. */
    void (*instance_destroy)(ConfideInstanceState *instance);

    /* Later minor versions append functions here. */
} ConfideHandlerApi;

/* ---------------------------------------------------------------------------------------------- */
/* The plugin descriptor and the entry point                                                       */

/**
 * What a plugin returns from its entry point. Owned by the plugin; valid for the life of the process.
 * The first four fields keep their place in every version of the ABI, so a host can always read
 * the version of a plugin it does not understand.
 */
typedef struct ConfidePluginDescriptor {
    uint32_t struct_size;
    uint32_t abi_major;           /* CONFIDE_ABI_MAJOR the plugin was built against */
    uint32_t abi_minor;           /* CONFIDE_ABI_MINOR the plugin was built against */
    uint32_t kind;                /* ConfidePluginKind */
    const char *name;             /* unique among loaded plugins, e.g. "echo" */
    const char *version;          /* the plugin's own version, free-form */
    const char *compiler;         /* confide_compiler_id() as compiled into the plugin */
    const char *description;      /* one line for people */
    uint32_t min_host_abi_minor;  /* the lowest host minor version whose API this plugin uses */
    uint32_t reserved;
    const void *api;              /* CONFIDE_PLUGIN_HANDLER: const ConfideHandlerApi *;
                                     CONFIDE_PLUGIN_KERNELS: const ConfideKernelApi * */
} ConfidePluginDescriptor;

/**
 * The entry point every plugin exports as CONFIDE_PLUGIN_ENTRY. The host passes the ABI version it
 * implements; the plugin returns its descriptor (it may adapt to an older host minor), or NULL if it
 * cannot work with that host at all.
 */
typedef const ConfidePluginDescriptor *(*ConfidePluginEntryFn)(uint32_t host_abi_major, uint32_t host_abi_minor);

/* ---------------------------------------------------------------------------------------------- */
/* Kernels (added in ABI 1.2)                                                                      */
/*                                                                                                 */
/* A kernel plugin (kind CONFIDE_PLUGIN_KERNELS, min_host_abi_minor 2) provides the compute a BERT  */
/* encoder spends its time in, for one instruction-set family. The host probes the CPU, picks the   */
/* best table whose `required_features` the machine has (highest `rank`), calls its `init` once,    */
/* and serves it to handlers through ConfideHostApi.kernels.                                        */
/*                                                                                                 */
/* Conventions for every kernel function:                                                           */
/*  - Matrices are row-major FP32; `ld*` is the distance in elements between consecutive rows and    */
/*    is at least the row length. The caller owns every pointer it passes; the kernel reads inputs   */
/*    and writes outputs only during the call and keeps no pointer after it returns.                */
/*  - Functions run on the calling thread and split their work with the host's parallel_for, i.e.   */
/*    across the calling worker's cores; from a thread without a team they run single-threaded.     */
/*    They are thread-safe: different workers may call them concurrently, also on the same packed    */
/*    weights. They must not be called from inside a parallel_for body.                             */
/*  - Functions that return ConfideError * return NULL on success; an error (bad sizes, NULL        */
/*    pointers, out of memory) is created with the host's error_new and owned by the caller.       */
/*  - Each calling thread keeps a scratch buffer (for packed activations) inside the plugin, freed   */
/*    when the thread exits.                                                                        */

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
 * Multi-head self-attention over sequences packed one after another without padding (added in ABI
 * 1.3): sequence s is the lengths[s] rows that follow the rows of the sequences before it, and for
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
 * A kernel plugin's functions. Owned by the plugin; valid for the life of the process. Every
 * function pointer of the plugin's ABI version is required: a table of an ABI 1.2 plugin ends
 * after layer_norm (its struct_size says so).
 */
struct ConfideKernelApi {
    uint32_t struct_size;
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

    /* ---- Added in ABI 1.3: check struct_size before reading ---- */

    /** Runs fused multi-head self-attention (see ConfideAttention) on the worker's team: each
        (sequence, head) item's scores stay in the cache of the thread that runs it instead of going
        through memory between a batched matmul, a softmax and another batched matmul. Returns CONFIDE_ERROR_UNSUPPORTED for a precision other than FP32
        and BF16. */
    ConfideError *(*attention)(const ConfideAttention *desc);

    /* Later minor versions append functions here. */
};

#ifdef __cplusplus
}
#endif

#endif /* CONFIDE_H */
