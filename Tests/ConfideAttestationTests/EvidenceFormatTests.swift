import ConfideAttestation
import Foundation
import Testing

/// Detection of the evidence format from its header bytes, in every encoding it travels in.
@Suite(.enabled(if: Fixtures.available, Fixtures.skipMessage))
struct EvidenceFormatTests {
    static func samples() async throws -> [(name: String, type: EvidenceType, bytes: [UInt8])] {
        var samples = try Fixtures.tdxQuotes.map { ($0, EvidenceType.tdxQuote, try Fixtures.bytes($0)) }
        samples.append(("snp-report-milan.hex", .snpReport, try Fixtures.hexFile("snp-report-milan.hex")))
        let simulated = try await SimulatedEvidenceProvider().evidence(reportData: Array(repeating: 1, count: 64))
        samples.append(("simulated", .simulated, simulated.bytes))
        return samples
    }

    static func hexText(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    @Test func everyFormatIsDetectedRaw() async throws {
        for sample in try await Self.samples() {
            let decoded = try EvidenceFormat.decode(sample.bytes)
            #expect(decoded.type == sample.type, "\(sample.name)")
            #expect(decoded.encoding == "raw")
            #expect(decoded.bytes == sample.bytes)
        }
    }

    @Test func everyFormatIsDetectedInHexWithOrWithoutPrefixAndWhitespace() async throws {
        for sample in try await Self.samples() {
            let text = Self.hexText(sample.bytes)
            var spaced = ""
            for (index, character) in text.uppercased().enumerated() {
                spaced.append(character)
                if index % 64 == 63 { spaced.append("\n") } else if index % 8 == 7 { spaced.append(" ") }
            }
            for input in [text, "0x" + text, "  0X" + spaced + "\n"] {
                let decoded = try EvidenceFormat.decode(Array(input.utf8))
                #expect(decoded.type == sample.type, "\(sample.name)")
                #expect(decoded.encoding == "hex")
                #expect(decoded.bytes == sample.bytes)
            }
        }
    }

    @Test func everyFormatIsDetectedInBase64() async throws {
        for sample in try await Self.samples() {
            for options in [Data.Base64EncodingOptions(), .lineLength76Characters] {
                let text = Data(sample.bytes).base64EncodedString(options: options) + "\n"
                let decoded = try EvidenceFormat.decode(Array(text.utf8))
                #expect(decoded.type == sample.type, "\(sample.name)")
                #expect(decoded.encoding == "base64")
                #expect(decoded.bytes == sample.bytes)
            }
        }
    }

    @Test func attestationAgentTDXJSONIsDetected() throws {
        let quote = try Fixtures.bytes("tdx-quote-v4-b.bin")
        let json = #"{"cc_eventlog": null, "quote": "\#(Data(quote).base64EncodedString())"}"#
        let decoded = try EvidenceFormat.decode(Array(json.utf8))
        #expect(decoded.type == .tdxQuote)
        #expect(decoded.encoding == "attestation agent JSON")
        #expect(decoded.bytes == quote)
    }

    @Test func attestationAgentSNPJSONBringsItsCertificateChain() throws {
        let report = try Fixtures.hexFile("snp-report-milan.hex")
        let vcek = try Fixtures.bytes("snp-vcek-milan.der")
        let numbers = { (bytes: [UInt8]) in "[" + bytes.map(String.init).joined(separator: ",") + "]" }
        let json = #"""
            {"attestation_report": \#(numbers(report)),
             "cert_chain": [{"cert_type": "VCEK", "data": \#(numbers(vcek))}, {"cert_type": "CRL", "data": [1, 2]}]}
            """#
        let decoded = try EvidenceFormat.decode(Array(json.utf8))
        #expect(decoded.type == .snpReport)
        #expect(decoded.bytes == report)
        let certificates = try #require(decoded.snpCertificates)
        #expect(try SNPCertificateTable.derCertificates(in: certificates) == [vcek])
    }

    /// The agent's own form, the report as a structure of fields, is rebuilt; one with fields missing is refused
    /// naming the first one (the whole form is tested against the stand-in agent's answers in `CoCoAttestationTests`).
    @Test func anIncompleteAttestationAgentSNPStructureIsRefusedNamingTheField() throws {
        let json = #"{"attestation_report": {"version": 2, "guest_svn": 0}, "cert_chain": null}"#
        let error = #expect(throws: AttestationError.self) { try EvidenceFormat.decode(Array(json.utf8)) }
        #expect(error?.code == .malformed)
        #expect(error?.message.contains("policy") == true, "\(error?.message ?? "")")
    }

    @Test(arguments: [
        Array("hello, world".utf8),
        [UInt8](repeating: 0, count: 1184),
        Array("00112233".utf8),
        Array("{\"something\": 1}".utf8),
        Array("{not json".utf8),
        [],
    ])
    func anythingElseIsAnUnrecognizedEvidenceFormat(_ input: [UInt8]) {
        let error = #expect(throws: AttestationError.self) { try EvidenceFormat.decode(input) }
        #expect(error?.code == .unsupportedFormat)
        #expect(error?.message.contains("unrecognized evidence format") == true)
    }

    @Test func aTDXHeaderWithAnotherTEETypeIsNotATDXQuote() throws {
        var quote = try Fixtures.bytes("tdx-quote-v4-spr.bin")
        quote[4] = 0x00
        #expect(EvidenceFormat.detect(quote) == nil)
    }

    @Test func anSNPReportWithAnUnknownVersionOrAlgorithmIsNotDetected() throws {
        var report = try Fixtures.hexFile("snp-report-milan.hex")
        report[0] = 6
        #expect(EvidenceFormat.detect(report) == nil)
        report[0] = 2
        report[0x34] = 2
        #expect(EvidenceFormat.detect(report) == nil)
    }
}

/// The GHCB certificate table (configfs-tsm's `auxblob`) and its conversion to a chain clients accept.
@Suite(.enabled(if: Fixtures.available, Fixtures.skipMessage))
struct SNPCertificateTableTests {
    static let guids: [SNPCertificateTable.EntryKind: String] = [
        .ark: "c0b406a4a803495297433fb6014cd0ae", .ask: "4ab7b379bbac4fe4a02f05aef327c782",
        .vcek: "63da758de6644564adc5f4b93be8accd", .crl: "92f81bc358114d3d97ffd19f88dc67ea",
    ]

    /// A table of `entries` as the hypervisor lays it out: headers, a zero entry, then the data.
    static func table(_ entries: [(SNPCertificateTable.EntryKind, [UInt8])]) -> [UInt8] {
        var headers: [UInt8] = []
        var data: [UInt8] = []
        let start = (entries.count + 1) * 24
        for (kind, bytes) in entries {
            headers += hex(Self.guids[kind, default: ""]) ?? []
            headers += Self.littleEndian(UInt32(start + data.count)) + Self.littleEndian(UInt32(bytes.count))
            data += bytes
        }
        return headers + [UInt8](repeating: 0, count: 24) + data
    }

    static func littleEndian(_ value: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    static func chain() throws -> (vcek: [UInt8], ask: [UInt8], ark: [UInt8]) {
        let askARK = try SNPCertificateTable.derCertificates(in: try Fixtures.bytes("amd-ask-ark-milan.pem"))
        return (try Fixtures.bytes("snp-vcek-milan.der"), askARK[0], askARK[1])
    }

    @Test func tableBecomesAPEMChainThatVerifies() throws {
        let (vcek, ask, ark) = try Self.chain()
        let table = Self.table([(.ark, ark), (.crl, [1, 2, 3]), (.ask, ask), (.vcek, vcek)])
        let pem = try SNPCertificateTable.pem(fromTable: table)
        #expect(try SNPCertificateTable.derCertificates(in: pem) == [vcek, ask, ark])
        var policy = AttestationPolicy(expectedReportData: [])
        policy.validationTime = SNPChainTests.insideVCEK
        let endorsement = try SNPReportVerifier.verify(
            try SNPChainTests.milanReport(), certificates: pem, policy: policy)
        #expect(endorsement.chain.map(\.origin) == ["given", "given", "pinned"])
    }

    @Test func aReportFollowedByItsCertificateTableBringsItsChain() throws {
        let (vcek, ask, ark) = try Self.chain()
        let report = try Fixtures.hexFile("snp-report-milan.hex")
        let extended = report + Self.table([(.vcek, vcek), (.ask, ask), (.ark, ark)])
        let decoded = try EvidenceFormat.decode(extended)
        #expect(decoded.type == .snpReport)
        #expect(decoded.bytes == report)
        #expect(decoded.encoding == "raw, with its certificate table")
        let pem = try #require(decoded.snpCertificates)
        #expect(try SNPCertificateTable.derCertificates(in: pem) == [vcek, ask, ark])
        let inHex = try EvidenceFormat.decode(Array(EvidenceFormatTests.hexText(extended).utf8))
        #expect(inHex.encoding == "hex, with its certificate table")
        // An empty table (its end entry only) brings no chain; a broken one is refused.
        #expect(try EvidenceFormat.decode(report + [UInt8](repeating: 0, count: 24)).snpCertificates == nil)
        expectError(.truncated) { _ = try EvidenceFormat.decode(report + [1, 2, 3]) }
    }

    @Test func entryPointingPastTheTableIsRefused() throws {
        var table = Self.table([(.vcek, [1, 2, 3])])
        table[20] = 0xFF
        table[21] = 0xFF
        table[22] = 0xFF
        table[23] = 0xFF
        expectError(.malformed) { _ = try SNPCertificateTable.entries(ofTable: table) }
    }

    @Test func tableWithoutItsEndIsRefused() {
        let entry = [UInt8](repeating: 1, count: 16) + [UInt8](repeating: 0, count: 8)
        expectError(.truncated) { _ = try SNPCertificateTable.entries(ofTable: entry + [0, 0, 0]) }
    }

    @Test func configfsTSMProviderServesTheAuxblobChain() async throws {
        let (vcek, ask, ark) = try Self.chain()
        let tree = try ConfigFSTSMProviderTests.FakeTree(
            provider: "sev_guest", outblob: try Fixtures.hexFile("snp-report-milan.hex"))
        try tree.write("auxblob", Self.table([(.vcek, vcek), (.ask, ask), (.ark, ark)]))
        let provider = try ConfigFSTSMProvider(
            expected: .snpReport, root: tree.root, entryName: tree.entry,
            afterInblobWrite: tree.advanceGeneration(by: 1))
        let evidence = try await provider.evidence(reportData: ConfigFSTSMProviderTests.reportData)
        let certificates = try #require(evidence.endorsements.snpCertificates)
        #expect(try SNPCertificateTable.derCertificates(in: certificates) == [vcek, ask, ark])
    }

    @Test func configfsTSMProviderWithoutAuxblobServesNoChain() async throws {
        let tree = try ConfigFSTSMProviderTests.FakeTree(
            provider: "sev_guest", outblob: try Fixtures.hexFile("snp-report-milan.hex"))
        let provider = try ConfigFSTSMProvider(
            expected: .snpReport, root: tree.root, entryName: tree.entry,
            afterInblobWrite: tree.advanceGeneration(by: 1))
        let evidence = try await provider.evidence(reportData: ConfigFSTSMProviderTests.reportData)
        #expect(evidence.endorsements.snpCertificates == nil)
    }
}
