import ConfideAttestation
import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

@Suite(.enabled(if: Fixtures.available, Fixtures.skipMessage))
struct TDXQuoteTests {
    struct Expected: Sendable, CustomTestStringConvertible {
        let file: String
        let version: UInt16
        let mrTD: String
        let reportData: String
        var testDescription: String { self.file }
    }

    static let expected: [Expected] = [
        Expected(
            file: "tdx-quote-v4-spr.bin",
            version: 4,
            mrTD: "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb",
            reportData: "6c62dec1b8191749a31dab490be532a35944dea47caef1f980863993d9899545"
                + "eb7406a38d1eed313b987a467dacead6f0c87a6d766c66f6f29f8acb281f1113"
        ),
        Expected(
            file: "tdx-quote-v4-b.bin",
            version: 4,
            mrTD: "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7",
            reportData: "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9"
                + "eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20"
        ),
        Expected(
            file: "tdx-quote-v5-sample.bin",
            version: 5,
            mrTD: "7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747dda8f750c3bc8f876",
            reportData: "945eaacf5abc1f719d8666a942fda03d1edcb4490277396093dc5a5289ab9f1e"
                + "094aed63060cd4a4933a4dd537ed1255c9c79ecb3ed82cd1b486233e31c25c3a"
        ),
    ]

    @Test(arguments: Self.expected)
    func realQuoteVerifiesAndYieldsDocumentedValues(_ expected: Expected) async throws {
        let quote = try TDXQuote(bytes: try Fixtures.bytes(expected.file))
        #expect(quote.header.version == expected.version)
        #expect(quote.header.attestationKeyType == 2)
        #expect(quote.header.teeType == 0x81)
        #expect(quote.header.qeVendorID == hex("939a7233f79c4ca9940a0db3957f0607"))
        #expect(quote.body.mrTD == hex(expected.mrTD))
        #expect(quote.body.reportData == hex(expected.reportData))
        #expect(try PCKCertificateChain(pem: quote.signatureData.pckCertificateChain).intermediates.count == 2)
        try await TDXQuoteVerifier.verify(quote)
    }

    @Test func versionFiveCarriesTDX15Fields() throws {
        let quote = try TDXQuote(bytes: try Fixtures.bytes("tdx-quote-v5-sample.bin"))
        #expect(quote.bodyKind == .tdx15)
        #expect(quote.signedBytes.count == 48 + 6 + 648)
        #expect(quote.body.teeTCBSVN2 == hex("0d010400000000000000000000000000"))
        #expect(quote.body.mrServiceTD == [UInt8](repeating: 0, count: 48))
    }

    @Test func versionFourLayout() throws {
        let quote = try TDXQuote(bytes: try Fixtures.bytes("tdx-quote-v4-spr.bin"))
        #expect(quote.bodyKind == .tdx10)
        #expect(quote.signedBytes.count == 632)
        #expect(quote.body.teeTCBSVN2 == nil)
        #expect(quote.signatureData.qeAuthenticationData.count == 32)
    }
}

@Suite(.enabled(if: Fixtures.available, Fixtures.skipMessage))
struct TDXChainAndReportTests {
    @Test func pinnedRootMatchesTheSharedCopy() throws {
        let root = try IntelSGXRootCA.certificate()
        let shared = String(decoding: try Fixtures.bytes("intel-sgx-root-ca.pem"), as: UTF8.self)
        #expect(shared.contains(IntelSGXRootCA.pem.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(root.subject.description.contains("Intel SGX Root CA"))
    }

    @Test func chainIsRefusedAfterTheLeafExpires() async throws {
        let quote = try TDXQuote(bytes: try Fixtures.bytes("tdx-quote-v4-spr.bin"))
        let late = Date(timeIntervalSince1970: 2_000_000_000 + 1_000_000_000)
        let error = await #expect(throws: AttestationError.self) { try await TDXQuoteVerifier.verify(quote, at: late) }
        #expect(error?.code == .expired)
        #expect(error?.message.contains("CN=Intel SGX PCK Certificate is valid from 2022-09-20") == true)
        try await TDXQuoteVerifier.verify(quote, at: Date(timeIntervalSince1970: 1_800_000_000))
    }

    @Test func chainWithoutTheIntermediateIsRefused() async throws {
        let quote = try TDXQuote(bytes: try Fixtures.bytes("tdx-quote-v4-b.bin"))
        let chain = try PCKCertificateChain(pem: quote.signatureData.pckCertificateChain)
        let leafOnly = try PCKCertificateChain(pem: Array(chain.leaf.serializeAsPEM().pemString.utf8))
        await expectError(.untrustedCertificateChain) {
            try await leafOnly.validate()
        }
    }

    @Test func qeReportSignedByAnotherKeyIsRefused() throws {
        let quote = try TDXQuote(bytes: try Fixtures.bytes("tdx-quote-v4-spr.bin"))
        expectError(.invalidSignature) {
            try TDXQuoteVerifier.verifyQEReport(quote, pckKey: P256.Signing.PrivateKey().publicKey)
        }
    }

    /// The QE report of a quote with one field of it changed at `offset` (within the 384-byte report).
    static func qeReport(of file: String, changing offset: Int, to bytes: [UInt8]) throws -> SGXReportBody {
        var quoteBytes = try Fixtures.bytes(file)
        let report = try TDXQuote(bytes: quoteBytes).signatureData.qeReport.raw
        let start = try #require(
            (0...(quoteBytes.count - report.count)).first { quoteBytes[$0..<($0 + report.count)].elementsEqual(report) }
        )
        quoteBytes.replaceSubrange((start + offset)..<(start + offset + bytes.count), with: bytes)
        return try TDXQuote(bytes: quoteBytes).signatureData.qeReport
    }

    @Test(arguments: TDXQuoteTests.expected.map(\.file))
    func theQuotingEnclaveIsIntelsTDQE(_ file: String) throws {
        let report = try TDXQuote(bytes: try Fixtures.bytes(file)).signatureData.qeReport
        try QEIdentity.intelTDQE.check(report)
        #expect(report.isvProdID == 2)
    }

    /// Another signer, the SGX QE's product ID, another MISCSELECT, a debug enclave, other ATTRIBUTES: each refused,
    /// by name; an ATTRIBUTES bit outside the mask is ignored.
    @Test func aQEReportOfAnotherEnclaveIsRefused() throws {
        let file = "tdx-quote-v4-spr.bin"
        let cases: [(offset: Int, bytes: [UInt8], reason: String)] = [
            (128, [UInt8](repeating: 0xAB, count: 32), "MRSIGNER"),
            (256, [1, 0], "ISVPRODID is 1"),
            (16, [1, 0, 0, 0], "MISCSELECT"),
            (48, [0x13], "runs in debug mode"),
            (48, [0x31], "ATTRIBUTES"),
        ]
        for change in cases {
            let report = try Self.qeReport(of: file, changing: change.offset, to: change.bytes)
            let error = #expect(throws: AttestationError.self) { try QEIdentity.intelTDQE.check(report) }
            #expect(error?.code == .qeIdentityMismatch)
            #expect(error?.message.contains(change.reason) == true, "\(error?.message ?? "")")
        }
        let outsideTheMask = try Self.qeReport(of: file, changing: 48 + 8, to: [0xFF])
        try QEIdentity.intelTDQE.check(outsideTheMask)
    }

    /// A host's own enclave whose report its PCK key signs (here a key of the test's own, passed as the PCK key):
    /// the signature and the key binding hold, and the quote is still refused for the enclave's identity.
    @Test func aValidlySignedReportOfAnotherEnclaveIsRefused() throws {
        var bytes = try Fixtures.bytes("tdx-quote-v4-spr.bin")
        let report = try TDXQuote(bytes: bytes).signatureData.qeReport.raw
        let start = try #require(
            (0...(bytes.count - report.count)).first { bytes[$0..<($0 + report.count)].elementsEqual(report) })
        bytes[start + 128] ^= 0x01
        let pck = P256.Signing.PrivateKey()
        let signature = try pck.signature(for: Array(bytes[start..<(start + report.count)])).rawRepresentation
        bytes.replaceSubrange((start + report.count)..<(start + report.count + 64), with: signature)
        let quote = try TDXQuote(bytes: bytes)
        expectError(.qeIdentityMismatch) { try TDXQuoteVerifier.verifyQEReport(quote, pckKey: pck.publicKey) }
    }

    /// The TDX 1.5 sample binds no service TD and has SEPT_VE_DISABLE set; with a service TD bound (MRSERVICETD at
    /// offset 654) it is refused, as dcap-qvl refuses it by default.
    @Test func aBoundServiceTDIsRefused() throws {
        var bytes = try Fixtures.bytes("tdx-quote-v5-sample.bin")
        let quote = try TDXQuote(bytes: bytes)
        #expect(quote.body.mrServiceTD == [UInt8](repeating: 0, count: 48))
        try TDXQuoteVerifier.checkTDAttributes(quote.body, acceptDebug: false)
        bytes[654 + 47] = 0x01
        let bound = try TDXQuote(bytes: bytes)
        let error = #expect(throws: AttestationError.self) {
            try TDXQuoteVerifier.checkTDAttributes(bound.body, acceptDebug: true)
        }
        #expect(error?.code == .guestPolicyNotAllowed)
        #expect(error?.message.hasPrefix("MRSERVICETD is 0000") == true, "\(error?.message ?? "")")
        #expect(error?.message.hasSuffix("01, not zero: a service TD is bound") == true)
    }

    @Test func rawTDReportParses() throws {
        let report = try TDReport(bytes: try Fixtures.bytes("tdreport.bin"))
        #expect(report.reportType == [0x81, 0x00, 0x01, 0x00])
        #expect(report.reportData == [UInt8](repeating: 0, count: 64))
        #expect(
            report.mrTD
                == hex(
                    "98bbc39e3e27b4cb27ed6d21870b187738f64ec44b9f3f93d603b35a84e610dcb45f1b6d79c648c7bf8e68f7a37b8ab5"
                )
        )
        expectError(.truncated) { _ = try TDReport(bytes: Array(try Fixtures.bytes("tdreport.bin").prefix(1000))) }
    }
}
