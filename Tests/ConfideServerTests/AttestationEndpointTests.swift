import ConfideAttestation
import ConfideClient
import ConfideEnvelope
import ConfideHTTPClient
import ConfideHost
import ConfideJSON
import ConfideMeasurement
import ConfideServer
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// Simulated evidence bound to report data other than the one asked for, as a server with stale or substituted
/// keys would produce.
struct MisboundEvidenceProvider: EvidenceProvider {
    let simulated: SimulatedEvidenceProvider

    var evidenceType: EvidenceType { .simulated }
    var isInsecure: Bool { true }

    func evidence(reportData: [UInt8]) async throws(AttestationError) -> Evidence {
        var other = reportData
        other[0] ^= 0x01
        return try await simulated.evidence(reportData: other)
    }
}

/// A policy that accepts the default simulated evidence.
func simulatedPolicy() -> AttestationPolicy {
    var policy = AttestationPolicy(expectedReportData: [])
    policy.acceptSimulated = true
    policy.allowedSimulatedMeasurements = [SimulatedEvidenceProvider.defaultMeasurement]
    return policy
}

/// Fetches `/attestation` for `nonce` and parses the answer.
func fetchAttestation(_ port: Int, nonce: [UInt8]) async throws -> AttestationDocument {
    let hex = nonce.map { String(format: "%02x", $0) }.joined()
    let response = try await send(port, .GET, "/attestation?nonce=\(hex)")
    #expect(response.status == .ok, "\(response.text)")
    #expect(response.headers.first(name: "Content-Type") == "application/json")
    return try AttestationDocument(json: Array(response.body.readableBytesView))
}

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

@Suite("ObliviousClient: evidence, binding, then encrypted requests")
struct ObliviousClientTests {
    @Test func endToEndWithSimulatedEvidence() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try await ObliviousClient.connect(host: "127.0.0.1", port: server.port, policy: simulatedPolicy())
        defer { Task { await client.close() } }
        let keys = try await client.attest()
        #expect(keys.evidence.isSimulated)
        #expect(keys.configuration == server.server.keyStore.currentConfiguration)
        let input = try #require(InferTensor(name: "text", strings: ["encrypted", "héllo"]))
        for binary in [false, true] {
            let outputs = try await client.infer(model: "echo", inputs: [input], binary: binary)
            #expect(outputs.first?.strings() == ["encrypted", "héllo"])
        }
        let metadata = try await client.send(ClientRequest(method: .GET, uri: "/v2/models/echo"))
        #expect(metadata.status == .ok)
        let missing = try await client.send(ClientRequest(method: .GET, uri: "/v2/models/nope"))
        #expect(missing.status == .notFound)
        await #expect(throws: KServeError.self) {
            _ = try await client.infer(model: "nope", inputs: [input])
        }
    }

    /// The response counters count what the network sees: an encrypted request that fails inside (404) shows as the
    /// gateway's 200, next to the plaintext requests' own codes.
    @Test func responseMetricsCountOnlyWhatTheNetworkSees() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try await ObliviousClient.connect(host: "127.0.0.1", port: server.port, policy: simulatedPolicy())
        defer { Task { await client.close() } }
        for _ in 0..<2 {
            #expect(try await client.send(ClientRequest(method: .GET, uri: "/v2/models/nope")).status == .notFound)
        }
        #expect(try await send(server.port, .GET, "/v2/models/nope").status == .notFound)
        let text = try await send(server.metricsPort, .GET, "/metrics").text
        // GET /attestation (whose document carries the keys), then the two encrypted requests.
        #expect(text.contains(#"confide_http_responses_total{api="inference",code="200"} 3"#), "\(text)")
        #expect(text.contains(#"confide_http_responses_total{api="inference",code="404"} 1"#), "\(text)")
    }

    @Test func attestsBeforeTheFirstRequest() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try await ObliviousClient.connect(host: "127.0.0.1", port: server.port, policy: simulatedPolicy())
        defer { Task { await client.close() } }
        #expect(client.attestedKeys == nil)
        let response = try await client.send(ClientRequest(method: .GET, uri: "/v2/health/ready"))
        #expect(response.status == .ok)
        #expect(client.attestedKeys?.configuration == server.server.keyStore.currentConfiguration)
    }

    @Test func refetchesTheKeysOnceAfterARotation() async throws {
        let server = try await TestServer.start { $0.oblivious.gracePeriod = .zero }
        defer { Task { await server.stop() } }
        let client = try await ObliviousClient.connect(host: "127.0.0.1", port: server.port, policy: simulatedPolicy())
        defer { Task { await client.close() } }
        let first = try await client.attest()
        let rotated = server.server.keyStore.rotate()
        let response = try await client.send(ClientRequest(method: .GET, uri: "/v2/health/live"))
        #expect(response.status == .ok)
        #expect(client.attestedKeys?.configuration == rotated)
        #expect(client.attestedKeys?.nonce != first.nonce)
    }

    @Test func refusesSimulatedEvidenceUnlessTheUserOptsIn() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        var policy = simulatedPolicy()
        policy.acceptSimulated = false
        let client = try await ObliviousClient.connect(host: "127.0.0.1", port: server.port, policy: policy)
        defer { Task { await client.close() } }
        await #expect(throws: ObliviousClientError(.attestationRefused, "")) {
            _ = try await client.send(ClientRequest(method: .GET, uri: "/v2/health/live"))
        }
        #expect(client.attestedKeys == nil)
    }

    @Test func refusesAMeasurementOutsideThePolicy() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        var policy = simulatedPolicy()
        policy.allowedSimulatedMeasurements = [[UInt8](repeating: 0xAB, count: 48)]
        let client = try await ObliviousClient.connect(host: "127.0.0.1", port: server.port, policy: policy)
        defer { Task { await client.close() } }
        let error = await #expect(throws: ObliviousClientError.self) { try await client.attest() }
        #expect(error?.code == .attestationRefused)
        #expect(error?.message.contains("measurementNotAllowed") == true)
    }

    @Test func refusesEvidenceThatDoesNotBindTheKeys() async throws {
        let provider = MisboundEvidenceProvider(simulated: try SimulatedEvidenceProvider())
        let server = try await TestServer.start { $0.attestation = .provider(provider) }
        defer { Task { await server.stop() } }
        let client = try await ObliviousClient.connect(host: "127.0.0.1", port: server.port, policy: simulatedPolicy())
        defer { Task { await client.close() } }
        let error = await #expect(throws: ObliviousClientError.self) {
            _ = try await client.send(ClientRequest(method: .GET, uri: "/v2/health/live"))
        }
        #expect(error?.code == .attestationRefused)
        #expect(error?.message.contains("reportDataMismatch") == true)
        #expect(client.attestedKeys == nil)
    }

    @Test func refusesSubstitutedKeysAndAnotherNonce() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let nonce = [UInt8](repeating: 0x5A, count: 32)
        let genuine = try await fetchAttestation(server.port, nonce: nonce)
        _ = try await ObliviousClient.verify(genuine, nonce: nonce, policy: simulatedPolicy())

        await #expect(throws: ObliviousClientError(.attestationRefused, "")) {
            _ = try await ObliviousClient.verify(
                genuine, nonce: [UInt8](repeating: 0x5B, count: 32), policy: simulatedPolicy())
        }
        var substituted = genuine
        substituted.keyConfigurations = try GatewayKeyStore().encodedConfigurations()
        await #expect(throws: ObliviousClientError(.attestationRefused, "")) {
            _ = try await ObliviousClient.verify(substituted, nonce: nonce, policy: simulatedPolicy())
        }
        var retyped = genuine
        retyped.evidenceType = .tdxQuote
        await #expect(throws: ObliviousClientError(.attestationRefused, "")) {
            _ = try await ObliviousClient.verify(retyped, nonce: nonce, policy: simulatedPolicy())
        }
        let base =
            #"{"evidence_type":"simulated","evidence":"AA==","key_configurations":"","#
            + #""measurements":{"register":"none","events":[]}"#
        for json in [
            "[]", "{}", #"{"evidence_type":"simulated","evidence":"!!","key_configurations":""}"#,
            base + #","endorsements":"AA=="}"#, base + #","endorsements":{"tdx_collateral":"!"}}"#,
        ] {
            #expect(throws: ObliviousClientError(.malformedAttestation, "")) {
                _ = try AttestationDocument(json: Array(json.utf8))
            }
        }
        let endorsed = try AttestationDocument(
            json: Array((base + #","endorsements":{"tdx_collateral":"e30=","snp_certificates":"AQI="}}"#).utf8))
        #expect(endorsed.endorsements == Endorsements(tdxCollateral: Array("{}".utf8), snpCertificates: [1, 2]))
        #expect(try AttestationDocument(json: Array((base + "}").utf8)).endorsements.isEmpty)
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
