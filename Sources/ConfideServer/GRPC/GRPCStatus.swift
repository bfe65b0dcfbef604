import ConfideKServe
import ConfideRuntime
import GRPCCore
import NIOHTTP1

extension RPCError {
    /// The gRPC status of an error the REST API answers with an HTTP status, with the same message: 400 is
    /// `invalidArgument`, 401 `unauthenticated`, 403 `permissionDenied`, 404 `notFound`, 409 `alreadyExists`, 413,
    /// 429 and refusals under load (503 with `Retry-After`) `resourceExhausted`, other 503s `unavailable`, 504
    /// `deadlineExceeded`, and the rest `internalError`.
    init(_ error: APIError) {
        let code: RPCError.Code =
            switch error.status.code {
            case 400: .invalidArgument
            case 401: .unauthenticated
            case 403: .permissionDenied
            case 404: .notFound
            case 409: .alreadyExists
            case 413, 429, 507: .resourceExhausted
            case 503 where error.headers.contains(where: { $0.0 == "Retry-After" }): .resourceExhausted
            case 503: .unavailable
            case 504: .deadlineExceeded
            default: .internalError
            }
        self.init(code: code, message: error.message)
    }

    /// The gRPC status of a request that got no outputs; a model that is shutting down is `unavailable`, so that
    /// clients retry on another replica.
    init(_ failure: InferenceFailure) {
        if failure == .shuttingDown {
            self.init(code: .unavailable, message: "the model is shutting down")
        } else {
            self.init(APIError(failure))
        }
    }

    /// The gRPC status of a message that could not be decoded or encoded.
    init(_ error: KServeCodecError) {
        self.init(APIError(error))
    }
}

/// The deadline a gRPC client sets in the `grpc-timeout` metadata: 1 to 8 digits and a unit (`H`, `M`, `S`, `m`,
/// `u`, `n`).
enum GRPCTimeout {
    /// The timeout of the request's metadata; `nil` when it has none or it is malformed.
    static func duration(_ metadata: Metadata) -> Duration? {
        metadata[stringValues: "grpc-timeout"].first(where: { _ in true }).flatMap(parse)
    }

    /// Parses a `grpc-timeout` value.
    static func parse(_ text: String) -> Duration? {
        let bytes = Array(text.utf8)
        guard let unit = bytes.last, (2...9).contains(bytes.count) else { return nil }
        var amount: Int64 = 0
        for digit in bytes.dropLast() {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else { return nil }
            amount = amount * 10 + Int64(digit - UInt8(ascii: "0"))
        }
        switch unit {
        case UInt8(ascii: "H"): return .seconds(amount * 3600)
        case UInt8(ascii: "M"): return .seconds(amount * 60)
        case UInt8(ascii: "S"): return .seconds(amount)
        case UInt8(ascii: "m"): return .milliseconds(amount)
        case UInt8(ascii: "u"): return .microseconds(amount)
        case UInt8(ascii: "n"): return .nanoseconds(amount)
        default: return nil
        }
    }
}
