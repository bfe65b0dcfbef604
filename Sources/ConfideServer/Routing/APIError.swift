import ConfideRuntime
import ConfideSDK
public import NIOHTTP1

/// An error answered to a client: its status, a message for people, an optional problem type and the header
/// fields that go with it. The listener writes it in the format of the API the request was for
/// (``ErrorFormat``), so no API writes error bodies of its own.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status.
    public let status: HTTPResponseStatus
    /// What went wrong.
    public let message: String
    /// A problem type URI (RFC 9457), for refusals a client acts on by type.
    public let problemType: String?
    /// Header fields that go with the error (`Allow`, `Retry-After`, `WWW-Authenticate`, `Date`).
    public let headers: [(String, String)]
    /// The request parameter at fault, for formats that name it (OpenAI's `param`).
    public let parameter: String?

    /// Creates an error.
    public init(
        _ status: HTTPResponseStatus, _ message: String, problemType: String? = nil, headers: [(String, String)] = [],
        parameter: String? = nil
    ) {
        self.status = status
        self.message = message
        self.problemType = problemType
        self.headers = headers
        self.parameter = parameter
    }

    /// A refusal under load: 503 with `Retry-After`.
    public static func overloaded(_ message: String, retryAfter seconds: Int = 1) -> APIError {
        APIError(.serviceUnavailable, message, headers: [("Retry-After", String(seconds))])
    }

    /// A malformed request (400).
    public static func badRequest(_ message: String) -> APIError { APIError(.badRequest, message) }
    /// Something the request names does not exist (404).
    public static func notFound(_ message: String) -> APIError { APIError(.notFound, message) }

    /// The status for a handler's error.
    init(_ error: HandlerError) {
        let status: HTTPResponseStatus =
            switch error.code {
            case .invalidArgument, .unsupported: .badRequest
            case .notFound: .notFound
            case .unavailable: .serviceUnavailable
            case .alreadyExists: .conflict
            case .internal, .unknown: .internalServerError
            }
        self.init(status, error.message)
    }

    /// The status for a request that got no outputs.
    init(_ failure: InferenceFailure) {
        switch failure {
        case .handler(let error): self.init(error)
        case .queueFull(let limit): self = .overloaded("the model's queue is full (\(limit) requests); retry later")
        case .deadlineExceeded: self.init(.gatewayTimeout, "the request's deadline passed while it waited for a worker")
        case .shuttingDown: self = .overloaded("the model is shutting down")
        }
    }

    /// The status for a failed repository operation.
    init(_ error: RepositoryError) {
        let status: HTTPResponseStatus =
            switch error.code {
            case .notFound: .notFound
            case .alreadyExists: .conflict
            case .invalid: .badRequest
            case .unavailable: .serviceUnavailable
            }
        self.init(status, error.message)
    }

    public var description: String { "\(status.code) \(message)" }

    public static func == (left: APIError, right: APIError) -> Bool {
        left.status == right.status && left.message == right.message && left.problemType == right.problemType
            && left.parameter == right.parameter && left.headers.elementsEqual(right.headers, by: ==)
    }
}
