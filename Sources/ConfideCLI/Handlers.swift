import ArgumentParser
import CConfide
import ConfideHost
import ConfideRuntime

/// `confide handlers`: list the plugins a folder holds, and why any was refused.
struct Handlers: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the handler plugins the server would load.")

    @Option(help: "The folder scanned for handler plugins (*.so).")
    var handlers = "handlers"

    func run() throws {
        let registry = HandlerRegistry.scan(directory: handlers)
        let (major, minor) = PluginLoader.hostVersion
        let kernels = PluginLoader.kernelsVersion
        print("Host ABI \(major).\(minor), kernel ABI \(kernels.major).\(kernels.minor)")
        print("Swift plugins must be built with \(PluginLoader.hostCompiler)")
        if registry.plugins.isEmpty && registry.refusals.isEmpty {
            print("No plugins in \(handlers).")
        }
        for plugin in registry.plugins.values.sorted(by: { $0.name < $1.name }) {
            let abi = "\(plugin.abiVersion.major).\(plugin.abiVersion.minor)"
            let language = plugin.language == CONFIDE_LANGUAGE_SWIFT ? "Swift" : "C"
            print("loaded   \(plugin.name) \(plugin.version) (ABI \(abi), \(language)) \(plugin.origin)")
            if !plugin.description.isEmpty { print("         \(plugin.description)") }
        }
        for refusal in registry.refusals {
            print("refused  \(refusal.path): \(refusal.error.message)")
        }
    }
}
