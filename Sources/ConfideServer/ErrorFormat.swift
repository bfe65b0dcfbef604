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
            body = .object(JSONObject([
                "code": .integer(Int64(error.status.code)), "type": .string(Self.torchServeType(error.status)),
                "message": .string(error.message),
            ]))
        case .problem:
            headers = ["Content-Type": Self.problemMediaType]
            body = .object(JSONObject([
                "type": .string(error.problemType ?? "about:blank"),
                "title": .string(error.status.reasonPhrase),
                "status": .integer(Int64(error.status.code)),
                "detail": .string(error.message),
            ]))
        }
        for (name, value) in error.headers { headers.add(name: name, value: value) }
        return ServerResponse(status: error.status, headers: headers, body: ByteBuffer(bytes: body.serialized))
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
