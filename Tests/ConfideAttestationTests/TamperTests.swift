import ConfideAttestation
import Crypto
import Testing

/// Flips one bit at every offset of every signed region and expects the verification that covers it to fail.
@Suite(.enabled(if: Fixtures.available, Fixtures.skipMessage))
struct TamperTests {
    static func flipped(_ bytes: [UInt8], at offset: Int) -> [UInt8] {
        var copy = bytes
        copy[offset] ^= UInt8(1 << (offset % 8))
        return copy
    }

    @Test(arguments: Fixtures.tdxQuotes)
    func everyChangeToTheQuoteHeaderAndBodyIsRefused(_ file: String) throws {
        let bytes = try Fixtures.bytes(file)
        let signedCount = try TDXQuote(bytes: bytes).signedBytes.count
        var accepted: [Int] = []
        for offset in 0..<signedCount {
            do {
                try TDXQuoteVerifier.verifyQuoteSignature(try TDXQuote(bytes: Self.flipped(bytes, at: offset)))
                accepted.append(offset)
            } catch {}
        }
        #expect(accepted.isEmpty, "accepted changes at offsets \(accepted)")
    }

    @Test(arguments: Fixtures.tdxQuotes)
    func everyChangeToTheQEReportIsRefused(_ file: String) throws {
        let bytes = try Fixtures.bytes(file)
        let quote = try TDXQuote(bytes: bytes)
        let pckKey = try PCKCertificateChain(pem: quote.signatureData.pckCertificateChain).leafKey()
        try TDXQuoteVerifier.verifyQEReport(quote, pckKey: pckKey)
        let qeReportOffset = quote.signedBytes.count + 4 + 64 + 64 + 6
        #expect(Array(bytes[qeReportOffset..<qeReportOffset + SGXReportBody.size]) == quote.signatureData.qeReport.raw)
        var accepted: [Int] = []
        for offset in qeReportOffset..<qeReportOffset + SGXReportBody.size {
            do {
                try TDXQuoteVerifier.verifyQEReport(
                    try TDXQuote(bytes: Self.flipped(bytes, at: offset)),
                    pckKey: pckKey
                )
                accepted.append(offset)
            } catch {}
        }
        #expect(accepted.isEmpty, "accepted changes at offsets \(accepted)")
    }

    @Test(arguments: Fixtures.tdxQuotes)
    func changedAttestationKeyOrAuthenticationDataBreaksTheQEBinding(_ file: String) throws {
        let bytes = try Fixtures.bytes(file)
        let quote = try TDXQuote(bytes: bytes)
        let pckKey = try PCKCertificateChain(pem: quote.signatureData.pckCertificateChain).leafKey()
        let attestationKeyOffset = quote.signedBytes.count + 4 + 64
        let authenticationDataOffset = attestationKeyOffset + 64 + 6 + SGXReportBody.size + 64 + 2
        var accepted: [Int] = []
        for offset in Array(attestationKeyOffset..<attestationKeyOffset + 64)
            + Array(authenticationDataOffset..<authenticationDataOffset + 32)
        {
            do {
                try TDXQuoteVerifier.verifyQEReport(
                    try TDXQuote(bytes: Self.flipped(bytes, at: offset)),
                    pckKey: pckKey
                )
                accepted.append(offset)
            } catch {}
        }
        #expect(accepted.isEmpty, "accepted changes at offsets \(accepted)")
    }

    @Test func everyChangeToTheSignedSNPReportIsRefused() throws {
        let bytes = try Fixtures.hexFile("snp-report-milan.hex")
        let key = try P384.Signing.PublicKey(
            derRepresentation: try #require(Self.vcekSubjectPublicKeyInfo(try Fixtures.bytes("snp-vcek-milan.der")))
        )
        try SNPReportVerifier.verify(try SNPReport(bytes: bytes), key: key)
        var accepted: [Int] = []
        for offset in 0..<SNPReport.signatureOffset {
            do {
                try SNPReportVerifier.verify(try SNPReport(bytes: Self.flipped(bytes, at: offset)), key: key)
                accepted.append(offset)
            } catch {}
        }
        #expect(accepted.isEmpty, "accepted changes at offsets \(accepted)")
    }

    /// Finds the P-384 subject public key info inside the VCEK by its fixed prefix (test-only, independent of the
    /// library's DER walk).
    static func vcekSubjectPublicKeyInfo(_ der: [UInt8]) -> [UInt8]? {
        let prefix: [UInt8] = [
            0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04,
            0x00, 0x22, 0x03, 0x62, 0x00,
        ]
        guard der.count >= prefix.count + 97 else {
            return nil
        }
        for start in 0...(der.count - prefix.count - 97) where Array(der[start..<start + prefix.count]) == prefix {
            return Array(der[start..<start + prefix.count + 97])
        }
        return nil
    }
}
