public import CConfide

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a plugin was refused. Equality compares the code only; the message is for people.
public struct PluginLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The reason a plugin was refused.
    public enum Code: String, Sendable {
        /// `dlopen` failed: not a shared library, or its dependencies are missing.
        case notALibrary
        /// The library does not export `confide_plugin_entry`.
        case missingEntry
        /// The entry returned nothing, or a malformed descriptor.
        case invalidDescriptor
        /// The plugin's ABI major version differs, it needs a newer minor version than the host has, or a kernel
        /// plugin's kernel ABI major differs.
        case incompatibleVersion
        /// A Swift plugin was built by another Swift toolchain.
        case compilerMismatch
        /// The plugin is of a kind this host does not serve.
        case unsupportedKind
        /// Another plugin with the same name is already loaded.
        case duplicateName
    }

    /// The reason.
    public let code: Code
    /// What happened, for people.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public static func == (lhs: PluginLoadError, rhs: PluginLoadError) -> Bool { lhs.code == rhs.code }
    public var description: String { message }
}

/// A plugin whose descriptor was accepted.
public struct LoadedPlugin: @unchecked Sendable {
    /// The plugin's name, unique among loaded plugins.
    public let name: String
    /// The plugin's own version.
    public let version: String
    /// One line for people.
    public let description: String
    /// The ABI version the plugin was built against.
    public let abiVersion: (major: UInt32, minor: UInt32)
    /// The kernel ABI version a kernel plugin's table implements; `nil` for other plugins.
    public let kernelABIVersion: (major: UInt32, minor: UInt32)?
    /// The language the plugin is written in, which decides whether its compiler must be the host's.
    public let language: ConfidePluginLanguage
    /// The compiler that built the plugin, as it reports it.
    public let compiler: String
    /// Where it came from: a file path, or a description for plugins linked in-process.
    public let origin: String
    /// What the plugin provides.
    public let kind: ConfidePluginKind
    /// The handler functions, for handler plugins.
    let handlerAPI: UnsafePointer<ConfideHandlerApi>?
    /// The descriptor's context, passed back to every handler function.
    let context: UnsafeMutableRawPointer?
    /// The kernel table, for kernel plugins (not yet initialised: see ``HostAPI/useKernels(_:)``).
    public let kernelAPI: UnsafePointer<ConfideKernelApi>?

    /// The CPU features (`ConfideCpuFeature` bits) a kernel plugin requires; 0 for other plugins.
    public var requiredFeatures: UInt64 { kernelAPI?.pointee.required_features ?? 0 }
    /// A kernel plugin's preference among the plugins the CPU supports (highest wins); 0 for other plugins.
    public var rank: UInt32 { kernelAPI?.pointee.rank ?? 0 }
}

/// Opens plugins and negotiates the ABI with them.
public enum PluginLoader {
    /// This host's ABI version.
    public static let hostVersion = (major: UInt32(CONFIDE_ABI_MAJOR), minor: UInt32(CONFIDE_ABI_MINOR))

    /// The kernel ABI version this host serves to handlers (`confide_kernels.h`).
    public static let kernelsVersion = (
        major: UInt32(CONFIDE_KERNELS_ABI_MAJOR), minor: UInt32(CONFIDE_KERNELS_ABI_MINOR)
    )

    /// The toolchain this host was built with, as Swift plugins must report it.
    public static let hostCompiler = String(cString: confide_compiler_id())

    /// Opens a shared library with `dlopen(RTLD_NOW | RTLD_LOCAL)` and negotiates with its entry point.
    /// The library is never closed: a Swift image cannot be unloaded safely.
    /// - Parameters:
    ///   - path: What `dlopen` opens (for example `/proc/self/fd/N` of a file already read and measured).
    ///   - origin: Where the plugin came from, for messages and ``LoadedPlugin/origin``; `path` when omitted.
    public static func open(path: String, origin: String? = nil) throws(PluginLoadError) -> LoadedPlugin {
        let origin = origin ?? path
        _ = dlerror()
        guard let image = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw PluginLoadError(.notALibrary, "cannot load a plugin from \(origin): \(reason)")
        }
        guard let symbol = dlsym(image, CONFIDE_PLUGIN_ENTRY) else {
            throw PluginLoadError(
                .missingEntry, "\(origin) does not export \(CONFIDE_PLUGIN_ENTRY): not a Confide plugin")
        }
        let entry = unsafeBitCast(symbol, to: ConfidePluginEntryFn.self)
        return try negotiate(entry: entry, origin: origin)
    }

    /// Negotiates with an entry point: calls it with the host's version and checks the descriptor.
    public static func negotiate(entry: ConfidePluginEntryFn, origin: String) throws(PluginLoadError) -> LoadedPlugin {
        try accept(descriptor: entry(hostVersion.major, hostVersion.minor).map { UnsafeRawPointer($0) }, origin: origin)
    }

    /// Checks a descriptor that an entry point returned for this host's version.
    public static func accept(descriptor raw: UnsafeRawPointer?, origin: String) throws(PluginLoadError) -> LoadedPlugin
    {
        guard let descriptor = raw?.assumingMemoryBound(to: ConfidePluginDescriptor.self) else {
            throw PluginLoadError(
                .invalidDescriptor,
                "\(origin): the plugin returned no descriptor for host ABI \(hostVersion.major).\(hostVersion.minor)")
        }
        // The first four fields keep their place in every ABI version: check the version before
        // reading anything else.
        let header = UnsafeRawPointer(descriptor).assumingMemoryBound(to: UInt32.self)
        let size = header[0]
        let major = header[1]
        let minor = header[2]
        guard size >= 4 * MemoryLayout<UInt32>.size else {
            throw PluginLoadError(.invalidDescriptor, "\(origin): descriptor of \(size) bytes is too small")
        }
        guard major == hostVersion.major else {
            throw PluginLoadError(
                .incompatibleVersion,
                "\(origin): built for Confide ABI \(major).\(minor); this server speaks ABI \(hostVersion.major).x"
            )
        }
        guard size >= MemoryLayout<ConfidePluginDescriptor>.size else {
            throw PluginLoadError(
                .invalidDescriptor,
                "\(origin): descriptor of \(size) bytes is smaller than ABI \(hostVersion.major).0's")
        }
        let fields = descriptor.pointee
        guard fields.min_host_abi_minor <= hostVersion.minor else {
            throw PluginLoadError(
                .incompatibleVersion,
                "\(origin): needs Confide ABI \(major).\(fields.min_host_abi_minor); this server provides \(hostVersion.major).\(hostVersion.minor)"
            )
        }
        let compiler = fields.compiler.map { String(cString: $0) } ?? "(none)"
        let language = ConfidePluginLanguage(rawValue: fields.language)
        switch language {
        case CONFIDE_LANGUAGE_C:
            break
        case CONFIDE_LANGUAGE_SWIFT:
            // A Swift plugin shares the Swift runtime with the host: only the host's own toolchain is safe.
            guard compiler == hostCompiler else {
                throw PluginLoadError(
                    .compilerMismatch,
                    "\(origin): a Swift plugin built with '\(compiler)' but this server was built with "
                        + "'\(hostCompiler)'; rebuild the plugin with the server's toolchain"
                )
            }
        default:
            throw PluginLoadError(
                .invalidDescriptor,
                "\(origin): the descriptor states language \(fields.language); a plugin is "
                    + "C (\(CONFIDE_LANGUAGE_C.rawValue)) or Swift (\(CONFIDE_LANGUAGE_SWIFT.rawValue))"
            )
        }
        let name = fields.name.map { String(cString: $0) } ?? ""
        guard !name.isEmpty else { throw PluginLoadError(.invalidDescriptor, "\(origin): the plugin has no name") }
        let kind = ConfidePluginKind(rawValue: fields.kind)
        var handlerAPI: UnsafePointer<ConfideHandlerApi>?
        var kernelAPI: UnsafePointer<ConfideKernelApi>?
        var kernelVersion: (major: UInt32, minor: UInt32)?
        switch kind {
        case CONFIDE_PLUGIN_HANDLER:
            let api = fields.api?.assumingMemoryBound(to: ConfideHandlerApi.self)
            guard let api, Int(api.pointee.struct_size) >= MemoryLayout<ConfideHandlerApi>.size else {
                throw PluginLoadError(.invalidDescriptor, "\(origin): handler '\(name)' has no complete function table")
            }
            let table = api.pointee
            guard table.model_load != nil, table.model_signature != nil, table.model_unload != nil,
                table.instance_create != nil, table.instance_execute != nil, table.instance_destroy != nil
            else {
                throw PluginLoadError(
                    .invalidDescriptor, "\(origin): handler '\(name)' leaves a required function empty")
            }
            handlerAPI = api
        case CONFIDE_PLUGIN_KERNELS:
            let (api, version) = try kernelTable(fields.api, name: name, origin: origin)
            kernelAPI = api
            kernelVersion = version
        default:
            throw PluginLoadError(.unsupportedKind, "\(origin): plugin '\(name)' is of unknown kind \(fields.kind)")
        }
        return LoadedPlugin(
            name: name,
            version: fields.version.map { String(cString: $0) } ?? "",
            description: fields.description.map { String(cString: $0) } ?? "",
            abiVersion: (major, minor),
            kernelABIVersion: kernelVersion,
            language: language,
            compiler: compiler,
            origin: origin,
            kind: kind,
            handlerAPI: handlerAPI,
            context: fields.context,
            kernelAPI: kernelAPI)
    }

    /// Checks a kernel plugin's table: its kernel ABI version (the first fields, in place in every version) before
    /// anything else, then that every function of kernel ABI 1.0 is there.
    private static func kernelTable(_ raw: UnsafeRawPointer?, name: String, origin: String) throws(PluginLoadError)
        -> (UnsafePointer<ConfideKernelApi>, (major: UInt32, minor: UInt32))
    {
        guard let raw else {
            throw PluginLoadError(.invalidDescriptor, "\(origin): kernel plugin '\(name)' has no kernel table")
        }
        let header = raw.assumingMemoryBound(to: UInt32.self)
        let size = header[0]
        guard size >= 3 * MemoryLayout<UInt32>.size else {
            throw PluginLoadError(.invalidDescriptor, "\(origin): kernel table of \(size) bytes is too small")
        }
        let version = (major: header[1], minor: header[2])
        guard version.major == kernelsVersion.major else {
            throw PluginLoadError(
                .incompatibleVersion,
                "\(origin): kernel plugin '\(name)' implements Confide kernel ABI \(version.major).\(version.minor); "
                    + "this server serves kernel ABI \(kernelsVersion.major).x"
            )
        }
        let api = raw.assumingMemoryBound(to: ConfideKernelApi.self)
        guard Int(size) >= MemoryLayout<ConfideKernelApi>.size else {
            throw PluginLoadError(.invalidDescriptor, "\(origin): kernel plugin '\(name)' has no complete kernel table")
        }
        let table = api.pointee
        guard table.`init` != nil, table.pack_weights != nil, table.packed_free != nil, table.gemm != nil,
            table.batched_matmul != nil, table.softmax != nil, table.layer_norm != nil, table.attention != nil
        else {
            throw PluginLoadError(
                .invalidDescriptor, "\(origin): kernel plugin '\(name)' leaves a required function empty")
        }
        return (api, version)
    }
}
