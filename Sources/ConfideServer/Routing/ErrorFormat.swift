import ConfideJSON
import NIOCore
import NIOHTTP1

/// How an API writes its errors; the one place error bodies are made.
public enum ErrorFormat: Sendable {
    /// KServe v2: `{"error": "..."}`.
    case kserve
    /// TorchServe: `{"code": 404, "type": "ModelNotFoundException", "message": "..."}`.
    case torchServe
    /// `application/problem+json` (RFC 9457): `type` (`about:blank` unless the error has one), the status's
    /// reason phrase as `title`, `status` and `detail`.
    case problem
    /// OpenAI: `{"error": {"message": "...", "type": "invalid_request_error", "param": null, "code": null}}`, the type
    /// told by the status as OpenAI does.
    case openAI

    /// The media type of problem details.
    public static let problemMediaType = "application/problem+json"

    /// The response for `error`, with its header fields.
    public func response(_ error: APIError) -> ServerResponse {
        let body: JSONValue
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
        switch self {
        case .kserve:
            body = .object(JSONObject(["error": .string(error.message)]))
        case .torchServe:
            body = .object(
                JSONObject([
                    "code": .integer(Int64(error.status.code)), "type": .string(Self.torchServeType(error.status)),
                    "message": .string(error.message),
                ]))
        case .problem:
            headers = ["Content-Type": Self.problemMediaType]
            body = .object(
                JSONObject([
                    "type": .string(error.problemType ?? "about:blank"),
                    "title": .string(error.status.reasonPhrase),
                    "status": .integer(Int64(error.status.code)),
                    "detail": .string(error.message),
                ]))
        case .openAI:
            body = .object(
                JSONObject([
                    "error": .object(
                        JSONObject([
                            "message": .string(error.message), "type": .string(Self.openAIType(error.status)),
                            "param": error.parameter.map(JSONValue.string) ?? .null, "code": .null,
                        ]))
                ]))
        }
        for (name, value) in error.headers { headers.add(name: name, value: value) }
        return ServerResponse(status: error.status, headers: headers, body: ByteBuffer(bytes: body.serialized))
    }

    /// OpenAI's error type for a status.
    private static func openAIType(_ status: HTTPResponseStatus) -> String {
        switch status.code {
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 429: "rate_limit_error"
        case 500...: "server_error"
        default: "invalid_request_error"
        }
    }

    /// TorchServe's exception name for a status.
    private static func torchServeType(_ status: HTTPResponseStatus) -> String {
        switch status {
        case .notFound: "ModelNotFoundException"
        case .badRequest: "BadRequestException"
        case .conflict: "ConflictStatusException"
        case .serviceUnavailable: "ServiceUnavailableException"
        case .methodNotAllowed: "MethodNotAllowedException"
        case .unauthorized: "UnauthorizedException"
        case .forbidden: "ForbiddenException"
        case .payloadTooLarge: "RequestEntityTooLargeException"
        case .unsupportedMediaType: "UnsupportedMediaTypeException"
        default: "InternalServerException"
        }
    }
}
