import ConfideMeasurement
import Crypto

/// Constants of the binding between a server's key configurations, its measurement log and a client's nonce,
/// carried in the evidence's 64-byte report data; see ``reportData(keyConfigurations:nonce:measurementLog:)``.
public enum KeyBinding {
    /// The domain-separation label, the first framed field of every binding.
    public static let label: [UInt8] = Array("confide-attestation-v2".utf8)

    /// The accepted nonce lengths, in bytes.
    public static let nonceLengths: ClosedRange<Int> = 16...64
}

/// Returns the report data that binds a server's key configurations and measurement log to a client's nonce,
/// 64 bytes:
///
/// ```
/// SHA-512( frame("confide-attestation-v2") || frame(keyConfigurations) || frame(nonce) || frame(measurementLog) )
/// frame(x) = u32be(len(x)) || x
/// ```
///
/// Every field is length-framed, so no choice of nonce can move bytes between fields.
///
/// - Parameters:
///   - keyConfigurations: The serialized key configurations the server publishes (OHTTP `application/ohttp-keys`).
///   - nonce: The client's fresh nonce, 16 to 64 bytes.
///   - measurementLog: The digest of the measurement log as served (48 bytes, see `MeasurementLogSnapshot.digest`).
/// - Throws: ``AttestationError/ErrorCode/invalidArgument`` when the nonce or digest length is out of range.
public func reportData(
    keyConfigurations: [UInt8], nonce: [UInt8], measurementLog: [UInt8]
) throws(AttestationError) -> [UInt8] {
    guard KeyBinding.nonceLengths.contains(nonce.count) else {
        throw AttestationError(.invalidArgument, "nonce is \(nonce.count) bytes, must be \(KeyBinding.nonceLengths)")
    }
    guard measurementLog.count == 48 else {
        throw AttestationError(.invalidArgument, "the measurement log digest is \(measurementLog.count) bytes, not 48")
    }
    guard keyConfigurations.count <= Int(UInt32.max) else {
        throw AttestationError(.invalidArgument, "the key configurations are too long to bind")
    }
    var hasher = SHA512()
    for field in [KeyBinding.label, keyConfigurations, nonce, measurementLog] {
        hasher.update(data: Framing.u32(field.count))
        hasher.update(data: field)
    }
    return Array(hasher.finalize())
}
