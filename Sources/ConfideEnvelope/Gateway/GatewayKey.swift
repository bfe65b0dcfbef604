public import Crypto

/// One gateway key pair and the configuration that advertises it.
///
/// The private key lives only in memory; this type never serializes it.
public struct GatewayKey: Sendable {
    /// The public configuration clients encrypt to.
    public let configuration: OHTTPKeyConfiguration

    /// The X25519 private key.
    let privateKey: Curve25519.KeyAgreement.PrivateKey

    /// Wraps an X25519 private key under `keyID`, offering `suites`.
    ///
    /// Throws ``EnvelopeError/Code/invalidArgument`` when `suites` is empty or names a suite this library does not
    /// implement.
    public init(
        privateKey: Curve25519.KeyAgreement.PrivateKey,
        keyID: UInt8,
        suites: [SymmetricSuite]
    ) throws(EnvelopeError) {
        guard !suites.isEmpty else {
            throw .invalidArgument(reason: "a gateway key needs at least one symmetric suite")
        }
        if let unsupported = suites.first(where: { !$0.isImplemented }) {
            throw .invalidArgument(reason: "symmetric suite \(unsupported) is not implemented")
        }
        self.init(validatedPrivateKey: privateKey, keyID: keyID, suites: suites)
    }

    /// Wraps a raw 32-byte X25519 private key under `keyID`, offering `suites`, for instance a key that replicas
    /// share.
    ///
    /// Throws ``EnvelopeError/Code/invalidArgument`` for a key of the wrong length or unusable suites.
    public init(rawPrivateKey: [UInt8], keyID: UInt8, suites: [SymmetricSuite]) throws(EnvelopeError) {
        let privateKey: Curve25519.KeyAgreement.PrivateKey
        do {
            privateKey = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: rawPrivateKey)
        } catch {
            throw .invalidArgument(reason: "an X25519 private key has 32 bytes, not \(rawPrivateKey.count)")
        }
        try self.init(privateKey: privateKey, keyID: keyID, suites: suites)
    }

    /// Wraps a key whose suites were already checked to be non-empty and implemented.
    init(validatedPrivateKey: Curve25519.KeyAgreement.PrivateKey, keyID: UInt8, suites: [SymmetricSuite]) {
        self.privateKey = validatedPrivateKey
        self.configuration = OHTTPKeyConfiguration(
            keyID: keyID,
            kem: .x25519HKDFSHA256,
            publicKey: Array(validatedPrivateKey.publicKey.rawRepresentation),
            symmetricSuites: suites
        )
    }
}
