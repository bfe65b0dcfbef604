import Crypto

/// Produces ``SimulatedEvidence`` signed by a key generated when the provider is created. **Insecure.**
public struct SimulatedEvidenceProvider: EvidenceProvider {
    /// The default simulated measurement: SHA-384 of `"confide-simulated-measurement-v1"`.
    public static let defaultMeasurement: [UInt8] = Array(
        SHA384.hash(data: Array("confide-simulated-measurement-v1".utf8))
    )

    /// The measurement every evidence carries.
    public let measurement: [UInt8]
    private let signingKey: P256.Signing.PrivateKey

    /// Creates a provider with a fresh signing key.
    ///
    /// - Parameter measurement: The 48-byte measurement to report.
    public init(measurement: [UInt8] = Self.defaultMeasurement) throws(AttestationError) {
        guard measurement.count == 48 else {
            throw AttestationError(.invalidArgument, "simulated measurement is \(measurement.count) bytes, expected 48")
        }
        self.measurement = measurement
        self.signingKey = P256.Signing.PrivateKey()
    }

    public var evidenceType: EvidenceType { .simulated }

    public var isInsecure: Bool { true }

    /// The public key that signs this provider's evidence, `x || y`.
    public var publicKey: [UInt8] {
        Array(self.signingKey.publicKey.rawRepresentation)
    }

    public func evidence(reportData: [UInt8]) async throws(AttestationError) -> Evidence {
        let evidence = try SimulatedEvidence(
            measurement: self.measurement,
            reportData: reportData,
            signingKey: self.signingKey
        )
        return Evidence(type: .simulated, bytes: evidence.bytes)
    }
}
