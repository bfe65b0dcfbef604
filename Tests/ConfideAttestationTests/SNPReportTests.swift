import ConfideAttestation
import Crypto
import Foundation
import Testing

@Suite(.enabled(if: Fixtures.available, Fixtures.skipMessage))
struct SNPReportTests {
    /// A policy checking certificates at a time inside the Milan VCEK's validity.
    static var policy: AttestationPolicy {
        var policy = AttestationPolicy(expectedReportData: [])
        policy.validationTime = Date(timeIntervalSince1970: 1_767_225_600)
        return policy
    }

    @Test func milanReportVerifiesWithItsVCEK() throws {
        let report = try SNPReport(bytes: try Fixtures.hexFile("snp-report-milan.hex"))
        #expect(report.version == 2)
        #expect(report.policy == 0x30000)
        #expect(report.vmpl == 0)
        #expect(report.signatureAlgorithm == 1)
        #expect(
            report.reportData
                == hex(
                    "d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c64581"
                        + "0b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd"
                )
        )
        #expect(
            report.measurement
                == hex(
                    "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f"
                )
        )
        try SNPReportVerifier.verify(
            report, certificates: try Fixtures.bytes("snp-vcek-milan.der"), policy: Self.policy)
    }

    @Test func otherKeyIsRefused() throws {
        let report = try SNPReport(bytes: try Fixtures.hexFile("snp-report-milan.hex"))
        expectError(.invalidSignature) {
            try SNPReportVerifier.verify(report, key: P384.Signing.PrivateKey().publicKey)
        }
    }

    @Test func vcekThatIsNotACertificateIsRefused() throws {
        let report = try SNPReport(bytes: try Fixtures.hexFile("snp-report-milan.hex"))
        expectError(.invalidCertificate) {
            try SNPReportVerifier.verify(report, certificates: [0x30, 0x03, 0x02, 0x01, 0x00], policy: Self.policy)
        }
    }

    @Test func oversizedSignatureComponentIsRefused() throws {
        var bytes = try Fixtures.hexFile("snp-report-milan.hex")
        bytes[SNPReport.signatureOffset + 60] ^= 1
        let report = try SNPReport(bytes: bytes)
        expectError(.invalidSignature) {
            try SNPReportVerifier.verify(
                report, certificates: try Fixtures.bytes("snp-vcek-milan.der"), policy: Self.policy)
        }
    }
}
