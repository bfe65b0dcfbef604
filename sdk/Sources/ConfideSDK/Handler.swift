import CConfide

/// A model handler: loads one model (once, shared by all workers) and makes a per-worker
/// ``HandlerInstance`` that executes batches.
///
/// Export a handler from its plugin with one entry point:
///
/// ```swift
/// @c(confide_plugin_entry)
/// public func entry(_ major: UInt32, _ minor: UInt32) -> UnsafeRawPointer? { Echo.export(major, minor) }
/// ```
public protocol Handler: Sendable {
    /// The per-worker state that executes batches.
    associatedtype Instance: HandlerInstance

    /// The handler's name, which models name in their `model.json` (`{"handler": "echo"}`).
    static var name: String { get }
    /// The handler's own version.
    static var version: String { get }
    /// One line for people.
    static var description: String { get }

    /// Loads a model. Called once per model version; the result is shared by every worker.
    init(model: ModelContext) throws

    /// The model's inputs, for model metadata.
    var inputs: [TensorSpec] { get }
    /// The model's outputs, for model metadata.
    var outputs: [TensorSpec] { get }

    /// Creates one worker's instance, on that worker's thread.
    func makeInstance(worker: WorkerContext) throws -> Instance
}

extension Handler {
    public static var version: String { "1.0.0" }
    public static var description: String { "" }
    public var inputs: [TensorSpec] { [] }
    public var outputs: [TensorSpec] { [] }
}

extension Handler where Instance == Self {
    /// A handler without per-worker state is its own instance.
    public func makeInstance(worker: WorkerContext) throws -> Self { self }
}

/// One worker's state: executes batches, one at a time, on the worker's thread.
public protocol HandlerInstance {
    /// Answers every request of the batch. Throwing fails every request not already answered.
    mutating func execute(_ batch: Batch) throws
}

extension Batch {
    /// Runs `body` for each request; a request whose body throws is failed alone, with that error.
    public func forEachRequest(_ body: (Request) throws -> Void) {
        for request in self {
            do {
                try body(request)
            } catch {
                request.fail(HandlerError(wrapping: error))
            }
        }
    }
}

/// What a handler knows about the model it loads.
public struct ModelContext: @unchecked Sendable {
    /// The model's name.
    public let name: String
    /// The version being loaded.
    public let version: String
    /// The folder holding this version's artifacts.
    public let path: String
    /// The model's `model.json`, as written.
    public let configJSON: String
    /// The `parameters` object of `model.json` as JSON text (`{}` when absent).
    public let parametersJSON: String
    /// The model's files when it was loaded from an archive: in memory only (they never touched disk),
    /// valid until the model is unloaded. Empty when the files are in ``path``; ``file(_:)`` reads both.
    public let artifacts: [String: UnsafeRawBufferPointer]
    /// The server's log.
    public let log: HostLog
    let host: UnsafePointer<ConfideHostApi>

    init(_ config: UnsafePointer<ConfideModelConfig>, host: UnsafePointer<ConfideHostApi>) {
        func string(_ pointer: UnsafePointer<CChar>?) -> String { pointer.map { String(cString: $0) } ?? "" }
        // Read field by field: a host built against an older minor passes a shorter struct.
        let raw = UnsafeRawPointer(config)
        func field<T>(_ path: KeyPath<ConfideModelConfig, T>, _ type: T.Type) -> T? {
            guard let offset = MemoryLayout<ConfideModelConfig>.offset(of: path),
                offset + MemoryLayout<T>.size <= Int(raw.load(as: UInt32.self))
            else { return nil }
            return raw.load(fromByteOffset: offset, as: T.self)
        }
        let name = string(field(\.name, UnsafePointer<CChar>?.self) ?? nil)
        self.name = name
        self.version = string(field(\.version, UnsafePointer<CChar>?.self) ?? nil)
        self.path = string(field(\.path, UnsafePointer<CChar>?.self) ?? nil)
        self.configJSON = string(field(\.config_json, UnsafePointer<CChar>?.self) ?? nil)
        let parameters = string(field(\.parameters_json, UnsafePointer<CChar>?.self) ?? nil)
        self.parametersJSON = parameters.isEmpty ? "{}" : parameters
        var artifacts: [String: UnsafeRawBufferPointer] = [:]
        if let count = field(\.artifact_count, UInt32.self),
            let list = field(\.artifacts, UnsafePointer<UnsafePointer<ConfideArtifact>?>?.self) ?? nil
        {
            for index in 0..<Int(count) {
                guard let artifact = list[index]?.pointee, let artifactName = artifact.name else { continue }
                artifacts[String(cString: artifactName)] = UnsafeRawBufferPointer(
                    start: artifact.data, count: Int(artifact.size))
            }
        }
        self.artifacts = artifacts
        self.log = HostLog(host: host, prefix: "[\(name)] ")
        self.host = host
    }

    /// Allocates memory on the calling worker's NUMA node. Free it with ``deallocate(_:)``.
    public func allocate(byteCount: Int, alignment: Int = 64) -> UnsafeMutableRawPointer? {
        host.pointee.aligned_alloc(UInt64(alignment), UInt64(byteCount))
    }

    /// Frees memory from ``allocate(byteCount:alignment:)``.
    public func deallocate(_ pointer: UnsafeMutableRawPointer?) {
        host.pointee.aligned_free(pointer)
    }
}

/// The worker an instance belongs to, and its intra-op parallelism.
public struct WorkerContext: @unchecked Sendable {
    /// The worker's index among the model's workers.
    public let index: Int
    /// The NUMA node the worker runs on, when known.
    public let numaNode: Int?
    /// The cores the worker owns: its intra-op parallelism.
    public let coreCount: Int
    let host: UnsafePointer<ConfideHostApi>

    init(_ info: ConfideWorkerInfo, host: UnsafePointer<ConfideHostApi>) {
        self.index = Int(info.worker_index)
        self.numaNode = info.numa_node >= 0 ? Int(info.numa_node) : nil
        self.coreCount = max(1, Int(info.core_count))
        self.host = host
    }

    /// The number of threads ``parallelFor(count:grain:_:)`` uses on the calling thread.
    public var threadCount: Int { Int(host.pointee.parallel_thread_count()) }

    /// Runs `body` over `0 ..< count` in chunks of at least `grain`, on the worker's own cores, and
    /// returns when all are done. Chunks run concurrently: each must write only its own memory. Call it
    /// from `execute` (the worker's thread); elsewhere the loop runs on the calling thread alone.
    public func parallelFor(count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        withoutActuallyEscaping(body) { body in
            var loop = Loop(body: body)
            withUnsafeMutablePointer(to: &loop) { pointer in
                host.pointee.parallel_for(UInt64(count), UInt64(max(1, grain)), pointer) { context, begin, end in
                    guard let loop = context?.assumingMemoryBound(to: Loop.self) else { return }
                    loop.pointee.body(Int(begin)..<Int(end))
                }
            }
        }
    }

    private struct Loop {
        let body: (Range<Int>) -> Void
    }
}

/// The server's log, as seen from a plugin.
public struct HostLog: @unchecked Sendable {
    let host: UnsafePointer<ConfideHostApi>
    let prefix: String

    /// Logs an error.
    public func error(_ message: String) { write(CONFIDE_LOG_ERROR, message) }
    /// Logs a warning.
    public func warning(_ message: String) { write(CONFIDE_LOG_WARNING, message) }
    /// Logs information.
    public func info(_ message: String) { write(CONFIDE_LOG_INFO, message) }
    /// Logs detail for debugging.
    public func debug(_ message: String) { write(CONFIDE_LOG_DEBUG, message) }

    private func write(_ level: ConfideLogLevel, _ message: String) {
        (prefix + message).withCString { host.pointee.log(level.rawValue, $0) }
    }
}
