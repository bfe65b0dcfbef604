import Testing

@testable import ConfideEnvelope

/// RFC 9458 Appendix A, byte for byte.
@Suite(.enabled(if: Fixtures.ohttpDirectory != nil, Comment(rawValue: Fixtures.missingMessage)))
struct RFC9458AppendixATests {
    private func gatewayKey() throws -> GatewayKey {
        try GatewayKey(
            rawPrivateKey: try Fixtures.appendixValue("gateway X25519 secret key skR"),
            keyID: 1,
            suites: [.hkdfSHA256AES128GCM, .hkdfSHA256ChaCha20Poly1305]
        )
    }

    @Test func keyConfigurationEncodesAsInTheRFC() throws {
        let key = try self.gatewayKey()
        #expect(key.configuration.publicKey == (try Fixtures.appendixValue("gateway public key pkR")))
        #expect(try key.configuration.encoded() == (try Fixtures.appendixValue("key config (one Key Config")))
        let list = try Fixtures.appendixValue("application/ohttp-keys form")
        #expect(try OHTTPKeyConfiguration.encodeList([key.configuration]) == list)
        #expect(try OHTTPKeyConfiguration.decodeList(list) == [key.configuration])
        let store = try GatewayKeyStore(currentKey: key)
        #expect(try store.encodedConfigurations() == list)
    }

    @Test func gatewayDecapsulatesTheRequestAndProducesTheResponse() throws {
        let gateway = OHTTPGateway(keyStore: try GatewayKeyStore(currentKey: try self.gatewayKey()))
        let request = try gateway.decapsulateRequest(try Fixtures.appendixValue("encapsulated request"))
        #expect(request.binaryRequest == (try Fixtures.appendixValue("BHTTP request")))
        #expect(request.encapsulatedKey == (try Fixtures.appendixValue("client ephemeral public pkE = enc")))
        #expect(request.header == OHTTPRequestHeader(keyID: 1, kem: .x25519HKDFSHA256, suite: .hkdfSHA256AES128GCM))
        #expect(request.header.hpkeInfo == (try Fixtures.appendixValue("HPKE info")))

        let inner = try BinaryHTTPRequest(decoding: request.binaryRequest)
        #expect(inner == BinaryHTTPRequest(method: "GET", scheme: "https", authority: "example.com", path: "/"))

        let response = try request.encapsulateResponse(
            try Fixtures.appendixValue("BHTTP response"),
            responseNonce: try Fixtures.appendixValue("response_nonce")
        )
        #expect(response == (try Fixtures.appendixValue("encapsulated response")))
    }

    @Test func clientOpensTheResponseGivenTheExportedSecret() throws {
        let opener = try OHTTPResponseOpener(
            aead: .aes128GCM,
            encapsulatedKey: try Fixtures.appendixValue("client ephemeral public pkE = enc"),
            exportedSecret: try Fixtures.appendixValue("exported secret")
        )
        let binaryResponse = try opener.open(try Fixtures.appendixValue("encapsulated response"))
        #expect(binaryResponse == (try Fixtures.appendixValue("BHTTP response")))
        #expect(try BinaryHTTPResponse(decoding: binaryResponse) == BinaryHTTPResponse(status: 200))
    }

    @Test func gatewayExportsTheRFCSecret() throws {
        let key = try self.gatewayKey()
        let header = OHTTPRequestHeader(keyID: 1, kem: .x25519HKDFSHA256, suite: .hkdfSHA256AES128GCM)
        let encapsulated = try Fixtures.appendixValue("encapsulated request")
        let context = try HPKERecipientContext(
            privateKey: key.privateKey,
            suite: header.suite,
            info: header.hpkeInfo,
            encapsulatedKey: Array(encapsulated[7..<39])
        )
        let secret = try context.exportSecret(context: ResponseKeySchedule.exportContext, length: 16)
        #expect(secret == (try Fixtures.appendixValue("exported secret")))
    }
}
