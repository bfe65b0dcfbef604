import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The client side of Oblivious HTTP (RFC 9458 §4.3): a request encrypted to a gateway's key configuration.
public struct OHTTPClientRequest: Sendable {
    /// The encapsulated request (`message/ohttp-req`) to send to the gateway.
    public let encapsulatedRequest: [UInt8]

    /// What opens the gateway's response to this request.
    public let responseOpener: OHTTPResponseOpener

    /// Encrypts a binary HTTP request to `configuration`.
    ///
    /// - Parameters:
    ///   - binaryRequest: the encoded inner request, for instance from ``BinaryHTTPRequest/encoded()``.
    ///   - configuration: the gateway's key configuration.
    ///   - suite: the KDF and AEAD to use; by default the first suite of `configuration` this library implements.
    /// - Throws: ``EnvelopeError/Code/unsupportedSuite`` when the KEM or suite is not implemented or not offered,
    ///   ``EnvelopeError/Code/invalidArgument`` for an invalid public key, ``EnvelopeError/Code/encryptionFailed``.
    public init(
        sealing binaryRequest: [UInt8],
        for configuration: OHTTPKeyConfiguration,
        suite: SymmetricSuite? = nil
    ) throws(EnvelopeError) {
        guard configuration.kem == .x25519HKDFSHA256 else {
            throw .unsupportedSuite(reason: "KEM \(configuration.kem) is not implemented")
        }
        guard let suite = suite ?? configuration.symmetricSuites.first(where: \.isImplemented) else {
            throw .unsupportedSuite(reason: "key configuration \(configuration.keyID) offers no implemented suite")
        }
        guard configuration.symmetricSuites.contains(suite), let ciphersuite = suite.hpkeCiphersuite else {
            throw .unsupportedSuite(reason: "suite \(suite) is not offered by key \(configuration.keyID)")
        }
        let publicKey: Curve25519.KeyAgreement.PublicKey
        do {
            publicKey = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: configuration.publicKey)
        } catch {
            throw .invalidArgument(reason: "the public key of key configuration \(configuration.keyID) is invalid")
        }
        let header = OHTTPRequestHeader(keyID: configuration.keyID, kem: configuration.kem, suite: suite)
        do {
            var sender = try HPKE.Sender(recipientKey: publicKey, ciphersuite: ciphersuite, info: Data(header.hpkeInfo))
            let ciphertext = try sender.seal(binaryRequest)
            let secret = try sender.exportSecret(
                context: ResponseKeySchedule.exportContext,
                outputByteCount: try ResponseKeySchedule.secretLength(for: suite.aead)
            )
            let enc = Array(sender.encapsulatedKey)
            self.encapsulatedRequest = header.encoded() + enc + Array(ciphertext)
            self.responseOpener = OHTTPResponseOpener(
                keySchedule: ResponseKeySchedule(aead: suite.aead, encapsulatedKey: enc, secret: secret)
            )
        } catch {
            throw .encryptionFailed(reason: "sealing the request to key \(configuration.keyID) failed")
        }
    }

    /// Decrypts the gateway's encapsulated response (`message/ohttp-res`) to a binary HTTP response.
    public func openResponse(_ encapsulatedResponse: [UInt8]) throws(EnvelopeError) -> [UInt8] {
        try self.responseOpener.open(encapsulatedResponse)
    }
}

/// Decrypts the encapsulated response to one request (RFC 9458 §4.4).
public struct OHTTPResponseOpener: Sendable {
    private let keySchedule: ResponseKeySchedule

    init(keySchedule: ResponseKeySchedule) {
        self.keySchedule = keySchedule
    }

    /// Creates an opener from the request's AEAD, its `enc` and the secret exported from its HPKE context with
    /// context `"message/bhttp response"`; for interoperability and known-answer tests.
    ///
    /// Throws ``EnvelopeError/Code/unsupportedSuite`` for an AEAD this library does not implement and
    /// ``EnvelopeError/Code/invalidArgument`` when the secret is not `max(Nn, Nk)` bytes long.
    public init(aead: AEADIdentifier, encapsulatedKey: [UInt8], exportedSecret: [UInt8]) throws(EnvelopeError) {
        let length = try ResponseKeySchedule.secretLength(for: aead)
        guard exportedSecret.count == length else {
            throw .invalidArgument(reason: "an exported secret for AEAD \(aead) has \(length) bytes")
        }
        self.keySchedule = ResponseKeySchedule(
            aead: aead,
            encapsulatedKey: encapsulatedKey,
            secret: SymmetricKey(data: exportedSecret)
        )
    }

    /// Decrypts an encapsulated response to a binary HTTP response.
    ///
    /// Throws ``EnvelopeError/Code/malformedMessage`` when it is too short and
    /// ``EnvelopeError/Code/decryptionFailed`` when it does not authenticate.
    public func open(_ encapsulatedResponse: [UInt8]) throws(EnvelopeError) -> [UInt8] {
        try self.keySchedule.open(encapsulatedResponse)
    }
}
