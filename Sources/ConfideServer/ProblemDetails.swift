import ConfideJSON
import NIOCore
import NIOHTTP1

/// `application/problem+json` bodies (RFC 9457).
enum ProblemDetails {
    /// The media type of problem details.
    static let mediaType = "application/problem+json"

    /// A problem response: `type` (`about:blank` when `nil`), the status's reason phrase as `title`, and `detail`.
    static func response(_ status: HTTPResponseStatus, type: String?, detail: String) -> ServerResponse {
        let body = JSONValue.object(JSONObject([
            "type": .string(type ?? "about:blank"),
            "title": .string(status.reasonPhrase),
            "status": .integer(Int64(status.code)),
            "detail": .string(detail),
        ]))
        return ServerResponse(
            status: status, headers: ["Content-Type": mediaType], body: ByteBuffer(bytes: body.serialized))
    }
}
