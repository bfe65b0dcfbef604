import ConfideJSON
public import NIOCore
public import NIOHTTP1

/// A complete HTTP request as a listener receives it: head and whole body. Only the ``Router`` reads its path
/// and query; everything after it acts on the ``Route``.
public struct ServerRequest: Sendable {
    /// The method.
    public var method: HTTPMethod
    /// The path, without the query.
    public var path: String
    /// The query string after `?`, empty when none.
    public var query: String
    /// The header fields.
    public var headers: HTTPHeaders
    /// The body.
    public var body: ByteBuffer
    /// The memory budget of the server that received the request: a responder reserves from it what it allocates
    /// for the request beyond the body (the body itself is already counted until the response is handed back).
    public var budget: MemoryBudget = .unlimited

    /// Creates a request.
    public init(method: HTTPMethod, uri: String, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.method = method
        if let mark = uri.firstIndex(of: "?") {
            self.path = String(uri[..<mark])
            self.query = String(uri[uri.index(after: mark)...])
        } else {
            self.path = uri
            self.query = ""
        }
        self.headers = headers
        self.body = body
    }
}

/// A complete HTTP response.
public struct ServerResponse: Sendable {
    /// The status.
    public var status: HTTPResponseStatus
    /// The header fields (the server adds `Content-Length`).
    public var headers: HTTPHeaders
    /// The body.
    public var body: ByteBuffer

    /// Creates a response.
    public init(status: HTTPResponseStatus = .ok, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response with a JSON body.
    public static func json(_ status: HTTPResponseStatus = .ok, _ bytes: [UInt8]) -> ServerResponse {
        ServerResponse(status: status, headers: ["Content-Type": "application/json"], body: ByteBuffer(bytes: bytes))
    }

    /// A 200 response with a JSON value as its body.
    static func json(_ value: JSONValue) -> ServerResponse { .json(.ok, value.serialized) }
}

/// Answers a request by calling `respond`, on any thread. `respond` completes the connection's `EventLoopPromise` for
/// the response: the first call is written, on the connection's event loop; a later one is dropped.
public protocol RequestResponder: Sendable {
    /// Handles one request.
    func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void)
}
