import Crypto

/// Constants of the binding between a server's key configuration and a client's nonce, carried in the evidence's
/// 64-byte report data; see ``reportData(keyConfigurations:nonce:)``.
public enum KeyBinding {
    /// The domain-separation label hashed in front of every binding.
    public static let label: [UInt8] = Array("confide-attestation-v1".utf8)

    /// The accepted nonce lengths, in bytes.
    public static let nonceLengths: ClosedRange<Int> = 16...64
}

/// Returns the report data that binds a key configuration and a client nonce:
/// `SHA-512("confide-attestation-v1" || 0x00 || keyConfigurations || nonce)`, 64 bytes.
///
/// - Parameters:
///   - keyConfigurations: The serialized key configurations the server publishes (OHTTP `application/ohttp-keys`).
///   - nonce: The client's fresh nonce, 16 to 64 bytes.
/// - Throws: ``AttestationError/ErrorCode/invalidArgument`` when the nonce length is out of range.
public func reportData(keyConfigurations: [UInt8], nonce: [UInt8]) throws(AttestationError) -> [UInt8] {
    guard KeyBinding.nonceLengths.contains(nonce.count) else {
        throw AttestationError(.invalidArgument, "nonce is \(nonce.count) bytes, must be \(KeyBinding.nonceLengths)")
    }
    var hasher = SHA512()
    hasher.update(data: KeyBinding.label)
    hasher.update(data: [0])
    hasher.update(data: keyConfigurations)
    hasher.update(data: nonce)
    return Array(hasher.finalize())
}
