/// A request the gateway decrypted, holding what it needs to encrypt the matching response.
public struct OHTTPDecapsulatedRequest: Sendable {
    /// The header the client sent: key identifier and algorithms.
    public let header: OHTTPRequestHeader

    /// The decrypted binary HTTP request; decode it with ``BinaryHTTPRequest/init(decoding:limits:)``.
    public let binaryRequest: [UInt8]

    let responseKeySchedule: ResponseKeySchedule

    /// The encapsulated key (`enc`) of the request.
    public var encapsulatedKey: [UInt8] { self.responseKeySchedule.encapsulatedKey }

    /// Encrypts a binary HTTP response (`message/ohttp-res`) under a fresh random response nonce.
    public func encapsulateResponse(_ binaryResponse: [UInt8]) throws(EnvelopeError) -> [UInt8] {
        let length = try ResponseKeySchedule.secretLength(for: self.header.suite.aead)
        var generator = SystemRandomNumberGenerator()
        let responseNonce = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return try self.responseKeySchedule.seal(binaryResponse, responseNonce: responseNonce)
    }

    /// Encrypts a binary HTTP response under a caller-chosen response nonce of `max(Nn, Nk)` bytes.
    ///
    /// For known-answer tests only: a response nonce must never repeat, so production code calls
    /// ``encapsulateResponse(_:)``.
    public func encapsulateResponse(
        _ binaryResponse: [UInt8],
        responseNonce: [UInt8]
    ) throws(EnvelopeError) -> [UInt8] {
        try self.responseKeySchedule.seal(binaryResponse, responseNonce: responseNonce)
    }
}
