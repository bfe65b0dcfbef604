/// An error that crosses the plugin ABI: a code the server maps to a status, and a message for people.
public struct HandlerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The category of an error; the server maps it to an HTTP status.
    public enum Code: UInt32, Sendable {
        case unknown = 0
        case `internal` = 1
        case notFound = 2
        case invalidArgument = 3
        case unavailable = 4
        case unsupported = 5
        case alreadyExists = 6
    }

    /// The error's category.
    public var code: Code
    /// What went wrong, for people.
    public var message: String

    /// Creates an error with a code and a message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The request is malformed (HTTP 400).
    public static func invalidArgument(_ message: String) -> HandlerError { HandlerError(.invalidArgument, message) }
    /// Something the request names does not exist (HTTP 404).
    public static func notFound(_ message: String) -> HandlerError { HandlerError(.notFound, message) }
    /// The handler failed (HTTP 500).
    public static func `internal`(_ message: String) -> HandlerError { HandlerError(.internal, message) }
    /// The handler cannot serve now (HTTP 503).
    public static func unavailable(_ message: String) -> HandlerError { HandlerError(.unavailable, message) }
    /// The handler does not support what was asked (HTTP 400).
    public static func unsupported(_ message: String) -> HandlerError { HandlerError(.unsupported, message) }

    /// Wraps any error: a `HandlerError` stays as it is, anything else becomes an internal error.
    public init(wrapping error: any Error) {
        if let error = error as? HandlerError {
            self = error
        } else {
            self = HandlerError(.internal, String(describing: error))
        }
    }

    public var description: String { message }
}
