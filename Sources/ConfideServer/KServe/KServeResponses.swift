import ConfideKServe
import NIOHTTP1

extension APIError {
    /// The status for a codec error: 413 for a message over a limit, 507 when memory ran out, 400 otherwise.
    init(_ error: KServeCodecError) {
        let status: HTTPResponseStatus =
            switch error.code {
            case .limitExceeded: .payloadTooLarge
            case .outOfMemory: .insufficientStorage
            default: .badRequest
            }
        self.init(status, error.message)
    }
}

extension ServerResponse {
    /// A 200 response with a KServe v2 body: JSON, or a JSON header and binary data.
    init(kserve: KServeBody) {
        guard let jsonLength = kserve.jsonLength else {
            self.init(status: .ok, headers: ["Content-Type": "application/json"], body: kserve.body)
            return
        }
        self.init(
            status: .ok,
            headers: [
                "Content-Type": "application/octet-stream", "Inference-Header-Content-Length": String(jsonLength),
            ],
            body: kserve.body)
    }
}
