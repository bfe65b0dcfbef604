import ConfideAttestation
import ConfideClient
import ConfideMeasurement
import ConfideServer
import Foundation
import Testing

/// `confide attest verify` on SEV-SNP reports and on evidence of every encoding, and the SEV-SNP chain a server
/// serves with its evidence.
@Suite("SEV-SNP chains and evidence formats through the confide command and the server")
struct SNPEndorsementCommandTests {
    @Test(.enabled(if: AttestationSamples.available, "../shared/testdata/attestation is absent"))
    func attestVerifyPrintsTheSNPChainItChecked() async throws {
        let report = AttestationSamples.path("snp-report-milan.hex")
        let vcek = try Data(contentsOf: URL(fileURLWithPath: AttestationSamples.path("snp-vcek-milan.der")))
        let askARK = try Data(contentsOf: URL(fileURLWithPath: AttestationSamples.path("amd-ask-ark-milan.pem")))
        let chain = FileManager.default.temporaryDirectory.appendingPathComponent("confide-chain-\(UUID()).pem")
        let pem =
            "-----BEGIN CERTIFICATE-----\n" + vcek.base64EncodedString(options: .lineLength64Characters)
            + "\n-----END CERTIFICATE-----\n"
        try (Data(pem.utf8) + askARK).write(to: chain)
        defer { try? FileManager.default.removeItem(at: chain) }
        let verified = try await ConfideCommand.run(
            "attest", "verify", report, "--certificates", chain.path, "--at", "2026-01-01T00:00:00Z")
        #expect(verified.status == 0, "\(verified.output)")
        #expect(verified.output.contains("sev-snp-report (hex)"))
        #expect(verified.output.contains("chain:        SEV-VCEK (given, issued by SEV-Milan"))
        #expect(verified.output.contains("ARK-Milan (pinned"))
        #expect(verified.output.contains("TCB:          Milan, bootloader 3, TEE 0, SNP 8, microcode 115"))
        #expect(verified.output.contains("verdict:      OK"))
        let expired = try await ConfideCommand.run(
            "attest", "verify", report, "--vcek", AttestationSamples.path("snp-vcek-milan.der"), "--at",
            "2031-01-01T00:00:00Z")
        #expect(expired.status != 0)
        #expect(expired.output.contains("REFUSED: VCEK certificate SEV-VCEK expired on 2030-04-03T19:23:43Z"))
        let smt = try await ConfideCommand.run(
            "attest", "verify", report, "--vcek", AttestationSamples.path("snp-vcek-milan.der"), "--refuse-smt")
        // The guest policy flags judge the guest, not the evidence: the verdict stays OK, the exit status is 2.
        #expect(smt.status == 2, "\(smt.output)")
        #expect(smt.output.contains("guest policy: REFUSED: unauthorized platform feature SMT enabled"))
        #expect(smt.output.contains("verdict:      OK"))
        let vmpl = try await ConfideCommand.run(
            "attest", "verify", report, "--vcek", AttestationSamples.path("snp-vcek-milan.der"), "--vmpl", "1")
        #expect(vmpl.status == 2, "\(vmpl.output)")
        #expect(vmpl.output.contains("guest policy: REFUSED: report VMPL 0 is not 1"))
        #expect(verified.output.contains("guest policy: accepted"))
    }

    @Test(.enabled(if: AttestationSamples.available, "../shared/testdata/attestation is absent"))
    func attestVerifyDetectsEncodingsAndRefusesTheUnrecognized() async throws {
        let quote = try Data(contentsOf: URL(fileURLWithPath: AttestationSamples.path("tdx-quote-v4-b.bin")))
        let folder = FileManager.default.temporaryDirectory
        let base64 = folder.appendingPathComponent("confide-quote-\(UUID()).b64")
        let garbage = folder.appendingPathComponent("confide-garbage-\(UUID()).bin")
        try Data(quote.base64EncodedString(options: .lineLength76Characters).utf8).write(to: base64)
        try Data("not evidence at all".utf8).write(to: garbage)
        defer {
            try? FileManager.default.removeItem(at: base64)
            try? FileManager.default.removeItem(at: garbage)
        }
        let decoded = try await ConfideCommand.run("attest", "verify", base64.path)
        #expect(decoded.output.contains("5006 bytes, tdx-quote (base64)"), "\(decoded.output)")
        let wrongType = try await ConfideCommand.run("attest", "verify", base64.path, "--type", "snp")
        #expect(wrongType.status != 0)
        #expect(wrongType.output.contains("the file holds tdx-quote, not sev-snp-report"))
        let refused = try await ConfideCommand.run("attest", "verify", garbage.path)
        #expect(refused.status != 0)
        #expect(refused.output.contains("REFUSED: unrecognized evidence format"))
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

    @Test func theServerServesTheConfiguredSNPChain() async throws {
        let chain = Array("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n".utf8)
        let server = try await TestServer.start { configuration in
            configuration.snpCertificates = chain
        }
        defer { Task { await server.stop() } }
        let document = try await fetchAttestation(server.port, nonce: Array(repeating: 9, count: 32))
        #expect(document.endorsements.snpCertificates == chain)
        #expect(document.endorsements.tdxCollateral == nil)
        #expect(document.publicKey != nil)
    }

    /// Simulated evidence carrying certificates, as configfs-tsm's `auxblob` attaches them.
    struct HostCertificatesProvider: EvidenceProvider {
        let simulated: SimulatedEvidenceProvider
        let certificates: [UInt8]

        var evidenceType: EvidenceType { .simulated }
        var isInsecure: Bool { true }

        func evidence(reportData: [UInt8]) async throws(AttestationError) -> Evidence {
            var evidence = try await simulated.evidence(reportData: reportData)
            evidence.endorsements.snpCertificates = certificates
            return evidence
        }
    }

    /// The shared Milan report with its VCEK, as an SEV-SNP server would serve them; its report data binds no key of
    /// the server, so clients verify the chain and then refuse the binding.
    struct RecordedSNPProvider: EvidenceProvider {
        let report: [UInt8]
        let vcek: [UInt8]

        var evidenceType: EvidenceType { .snpReport }
        var isInsecure: Bool { false }

        func evidence(reportData: [UInt8]) async throws(AttestationError) -> Evidence {
            Evidence(type: .snpReport, bytes: report, endorsements: Endorsements(snpCertificates: vcek))
        }
    }

    @Test(.enabled(if: AttestationSamples.available, "../shared/testdata/attestation is absent"))
    func thePythonClientVerifiesTheServedChainWithConfide() async throws {
        let hexText = try String(contentsOfFile: AttestationSamples.path("snp-report-milan.hex"), encoding: .utf8)
        let report = try EvidenceFormat.decode(Array(hexText.utf8)).bytes
        let vcek = try [UInt8](Data(contentsOf: URL(fileURLWithPath: AttestationSamples.path("snp-vcek-milan.der"))))
        let server = try await TestServer.start { configuration in
            configuration.attestation = .provider(RecordedSNPProvider(report: report, vcek: vcek))
        }
        defer { Task { await server.stop() } }
        let client = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/clients/python/confide_client.py").path
        let measurement = Array(report[0x90..<0xC0]).map { String(format: "%02x", $0) }.joined()
        let result = try await runPython(
            client, "--url", "http://127.0.0.1:\(server.port)", "--measurement", measurement, "--confide",
            ConfideCommand.path, "--text", "hello", "echo")
        #expect(result.status == 2, "\(result.output)")
        #expect(result.output.contains("does not bind these key configurations"), "\(result.output)")
    }

    @Test func theHostsCertificatesWinOverTheConfiguredOnes() async throws {
        let host = HostCertificatesProvider(simulated: try SimulatedEvidenceProvider(), certificates: [1, 2, 3])
        let server = try await TestServer.start { configuration in
            configuration.attestation = .provider(host)
            configuration.snpCertificates = [4, 5, 6]
        }
        defer { Task { await server.stop() } }
        let document = try await fetchAttestation(server.port, nonce: Array(repeating: 3, count: 32))
        #expect(document.endorsements.snpCertificates == [1, 2, 3])
    }
}
