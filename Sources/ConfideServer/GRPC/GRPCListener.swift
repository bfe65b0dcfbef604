import ConfideKServe
import GRPCCore
import GRPCNIOTransportHTTP2
import NIOPosix

/// The KServe v2 gRPC listener: HTTP/2 without TLS (h2c, as Triton and KServe serve it) on the server's event loops.
/// It runs until ``shutdown()``, which stops accepting connections and lets the calls in progress finish.
public final class GRPCListener: Sendable {
    /// The port it listens on (the real port when it was asked to bind port 0).
    public let port: Int
    private let server: GRPCServer<HTTP2ServerTransport.Posix>
    private let serving: Task<Void, any Error>

    private init(port: Int, server: GRPCServer<HTTP2ServerTransport.Posix>, serving: Task<Void, any Error>) {
        self.port = port
        self.server = server
        self.serving = serving
    }

    /// Binds `host:port` and starts serving the inference service. Messages larger than `maxMessageSize` are refused
    /// with `resourceExhausted`; a connection idle for `idleTimeout` is closed.
    static func start(
        host: String, port: Int, service: GRPCInferenceService, maxMessageSize: Int, idleTimeout: Duration
    ) async throws -> GRPCListener {
        let transport = HTTP2ServerTransport.Posix(
            address: host.contains(":") ? .ipv6(host: host, port: port) : .ipv4(host: host, port: port),
            transportSecurity: .plaintext,
            config: .defaults { config in
                config.rpc.maxRequestPayloadSize = maxMessageSize
                config.connection.maxIdleTime = idleTimeout
                config.http2.maxConcurrentStreams = maximumConcurrentStreams
            },
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
        let server = GRPCServer(transport: transport, services: [service])
        // grpc-swift's `serve()` binds and serves in one call, and the port is known only once it runs: the listener
        // owns the task and `shutdown()` awaits it.
        let serving = Task { try await server.serve() }
        let bound: Int
        do {
            let address = try await transport.listeningAddress
            bound = address.ipv4?.port ?? address.ipv6?.port ?? port
        } catch {
            server.beginGracefulShutdown()
            _ = await serving.result
            throw error
        }
        return GRPCListener(port: bound, server: server, serving: serving)
    }

    /// The most calls one connection may have in progress at once.
    static let maximumConcurrentStreams = 128

    /// Stops accepting connections and calls, lets the calls in progress finish, and returns once they have.
    public func shutdown() async {
        server.beginGracefulShutdown()
        _ = await serving.result
    }
}
