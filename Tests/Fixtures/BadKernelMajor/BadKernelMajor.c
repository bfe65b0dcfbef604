/* A kernel plugin whose table implements a future major version of the kernel ABI, for the loader's tests: the
   plugin ABI matches, the kernel ABI does not. */
#include <confide_kernels.h>

static const ConfideKernelApi table = {
    .struct_size = sizeof(ConfideKernelApi),
    .abi_major = CONFIDE_KERNELS_ABI_MAJOR + 1,
    .abi_minor = 0,
    .rank = 0,
    .required_features = 0,
};

static const ConfidePluginDescriptor descriptor = {
    .struct_size = sizeof(ConfidePluginDescriptor),
    .abi_major = CONFIDE_ABI_MAJOR,
    .abi_minor = CONFIDE_ABI_MINOR,
    .kind = CONFIDE_PLUGIN_KERNELS,
    .name = "bad-kernel-major",
    .version = "1.0.0",
    .description = "test fixture",
    .min_host_abi_minor = 0,
    .language = CONFIDE_LANGUAGE_C,
    .compiler = CONFIDE_COMPILER_ID,
    .api = &table,
    .context = 0,
};

const ConfidePluginDescriptor *confide_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor) {
    (void)host_abi_major;
    (void)host_abi_minor;
    return &descriptor;
}
