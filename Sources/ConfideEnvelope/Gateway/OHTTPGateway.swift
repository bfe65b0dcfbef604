import Crypto

/// The gateway side of Oblivious HTTP (RFC 9458 §4.3): decapsulates requests with the key store's keys.
public struct OHTTPGateway: Sendable {
    /// The keys requests may be encrypted to.
    public let keyStore: GatewayKeyStore

    /// The replay guard consulted after a request authenticates, if any.
    public let replayGuard: ReplayGuard?

    /// Creates a gateway.
    public init(keyStore: GatewayKeyStore, replayGuard: ReplayGuard? = nil) {
        self.keyStore = keyStore
        self.replayGuard = replayGuard
    }

    /// Decrypts an encapsulated request (`message/ohttp-req`).
    ///
    /// Throws, in the order checked: ``EnvelopeError/Code/malformedMessage`` (header, `enc` or ciphertext cut
    /// short), ``EnvelopeError/Code/unknownKeyID``, ``EnvelopeError/Code/unsupportedSuite``,
    /// ``EnvelopeError/Code/decryptionFailed``, and ``EnvelopeError/Code/replayedRequest`` or
    /// ``EnvelopeError/Code/replayGuardFull``. Only requests that authenticate are recorded by the replay guard.
    public func decapsulateRequest(_ encapsulated: [UInt8]) throws(EnvelopeError) -> OHTTPDecapsulatedRequest {
        var reader = ByteReader(encapsulated)
        let header: OHTTPRequestHeader
        do throws(EnvelopeError) {
            header = try OHTTPRequestHeader(reading: &reader)
        } catch {
            throw .malformedMessage(reason: "encapsulated request of \(encapsulated.count) bytes has no full header")
        }
        let key = try self.keyStore.key(for: header.keyID)
        guard header.kem == key.configuration.kem, let encLength = header.kem.keyLength else {
            throw .unsupportedSuite(reason: "KEM \(header.kem) is not offered by key \(header.keyID)")
        }
        guard key.configuration.symmetricSuites.contains(header.suite), header.suite.isImplemented else {
            throw .unsupportedSuite(reason: "symmetric suite \(header.suite) is not offered by key \(header.keyID)")
        }
        let enc: [UInt8]
        do throws(EnvelopeError) {
            enc = try reader.readBytes(count: encLength)
        } catch {
            throw .malformedMessage(reason: "encapsulated request ends inside the \(encLength)-byte enc")
        }
        let ciphertext = reader.readRemainingBytes()
        guard ciphertext.count >= 16 else {
            throw .malformedMessage(reason: "ciphertext of \(ciphertext.count) bytes is shorter than the AEAD tag")
        }
        var recipient = try HPKERecipientContext(
            privateKey: key.privateKey,
            suite: header.suite,
            info: header.hpkeInfo,
            encapsulatedKey: enc
        )
        let plaintext = try recipient.open(ciphertext)
        let secret = try recipient.exportSecret(
            context: ResponseKeySchedule.exportContext,
            length: try ResponseKeySchedule.secretLength(for: header.suite.aead)
        )
        try self.replayGuard?.check(enc)
        return OHTTPDecapsulatedRequest(
            header: header,
            binaryRequest: plaintext,
            responseKeySchedule: ResponseKeySchedule(
                aead: header.suite.aead,
                encapsulatedKey: enc,
                secret: SymmetricKey(data: secret)
            )
        )
    }
}
