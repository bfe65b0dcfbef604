public import NIOCore
import NIOExtras
import NIOHTTP1
public import NIOPosix

/// An HTTP/1.1 server on real sockets: keep-alive, pipelining, a request body limit, a memory budget, a
/// connection limit, idle/header/body/write timeouts, and a graceful shutdown that stops accepting, finishes every
/// request already received, then closes.
public final class HTTPServer: Sendable {
    /// The address the server listens on (with the real port when it was asked to bind port 0).
    public let localAddress: SocketAddress
    /// The memory budget the server's request bodies and unwritten responses are charged to.
    public let budget: MemoryBudget
    private let channel: any Channel
    private let quiescing: QuiescingBox
    private let registry: ConnectionRegistry

    private init(
        channel: any Channel, localAddress: SocketAddress, quiescing: QuiescingBox, budget: MemoryBudget,
        registry: ConnectionRegistry
    ) {
        self.channel = channel
        self.localAddress = localAddress
        self.quiescing = quiescing
        self.budget = budget
        self.registry = registry
    }

    /// The port the server listens on.
    public var port: Int { localAddress.port ?? 0 }

    /// The connections open now.
    public var connectionCount: Int { registry.count }

    /// Binds `host:port` and starts serving `responder`.
    ///
    /// Request bodies over `maxBodySize` get 413. Bodies and unwritten responses are charged to `budget` (a budget
    /// of its own without a limit when nil); a body the budget cannot hold gets 503 with `Retry-After`. `limits`
    /// bounds the connections and how long each stage of a request may take. `renderError` renders the server's own
    /// refusals (413, 503, 408) in the listener's API format, KServe's `{"error": "..."}` when nil.
    public static func start(
        host: String, port: Int, responder: any RequestResponder, maxBodySize: Int,
        limits: ConnectionLimits = ConnectionLimits(), budget: MemoryBudget? = nil,
        renderError: (@Sendable (APIError) -> ServerResponse)? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> HTTPServer {
        let quiescing = QuiescingBox(ServerQuiescingHelper(group: group))
        let budget = budget ?? MemoryBudget(limit: .max)
        let renderError = renderError ?? { ErrorFormat.kserve.response($0) }
        let registry = ConnectionRegistry(limit: limits.maxConnections)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        quiescing.helper.makeServerChannelHandler(channel: channel))
                }
            }
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
                    let connection = HTTPConnectionHandler(limits: limits, registry: registry)
                    try operations.addHandler(connection)
                    guard connection.admit(channel) else { throw ConnectionRefusal() }
                    try operations.configureHTTPServerPipeline(withErrorHandling: true)
                    try operations.addHandler(
                        HTTPRequestHandler(
                            responder: responder, maxBodySize: maxBodySize, budget: budget, renderError: renderError,
                            connection: connection))
                }
            }
            .bind(host: host, port: port)
            .get()
        guard let address = channel.localAddress else {
            try await channel.close()
            throw ChannelError.unknownLocalAddress
        }
        return HTTPServer(
            channel: channel, localAddress: address, quiescing: quiescing, budget: budget, registry: registry)
    }

    /// Stops accepting connections, lets every connection finish the requests it already sent, closes
    /// them, and returns once all are closed.
    public func shutdown() async {
        let promise = channel.eventLoop.makePromise(of: Void.self)
        quiescing.helper.initiateShutdown(promise: promise)
        try? await promise.futureResult.get()
    }

    /// Waits until the server's listening socket closes.
    public func waitUntilClosed() async throws {
        try await channel.closeFuture.get()
    }
}

/// A new connection refused because every open connection of the listener has a request in progress.
private struct ConnectionRefusal: Error {}

/// Lets the quiescing helper, which is thread-safe, be captured by sendable closures.
private final class QuiescingBox: @unchecked Sendable {
    let helper: ServerQuiescingHelper

    init(_ helper: ServerQuiescingHelper) {
        self.helper = helper
    }
}
