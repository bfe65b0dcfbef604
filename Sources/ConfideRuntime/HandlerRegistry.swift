public import ConfideHost
import CConfide
import Foundation

/// The plugins found in a folder: the handlers and kernel plugins loaded, and the files refused with the reason.
public struct HandlerRegistry: Sendable {
    /// A plugin file that was refused.
    public struct Refusal: Sendable, CustomStringConvertible {
        /// The file.
        public let path: String
        /// Why it was refused.
        public let error: PluginLoadError

        public var description: String { error.message }
    }

    /// The loaded handler plugins by name.
    public private(set) var plugins: [String: LoadedPlugin] = [:]
    /// The loaded kernel plugins by name (see ``KernelSelection``).
    public private(set) var kernelPlugins: [String: LoadedPlugin] = [:]
    /// The refused files.
    public private(set) var refusals: [Refusal] = []

    /// Creates an empty registry.
    public init() {}

    /// Loads every `*.so` in `directory`, in name order. A bad plugin is refused and the rest still load.
    public static func scan(directory: String) -> HandlerRegistry {
        var registry = HandlerRegistry()
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".so") }
            .sorted()
        for file in files {
            let path = URL(fileURLWithPath: directory).appendingPathComponent(file).path
            registry.load(path: path)
        }
        return registry
    }

    /// Loads one plugin file, recording it as loaded or refused.
    public mutating func load(path: String) {
        do {
            add(try PluginLoader.open(path: path))
        } catch {
            refusals.append(Refusal(path: path, error: error))
        }
    }

    /// Adds an already negotiated plugin, as a handler or a kernel plugin by its kind; refuses a second
    /// plugin with a name already taken by either.
    public mutating func add(_ plugin: LoadedPlugin) {
        if let existing = plugins[plugin.name] ?? kernelPlugins[plugin.name] {
            refusals.append(
                Refusal(
                    path: plugin.origin,
                    error: PluginLoadError(
                        .duplicateName,
                        "\(plugin.origin): a plugin named '\(plugin.name)' is already loaded from \(existing.origin)")))
            return
        }
        if plugin.kind == CONFIDE_PLUGIN_KERNELS {
            kernelPlugins[plugin.name] = plugin
        } else {
            plugins[plugin.name] = plugin
        }
    }
}
