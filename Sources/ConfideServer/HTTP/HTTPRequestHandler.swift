import NIOCore
import NIOHTTP1

/// Collects each HTTP request's body as its bytes arrive, hands the whole request to the responder and writes its
/// response.
///
/// The body's buffer and the response until it is written are charged to the server's memory budget. Refusals,
/// each rendered by `renderError` and followed by closing the connection: 413 for a body over the limit, 503 with
/// `Retry-After` when the budget cannot hold a body (decided at the head from `Content-Length`, and again as the
/// body grows), 408 when the body does not arrive within the body timeout.
final class HTTPRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Response bodies larger than this are written in slices of this size; each slice written is progress for the
    /// write timeout.
    private static let writeSlice = 256 << 10

    private let responder: any RequestResponder
    private let maxBodySize: Int
    private let budget: MemoryBudget
    private let renderError: @Sendable (APIError) -> ServerResponse
    private let connection: HTTPConnectionHandler
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    /// The bytes of `body`'s buffer charged to the budget.
    private var bodyCharge = 0
    private var rejectingBody = false

    init(
        responder: any RequestResponder, maxBodySize: Int, budget: MemoryBudget,
        renderError: @escaping @Sendable (APIError) -> ServerResponse, connection: HTTPConnectionHandler
    ) {
        self.responder = responder
        self.maxBodySize = maxBodySize
        self.budget = budget
        self.renderError = renderError
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            rejectingBody = false
            let declared = head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
            let expectingBody = declared > 0 || head.headers.contains(name: "transfer-encoding")
            connection.requestHeadReceived(expectingBody: expectingBody)
            if declared > maxBodySize {
                refuse(tooLarge("\(declared) bytes"), context: context)
            } else if expectingBody && budget.available < max(declared, 1) {
                refuse(overBudget(), context: context)
            }
        case .body(let chunk):
            guard !rejectingBody else { return }
            append(chunk, context: context)
        case .end:
            guard !rejectingBody, let head else { return }
            self.head = nil
            connection.requestReceived()
            var request = ServerRequest(method: head.method, uri: head.uri, headers: head.headers, body: body)
            request.budget = budget
            let charge = bodyCharge
            body = ByteBuffer()
            bodyCharge = 0
            let keepAlive = head.isKeepAlive
            let version = head.version
            let budget = budget
            // The response completes a promise: whichever thread answers, the write happens once, on this loop, and
            // a second answer finds the promise completed and is dropped.
            let response = context.eventLoop.makePromise(of: ServerResponse.self)
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            response.futureResult.whenSuccess { response in
                budget.release(charge)
                let (handler, context) = bound.value
                handler.write(response, version: version, keepAlive: keepAlive, context: context)
            }
            responder.handle(request) { response.succeed($0) }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case .body(let timeout) = event as? HTTPTimeoutEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        guard head != nil, !rejectingBody else { return }
        refuse(APIError(.requestTimeout, "the request body did not arrive within \(timeout)"), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        dropBody()
        context.fireChannelInactive()
    }

    /// Appends a chunk of the body, growing the buffer (to the next power of two, as `ByteBuffer` allocates) only
    /// once the budget has taken the growth.
    private func append(_ chunk: ByteBuffer, context: ChannelHandlerContext) {
        let (needed, overflow) = body.readableBytes.addingReportingOverflow(chunk.readableBytes)
        guard !overflow, needed <= maxBodySize else {
            refuse(tooLarge("more bytes"), context: context)
            return
        }
        if bodyCharge == 0 {
            // The first chunk is kept as it came, without a copy.
            guard budget.tryReserve(chunk.readableBytes) else {
                refuse(overBudget(), context: context)
                return
            }
            body = chunk
            bodyCharge = chunk.readableBytes
            return
        }
        if needed > body.capacity {
            let capacity = Self.powerOfTwo(atLeast: needed)
            guard budget.tryReserve(capacity - bodyCharge) else {
                refuse(overBudget(), context: context)
                return
            }
            bodyCharge = capacity
            body.reserveCapacity(capacity)
        }
        body.writeImmutableBuffer(chunk)
        if body.capacity > bodyCharge {
            budget.charge(body.capacity - bodyCharge)
            bodyCharge = body.capacity
        }
    }

    /// The smallest power of two at least `count` (`count` is at most the body limit, so it cannot overflow).
    private static func powerOfTwo(atLeast count: Int) -> Int {
        count <= 1 ? 1 : 1 << (Int.bitWidth - (count - 1).leadingZeroBitCount)
    }

    private func tooLarge(_ size: String) -> APIError {
        APIError(.payloadTooLarge, "request body of \(size) exceeds the limit of \(maxBodySize) bytes")
    }

    private func overBudget() -> APIError {
        APIError.overloaded(
            "the server's memory budget of \(budget.limit) bytes is taken by other requests; retry later")
    }

    private func dropBody() {
        budget.release(bodyCharge)
        bodyCharge = 0
        body = ByteBuffer()
    }

    /// Answers the current request with an error and closes the connection's output once the answer is written.
    /// The rest of the body is read and dropped until the client closes or the idle or header timeout passes, so
    /// that the client reads the answer instead of a reset.
    private func refuse(_ error: APIError, context: ChannelHandlerContext) {
        rejectingBody = true
        dropBody()
        let version = head?.version ?? .http1_1
        write(renderError(error), version: version, keepAlive: false, context: context, close: .output)
    }

    private func write(
        _ response: ServerResponse, version: HTTPVersion, keepAlive: Bool, context: ChannelHandlerContext,
        close: CloseMode = .all
    ) {
        guard context.channel.isActive else { return }
        var headers = response.headers
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.readableBytes))
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        var body = response.body
        let size = body.readableBytes
        let budget = budget
        let connection = connection
        budget.charge(size)
        connection.responseStarted()
        let head = HTTPResponseHead(version: version, status: response.status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        while body.readableBytes > Self.writeSlice, let slice = body.readSlice(length: Self.writeSlice) {
            let progressed = context.eventLoop.makePromise(of: Void.self)
            progressed.futureResult.assumeIsolated().whenSuccess { connection.responseProgressed() }
            context.write(wrapOutboundOut(.body(.byteBuffer(slice))), promise: progressed)
        }
        if body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            budget.release(size)
            connection.responseFinished()
            if !keepAlive { context.close(mode: close, promise: nil) }
        }
        connection.responseFlushed()
    }
}
