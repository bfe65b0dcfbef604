import ConfideRuntime
import ConfideSDK
public import NIOHTTP1

/// An error answered to a client: a status and a message for people.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status.
    public let status: HTTPResponseStatus
    /// What went wrong.
    public let message: String
    /// Seconds after which the client may retry (`Retry-After`), for refusals under load.
    public let retryAfter: Int?

    /// Creates an error.
    public init(_ status: HTTPResponseStatus, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
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
        case .queueFull(let limit):
            self.init(.serviceUnavailable, "the model's queue is full (\(limit) requests); retry later", retryAfter: 1)
        case .deadlineExceeded:
            self.init(.gatewayTimeout, "the request's deadline passed while it waited for a worker")
        case .shuttingDown:
            self.init(.serviceUnavailable, "the model is shutting down", retryAfter: 1)
        }
    }

    public var description: String { "\(status.code) \(message)" }
}
