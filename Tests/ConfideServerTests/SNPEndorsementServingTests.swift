import ConfideAttestation
import ConfideClient
import ConfideServer
import ConfideServerTestSupport
import Foundation
import Testing

/// The SEV-SNP chain a server serves with its evidence, as clients read and check it.
@Suite("The SEV-SNP chain a server serves with its evidence")
struct SNPEndorsementServingTests {
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
