import ConfideServerTestSupport
import Foundation
import Testing

/// `confide attest verify` on SEV-SNP reports and on evidence of every encoding.
@Suite("SEV-SNP chains and evidence formats through the confide command")
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
}
