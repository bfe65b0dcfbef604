import CConfide
import CConfideSystem
public import ConfideHost
public import ConfideMeasurement
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

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
    /// With `measurements`, every file is recorded before it is opened and every accepted plugin before it is used
    /// (see ``load(path:measurements:)``).
    public static func scan(directory: String, measurements: MeasurementLog? = nil) -> HandlerRegistry {
        var registry = HandlerRegistry()
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".so") }
            .sorted()
        for file in files {
            let path = URL(fileURLWithPath: directory).appendingPathComponent(file).path
            registry.load(path: path, measurements: measurements)
        }
        return registry
    }

    /// Loads one plugin file, recording it as loaded or refused.
    ///
    /// The file is read once, and the bytes read are what `dlopen` opens: they are copied into a sealed memory
    /// file loaded through `/proc/self/fd`, so the file cannot change between measuring and loading. With
    /// `measurements`, a ``MeasurementEvent/Kind/pluginFile`` event with the bytes' SHA-384 is recorded before any
    /// of the plugin's code runs, and a ``MeasurementEvent/Kind/plugin`` event once its descriptor is accepted;
    /// a plugin whose event cannot be recorded is refused.
    public mutating func load(path: String, measurements: MeasurementLog? = nil) {
        let file = URL(fileURLWithPath: path).lastPathComponent
        guard let data = FileManager.default.contents(atPath: path) else {
            return refuse(path, .notALibrary, "cannot read the plugin file \(path)")
        }
        let bytes = Array(data)
        let digest = SubjectDigest.of(bytes)
        do throws(MeasurementError) {
            try measurements?.record(MeasurementEvent(kind: .pluginFile, fields: ["file": file], digest: digest))
        } catch {
            return refuse(path, .notALibrary, "\(path) could not be measured: \(error.message)")
        }
        let descriptor: Int32
        do throws(PluginLoadError) {
            descriptor = try Self.stage(bytes, digest: digest, name: file)
        } catch {
            return refusals.append(Refusal(path: path, error: error))
        }
        let plugin: LoadedPlugin
        do {
            plugin = try PluginLoader.open(path: "/proc/self/fd/\(descriptor)", origin: path)
        } catch {
            return refusals.append(Refusal(path: path, error: error))
        }
        let kind = plugin.kind == CONFIDE_PLUGIN_KERNELS ? "kernels" : "handler"
        let event = MeasurementEvent(
            kind: .plugin,
            fields: [
                "name": plugin.name, "version": plugin.version,
                "abi": "\(plugin.abiVersion.major).\(plugin.abiVersion.minor)", "kind": kind, "file": file,
            ],
            digest: digest)
        do throws(MeasurementError) {
            try measurements?.record(event)
        } catch {
            return refuse(path, .invalidDescriptor, "plugin '\(plugin.name)' could not be measured: \(error.message)")
        }
        add(plugin)
    }

    /// The sealed memory files staged so far, by the SHA-384 of their bytes. They stay open, as libraries stay
    /// loaded: the dynamic linker knows a library by its path, so a `/proc/self/fd` number must never be reused for
    /// other bytes, and the same bytes staged again reuse their file, so `dlopen` returns the image already loaded.
    private static let staged = Mutex<[[UInt8]: Int32]>([:])

    /// The descriptor of a sealed memory file holding exactly `bytes`.
    private static func stage(_ bytes: [UInt8], digest: [UInt8], name: String) throws(PluginLoadError) -> Int32 {
        try staged.withLock { staged throws(PluginLoadError) in
            if let descriptor = staged[digest] {
                return descriptor
            }
            let descriptor = bytes.withUnsafeBytes { confide_sealed_memory_file(name, $0.baseAddress, $0.count) }
            guard descriptor >= 0 else {
                throw PluginLoadError(
                    .notALibrary, "cannot stage \(name) for loading: \(String(cString: strerror(errno)))")
            }
            staged[digest] = descriptor
            return descriptor
        }
    }

    private mutating func refuse(_ path: String, _ code: PluginLoadError.Code, _ message: String) {
        refusals.append(Refusal(path: path, error: PluginLoadError(code, message)))
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
