import ConfideAttestation
import Crypto
import Foundation
import Testing
import _CryptoExtras

/// The SEV-SNP chain to AMD's pinned root, the match of the VCEK with the report, and the guest policy checks.
@Suite(.enabled(if: Fixtures.available, Fixtures.skipMessage))
struct SNPChainTests {
    /// A time inside the Milan VCEK's validity (2023-04-03 .. 2030-04-03).
    static let insideVCEK = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01

    static func policy(at time: Date = Self.insideVCEK) -> AttestationPolicy {
        var policy = AttestationPolicy(expectedReportData: [])
        policy.validationTime = time
        return policy
    }

    static func milanReport() throws -> SNPReport {
        try SNPReport(bytes: try Fixtures.hexFile("snp-report-milan.hex"))
    }

    static func vcek() throws -> [UInt8] {
        try Fixtures.bytes("snp-vcek-milan.der")
    }

    // MARK: The shared Milan report

    @Test func milanReportVerifiesThroughItsChain() throws {
        let endorsement = try SNPReportVerifier.verify(
            try Self.milanReport(), certificates: try Self.vcek(), policy: Self.policy())
        #expect(endorsement.productLine == .milan)
        #expect(endorsement.signingKey == .vcek)
        #expect(endorsement.chain.map(\.subject) == ["SEV-VCEK", "SEV-Milan", "ARK-Milan"])
        #expect(endorsement.chain.map(\.origin) == ["given", "pinned", "pinned"])
        #expect(endorsement.hardwareID == (try Self.milanReport()).chipID)
    }

    @Test func milanReportVerifiesWithAPEMChainHoldingASKAndARK() throws {
        let vcekPEM =
            "-----BEGIN CERTIFICATE-----\n"
            + Data(try Self.vcek()).base64EncodedString(options: .lineLength64Characters)
            + "\n-----END CERTIFICATE-----\n"
        let chain = Array(vcekPEM.utf8) + (try Fixtures.bytes("amd-ask-ark-milan.pem"))
        let endorsement = try SNPReportVerifier.verify(
            try Self.milanReport(), certificates: chain, policy: Self.policy())
        #expect(endorsement.chain.map(\.origin) == ["given", "given", "pinned"])
    }

    @Test func milanReportVerifiesWithDERCertificatesBackToBack() throws {
        let askARK = try SNPCertificateTable.derCertificates(in: try Fixtures.bytes("amd-ask-ark-milan.pem"))
        let chain = try Self.vcek() + askARK.joined()
        _ = try SNPReportVerifier.verify(try Self.milanReport(), certificates: chain, policy: Self.policy())
    }

    @Test func servedCertificatesReachTheVerifier() async throws {
        let bytes = try Fixtures.hexFile("snp-report-milan.hex")
        let report = try Self.milanReport()
        var policy = Self.policy()
        policy.expectedReportData = report.reportData
        policy.allowedSNPMeasurements = [report.measurement]
        await expectError(.missingCollateral) {
            _ = try await AttestationVerifier.verify(evidence: bytes, type: .snpReport, policy: policy)
        }
        let served = Endorsements(snpCertificates: try Self.vcek())
        let verified = try await AttestationVerifier.verify(
            evidence: bytes, type: .snpReport, endorsements: served, policy: policy)
        #expect(verified.measurement == report.measurement)
    }

    @Test func theClientsOwnCertificatesWinOverTheServedOnes() async throws {
        let bytes = try Fixtures.hexFile("snp-report-milan.hex")
        let report = try Self.milanReport()
        var policy = Self.policy()
        policy.expectedReportData = report.reportData
        policy.allowedSNPMeasurements = [report.measurement]
        policy.snpVCEK = try Self.vcek()
        let garbage = Endorsements(snpCertificates: Array("not a certificate".utf8))
        _ = try await AttestationVerifier.verify(
            evidence: bytes, type: .snpReport, endorsements: garbage, policy: policy)
    }

    // MARK: Refusals of the certificates

    @Test func expiredVCEKIsRefused() throws {
        let after = Date(timeIntervalSince1970: 1_924_992_000)  // 2031-01-01
        let error = #expect(throws: AttestationError.self) {
            try SNPReportVerifier.verify(
                try Self.milanReport(), certificates: try Self.vcek(), policy: Self.policy(at: after))
        }
        #expect(error?.code == .expired)
        #expect(error?.message.contains("VCEK certificate SEV-VCEK expired on 2030-04-03") == true)
    }

    @Test func vcekNotYetValidIsRefused() throws {
        let before = Date(timeIntervalSince1970: 1_672_531_200)  // 2023-01-01
        expectError(.expired) {
            try SNPReportVerifier.verify(
                try Self.milanReport(), certificates: try Self.vcek(), policy: Self.policy(at: before))
        }
    }

    @Test func vcekWithAChangedSignatureIsRefused() throws {
        var vcek = try Self.vcek()
        vcek[vcek.count - 10] ^= 0x01
        let error = #expect(throws: AttestationError.self) {
            try SNPReportVerifier.verify(try Self.milanReport(), certificates: vcek, policy: Self.policy())
        }
        #expect(error?.code == .untrustedCertificateChain)
        #expect(error?.message.contains("SEV-VCEK certificate") == true)
    }

    @Test func vcekSignedByASelfMadeASKIsRefused() throws {
        let fakeARK = try SNPTestChain.root()
        let fakeASK = try SNPTestChain.intermediate("SEV-Milan", issuer: fakeARK)
        let vcek = try SNPTestChain.wrap(tbs: try SNPTestChain.tbs(of: try Self.vcek()), signer: fakeASK.key)
        let served = vcek + fakeASK.certificate
        let error = #expect(throws: AttestationError.self) {
            try SNPReportVerifier.verify(try Self.milanReport(), certificates: served, policy: Self.policy())
        }
        #expect(error?.code == .untrustedCertificateChain)
        #expect(error?.message.contains("ASK SEV-Milan (given") == true)
        #expect(error?.message.contains("not signed by AMD's ARK-Milan") == true)
        // Without the self-made ASK, AMD's pinned ASK does not verify it either.
        expectError(.untrustedCertificateChain) {
            try SNPReportVerifier.verify(try Self.milanReport(), certificates: vcek, policy: Self.policy())
        }
    }

    @Test func aServedARKThatIsNotThePinnedOneIsRefused() throws {
        let fakeARK = try SNPTestChain.root()
        let chain = try Self.vcek() + fakeARK.certificate
        let error = #expect(throws: AttestationError.self) {
            try SNPReportVerifier.verify(try Self.milanReport(), certificates: chain, policy: Self.policy())
        }
        #expect(error?.code == .untrustedCertificateChain)
        #expect(error?.message.contains("not AMD's ARK-Milan") == true)
    }

    @Test func aHomeMadeP384VCEKIsRefused() throws {
        let key = P384.Signing.PrivateKey()
        let fakeARK = try SNPTestChain.root()
        let fakeASK = try SNPTestChain.intermediate("SEV-Milan", issuer: fakeARK)
        let report = try Self.milanReport()
        let vcek = try SNPTestChain.vcek(
            key: key.publicKey, issuer: fakeASK, spls: SNPTestChain.milanSPLs(report.reportedTCB),
            hardwareID: report.chipID)
        let forged = try SNPReport(
            bytes: try SNPTestChain.resign(try Fixtures.hexFile("snp-report-milan.hex"), with: key))
        expectError(.untrustedCertificateChain) {
            try SNPReportVerifier.verify(forged, certificates: vcek + fakeASK.certificate, policy: Self.policy())
        }
    }

    @Test func certificatesThatAreNeitherPEMNorDERAreRefused() throws {
        expectError(.invalidCertificate) {
            try SNPReportVerifier.verify(
                try Self.milanReport(), certificates: Array("hello".utf8), policy: Self.policy())
        }
        expectError(.invalidCertificate) {
            try SNPReportVerifier.verify(
                try Self.milanReport(), certificates: [0x30, 0x03, 0x02, 0x01, 0x00], policy: Self.policy())
        }
    }

    // MARK: The report against its VCEK, with a test chain the policy pins

    /// A test ARK/ASK pinned for Milan, a VCEK for a fresh P-384 key, and the Milan report re-signed with it after
    /// `edit`.
    struct Forged {
        let report: SNPReport
        let certificates: [UInt8]
        let policy: AttestationPolicy
    }

    static func forged(
        spls: ((UInt64) -> [UInt: UInt8])? = nil,
        hardwareID: [UInt8]? = nil,
        edit: (inout [UInt8]) -> Void = { _ in }
    ) throws -> Forged {
        let key = P384.Signing.PrivateKey()
        let ark = try SNPTestChain.root()
        let ask = try SNPTestChain.intermediate("SEV-Milan", issuer: ark)
        var bytes = try Fixtures.hexFile("snp-report-milan.hex")
        edit(&bytes)
        let report = try SNPReport(bytes: try SNPTestChain.resign(bytes, with: key))
        let vcek = try SNPTestChain.vcek(
            key: key.publicKey, issuer: ask, spls: (spls ?? SNPTestChain.milanSPLs)(report.reportedTCB),
            hardwareID: hardwareID ?? report.chipID)
        var policy = Self.policy()
        policy.snpTrustAnchors = SNPTrustAnchors(roots: [.milan: ark.certificate])
        return Forged(report: report, certificates: vcek + ask.certificate, policy: policy)
    }

    @Test func theTestChainVerifiesWhenEverythingMatches() throws {
        let forged = try Self.forged()
        let endorsement = try SNPReportVerifier.verify(
            forged.report, certificates: forged.certificates, policy: forged.policy)
        #expect(endorsement.chain.map(\.origin) == ["given", "given", "pinned"])
        // AMD's own roots do not accept it.
        var amd = forged.policy
        amd.snpTrustAnchors = AttestationPolicy(expectedReportData: []).snpTrustAnchors
        expectError(.untrustedCertificateChain) {
            try SNPReportVerifier.verify(forged.report, certificates: forged.certificates, policy: amd)
        }
    }

    @Test func vcekOfAnotherChipIsRefused() throws {
        let forged = try Self.forged(hardwareID: Array(repeating: 0x5A, count: 64))
        let error = #expect(throws: AttestationError.self) {
            try SNPReportVerifier.verify(forged.report, certificates: forged.certificates, policy: forged.policy)
        }
        #expect(error?.code == .collateralMismatch)
        #expect(error?.message.contains("another chip") == true)
    }

    @Test func reportedTCBThatDiffersFromTheVCEKsIsRefused() throws {
        let forged = try Self.forged(spls: { tcb in
            var spls = SNPTestChain.milanSPLs(tcb)
            spls[3, default: 0] &+= 1
            return spls
        })
        let error = #expect(throws: AttestationError.self) {
            try SNPReportVerifier.verify(forged.report, certificates: forged.certificates, policy: forged.policy)
        }
        #expect(error?.code == .collateralMismatch)
        #expect(error?.message.contains("REPORTED_TCB") == true)
        #expect(error?.message.contains("SNP") == true)
    }

    @Test func migrationAgentIsRefusedUnlessAllowed() throws {
        let forged = try Self.forged(edit: { bytes in
            SNPTestChain.set(&bytes, at: 8, size: 8, to: SNPTestChain.get(bytes, at: 8, size: 8) | 1 << 18)
        })
        let error = #expect(throws: AttestationError.self) {
            try SNPReportVerifier.verify(forged.report, certificates: forged.certificates, policy: forged.policy)
        }
        #expect(error?.code == .guestPolicyNotAllowed)
        #expect(error?.message.contains("migration agent") == true)
        var allowing = forged.policy
        allowing.acceptSNPMigrationAgent = true
        try SNPReportVerifier.verify(forged.report, certificates: forged.certificates, policy: allowing)
    }

    @Test func debugIsRefusedUnlessAllowed() throws {
        let forged = try Self.forged(edit: { bytes in
            SNPTestChain.set(&bytes, at: 8, size: 8, to: SNPTestChain.get(bytes, at: 8, size: 8) | 1 << 19)
        })
        expectError(.debugNotAllowed) {
            try SNPReportVerifier.verify(forged.report, certificates: forged.certificates, policy: forged.policy)
        }
        var allowing = forged.policy
        allowing.acceptDebug = true
        try SNPReportVerifier.verify(forged.report, certificates: forged.certificates, policy: allowing)
    }

    @Test func vmplOtherThanThePolicysIsRefused() throws {
        let forged = try Self.forged(edit: { bytes in SNPTestChain.set(&bytes, at: 0x30, size: 4, to: 2) })
        let error = #expect(throws: AttestationError.self) {
            try SNPReportVerifier.verify(forged.report, certificates: forged.certificates, policy: forged.policy)
        }
        #expect(error?.code == .guestPolicyNotAllowed)
        #expect(error?.message.contains("VMPL 2") == true)
        var allowing = forged.policy
        allowing.snpVMPL = 2
        try SNPReportVerifier.verify(forged.report, certificates: forged.certificates, policy: allowing)
    }

    @Test func reportedTCBBelowThePolicysMinimumIsRefused() throws {
        // The Milan sample's REPORTED_TCB: bootloader 3, TEE 0, SNP 8, microcode 115.
        var policy = Self.policy()
        policy.snpMinimumTCB = SNPMinimumTCB(bootloader: 3, tee: 0, snp: 8, microcode: 115, fmc: 200)
        try SNPReportVerifier.verify(try Self.milanReport(), certificates: try Self.vcek(), policy: policy)
        policy.snpMinimumTCB = SNPMinimumTCB(snp: 9, microcode: 116)
        let error = #expect(throws: AttestationError.self) {
            try SNPReportVerifier.verify(try Self.milanReport(), certificates: try Self.vcek(), policy: policy)
        }
        #expect(error?.code == .tcbStatusNotAccepted)
        #expect(error?.message.contains("SNP 8 (at least 9), microcode 115 (at least 116)") == true)
    }

    @Test func smtIsRefusedWhenThePolicySaysSo() throws {
        var policy = Self.policy()
        policy.acceptSNPSMT = false
        let error = #expect(throws: AttestationError.self) {
            try SNPReportVerifier.verify(try Self.milanReport(), certificates: try Self.vcek(), policy: policy)
        }
        #expect(error?.code == .guestPolicyNotAllowed)
        #expect(error?.message.contains("SMT") == true)
    }

    @Test(arguments: [(8, UInt64(0x30000) | 1 << 40), (8, 0x10000), (0x48, 1 << 6)])
    func reservedPolicyOrSigningFlagBitsAreRefused(_ offset: Int, _ value: UInt64) throws {
        let forged = try Self.forged(edit: { bytes in
            SNPTestChain.set(&bytes, at: offset, size: offset == 8 ? 8 : 4, to: value)
        })
        expectError(.malformed) {
            try SNPReportVerifier.verify(forged.report, certificates: forged.certificates, policy: forged.policy)
        }
    }

    @Test func reportSignedByNoKeyIsRefused() throws {
        let forged = try Self.forged(edit: { bytes in SNPTestChain.set(&bytes, at: 0x48, size: 4, to: 7 << 2) })
        expectError(.unsupportedFormat) {
            try SNPReportVerifier.verify(forged.report, certificates: forged.certificates, policy: forged.policy)
        }
    }

    @Test func vlekSignedReportChainsThroughTheASVK() throws {
        let key = P384.Signing.PrivateKey()
        let ark = try SNPTestChain.root()
        let asvk = try SNPTestChain.intermediate("SEV-VLEK-Milan", issuer: ark)
        var bytes = try Fixtures.hexFile("snp-report-milan.hex")
        SNPTestChain.set(&bytes, at: 0x48, size: 4, to: 1 << 2)
        bytes.replaceSubrange(0x1A0..<0x1E0, with: [UInt8](repeating: 0, count: 64))
        let report = try SNPReport(bytes: try SNPTestChain.resign(bytes, with: key))
        var policy = Self.policy()
        policy.snpTrustAnchors = SNPTrustAnchors(roots: [.milan: ark.certificate])
        let vlek = try SNPTestChain.vcek(
            key: key.publicKey, issuer: asvk, productName: "Milan", spls: SNPTestChain.milanSPLs(report.reportedTCB),
            hardwareID: nil, cloudServiceProviderID: "Test Cloud")
        let endorsement = try SNPReportVerifier.verify(report, certificates: vlek + asvk.certificate, policy: policy)
        #expect(endorsement.signingKey == .vlek)
        #expect(endorsement.cloudServiceProviderID == "Test Cloud")
        #expect(endorsement.chain.map(\.subject) == ["SEV-VLEK", "SEV-VLEK-Milan", "ARK-Milan"])
        // A VCEK does not endorse a report its SIGNING_KEY says the VLEK signed.
        let vcek = try SNPTestChain.vcek(
            key: key.publicKey, issuer: asvk, spls: SNPTestChain.milanSPLs(report.reportedTCB),
            hardwareID: report.chipID)
        expectError(.missingCollateral) {
            try SNPReportVerifier.verify(report, certificates: vcek + asvk.certificate, policy: policy)
        }
    }

    @Test func turinLayoutAndEightByteHardwareIDAreUnderstood() throws {
        let key = P384.Signing.PrivateKey()
        let ark = try SNPTestChain.root("Turin")
        let ask = try SNPTestChain.intermediate("SEV-Turin", issuer: ark)
        var bytes = try Fixtures.hexFile("snp-report-milan.hex")
        SNPTestChain.set(&bytes, at: 0, size: 4, to: 3)
        SNPTestChain.set(&bytes, at: 0x188, size: 1, to: 0x1A)
        SNPTestChain.set(&bytes, at: 0x189, size: 1, to: 0x02)
        // FMC 1, bootloader 2, TEE 3, SNP 4, microcode 5.
        let tcb: UInt64 = 1 | 2 << 8 | 3 << 16 | 4 << 24 | 5 << 56
        SNPTestChain.set(&bytes, at: 0x180, size: 8, to: tcb)
        let chipID = Array(bytes[0x1A0..<0x1A8])
        bytes.replaceSubrange(0x1A8..<0x1E0, with: [UInt8](repeating: 0, count: 56))
        let report = try SNPReport(bytes: try SNPTestChain.resign(bytes, with: key))
        var policy = Self.policy()
        policy.snpTrustAnchors = SNPTrustAnchors(roots: [.turin: ark.certificate])
        func vcek(_ spls: [UInt: UInt8], _ hardwareID: [UInt8] = chipID) throws -> [UInt8] {
            try SNPTestChain.vcek(
                key: key.publicKey, issuer: ask, productName: "Turin-B0", spls: spls, hardwareID: hardwareID)
                + ask.certificate
        }
        let endorsement = try SNPReportVerifier.verify(
            report, certificates: try vcek([9: 1, 1: 2, 2: 3, 3: 4, 8: 5]), policy: policy)
        #expect(endorsement.productLine == .turin)
        #expect(endorsement.tcb == "FMC 1, bootloader 2, TEE 3, SNP 4, microcode 5")
        expectError(.collateralMismatch) {
            try SNPReportVerifier.verify(
                report, certificates: try vcek([9: 2, 1: 2, 2: 3, 3: 4, 8: 5]), policy: policy)
        }
        expectError(.collateralMismatch) {
            try SNPReportVerifier.verify(
                report, certificates: try vcek([9: 1, 1: 2, 2: 3, 3: 4, 8: 5], Array(repeating: 7, count: 8)),
                policy: policy)
        }
    }
}
