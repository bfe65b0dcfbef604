import NIOExtras
public import NIOCore
import NIOHTTP1
public import NIOPosix

/// An HTTP/1.1 server on real sockets: keep-alive, pipelining, a request body limit, and a graceful
/// shutdown that stops accepting, finishes every request already received, then closes.
public final class HTTPServer: Sendable {
    /// The address the server listens on (with the real port when it was asked to bind port 0).
    public let localAddress: SocketAddress
    private let channel: any Channel
    private let quiescing: QuiescingBox

    private init(channel: any Channel, localAddress: SocketAddress, quiescing: QuiescingBox) {
        self.channel = channel
        self.localAddress = localAddress
        self.quiescing = quiescing
    }

    /// The port the server listens on.
    public var port: Int { localAddress.port ?? 0 }

    /// Binds `host:port` and starts serving `responder`.
    public static func start(
        host: String, port: Int, responder: any RequestResponder, maxBodySize: Int,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> HTTPServer {
        let quiescing = QuiescingBox(ServerQuiescingHelper(group: group))
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.helper.makeServerChannelHandler(channel: channel))
                }
            }
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPRequestHandler(responder: responder, maxBodySize: maxBodySize))
                }
            }
            .bind(host: host, port: port)
            .get()
        guard let address = channel.localAddress else {
            try await channel.close()
            throw ChannelError.unknownLocalAddress
        }
        return HTTPServer(channel: channel, localAddress: address, quiescing: quiescing)
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

/// Lets the quiescing helper, which is thread-safe, be captured by sendable closures.
private final class QuiescingBox: @unchecked Sendable {
    let helper: ServerQuiescingHelper

    init(_ helper: ServerQuiescingHelper) {
        self.helper = helper
    }
}
