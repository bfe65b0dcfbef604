import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The response encryption of RFC 9458 §4.4, shared by the gateway (seal) and the client (open).
///
/// `secret = Export("message/bhttp response", max(Nn, Nk))`, `salt = enc || response_nonce`,
/// `prk = Extract(salt, secret)`, `key = Expand(prk, "key", Nk)`, `nonce = Expand(prk, "nonce", Nn)`.
struct ResponseKeySchedule: Sendable {
    /// The exporter context for the response secret.
    static let exportContext = Array("message/bhttp response".utf8)

    private static let nonceLength = 12

    let aead: AEADIdentifier
    let encapsulatedKey: [UInt8]
    let secret: SymmetricKey

    /// The length of the exported secret and of the response nonce, `max(Nn, Nk)`, for an implemented AEAD.
    static func secretLength(for aead: AEADIdentifier) throws(EnvelopeError) -> Int {
        guard let keyLength = aead.keyLength else {
            throw .unsupportedSuite(reason: "AEAD \(aead) is not implemented")
        }
        return max(Self.nonceLength, keyLength)
    }

    /// Encrypts a binary HTTP response under `responseNonce`, returning `response_nonce || ciphertext`.
    func seal(_ response: [UInt8], responseNonce: [UInt8]) throws(EnvelopeError) -> [UInt8] {
        let (key, nonce) = try self.derive(responseNonce: responseNonce)
        do {
            switch self.aead {
            case .chaCha20Poly1305:
                let box = try ChaChaPoly.seal(response, using: key, nonce: ChaChaPoly.Nonce(data: nonce))
                return responseNonce + Array(box.ciphertext) + Array(box.tag)
            default:
                let box = try AES.GCM.seal(response, using: key, nonce: AES.GCM.Nonce(data: nonce))
                return responseNonce + Array(box.ciphertext) + Array(box.tag)
            }
        } catch {
            throw .encryptionFailed(reason: "sealing the response with AEAD \(self.aead) failed")
        }
    }

    /// Decrypts `response_nonce || ciphertext`, returning the binary HTTP response.
    func open(_ encapsulated: [UInt8]) throws(EnvelopeError) -> [UInt8] {
        let nonceLength = try Self.secretLength(for: self.aead)
        let tagLength = 16
        guard encapsulated.count >= nonceLength + tagLength else {
            throw .malformedMessage(
                reason: "encapsulated response of \(encapsulated.count) bytes is shorter than nonce and tag"
            )
        }
        let responseNonce = Array(encapsulated.prefix(nonceLength))
        let ciphertext = encapsulated.dropFirst(nonceLength).dropLast(tagLength)
        let tag = encapsulated.suffix(tagLength)
        let (key, nonce) = try self.derive(responseNonce: responseNonce)
        do {
            switch self.aead {
            case .chaCha20Poly1305:
                let box = try ChaChaPoly.SealedBox(
                    nonce: ChaChaPoly.Nonce(data: nonce),
                    ciphertext: ciphertext,
                    tag: tag
                )
                return Array(try ChaChaPoly.open(box, using: key))
            default:
                let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonce), ciphertext: ciphertext, tag: tag)
                return Array(try AES.GCM.open(box, using: key))
            }
        } catch {
            throw .decryptionFailed(reason: "the response did not authenticate under AEAD \(self.aead)")
        }
    }

    private func derive(responseNonce: [UInt8]) throws(EnvelopeError) -> (SymmetricKey, [UInt8]) {
        let length = try Self.secretLength(for: self.aead)
        guard responseNonce.count == length, let keyLength = self.aead.keyLength else {
            throw .invalidArgument(reason: "a response nonce for AEAD \(self.aead) has \(length) bytes")
        }
        let salt = self.encapsulatedKey + responseNonce
        let prk = HKDF<SHA256>.extract(inputKeyMaterial: self.secret, salt: salt)
        let key = HKDF<SHA256>.expand(pseudoRandomKey: prk, info: Array("key".utf8), outputByteCount: keyLength)
        let nonce = HKDF<SHA256>.expand(
            pseudoRandomKey: prk,
            info: Array("nonce".utf8),
            outputByteCount: Self.nonceLength
        )
        return (key, nonce.withUnsafeBytes { Array($0) })
    }
}
