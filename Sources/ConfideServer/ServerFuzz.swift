import NIOCore

/// Entry points for fuzzing the server's parsers of untrusted bytes (see `Tests/Fuzz`). Each must
/// return normally on any input.
public enum ServerFuzz {
    /// Decodes `bytes` as a KServe v2 inference request body; the first byte, when present, picks a
    /// split point for the binary tensor extension's JSON header.
    public static func inferRequest(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        let body = Array(bytes.dropFirst())
        let headerLength = first < 128 ? nil : String(Int(first - 128) * body.count / 127)
        _ = try? InferRequestDecoder.decode(body: ByteBuffer(bytes: body), headerLength: headerLength)
    }

    /// Parses `bytes` as the query string of `GET /attestation`; a nonce it accepts must be 16 to 64 bytes.
    public static func attestationQuery(_ bytes: [UInt8]) {
        let query = String(decoding: bytes, as: UTF8.self)
        if let parameters = try? QueryParameters(parsing: query[...]), let nonce = try? AttestationAPI.nonce(parameters) {
            precondition((16...64).contains(nonce.count), "accepted a nonce of \(nonce.count) bytes")
        }
    }
}
