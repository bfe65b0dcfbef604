import NIOCore
import NIOHTTP1

/// Collects each HTTP request's body (up to a limit), hands the whole request to the responder and
/// writes its response. Requests over the body limit get 413 and the connection is closed.
final class HTTPRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let responder: any RequestResponder
    private let maxBodySize: Int
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var rejectingBody = false

    init(responder: any RequestResponder, maxBodySize: Int) {
        self.responder = responder
        self.maxBodySize = maxBodySize
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            rejectingBody = false
            let declared = head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
            if declared > maxBodySize {
                rejectBody(context: context, declared: declared)
                return
            }
            body = context.channel.allocator.buffer(capacity: declared)
        case .body(var chunk):
            guard !rejectingBody else { return }
            if body.readableBytes + chunk.readableBytes > maxBodySize {
                rejectBody(context: context, declared: nil)
                return
            }
            body.writeBuffer(&chunk)
        case .end:
            guard !rejectingBody, let head else { return }
            self.head = nil
            let request = ServerRequest(method: head.method, uri: head.uri, headers: head.headers, body: body)
            body = ByteBuffer()
            let keepAlive = head.isKeepAlive
            let version = head.version
            let eventLoop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: eventLoop)
            responder.handle(request) { response in
                if eventLoop.inEventLoop {
                    let (handler, context) = bound.value
                    handler.write(response, version: version, keepAlive: keepAlive, context: context)
                } else {
                    eventLoop.execute {
                        let (handler, context) = bound.value
                        handler.write(response, version: version, keepAlive: keepAlive, context: context)
                    }
                }
            }
        }
    }

    private func rejectBody(context: ChannelHandlerContext, declared: Int?) {
        rejectingBody = true
        let size = declared.map { "\($0) bytes" } ?? "more bytes"
        let error = APIError(.payloadTooLarge, "request body of \(size) exceeds the limit of \(maxBodySize) bytes")
        write(ErrorFormat.kserve.response(error), version: head?.version ?? .http1_1, keepAlive: false, context: context)
    }

    private func write(_ response: ServerResponse, version: HTTPVersion, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = response.headers
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.readableBytes))
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: response.status, headers: headers))),
                      promise: nil)
        if response.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
