import Foundation
import Testing

@testable import ConfideEnvelope

/// RFC 9180 base-mode X25519 vectors, decrypted through the recipient context the gateway uses.
@Suite(.enabled(if: Fixtures.ohttpDirectory != nil, Comment(rawValue: Fixtures.missingMessage)))
struct RFC9180VectorTests {
    // The members are named as the RFC 9180 test vectors' JSON keys.
    // swift-format-ignore: AlwaysUseLowerCamelCase
    private struct Vector: Decodable {
        struct Encryption: Decodable {
            let aad: String
            let ct: String
            let pt: String
        }

        struct Export: Decodable {
            let exporter_context: String
            let L: Int
            let exported_value: String
        }

        let kem_id: Int
        let kdf_id: Int
        let aead_id: Int
        let info: String
        let skRm: String
        let pkRm: String
        let enc: String
        let encryptions: [Encryption]
        let exports: [Export]
    }

    private static func vectors() throws -> [Vector] {
        try JSONDecoder().decode([Vector].self, from: try Fixtures.data("rfc9180-base-x25519.json"))
    }

    @Test func vectorsCoverBothAEADs() throws {
        let aeads = Set(try Self.vectors().map(\.aead_id))
        #expect(aeads == [1, 3])
    }

    @Test(arguments: [AEADIdentifier.aes128GCM, .chaCha20Poly1305])
    func decryptsEveryCiphertextAndMatchesEveryExport(aead: AEADIdentifier) throws {
        let vector = try #require(try Self.vectors().first { $0.aead_id == Int(aead.rawValue) })
        #expect(vector.kem_id == 0x20 && vector.kdf_id == 1)
        let key = try GatewayKey(
            rawPrivateKey: try hex(vector.skRm),
            keyID: 0,
            suites: [SymmetricSuite(kdf: .hkdfSHA256, aead: aead)]
        )
        #expect(key.configuration.publicKey == (try hex(vector.pkRm)))
        var context = try HPKERecipientContext(
            privateKey: key.privateKey,
            suite: SymmetricSuite(kdf: .hkdfSHA256, aead: aead),
            info: try hex(vector.info),
            encapsulatedKey: try hex(vector.enc)
        )
        for encryption in vector.encryptions {
            let plaintext = try context.open(try hex(encryption.ct), authenticating: try hex(encryption.aad))
            #expect(plaintext == (try hex(encryption.pt)))
        }
        for export in vector.exports {
            let secret = try context.exportSecret(context: try hex(export.exporter_context), length: export.L)
            #expect(secret == (try hex(export.exported_value)))
        }
    }

    @Test func aTamperedVectorCiphertextFailsToDecrypt() throws {
        let vector = try #require(try Self.vectors().first)
        let key = try GatewayKey(rawPrivateKey: try hex(vector.skRm), keyID: 0, suites: [.hkdfSHA256AES128GCM])
        var context = try HPKERecipientContext(
            privateKey: key.privateKey,
            suite: .hkdfSHA256AES128GCM,
            info: try hex(vector.info),
            encapsulatedKey: try hex(vector.enc)
        )
        let encryption = try #require(vector.encryptions.first)
        var ciphertext = try hex(encryption.ct)
        ciphertext[0] ^= 1
        let error = #expect(throws: EnvelopeError.self) {
            try context.open(ciphertext, authenticating: try hex(encryption.aad))
        }
        #expect(error?.code == .decryptionFailed)
    }
}
