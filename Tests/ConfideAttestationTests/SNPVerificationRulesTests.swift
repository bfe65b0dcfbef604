import ConfideAttestation
import Foundation
import Testing

/// The rules SEV-SNP evidence verification shares with go-sev-guest: the reserved fields of the report, the
/// endorsement key certificate's SPL extensions, CHIP_ID and REPORTED_TCB against the certificate, and the guest
/// policy judged apart from the evidence.
@Suite(.enabled(if: Fixtures.available, Fixtures.skipMessage))
struct SNPVerificationRulesTests {
    typealias Chain = SNPChainTests

    static func evidenceError(_ forged: Chain.Forged) -> AttestationError? {
        #expect(throws: AttestationError.self) {
            try SNPReportVerifier.verifyEvidence(
                forged.report, certificates: forged.certificates, policy: forged.policy)
        }
    }

    // MARK: Reserved fields

    /// One byte of each must-be-zero range of a version 2 report, both ends of the longer ones.
    @Test(arguments: [0x4C, 0x4F, 0x188, 0x18A, 0x19F, 0x1EB, 0x1EF, 0x208, 0x29F])
    func aNonZeroReservedByteIsRefused(_ offset: Int) throws {
        let forged = try Chain.forged(edit: { $0[offset] = 0x01 })
        let error = Self.evidenceError(forged)
        #expect(error?.code == .malformed)
        #expect(error?.message.contains("are reserved and must be zero") == true, "\(String(describing: error))")
    }

    @Test func aNonZeroByteAfterTheSignatureIsRefused() throws {
        let forged = try Chain.forged(edit: { $0[SNPReport.size - 1] = 0x01 })
        let error = Self.evidenceError(forged)
        #expect(error?.code == .malformed)
        #expect(error?.message.contains("[0x330:0x4a0]") == true, "\(String(describing: error))")
    }

    @Test func version3CarriesTheCPUIDWhereVersion2HasReservedBytes() throws {
        let cpuid = try Chain.forged(edit: { bytes in
            SNPTestChain.set(&bytes, at: 0, size: 4, to: 3)
            bytes[0x188] = 0x19
            bytes[0x189] = 0x01
        })
        let endorsement = try SNPReportVerifier.verifyEvidence(
            cpuid.report, certificates: cpuid.certificates, policy: cpuid.policy)
        #expect(endorsement.productLine == .milan)
        let afterCPUID = try Chain.forged(edit: { bytes in
            SNPTestChain.set(&bytes, at: 0, size: 4, to: 3)
            bytes[0x188] = 0x19
            bytes[0x189] = 0x01
            bytes[0x18B] = 0x01
        })
        #expect(Self.evidenceError(afterCPUID)?.message.contains("[0x18b:0x1a0]") == true)
    }

    @Test(arguments: [UInt64(2), 3, 6])
    func aReservedSigningKeyIsRefused(_ selector: UInt64) throws {
        let forged = try Chain.forged(edit: { SNPTestChain.set(&$0, at: 0x48, size: 4, to: selector << 2) })
        let error = Self.evidenceError(forged)
        #expect(error?.code == .malformed)
        #expect(error?.message.contains("SIGNING_KEY \(selector) is reserved") == true)
    }

    @Test func theMitigationVectorsAreNotReserved() throws {
        let forged = try Chain.forged(edit: { bytes in
            bytes[0x1F8] = 0x01
            bytes[0x200] = 0x02
        })
        try SNPReportVerifier.verifyEvidence(forged.report, certificates: forged.certificates, policy: forged.policy)
    }

    // MARK: The endorsement key certificate against the report

    @Test(arguments: [(UInt(3), "snpSPL"), (1, "blSPL"), (8, "ucodeSPL"), (4, "spl_4")])
    func aVCEKWithoutAnSPLExtensionIsRefused(_ arc: UInt, _ name: String) throws {
        let forged = try Chain.forged(spls: { tcb in
            var spls = SNPTestChain.milanSPLs(tcb)
            spls[arc] = nil
            return spls
        })
        let error = Self.evidenceError(forged)
        #expect(error?.code == .invalidCertificate)
        #expect(error?.message.contains("no \(name) extension") == true, "\(String(describing: error))")
    }

    @Test func anASKOfAnotherProductLineIsRefused() throws {
        let genoaASK = try SNPCertificateTable.derCertificates(in: try Fixtures.bytes("amd-ask-ark-genoa.pem"))[0]
        let error = #expect(throws: AttestationError.self) {
            try SNPReportVerifier.verifyEvidence(
                try Chain.milanReport(), certificates: try Chain.vcek() + genoaASK, policy: Chain.policy())
        }
        #expect(error?.code == .untrustedCertificateChain)
        #expect(error?.message.contains("the given SEV-Genoa is not SEV-Milan") == true, "\(String(describing: error))")
    }

    @Test func aReportedTCBOtherThanTheVCEKsNamesBothValues() throws {
        let forged = try Chain.forged(spls: { tcb in
            var spls = SNPTestChain.milanSPLs(tcb)
            spls[8] = (spls[8] ?? 0) &+ 1
            return spls
        })
        let error = Self.evidenceError(forged)
        #expect(error?.code == .collateralMismatch)
        // The Milan sample's REPORTED_TCB is 0x7308000000000003; the VCEK is made for microcode 116.
        let expected = "the REPORTED_TCB 0x7308000000000003 does not match the VCEK TCB 0x7408000000000003"
        #expect(error?.message.contains(expected) == true, "\(String(describing: error))")
    }

    @Test func anAllZeroChipIDIsNotComparedWithTheHardwareID() throws {
        let forged = try Chain.forged(
            hardwareID: Array(repeating: 0x5A, count: 64),
            edit: { bytes in
                for offset in 0x1A0..<0x1E0 {
                    bytes[offset] = 0
                }
            })
        try SNPReportVerifier.verifyEvidence(forged.report, certificates: forged.certificates, policy: forged.policy)
    }

    // MARK: The guest policy, apart from the evidence

    @Test func aDebuggableGuestIsGenuineEvidenceThatTheGuestPolicyRefuses() throws {
        let forged = try Chain.forged(edit: { bytes in
            SNPTestChain.set(&bytes, at: 8, size: 8, to: SNPTestChain.get(bytes, at: 8, size: 8) | 1 << 19)
        })
        try SNPReportVerifier.verifyEvidence(forged.report, certificates: forged.certificates, policy: forged.policy)
        let error = #expect(throws: AttestationError.self) {
            try SNPReportVerifier.checkGuestPolicy(forged.report, policy: forged.policy)
        }
        #expect(error?.code == .debugNotAllowed)
        #expect(error?.message.contains("found unauthorized debug capability") == true)
        expectError(.debugNotAllowed) {
            try SNPReportVerifier.verify(forged.report, certificates: forged.certificates, policy: forged.policy)
        }
    }

    @Test func anotherVMPLIsGenuineEvidenceThatTheGuestPolicyRefuses() throws {
        let forged = try Chain.forged(edit: { SNPTestChain.set(&$0, at: 0x30, size: 4, to: 3) })
        try SNPReportVerifier.verifyEvidence(forged.report, certificates: forged.certificates, policy: forged.policy)
        let error = #expect(throws: AttestationError.self) {
            try SNPReportVerifier.checkGuestPolicy(forged.report, policy: forged.policy)
        }
        #expect(error?.code == .guestPolicyNotAllowed)
        #expect(error?.message.contains("report VMPL 3 is not 0") == true)
    }
}
