import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The receiving end of an HPKE base-mode context (RFC 9180 §5.1) for X25519 and an implemented suite.
///
/// The gateway decrypts every request through this type; the RFC 9180 test vectors exercise it directly.
struct HPKERecipientContext {
    private var recipient: HPKE.Recipient

    /// Sets up the context; throws ``EnvelopeError/Code/decryptionFailed`` when `encapsulatedKey` is unusable.
    init(
        privateKey: Curve25519.KeyAgreement.PrivateKey,
        suite: SymmetricSuite,
        info: [UInt8],
        encapsulatedKey: [UInt8]
    ) throws(EnvelopeError) {
        guard let ciphersuite = suite.hpkeCiphersuite else {
            throw .unsupportedSuite(reason: "symmetric suite \(suite) is not implemented")
        }
        do {
            self.recipient = try HPKE.Recipient(
                privateKey: privateKey,
                ciphersuite: ciphersuite,
                info: Data(info),
                encapsulatedKey: Data(encapsulatedKey)
            )
        } catch {
            throw .decryptionFailed(reason: "key agreement with the encapsulated key failed")
        }
    }

    /// Opens the next message in sequence; throws ``EnvelopeError/Code/decryptionFailed`` when it does not
    /// authenticate.
    mutating func open(_ ciphertext: [UInt8], authenticating aad: [UInt8] = []) throws(EnvelopeError) -> [UInt8] {
        do {
            return Array(try self.recipient.open(ciphertext, authenticating: aad))
        } catch {
            throw .decryptionFailed(reason: "a ciphertext of \(ciphertext.count) bytes did not authenticate")
        }
    }

    /// Exports `length` bytes of secret bound to `context` (RFC 9180 §5.3).
    func exportSecret(context: [UInt8], length: Int) throws(EnvelopeError) -> [UInt8] {
        guard length > 0, length <= 255 * 32 else {
            throw .invalidArgument(reason: "an exported secret has 1 to 8160 bytes, not \(length)")
        }
        do {
            let secret = try self.recipient.exportSecret(context: context, outputByteCount: length)
            return secret.withUnsafeBytes { Array($0) }
        } catch {
            throw .decryptionFailed(reason: "exporting a secret failed")
        }
    }
}
