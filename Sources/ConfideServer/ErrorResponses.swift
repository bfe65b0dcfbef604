import ConfideJSON
import NIOHTTP1

/// Error responses in each API's own format.
enum ErrorResponses {
    /// KServe v2: `{"error": "..."}`.
    static func kserve(_ error: APIError) -> ServerResponse {
        withRetryAfter(.json(error.status, JSONErrorBody.make(error.message)), error)
    }

    /// TorchServe: `{"code": 404, "type": "ModelNotFoundException", "message": "..."}`.
    static func torchServe(_ error: APIError) -> ServerResponse {
        let type =
            switch error.status {
            case .notFound: "ModelNotFoundException"
            case .badRequest: "BadRequestException"
            case .conflict: "ConflictStatusException"
            case .serviceUnavailable: "ServiceUnavailableException"
            case .methodNotAllowed: "MethodNotAllowedException"
            case .unauthorized: "UnauthorizedException"
            case .forbidden: "ForbiddenException"
            default: "InternalServerException"
            }
        let body = JSONValue.object(JSONObject([
            "code": .integer(Int64(error.status.code)), "type": .string(type), "message": .string(error.message),
        ]))
        return withRetryAfter(.json(error.status, body.serialized), error)
    }

    /// A 405 naming the method the route accepts.
    static func methodNotAllowed(_ request: ServerRequest, allowed: [HTTPMethod], format: (APIError) -> ServerResponse)
        -> ServerResponse
    {
        let names = allowed.map(\.rawValue).joined(separator: ", ")
        var response = format(APIError(.methodNotAllowed, "\(request.path) accepts \(names) only"))
        response.headers.add(name: "Allow", value: names)
        return response
    }

    private static func withRetryAfter(_ response: ServerResponse, _ error: APIError) -> ServerResponse {
        var response = response
        if let seconds = error.retryAfter { response.headers.add(name: "Retry-After", value: String(seconds)) }
        return response
    }
}
