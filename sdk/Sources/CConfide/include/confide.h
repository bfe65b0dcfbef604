/*
 * confide.h — the Confide plugin ABI, version 2.0.
 *
 * This header is the only thing a Confide plugin (a handler or a kernel set) shares with the
 * runtime. Swift has no stable ABI on Linux, so nothing Swift crosses this boundary: only the C
 * types below. The kernel table has a header and a version of its own: confide_kernels.h.
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
 *  - The plugin's descriptor carries a `context` that the host passes back as the first argument of
 *    every handler function, so a plugin needs no global state.
 *  - A Swift plugin reports the compiler that built it (`compiler`); the host refuses one built by
 *    another Swift toolchain instead of crashing later inside the Swift runtime. A C plugin may come
 *    from any C or C++ compiler.
 *  - The host opens plugins with dlopen(RTLD_NOW | RTLD_LOCAL) and never dlcloses them.
 *
 * Threading: `model_load`, `model_signature` and `model_unload` are called on one thread at a time.
 * `instance_create`, `instance_execute` and `instance_destroy` for one instance are called on the
 * thread of the worker that owns it, never concurrently; different instances of one model run in
 * parallel on different workers, so model state (and the context) must be safe to read from several
 * threads.
 *
 * The header is C11 and C++ (GCC, Clang) without warnings under -Wall -Wextra -pedantic.
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
#define CONFIDE_ABI_MAJOR 2
/** The ABI minor version this header describes. */
#define CONFIDE_ABI_MINOR 0
/** The name of the one symbol every plugin exports. */
#define CONFIDE_PLUGIN_ENTRY "confide_plugin_entry"

/**
 * Names the toolchain that compiles the code using it, as a string literal for a plugin's static
 * descriptor. Swift 6.3 toolchains embed their own Clang, so its full version string (with the
 * toolchain's commit) names the Swift toolchain exactly. GCC names itself by its version.
 */
#if defined(__clang__)
#define CONFIDE_COMPILER_ID "clang " __clang_version__
#elif defined(__GNUC__)
#define CONFIDE_COMPILER_ID "gcc " __VERSION__
#else
#define CONFIDE_COMPILER_ID "unknown C compiler"
#endif

/**
 * CONFIDE_COMPILER_ID as a function, for code that cannot use the macro (Swift, through its Clang
 * importer). Compiled inside the caller, so the host can compare a Swift plugin's toolchain with its own.
 */
static inline const char *confide_compiler_id(void) { return CONFIDE_COMPILER_ID; }

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
    CONFIDE_PLUGIN_KERNELS = 2, /* `api` points to a ConfideKernelApi (confide_kernels.h) */
} ConfidePluginKind;

/** The language a plugin is written in, which decides whether the host compares compilers. */
typedef enum ConfidePluginLanguage {
    /** C, C++ or any language that shares no runtime with the host: any compiler's build loads. */
    CONFIDE_LANGUAGE_C = 1,
    /** Swift: the plugin shares the Swift runtime with the host, so the host refuses a plugin whose
        `compiler` differs from its own. */
    CONFIDE_LANGUAGE_SWIFT = 2,
} ConfidePluginLanguage;

/* ---------------------------------------------------------------------------------------------- */
/* Request attributes: metadata a handler reads with ConfideHostApi.request_attribute               */

/** The request's content type as the client sent it (text), e.g. "application/json". Absent when the
    request named none. */
#define CONFIDE_ATTRIBUTE_CONTENT_TYPE "content_type"
/** The raw body of a request that carries no tensors (TorchServe's POST /predictions/{model}), which
    may be empty. Absent on tensor requests (KServe, gRPC, OpenAI): its presence is what tells a
    handler that the request is a body to interpret and may be answered with response_set_body. */
#define CONFIDE_ATTRIBUTE_BODY "body"
/** The prefix of a request header's attribute: "header:" followed by the header's name in lower case,
    e.g. "header:accept" (text). Several fields of one name are joined with ", ". Credentials
    (authorization, proxy-authorization, cookie) never reach a handler. */
#define CONFIDE_ATTRIBUTE_HEADER_PREFIX "header:"

/* ---------------------------------------------------------------------------------------------- */
/* Opaque handles                                                                                  */

/** An error: a code and a message. Created by the host (ConfideHostApi.error_new), freed by the host. */
typedef struct ConfideError ConfideError;
/** Where a handler puts the answer to one request. Owned by the host. */
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
 * The handler reads its tensors here and its metadata with ConfideHostApi.request_attribute, and
 * answers it through `response` (response_add_output, response_set_body or response_fail).
 */
typedef struct ConfideRequest {
    uint32_t struct_size;
    uint32_t input_count;
    const ConfideTensor *const *inputs;     /* `input_count` tensors; none for a body request */
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
 * model_load only; the artifacts stay valid until model_unload.
 */
typedef struct ConfideModelConfig {
    uint32_t struct_size;
    uint32_t reserved;
    const char *name;          /* the model's name */
    const char *version;       /* the version being loaded, e.g. "1" */
    const char *path;          /* absolute path of the folder holding this version's artifacts ("" when in memory) */
    const char *config_json;   /* the model's model.json, as written */
    const char *parameters_json; /* the "parameters" object of model.json, "{}" when absent */
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

/** A kernel plugin's function table; declared, with its own version, in confide_kernels.h. */
typedef struct ConfideKernelApi ConfideKernelApi;

/** A loop body for parallel_for: runs the iterations [begin, end) with the caller's `context`. */
typedef void (*ConfideParallelBody)(void *context, uint64_t begin, uint64_t end);

/**
 * Functions the host provides. Owned by the host, valid for the life of the process. A plugin built
 * against a later minor version checks `abi_minor` (or `struct_size`) before calling a function
 * appended after 2.0.
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

    /** Reads an attribute of a request the host passed to instance_execute (CONFIDE_ATTRIBUTE_*).
        Returns 1 and stores the attribute's bytes and their count in `*out_data` and `*out_size`, or
        returns 0 and stores NULL and 0 when the request has no such attribute. The bytes are owned by
        the host and valid until instance_execute returns; a text attribute is UTF-8 followed by a NUL
        that `*out_size` does not count. */
    uint32_t (*request_attribute)(const ConfideRequest *request, const char *name, const void **out_data,
                                  uint64_t *out_size);

    /** Adds an output tensor to a response. The host copies `name` and `shape` and allocates
        `byte_size` bytes (64-byte aligned), which it returns in `*out_data` for the handler to fill
        before instance_execute returns. The host owns that memory. Returns NULL on success or an
        error (duplicate name, bad datatype, byte_size that does not match the shape, a response that
        already has a body). */
    ConfideError *(*response_add_output)(ConfideResponse *response, const char *name, uint32_t datatype,
                                         const int64_t *shape, uint32_t rank, uint64_t byte_size,
                                         void **out_data);

    /** Answers a request that came with a body (CONFIDE_ATTRIBUTE_BODY) with a body instead of output
        tensors: the host copies `content_type` (e.g. "application/json") and allocates `byte_size`
        bytes, which it returns in `*out_data` for the handler to fill before instance_execute returns.
        The host owns that memory and sends it to the client as it is. Returns NULL on success, or an
        error for a tensor request, a response that already has outputs or a body, or an empty
        content type. */
    ConfideError *(*response_set_body)(ConfideResponse *response, const char *content_type, uint64_t byte_size,
                                       void **out_data);

    /** Fails one request of a batch; the other requests are unaffected. Takes ownership of `error`.
        Outputs or a body already added to this response are discarded. */
    void (*response_fail)(ConfideResponse *response, ConfideError *error);

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

    /** The kernel table the host chose for this machine (the best kernel plugin whose required CPU
        features are present, or the one the operator forced), already initialised; NULL when no
        kernel plugin is available. Its own version (confide_kernels.h) is in its first fields: check
        its abi_major against CONFIDE_KERNELS_ABI_MAJOR before calling it. Owned by the host's kernel
        plugin; valid for the life of the process. Handlers call its functions from instance_execute
        (and from model_load to pack weights). */
    const ConfideKernelApi *(*kernels)(void);

    /* Later minor versions append functions here. */
} ConfideHostApi;

/* ---------------------------------------------------------------------------------------------- */
/* The handler API: functions a handler plugin gives the host                                      */

/**
 * A handler turns batches of requests into responses for one kind of model. Every function gets the
 * descriptor's `context` first. Every function that returns ConfideError* returns NULL on success; an
 * error it returns is freed by the host.
 */
typedef struct ConfideHandlerApi {
    uint32_t struct_size;
    uint32_t reserved;

    /** Loads a model once; the state is shared by all workers. `host` stays valid for the life of the
        process and may be kept. On success stores the state in `*out_model`. */
    ConfideError *(*model_load)(void *context, const ConfideHostApi *host, const ConfideModelConfig *config,
                                ConfideModelState **out_model);

    /** Describes the model's inputs and outputs. The arrays and everything they point to are owned by
        the model state and stay valid until model_unload. */
    ConfideError *(*model_signature)(void *context, ConfideModelState *model,
                                     const ConfideTensorSpec *const **out_inputs, uint32_t *out_input_count,
                                     const ConfideTensorSpec *const **out_outputs, uint32_t *out_output_count);

    /** Releases a model after all its instances were destroyed. */
    void (*model_unload)(void *context, ConfideModelState *model);

    /** Creates one worker's instance, on that worker's thread. */
    ConfideError *(*instance_create)(void *context, ConfideModelState *model, const ConfideWorkerInfo *worker,
                                     ConfideInstanceState **out_instance);

    /** Executes a batch. Answers each request through its response. Returning an error fails every
        request of the batch that was not already failed, with that error. */
    ConfideError *(*instance_execute)(void *context, ConfideInstanceState *instance,
                                      const ConfideRequest *const *requests, uint32_t request_count);

    /** Destroys an instance, on its worker's thread. */
    void (*instance_destroy)(void *context, ConfideInstanceState *instance);

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
    const char *description;      /* one line for people */
    uint32_t min_host_abi_minor;  /* the lowest host minor version whose API this plugin uses */
    uint32_t language;            /* ConfidePluginLanguage */
    const char *compiler;         /* confide_compiler_id() as compiled into the plugin; compared for Swift */
    const void *api;              /* CONFIDE_PLUGIN_HANDLER: const ConfideHandlerApi *;
                                     CONFIDE_PLUGIN_KERNELS: const ConfideKernelApi * */
    void *context;                /* a handler's: passed back as the first argument of every function of
                                     its table; may be NULL. Kernel plugins leave it NULL. */
} ConfidePluginDescriptor;

/**
 * The entry point every plugin exports as CONFIDE_PLUGIN_ENTRY. The host passes the ABI version it
 * implements; the plugin returns its descriptor (it may adapt to an older host minor), or NULL if it
 * cannot work with that host at all.
 */
typedef const ConfidePluginDescriptor *(*ConfidePluginEntryFn)(uint32_t host_abi_major, uint32_t host_abi_minor);

#ifdef __cplusplus
}
#endif

#endif /* CONFIDE_H */
