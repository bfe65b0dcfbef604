import ConfideAttestation
import ConfideClient
import ConfideServer
import Foundation
import Testing

/// `--tdx-collateral`: the server serves Intel's collateral with its evidence; `confide attest verify` evaluates
/// the TCB status from it.
@Suite(.enabled(if: AttestationSamples.available, "../shared/testdata/attestation is absent"))
struct TDXCollateralServingTests {
    static func collateral(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: AttestationSamples.path(name))))
    }

    @Test func theServerServesItsCollateralWithTheEvidence() async throws {
        let collateral = try Self.collateral("tdx-quote-v4-b.collateral.json")
        let server = try await TestServer.start { $0.tdxCollateral = collateral }
        defer { Task { await server.stop() } }
        let document = try await fetchAttestation(server.port, nonce: [UInt8](repeating: 7, count: 32))
        #expect(document.endorsements.tdxCollateral == collateral)
        #expect(document.publicKey == AttestationAPI.simulatedPublicKey(of: server.server.evidenceProvider))
        #expect(document.publicKey != nil)
        _ = try await ObliviousClient.verify(
            document, nonce: [UInt8](repeating: 7, count: 32), policy: simulatedPolicy())
    }

    @Test func aServerWithUnparsableCollateralDoesNotStart() async throws {
        let error = await #expect(throws: AttestationError.self) {
            let server = try await TestServer.start { $0.tdxCollateral = Array(#"{"tcb_info":"{}"}"#.utf8) }
            await server.stop()
        }
        #expect(error?.code == .malformed)
    }

    @Test func theEndorsingProviderKeepsWhatTheEvidenceCarries() async throws {
        let base = EndorsingEvidenceProvider(
            try SimulatedEvidenceProvider(), endorsements: Endorsements(snpCertificates: [1]))
        let wrapped = EndorsingEvidenceProvider(
            base, endorsements: Endorsements(tdxCollateral: [2], snpCertificates: [3]))
        let evidence = try await wrapped.evidence(reportData: [UInt8](repeating: 0, count: 64))
        #expect(evidence.endorsements == Endorsements(tdxCollateral: [2], snpCertificates: [1]))
        #expect(wrapped.isInsecure)
        #expect(wrapped.evidenceType == .simulated)
    }

    @Test func attestVerifyPrintsTheTCBStatusFromTheCollateral() async throws {
        let upToDate = try await ConfideCommand.run(
            "attest", "verify", AttestationSamples.path("tdx-quote-v4-b.bin"), "--tdx-collateral",
            AttestationSamples.path("tdx-quote-v4-b.collateral.json"), "--at", "2025-06-20T00:00:00Z")
        #expect(upToDate.status == 0, "\(upToDate.output)")
        #expect(upToDate.output.contains("TCB status:   UpToDate (platform UpToDate, TDX module UpToDate"))
        #expect(upToDate.output.contains("advisories:   none"))
        #expect(upToDate.output.contains("QE identity:  matches Intel's QE Identity (TD_QE); ISVSVN"))
        #expect(upToDate.output.contains("collateral:   TCB Info (FMSPC b0c06f000000) signed by"))
        #expect(upToDate.output.contains("verdict:      OK"))

        let expired = try await ConfideCommand.run(
            "attest", "verify", AttestationSamples.path("tdx-quote-v4-b.bin"), "--tdx-collateral",
            AttestationSamples.path("tdx-quote-v4-b.collateral.json"))
        #expect(expired.status != 0)
        #expect(expired.output.contains("REFUSED"))
        #expect(expired.output.contains("(expired)"))

        let outdated = try await ConfideCommand.run(
            "attest", "verify", AttestationSamples.path("tdx-quote-v4-outdated.bin"), "--tdx-collateral",
            AttestationSamples.path("tdx-quote-v4-outdated.collateral.json"), "--at", "2026-03-01T00:00:00Z")
        #expect(outdated.status != 0)
        #expect(outdated.output.contains("(noMatchingTCBLevel)"), "\(outdated.output)")

        let missing = try await ConfideCommand.run("attest", "verify", AttestationSamples.path("tdx-quote-v4-b.bin"))
        #expect(missing.status != 0)
        #expect(missing.output.contains("(missingCollateral)"))

        let badStatus = try await ConfideCommand.run(
            "attest", "verify", AttestationSamples.path("tdx-quote-v4-b.bin"), "--accept-tcb-status", "Revoked")
        #expect(badStatus.status != 0)
        #expect(badStatus.output.contains("--accept-tcb-status Revoked is not one of"))
    }
}
