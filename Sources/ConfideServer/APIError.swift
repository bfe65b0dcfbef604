import ConfideSDK
public import NIOHTTP1

/// An error answered to a client: a status and a message for people.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status.
    public let status: HTTPResponseStatus
    /// What went wrong.
    public let message: String

    /// Creates an error.
    public init(_ status: HTTPResponseStatus, _ message: String) {
        self.status = status
        self.message = message
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

    public var description: String { "\(status.code) \(message)" }
}
