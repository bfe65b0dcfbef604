/* A plugin that needs a host ABI minor version that no host has yet, for the loader's tests. */
#include <confide.h>

static const ConfidePluginDescriptor descriptor = {
    .struct_size = sizeof(ConfidePluginDescriptor),
    .abi_major = CONFIDE_ABI_MAJOR,
    .abi_minor = CONFIDE_ABI_MINOR,
    .kind = CONFIDE_PLUGIN_HANDLER,
    .name = "newer-minor",
    .version = "1.0.0",
    .description = "test fixture",
    .min_host_abi_minor = 99,
    .language = CONFIDE_LANGUAGE_C,
    .compiler = CONFIDE_COMPILER_ID,
    .api = 0,
    .context = 0,
};

const ConfidePluginDescriptor *confide_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor) {
    (void)host_abi_major;
    (void)host_abi_minor;
    return &descriptor;
}
