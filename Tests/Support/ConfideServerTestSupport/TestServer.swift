// A real server on loopback for the test targets that exercise it: the server's, the client library's and the
// command line's.
public import ConfideHTTPClient
public import ConfideServer
public import ConfideTestSupport
import Foundation
public import Logging
import NIOCore
public import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// A real server on a free loopback port, with its own handlers folder and model store, run by a service group as
/// `confide serve` runs it.
public struct TestServer: Sendable {
    /// The started server.
    public let server: InferenceServer
    /// The folder holding its handlers folder and model store, removed when it stops.
    public let root: TemporaryDirectory
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    /// Starts a server with simulated attestation evidence, and its gRPC listener on a free port when `grpc` is set;
    /// `configure` changes anything else, and `logs`, when given, receives every log line at debug level and above.
    public static func start(
        plugins: [String] = ["Echo"], models: [String: String] = ["echo": #"{"handler": "echo"}"#],
        maxBodySize: Int = 1 << 20, tokens: TokenStore? = nil, grpc: Bool = false, logs: LogRecorder? = nil,
        configure: (inout ServerConfiguration) throws -> Void = { _ in }
    ) async throws -> TestServer {
        let root = try TemporaryDirectory()
        var configuration = ServerConfiguration(
            handlersDirectory: try makeServerHandlersDirectory(in: root, plugins: plugins),
            modelsDirectory: try makeModelStore(in: root, models: models))
        configuration.port = 0
        configuration.metricsPort = 0
        configuration.managementPort = 0
        configuration.grpcPort = grpc ? 0 : nil
        configuration.maxBodySize = maxBodySize
        configuration.tokens = tokens
        configuration.attestation = .simulated
        // A test client on a loaded 2-core CI machine can stall for seconds between connecting and writing; the
        // tests of the timeouts set their own.
        configuration.connections.headerTimeout = .seconds(120)
        configuration.connections.idleTimeout = .seconds(120)
        try configure(&configuration)
        var logger =
            logs.map { recorder in Logger(label: "confide-test") { _ in recorder } }
            ?? Logger(label: "confide-test")
        logger.logLevel = logs == nil ? .warning : .debug
        return try await run(configuration, logger: logger, root: root)
    }

    /// Runs a server with `configuration` in a service group until ``stop()``; removes `root` if it does not start.
    public static func run(_ configuration: ServerConfiguration, logger: Logger, root: TemporaryDirectory) async throws
        -> TestServer
    {
        let service = ConfideService(configuration: configuration, logger: logger)
        let group = ServiceGroup(services: [service], logger: logger)
        // The group runs until `stop()`, beyond this call: it cannot be a child of the test's task.
        let running = Task { try await group.run() }
        do {
            let server = try await service.waitUntilListening()
            return TestServer(server: server, root: root, group: group, running: running)
        } catch {
            _ = await running.result
            root.remove()
            throw error
        }
    }

    /// The inference listener's port.
    public var port: Int { server.http.port }
    /// The metrics listener's port, 0 when it has none.
    public var metricsPort: Int { server.metrics?.port ?? 0 }
    /// The management listener's port, 0 when it has none.
    public var managementPort: Int { server.management?.port ?? 0 }
    /// The gRPC listener's port, 0 when it has none.
    public var grpcPort: Int { server.grpc?.port ?? 0 }

    /// Opens a new connection to the inference listener.
    public func connect() async throws -> HTTPConnection {
        try await HTTPConnection.connect(host: "127.0.0.1", port: port)
    }

    /// Shuts the server down gracefully, as SIGTERM does, and waits until it has stopped.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = await running.result
        root.remove()
    }
}

/// A KServe v2 request body with one INT32 input holding `value`, with an optional id and parameters.
public func int32Request(_ value: Int32, id: String? = nil, parameters: String? = nil) -> String {
    let idPart = id.map { #""id":"\#($0)","# } ?? ""
    let parametersPart = parameters.map { #""parameters":\#($0),"# } ?? ""
    return #"{\#(idPart)\#(parametersPart)"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[\#(value)]}]}"#
}

/// Sends one request on a new connection.
public func send(_ port: Int, _ method: HTTPMethod, _ uri: String, body: String = "", headers: HTTPHeaders = [:])
    async throws -> ClientResponse
{
    let connection = try await HTTPConnection.connect(host: "127.0.0.1", port: port)
    defer { Task { await connection.close() } }
    return try await connection.send(
        ClientRequest(method: method, uri: uri, headers: headers, body: ByteBuffer(string: body)))
}

/// A log handler that keeps every line it receives, rendered with its metadata, for tests that inspect logs.
public final class LogRecorder: LogHandler, @unchecked Sendable {
    private let lines = Mutex<[String]>([])
    /// The metadata added to every line.
    public var metadata: Logger.Metadata = [:]
    /// The lowest level recorded.
    public var logLevel: Logger.Level = .trace

    /// Creates a recorder that holds no lines yet.
    public init() {}

    /// One metadata value added to every line.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Keeps the line.
    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        lines.withLock { $0.append("\(event.level) \(event.message) \(merged)") }
    }

    /// Every line logged so far.
    public var recorded: [String] { lines.withLock { $0 } }
}

/// Runs blocking work on a thread of its own and awaits its result. Blocking calls (waiting for a
/// process, reading a pipe, a key provider's network fetch) must never run on the concurrency pool's
/// threads: on a 2-core machine the pool has two, and the servers under test need them.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}
