import Crypto
import Foundation
import SwiftASN1
import Testing

@testable import ConfideAttestation

/// AMD's certificates built into the SEV-SNP verifier.
struct SNPPinnedRootsTests {
    @Test(arguments: SNPProductLine.allCases)
    func everyPinnedARKIsSelfSignedAndSignsItsASKAndASVK(_ line: SNPProductLine) throws {
        let anchors = SNPTrustAnchors.amd
        let ark = try AMDCertificate(der: try #require(anchors.roots[line]), what: "ARK")
        #expect(ark.subjectCommonName == "ARK-\(line.rawValue)")
        #expect(ark.isSigned(by: ark))
        #expect(ark.isValid(at: Date()))
        let intermediates = try (anchors.intermediates[line] ?? []).map { try AMDCertificate(der: $0, what: "ASK") }
        #expect(intermediates.map(\.subjectCommonName) == ["SEV-\(line.rawValue)", "SEV-VLEK-\(line.rawValue)"])
        for intermediate in intermediates {
            #expect(intermediate.issuer == ark.subject)
            #expect(intermediate.isSigned(by: ark), "\(intermediate.subjectCommonName)")
            #expect(intermediate.isValid(at: Date()))
            #expect(!intermediate.isSigned(by: intermediate))
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.skipMessage), arguments: SNPProductLine.allCases)
    func pinnedCertificatesAreAMDsPublishedOnes(_ line: SNPProductLine) throws {
        let published = try SNPCertificateTable.derCertificates(
            in: try Fixtures.bytes("amd-ask-ark-\(line.rawValue.lowercased()).pem"))
        #expect(published.count == 2)
        #expect(SNPTrustAnchors.amd.intermediates[line]?.first == published.first)
        #expect(SNPTrustAnchors.amd.roots[line] == published.last)
    }

    @Test func aCertificateNotSignedWithAMDsPSSParametersIsRefused() throws {
        let ark = try SNPTestChain.root()
        var der = ark.certificate
        // The salt length (48 = 0x30) in both algorithm identifiers becomes 32.
        let salt: [UInt8] = [0xA2, 0x03, 0x02, 0x01, 0x30]
        var index = 0
        while index + salt.count <= der.count {
            if Array(der[index..<index + salt.count]) == salt {
                der[index + 4] = 0x20
            }
            index += 1
        }
        let error = #expect(throws: AttestationError.self) { _ = try AMDCertificate(der: der, what: "test") }
        #expect(error?.code == .invalidCertificate)
        #expect(error?.message.contains("48-byte salt") == true)
    }
}
