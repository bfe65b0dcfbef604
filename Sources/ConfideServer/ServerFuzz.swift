import ConfideHost
import ConfideKServe

/// Entry points for fuzzing the server's parsers of untrusted bytes (see `Tests/Fuzz`). Each must
/// return normally on any input.
public enum ServerFuzz {
    /// Decodes `bytes` as a KServe v2 inference request body; the first byte, when present, picks a
    /// split point for the binary tensor extension's JSON header.
    public static func inferRequest(_ bytes: [UInt8]) {
        guard let (body, headerLength) = KServeFuzz.split(bytes) else { return }
        if let request = try? KServeCodec.decodeRequest(body: body, headerLength: headerLength) {
            for input in request.inputs {
                precondition(input.consistencyProblem() == nil, "accepted an inconsistent input '\(input.name)'")
            }
        }
    }

    /// Parses `bytes` as the query string of `GET /attestation`; a nonce it accepts must be 16 to 64 bytes.
    public static func attestationQuery(_ bytes: [UInt8]) {
        if let nonce = try? AttestationAPI.nonce(query: String(decoding: bytes, as: UTF8.self)) {
            precondition((16...64).contains(nonce.count), "accepted a nonce of \(nonce.count) bytes")
        }
    }
}
