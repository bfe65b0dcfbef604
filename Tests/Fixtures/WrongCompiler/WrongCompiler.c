/* A plugin that declares itself a Swift plugin built by another toolchain, for the loader's tests: only a Swift
   plugin's compiler must match the server's. */
#include <confide.h>

static const ConfidePluginDescriptor descriptor = {
    .struct_size = sizeof(ConfidePluginDescriptor),
    .abi_major = CONFIDE_ABI_MAJOR,
    .abi_minor = CONFIDE_ABI_MINOR,
    .kind = CONFIDE_PLUGIN_HANDLER,
    .name = "wrong-compiler",
    .version = "1.0.0",
    .description = "test fixture",
    .min_host_abi_minor = 0,
    .language = CONFIDE_LANGUAGE_SWIFT,
    .compiler = "clang 0.0.0 (another toolchain)",
    .api = 0,
    .context = 0,
};

const ConfidePluginDescriptor *confide_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor) {
    (void)host_abi_major;
    (void)host_abi_minor;
    return &descriptor;
}
