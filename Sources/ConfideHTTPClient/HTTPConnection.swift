public import NIOCore
public import NIOHTTP1
public import NIOPosix

/// An HTTP request sent by the client.
public struct ClientRequest: Sendable {
    /// The method.
    public var method: HTTPMethod
    /// The path and query.
    public var uri: String
    /// The header fields (the connection adds `Host` and `Content-Length`).
    public var headers: HTTPHeaders
    /// The body.
    public var body: ByteBuffer

    /// Creates a request.
    public init(method: HTTPMethod, uri: String, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
    }
}

/// An HTTP response received by the client.
public struct ClientResponse: Sendable {
    /// The status.
    public var status: HTTPResponseStatus
    /// The header fields.
    public var headers: HTTPHeaders
    /// The body.
    public var body: ByteBuffer

    /// A response with these parts (as a client decodes one that did not arrive as plain HTTP/1.1).
    public init(status: HTTPResponseStatus, headers: HTTPHeaders, body: ByteBuffer) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The body as UTF-8 text.
    public var text: String { String(buffer: body) }
}

/// A client error: the connection failed or closed before a response arrived.
public struct ClientError: Error, Sendable, CustomStringConvertible {
    /// What happened.
    public let message: String

    public var description: String { message }
}

/// A response whose body was longer than the connection allows (`maxResponseBodySize`).
public struct ResponseTooLarge: Error, Sendable, CustomStringConvertible {
    /// The most body bytes the connection accepts.
    public let limit: Int

    public var description: String { "the response body is larger than \(limit) bytes" }
}

/// One keep-alive HTTP/1.1 connection. Requests are sent in order and may be pipelined; each `send`
/// returns its own response.
public final class HTTPConnection: Sendable {
    private let channel: any Channel
    private let host: String

    private init(channel: any Channel, host: String) {
        self.channel = channel
        self.host = host
    }

    /// Opens a connection to `host:port`.
    public static func connect(
        host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> HTTPConnection {
        try await connecting(host: host, port: port, group: group).get()
    }

    /// Opens a connection to `host:port`, for callers that work with futures.
    ///
    /// - Parameters:
    ///   - connectTimeout: How long connecting may take.
    ///   - maxResponseBodySize: The most body bytes a response may have; a longer one fails its request with
    ///     ``ResponseTooLarge`` and closes the connection, instead of being held in memory.
    public static func connecting(
        host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        connectTimeout: TimeAmount = .seconds(10), maxResponseBodySize: Int = .max
    ) -> EventLoopFuture<HTTPConnection> {
        ClientBootstrap(group: group)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseHandler(maxBodySize: maxResponseBodySize))
                }
            }
            .connect(host: host, port: port)
            .map { HTTPConnection(channel: $0, host: "\(host):\(port)") }
    }

    /// Sends a request and waits for its response.
    public func send(_ request: ClientRequest) async throws -> ClientResponse {
        try await sending(request).get()
    }

    /// Sends a request; the future completes with its response.
    public func sending(_ request: ClientRequest) -> EventLoopFuture<ClientResponse> {
        var request = request
        if !request.headers.contains(name: "Host") { request.headers.add(name: "Host", value: host) }
        request.headers.replaceOrAdd(name: "Content-Length", value: String(request.body.readableBytes))
        let promise = channel.eventLoop.makePromise(of: ClientResponse.self)
        // A request that cannot be written (the server closed the connection first) fails instead of waiting.
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { promise.fail($0) }
        channel.writeAndFlush(PendingRequest(request: request, promise: promise), promise: written)
        return promise.futureResult
    }

    /// Closes the connection.
    public func close() async {
        try? await channel.close()
    }

    /// Closes the connection without waiting.
    public func closeNow() {
        channel.close(promise: nil)
    }
}

private struct PendingRequest: Sendable {
    let request: ClientRequest
    let promise: EventLoopPromise<ClientResponse>
}

/// Writes requests and matches responses to them in order.
private final class ResponseHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = PendingRequest
    typealias OutboundOut = HTTPClientRequestPart

    private let maxBodySize: Int
    private var waiting: [EventLoopPromise<ClientResponse>] = []
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()

    init(maxBodySize: Int) {
        self.maxBodySize = maxBodySize
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let pending = unwrapOutboundIn(data)
        waiting.append(pending.promise)
        let head = HTTPRequestHead(
            version: .http1_1, method: pending.request.method, uri: pending.request.uri,
            headers: pending.request.headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if pending.request.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(pending.request.body))), promise: nil)
        }
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = context.channel.allocator.buffer(capacity: 0)
        case .body(var chunk):
            guard head != nil else { return }
            guard chunk.readableBytes <= maxBodySize - body.readableBytes else {
                head = nil
                body = ByteBuffer()
                failAll(ResponseTooLarge(limit: maxBodySize))
                context.close(promise: nil)
                return
            }
            body.writeBuffer(&chunk)
        case .end:
            guard let head, !waiting.isEmpty else { return }
            self.head = nil
            waiting.removeFirst().succeed(ClientResponse(status: head.status, headers: head.headers, body: body))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(ClientError(message: "the connection closed before the response arrived"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: any Error) {
        let promises = waiting
        waiting.removeAll()
        for promise in promises { promise.fail(error) }
    }
}
