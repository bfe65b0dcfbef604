import Crypto

/// Simulated evidence for machines without a TEE. **Insecure**: it proves nothing about the machine.
///
/// Anyone can produce it; it only lets the key binding and the client flow run end to end on a development machine.
/// Verifiers refuse it unless a policy opts in (``AttestationPolicy/acceptSimulated``).
///
/// Format, 300 bytes, integers little-endian:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic `"CFDSIMUL"` |
/// | 8 | 2 | version, 2 |
/// | 10 | 2 | reserved, 0 |
/// | 12 | 48 | measurement (operator-chosen, e.g. SHA-384 of the deployed build) |
/// | 60 | 48 | simulated RTMR3: the register the server's measurement log is extended into |
/// | 108 | 64 | report data |
/// | 172 | 64 | P-256 public key `x || y` of the key the provider generated at start-up |
/// | 236 | 64 | ECDSA P-256/SHA-256 signature `r || s` over bytes `[0, 236)` |
public struct SimulatedEvidence: Sendable, Hashable {
    /// The format version.
    public let version: UInt16
    /// The simulated measurement (48 bytes).
    public let measurement: [UInt8]
    /// The simulated runtime measurement register (48 bytes), as TDX's RTMR3.
    public let rtmr3: [UInt8]
    /// The 64 bytes of report data.
    public let reportData: [UInt8]
    /// The public key that signed the evidence, `x || y`.
    public let publicKey: [UInt8]
    /// The signature, `r || s`, over ``signedBytes``.
    public let signature: [UInt8]
    /// The bytes the signature covers.
    public let signedBytes: [UInt8]

    /// The magic that starts simulated evidence.
    public static let magic: [UInt8] = Array("CFDSIMUL".utf8)
    /// The only format version defined.
    public static let currentVersion: UInt16 = 2
    /// The size of simulated evidence in bytes.
    public static let size = 300

    /// Parses simulated evidence; the signature is checked by ``verifySignature()``.
    public init(bytes: [UInt8]) throws(AttestationError) {
        guard bytes.count <= Self.size else {
            throw AttestationError(.oversized, "simulated evidence is \(bytes.count) bytes, expected \(Self.size)")
        }
        var reader = ByteReader(bytes, what: "simulated evidence")
        guard try reader.read(8, "magic") == Self.magic else {
            throw AttestationError(.malformed, "simulated evidence does not start with \"CFDSIMUL\"")
        }
        self.version = try reader.readUInt16("version")
        guard self.version == Self.currentVersion else {
            throw AttestationError(
                .unsupportedFormat, "simulated evidence version \(self.version) is not \(Self.currentVersion)")
        }
        guard try reader.readUInt16("reserved") == 0 else {
            throw AttestationError(.malformed, "simulated evidence reserved field is not zero")
        }
        self.measurement = try reader.read(48, "measurement")
        self.rtmr3 = try reader.read(48, "RTMR3")
        self.reportData = try reader.read(64, "report data")
        self.publicKey = try reader.read(64, "public key")
        self.signedBytes = Array(bytes[0..<reader.offset])
        self.signature = try reader.read(64, "signature")
    }

    /// Builds and signs simulated evidence.
    init(
        measurement: [UInt8], rtmr3: [UInt8], reportData: [UInt8], signingKey: P256.Signing.PrivateKey
    ) throws(AttestationError) {
        guard measurement.count == 48, rtmr3.count == 48, reportData.count == 64 else {
            throw AttestationError(.invalidArgument, "measurement and RTMR3 must be 48 bytes and report data 64 bytes")
        }
        self.version = Self.currentVersion
        self.measurement = measurement
        self.rtmr3 = rtmr3
        self.reportData = reportData
        self.publicKey = Array(signingKey.publicKey.rawRepresentation)
        self.signedBytes =
            Self.magic + [UInt8(Self.currentVersion), 0, 0, 0] + measurement + rtmr3 + reportData + self.publicKey
        do {
            self.signature = Array(try signingKey.signature(for: self.signedBytes).rawRepresentation)
        } catch {
            throw AttestationError(.invalidKey, "simulated evidence could not be signed: \(error)")
        }
    }

    /// The serialized evidence.
    public var bytes: [UInt8] {
        self.signedBytes + self.signature
    }

    /// Checks the signature with the public key the evidence carries (which proves integrity, not origin).
    public func verifySignature() throws(AttestationError) {
        guard let key = try? P256.Signing.PublicKey(rawRepresentation: self.publicKey) else {
            throw AttestationError(.invalidKey, "simulated evidence key is not a P-256 point")
        }
        guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: self.signature),
            key.isValidSignature(signature, for: self.signedBytes)
        else {
            throw AttestationError(.invalidSignature, "simulated evidence signature does not verify")
        }
    }
}
