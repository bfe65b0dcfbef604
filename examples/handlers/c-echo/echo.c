/*
 * c-echo — a Confide handler in plain C11, against the plugin ABI 2 of confide.h.
 *
 * It answers every tensor request with its own inputs, unchanged, under the same names, and a request that
 * carries a body instead of tensors (TorchServe's POST /predictions/{model}) with that body and its content type.
 * It needs no global state: what it shares between calls lives behind the descriptor's context, which the host
 * passes back to every call, and in the model state that model_load returns.
 *
 * Build (any C11 compiler; see the Makefile):
 *     gcc -std=c11 -O2 -Wall -Wextra -Werror -shared -fPIC -I <path to confide.h> echo.c -o libc-echo.so
 */
#include <confide.h>

#include <stdlib.h>
#include <string.h>

/* What the descriptor's context points to: the plugin's own data, for every model it loads. */
typedef struct EchoPlugin {
    const char *default_content_type;
} EchoPlugin;

/* One loaded model: the host table (valid for the life of the process) and the plugin. */
typedef struct EchoModel {
    const ConfideHostApi *host;
    const EchoPlugin *plugin;
} EchoModel;

static ConfideError *echo_model_load(void *context, const ConfideHostApi *host, const ConfideModelConfig *config,
                                     ConfideModelState **out_model) {
    (void)config;
    if (context == NULL || out_model == NULL) {
        return host->error_new(CONFIDE_ERROR_INTERNAL, "c-echo: model_load got no context");
    }
    EchoModel *model = malloc(sizeof *model);
    if (model == NULL) {
        return host->error_new(CONFIDE_ERROR_UNAVAILABLE, "c-echo: out of memory");
    }
    model->host = host;
    model->plugin = context;
    *out_model = (ConfideModelState *)model;
    return NULL;
}

/* The model takes any inputs, so it declares none: KServe metadata lists no fixed signature. */
static ConfideError *echo_model_signature(void *context, ConfideModelState *model,
                                          const ConfideTensorSpec *const **out_inputs, uint32_t *out_input_count,
                                          const ConfideTensorSpec *const **out_outputs, uint32_t *out_output_count) {
    (void)context;
    (void)model;
    *out_inputs = NULL;
    *out_input_count = 0;
    *out_outputs = NULL;
    *out_output_count = 0;
    return NULL;
}

static void echo_model_unload(void *context, ConfideModelState *model) {
    (void)context;
    free(model);
}

/* The echo keeps no per-worker state: an instance is its model. */
static ConfideError *echo_instance_create(void *context, ConfideModelState *model, const ConfideWorkerInfo *worker,
                                          ConfideInstanceState **out_instance) {
    (void)context;
    (void)worker;
    *out_instance = (ConfideInstanceState *)model;
    return NULL;
}

static void echo_instance_destroy(void *context, ConfideInstanceState *instance) {
    (void)context;
    (void)instance;
}

/* Answers a request that came with a body with the same body and content type. Returns 0 for a tensor request. */
static int echo_body(const EchoModel *model, const ConfideRequest *request, ConfideError **error) {
    const ConfideHostApi *host = model->host;
    const void *body = NULL;
    uint64_t size = 0;
    if (request->input_count > 0 || !host->request_attribute(request, CONFIDE_ATTRIBUTE_BODY, &body, &size)) {
        return 0;
    }
    const void *content_type = NULL;
    uint64_t content_type_size = 0;
    if (!host->request_attribute(request, CONFIDE_ATTRIBUTE_CONTENT_TYPE, &content_type, &content_type_size)) {
        content_type = model->plugin->default_content_type;
    }
    void *out = NULL;
    *error = host->response_set_body(request->response, content_type, size, &out);
    if (*error == NULL && size > 0) {
        memcpy(out, body, size);
    }
    return 1;
}

/* Adds each input as an output of the same name, type, shape and bytes. */
static ConfideError *echo_tensors(const EchoModel *model, const ConfideRequest *request) {
    for (uint32_t index = 0; index < request->input_count; index++) {
        const ConfideTensor *input = request->inputs[index];
        void *out = NULL;
        ConfideError *error = model->host->response_add_output(request->response, input->name, input->datatype,
                                                               input->shape, input->rank, input->byte_size, &out);
        if (error != NULL) {
            return error;
        }
        if (input->byte_size > 0) {
            memcpy(out, input->data, input->byte_size);
        }
    }
    return NULL;
}

static ConfideError *echo_instance_execute(void *context, ConfideInstanceState *instance,
                                           const ConfideRequest *const *requests, uint32_t request_count) {
    (void)context;
    const EchoModel *model = (const EchoModel *)instance;
    for (uint32_t index = 0; index < request_count; index++) {
        const ConfideRequest *request = requests[index];
        ConfideError *error = NULL;
        if (!echo_body(model, request, &error)) {
            error = echo_tensors(model, request);
        }
        if (error != NULL) {
            /* Fails this request alone; the others of the batch are unaffected. */
            model->host->response_fail(request->response, error);
        }
    }
    return NULL;
}

static const ConfideHandlerApi echo_api = {
    .struct_size = sizeof(ConfideHandlerApi),
    .reserved = 0,
    .model_load = echo_model_load,
    .model_signature = echo_model_signature,
    .model_unload = echo_model_unload,
    .instance_create = echo_instance_create,
    .instance_execute = echo_instance_execute,
    .instance_destroy = echo_instance_destroy,
};

static EchoPlugin echo_plugin = {
    .default_content_type = "application/octet-stream",
};

static const ConfidePluginDescriptor echo_descriptor = {
    .struct_size = sizeof(ConfidePluginDescriptor),
    .abi_major = CONFIDE_ABI_MAJOR,
    .abi_minor = CONFIDE_ABI_MINOR,
    .kind = CONFIDE_PLUGIN_HANDLER,
    .name = "c-echo",
    .version = "1.0.0",
    .description = "Returns each input tensor unchanged under the same name, and a body as it came (C)",
    .min_host_abi_minor = 0,
    .language = CONFIDE_LANGUAGE_C,
    .compiler = CONFIDE_COMPILER_ID,
    .api = &echo_api,
    .context = &echo_plugin,
};

/* The one exported symbol (of type ConfidePluginEntryFn). The host checks the versions in the descriptor, so it is
   returned to any host. */
const ConfidePluginDescriptor *confide_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor);

const ConfidePluginDescriptor *confide_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor) {
    (void)host_abi_major;
    (void)host_abi_minor;
    return &echo_descriptor;
}
