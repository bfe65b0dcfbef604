public import ConfideMeasurement
import Crypto
import Synchronization

/// Produces ``SimulatedEvidence`` signed by a key generated when the provider is created. **Insecure.**
///
/// It simulates RTMR3 too: as a ``MeasurementAnchor`` it extends its register with each event's digest, as
/// TDX extends RTMR3, and every evidence carries the register's value.
public struct SimulatedEvidenceProvider: EvidenceProvider, MeasurementAnchor {
    /// The default simulated measurement: SHA-384 of `"confide-simulated-measurement-v1"`.
    public static let defaultMeasurement: [UInt8] = Array(
        SHA384.hash(data: Array("confide-simulated-measurement-v1".utf8))
    )

    /// The measurement every evidence carries.
    public let measurement: [UInt8]
    private let signingKey: P256.Signing.PrivateKey
    private let register = SimulatedRegister()

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
            rtmr3: self.register.value,
            reportData: reportData,
            signingKey: self.signingKey
        )
        return Evidence(type: .simulated, bytes: evidence.bytes)
    }

    /// The simulated RTMR3.
    public var anchoringRegister: AnchoringRegister? {
        AnchoringRegister(name: "simulated-rtmr3", anchor: self)
    }

    /// Extends the simulated RTMR3 with the event's digest.
    public func anchor(_ event: MeasurementEvent) throws(MeasurementError) {
        self.register.extend(with: event.eventDigest)
    }
}

/// A simulated runtime measurement register shared by the copies of a provider.
private final class SimulatedRegister: Sendable {
    private let state = Mutex(MeasurementRegister.initial)

    var value: [UInt8] { self.state.withLock { $0 } }

    func extend(with digest: [UInt8]) {
        self.state.withLock { $0 = MeasurementRegister.extend($0, with: digest) }
    }
}
