import ConfideEnvelope
import Testing

/// Client-to-gateway round trips and every way a gateway refuses a request.
struct OHTTPTests {
    private static let request = BinaryHTTPRequest(
        method: "POST",
        authority: "confide.local",
        path: "/v2/models/minilm/infer",
        headerFields: [BinaryHTTPField(name: "content-type", value: "application/json")],
        content: Array(#"{"inputs":[]}"#.utf8)
    )

    private func gateway(_ suites: [SymmetricSuite] = SymmetricSuite.allImplemented) throws -> OHTTPGateway {
        OHTTPGateway(keyStore: try GatewayKeyStore(suites: suites), replayGuard: ReplayGuard(window: .seconds(60)))
    }

    private func expectCode(_ code: EnvelopeError.Code, _ body: () throws -> Void) {
        let error = #expect(throws: EnvelopeError.self) { try body() }
        #expect(error?.code == code, "\(String(describing: error))")
    }

    @Test(arguments: SymmetricSuite.allImplemented)
    func roundTrips(suite: SymmetricSuite) throws {
        let gateway = try self.gateway()
        let configurations = try OHTTPKeyConfiguration.decodeList(try gateway.keyStore.encodedConfigurations())
        let configuration = try #require(configurations.first)
        let client = try OHTTPClientRequest(sealing: try Self.request.encoded(), for: configuration, suite: suite)

        let decapsulated = try gateway.decapsulateRequest(client.encapsulatedRequest)
        #expect(decapsulated.header.suite == suite)
        #expect(try BinaryHTTPRequest(decoding: decapsulated.binaryRequest) == Self.request)

        let response = BinaryHTTPResponse(status: 200, content: Array("[0.1, 0.2]".utf8))
        let encapsulated = try decapsulated.encapsulateResponse(try response.encoded())
        let nonceLength = suite.aead == .aes128GCM ? 16 : 32
        #expect(encapsulated.count == nonceLength + (try response.encoded()).count + 16)
        #expect(try BinaryHTTPResponse(decoding: try client.openResponse(encapsulated)) == response)
    }

    @Test func clientPicksTheFirstImplementedSuiteByDefault() throws {
        let gateway = try self.gateway([.hkdfSHA256ChaCha20Poly1305, .hkdfSHA256AES128GCM])
        let client = try OHTTPClientRequest(sealing: [0], for: gateway.keyStore.currentConfiguration)
        #expect(try gateway.decapsulateRequest(client.encapsulatedRequest).header.suite == .hkdfSHA256ChaCha20Poly1305)
    }

    @Test func rejectsTruncatedAndGarbageMessages() throws {
        let gateway = try self.gateway()
        let client = try OHTTPClientRequest(sealing: [0], for: gateway.keyStore.currentConfiguration)
        let message = client.encapsulatedRequest
        for length in [0, 1, 6, 7, 20, 38, 39, 39 + 15] {
            self.expectCode(.malformedMessage) { _ = try gateway.decapsulateRequest(Array(message.prefix(length))) }
        }
        var garbage = message
        for index in 7..<39 {
            garbage[index] = 0
        }
        self.expectCode(.decryptionFailed) { _ = try gateway.decapsulateRequest(garbage) }
    }

    @Test func rejectsAnUnknownKeyID() throws {
        let gateway = try self.gateway()
        var message = try OHTTPClientRequest(sealing: [0], for: gateway.keyStore.currentConfiguration)
            .encapsulatedRequest
        message[0] &+= 1
        self.expectCode(.unknownKeyID) { _ = try gateway.decapsulateRequest(message) }
        #expect(EnvelopeError.Code.unknownKeyID.isKeyConfigurationProblem)
    }

    @Test func rejectsUnsupportedSuites() throws {
        let gateway = try self.gateway([.hkdfSHA256AES128GCM])
        let configuration = gateway.keyStore.currentConfiguration
        let message = try OHTTPClientRequest(sealing: [0], for: configuration).encapsulatedRequest
        let body = Array(message.dropFirst(OHTTPRequestHeader.encodedLength))
        let keyID = configuration.keyID
        let headers = [
            OHTTPRequestHeader(keyID: keyID, kem: KEMIdentifier(rawValue: 0x10), suite: .hkdfSHA256AES128GCM),
            OHTTPRequestHeader(keyID: keyID, kem: .x25519HKDFSHA256, suite: .hkdfSHA256AES256GCM),
            OHTTPRequestHeader(
                keyID: keyID,
                kem: .x25519HKDFSHA256,
                suite: SymmetricSuite(kdf: KDFIdentifier(rawValue: 2), aead: .aes128GCM)
            ),
        ]
        for header in headers {
            self.expectCode(.unsupportedSuite) { _ = try gateway.decapsulateRequest(header.encoded() + body) }
        }
        #expect(EnvelopeError.Code.unsupportedSuite.isKeyConfigurationProblem)
        #expect(!EnvelopeError.Code.malformedMessage.isKeyConfigurationProblem)
        #expect(!EnvelopeError.Code.decryptionFailed.isKeyConfigurationProblem)
        self.expectCode(.unsupportedSuite) {
            _ = try OHTTPClientRequest(sealing: [0], for: configuration, suite: .hkdfSHA256AES256GCM)
        }
    }

    @Test func rejectsTamperedCiphertextAndResponses() throws {
        let gateway = try self.gateway()
        let client = try OHTTPClientRequest(sealing: [1, 2, 3], for: gateway.keyStore.currentConfiguration)
        var tampered = client.encapsulatedRequest
        tampered[tampered.count - 1] ^= 0x80
        self.expectCode(.decryptionFailed) { _ = try gateway.decapsulateRequest(tampered) }

        let decapsulated = try gateway.decapsulateRequest(client.encapsulatedRequest)
        var response = try decapsulated.encapsulateResponse(try BinaryHTTPResponse(status: 204).encoded())
        response[response.count / 2] ^= 1
        self.expectCode(.decryptionFailed) { _ = try client.openResponse(response) }
        self.expectCode(.malformedMessage) { _ = try client.openResponse(Array(response.prefix(20))) }
    }

    @Test func rejectsAReplayedRequest() throws {
        let gateway = try self.gateway()
        let message = try OHTTPClientRequest(sealing: [0], for: gateway.keyStore.currentConfiguration)
            .encapsulatedRequest
        _ = try gateway.decapsulateRequest(message)
        self.expectCode(.replayedRequest) { _ = try gateway.decapsulateRequest(message) }
    }

    @Test func errorMessagesNeverCarryPlaintext() throws {
        let secret = "Bearer top-secret-token"
        let request = BinaryHTTPRequest(
            method: "GET",
            path: "/",
            headerFields: [BinaryHTTPField(name: "authorization", value: secret + "\u{1}")]
        )
        let error = #expect(throws: EnvelopeError.self) { try request.encoded() }
        #expect(error.map { !"\($0)".contains("top-secret") } == true)

        var bytes = try BinaryHTTPRequest(method: "GET", path: "/", content: Array(secret.utf8)).encoded()
        bytes.append(1)
        let decodeError = #expect(throws: EnvelopeError.self) { try BinaryHTTPRequest(decoding: bytes) }
        #expect(decodeError.map { !"\($0)".contains("top-secret") } == true)
    }
}
