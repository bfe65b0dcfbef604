import ConfideAttestation
import Testing

/// Truncated, oversized and inconsistent inputs give errors, never traps.
@Suite(.enabled(if: Fixtures.available, Fixtures.skipMessage))
struct MalformedInputTests {
    @Test(arguments: Fixtures.tdxQuotes)
    func everyPrefixOfAQuoteIsRefused(_ file: String) throws {
        let bytes = try Fixtures.bytes(file)
        let quote = try TDXQuote(bytes: bytes)
        let end =
            quote.signedBytes.count + 4 + 64 + 64 + 6 + SGXReportBody.size + 64 + 2
            + quote.signatureData.qeAuthenticationData.count + 6 + quote.signatureData.pckCertificateChain.count
        for length in 0..<end {
            expectError(.truncated) { _ = try TDXQuote(bytes: Array(bytes.prefix(length))) }
        }
        #expect(try TDXQuote(bytes: Array(bytes.prefix(end))) == quote)
    }

    @Test func oversizedQuoteIsRefused() throws {
        let bytes = try Fixtures.bytes("tdx-quote-v4-spr.bin")
        let padded = bytes + [UInt8](repeating: 0, count: TDXQuote.maximumSize - bytes.count)
        #expect(throws: Never.self) { try TDXQuote(bytes: padded) }
        expectError(.oversized) { _ = try TDXQuote(bytes: padded + [0]) }
    }

    @Test func lengthFieldsBeyondTheInputAreRefused() throws {
        let bytes = try Fixtures.bytes("tdx-quote-v4-b.bin")
        var huge = bytes
        huge.replaceSubrange(632..<636, with: [0xFF, 0xFF, 0xFF, 0xFF])
        expectError(.truncated) { _ = try TDXQuote(bytes: huge) }
        let certificationSizeOffset = 636 + 128 + 2
        var certificationTooLarge = bytes
        certificationTooLarge[certificationSizeOffset] &+= 1
        expectError(.truncated) { _ = try TDXQuote(bytes: certificationTooLarge) }
        var certificationTooSmall = bytes
        certificationTooSmall[certificationSizeOffset] &-= 1
        expectError(.malformed) { _ = try TDXQuote(bytes: certificationTooSmall) }
    }

    @Test func unsupportedQuoteKindsAreRefused() throws {
        let v4 = try Fixtures.bytes("tdx-quote-v4-spr.bin")
        let v5 = try Fixtures.bytes("tdx-quote-v5-sample.bin")
        var version3 = v4
        version3[0] = 3
        expectError(.unsupportedFormat) { _ = try TDXQuote(bytes: version3) }
        var sgx = v4
        sgx[4] = 0
        expectError(.unsupportedFormat) { _ = try TDXQuote(bytes: sgx) }
        var bodyType1 = v5
        bodyType1[48] = 1
        expectError(.unsupportedFormat) { _ = try TDXQuote(bytes: bodyType1) }
        var wrongBodySize = v5
        wrongBodySize[50] = 0x48
        expectError(.malformed) { _ = try TDXQuote(bytes: wrongBodySize) }
    }

    @Test func everyPrefixOfTheSNPReportIsRefused() throws {
        let bytes = try Fixtures.hexFile("snp-report-milan.hex")
        for length in 0..<SNPReport.size {
            expectError(.truncated) { _ = try SNPReport(bytes: Array(bytes.prefix(length))) }
        }
        expectError(.oversized) { _ = try SNPReport(bytes: bytes + [0]) }
    }

    @Test func everyPrefixOfTheTDReportIsRefused() throws {
        let bytes = try Fixtures.bytes("tdreport.bin")
        for length in 0..<TDReport.size {
            expectError(.truncated) { _ = try TDReport(bytes: Array(bytes.prefix(length))) }
        }
        expectError(.oversized) { _ = try TDReport(bytes: bytes + [0]) }
    }

    @Test func everyPrefixOfSimulatedEvidenceIsRefused() async throws {
        let provider = try SimulatedEvidenceProvider()
        let bytes = try await provider.evidence(reportData: [UInt8](repeating: 7, count: 64)).bytes
        for length in 0..<SimulatedEvidence.size {
            expectError(.truncated) { _ = try SimulatedEvidence(bytes: Array(bytes.prefix(length))) }
        }
        expectError(.oversized) { _ = try SimulatedEvidence(bytes: bytes + [0]) }
    }
}
