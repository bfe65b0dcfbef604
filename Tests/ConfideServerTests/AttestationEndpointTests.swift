import ConfideAttestation
import ConfideClient
import ConfideEnvelope
import ConfideHTTPClient
import ConfideHost
import ConfideJSON
import ConfideMeasurement
import ConfideServer
import ConfideServerTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@Suite("GET /attestation binds the gateway's keys to the client's nonce")
struct AttestationEndpointTests {
    @Test func simulatedEvidenceBindsTheCurrentKeysAndTheNonce() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let nonce = (0..<16).map { UInt8($0 * 7) }
        let document = try await fetchAttestation(server.port, nonce: nonce)
        #expect(document.evidenceType == .simulated)
        #expect(document.insecure)
        let keys = try await send(server.port, .GET, ObliviousGatewayAPI.path)
        #expect(document.keyConfigurations == Array(keys.body.readableBytesView))
        let evidence = try SimulatedEvidence(bytes: document.evidence)
        try evidence.verifySignature()
        let binding = try reportData(
            keyConfigurations: document.keyConfigurations, nonce: nonce, measurementLog: document.measurements.digest)
        #expect(evidence.reportData == binding)
        #expect(evidence.rtmr3 == document.measurements.digest)
        #expect(document.register == "simulated-rtmr3")
        #expect(evidence.measurement == SimulatedEvidenceProvider.defaultMeasurement)
        #expect(document.publicKey == evidence.publicKey)
        #expect(document.publicKey == AttestationAPI.simulatedPublicKey(of: server.server.evidenceProvider))

        let rotated = server.server.keyStore.rotate()
        let after = try await fetchAttestation(server.port, nonce: nonce)
        #expect(try OHTTPKeyConfiguration.decodeList(after.keyConfigurations) == [rotated])
    }

    @Test(arguments: [
        "", "nonce=", "nonce=" + String(repeating: "a", count: 30), "nonce=" + String(repeating: "a", count: 130),
        "nonce=" + String(repeating: "a", count: 33), "nonce=" + String(repeating: "g", count: 32),
        "nonce=" + String(repeating: "a", count: 32) + "&nonce=" + String(repeating: "b", count: 32),
        "other=" + String(repeating: "a", count: 32),
    ])
    func badNoncesAre400(query: String) async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let response = try await send(server.port, .GET, "/attestation?\(query)")
        #expect(response.status == .badRequest)
        #expect(response.text.contains("nonce"))
        #expect(try await send(server.port, .GET, "/v2/health/live").status == .ok)
    }

    @Test func acceptsNoncesOf16To64BytesInEitherCase() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        for digits in ["00112233445566778899AABBCCDDEEFF", String(repeating: "Ab", count: 64)] {
            #expect(try await send(server.port, .GET, "/attestation?nonce=\(digits)").status == .ok)
        }
        let post = try await send(server.port, .POST, "/attestation?nonce=\(String(repeating: "a", count: 32))")
        #expect(post.status == .methodNotAllowed)
    }
}

@Suite("The attestation query parser's fuzz entry point")
struct AttestationQueryFuzzTests {
    @Test func neverTrapsOnArbitraryBytes() {
        var generator = SystemRandomNumberGenerator()
        let seeds: [[UInt8]] = [[], Array("nonce=".utf8), Array("nonce=\u{FF}\u{FE}".utf8), [0xFF, 0x00, 0x26]]
        for seed in seeds {
            ServerFuzz.attestationQuery(seed)
        }
        for _ in 0..<2_000 {
            let digits = (0..<Int.random(in: 0...140, using: &generator)).map { _ in
                Array("0123456789abcdefABCDEFg&=%".utf8).randomElement(using: &generator) ?? 0
            }
            ServerFuzz.attestationQuery(Array("nonce=".utf8) + digits)
        }
    }
}
