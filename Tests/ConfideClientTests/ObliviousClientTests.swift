import ConfideAttestation
import ConfideClient
import ConfideEnvelope
import ConfideHTTPClient
import ConfideMeasurement
import ConfideServer
import ConfideServerTestSupport
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

    @Test(.enabled(if: AttestationSamples.available, "../shared/testdata/attestation is absent"))
    func theClientVerifiesTheServedSNPChain() async throws {
        let hexText = try String(contentsOfFile: AttestationSamples.path("snp-report-milan.hex"), encoding: .utf8)
        let report = try EvidenceFormat.decode(Array(hexText.utf8)).bytes
        let vcek = try [UInt8](Data(contentsOf: URL(fileURLWithPath: AttestationSamples.path("snp-vcek-milan.der"))))
        var policy = AttestationPolicy(expectedReportData: [])
        policy.allowedSNPMeasurements = [try SNPReport(bytes: report).measurement]
        policy.validationTime = Date(timeIntervalSince1970: 1_767_225_600)
        func refusal(_ endorsements: Endorsements) async -> String {
            let document = AttestationDocument(
                evidenceType: .snpReport, evidence: report, keyConfigurations: [1, 2, 3],
                measurements: MeasurementLogSnapshot(events: []), register: "none", insecure: false,
                endorsements: endorsements)
            let error = await #expect(throws: ObliviousClientError.self) {
                _ = try await ObliviousClient.verify(document, nonce: Array(repeating: 7, count: 32), policy: policy)
            }
            return error?.description ?? ""
        }
        // The sample's report data binds no Confide key, so the best it can reach is the binding check.
        #expect(await refusal(Endorsements(snpCertificates: vcek)).contains("reportDataMismatch"))
        #expect(await refusal(Endorsements()).contains("missingCollateral"))
    }
}
