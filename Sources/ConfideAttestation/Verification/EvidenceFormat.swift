import ConfideJSON
import ConfideMeasurement
import Foundation

/// Evidence read from input of an unknown format, with what the input looked like.
public struct DecodedEvidence: Sendable, Hashable {
    /// The kind of evidence, detected from its header bytes.
    public let type: EvidenceType
    /// The evidence itself (the quote, the report, or the simulated evidence).
    public let bytes: [UInt8]
    /// How the input encoded it: `raw`, `hex`, `base64`, or `attestation agent JSON`; an SEV-SNP report followed by
    /// its certificate table adds `, with its certificate table`.
    public let encoding: String
    /// The SEV-SNP certificates that came with the evidence (the attestation agent's `cert_chain`, or the certificate
    /// table after the report), as PEM.
    public let snpCertificates: [UInt8]?
}

/// Recognises attestation evidence by its header bytes, in the encodings it travels in.
public enum EvidenceFormat {
    /// The largest input accepted.
    public static let maximumInputSize = 1 << 24

    /// The kind of evidence `bytes` is, from its header, or `nil` when it is none of them: a TDX quote (version 4
    /// or 5, attestation key type 2, TEE type 0x81), an SEV-SNP report (1184 bytes, version 2 to 5, signature
    /// algorithm 1) or simulated evidence (its magic).
    public static func detect(_ bytes: [UInt8]) -> EvidenceType? {
        if bytes.starts(with: SimulatedEvidence.magic) {
            return .simulated
        }
        let version = Self.littleEndian(bytes, at: 0, size: 2)
        if bytes.count >= 48, version == 4 || version == 5, Self.littleEndian(bytes, at: 2, size: 2) == 2,
            Self.littleEndian(bytes, at: 4, size: 4) == 0x81
        {
            return .tdxQuote
        }
        if bytes.count == SNPReport.size, let version = Self.littleEndian(bytes, at: 0, size: 4),
            SNPReport.supportedVersions.contains(UInt32(truncatingIfNeeded: version)),
            Self.littleEndian(bytes, at: 0x34, size: 4) == UInt64(SNPReport.ecdsaP384SHA384)
        {
            return .snpReport
        }
        return nil
    }

    /// Decodes evidence given raw, as hex (with or without `0x`, whitespace ignored), as base64, or as the
    /// Confidential Containers attestation agent's JSON (`{"quote": ...}` for TDX,
    /// `{"attestation_report": ..., "cert_chain": ...}` for SEV-SNP); an SEV-SNP report may be followed by the
    /// certificate table of an extended report.
    ///
    /// - Throws: ``AttestationError/ErrorCode/unsupportedFormat`` with "unrecognized evidence format" when the
    ///   input is none of these.
    public static func decode(_ input: [UInt8]) throws(AttestationError) -> DecodedEvidence {
        guard input.count <= Self.maximumInputSize else {
            throw AttestationError(
                .oversized, "evidence input is \(input.count) bytes, more than \(Self.maximumInputSize)")
        }
        if let type = Self.detect(input) {
            return DecodedEvidence(type: type, bytes: input, encoding: "raw", snpCertificates: nil)
        }
        if let evidence = try Self.snpReportWithTable(input, encoding: "raw") {
            return evidence
        }
        let text = String(decoding: input, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix("{") {
            return try Self.agentJSON(Array(text.utf8))
        }
        if let bytes = Self.hex(text) {
            if let type = Self.detect(bytes) {
                return DecodedEvidence(type: type, bytes: bytes, encoding: "hex", snpCertificates: nil)
            }
            if let evidence = try Self.snpReportWithTable(bytes, encoding: "hex") {
                return evidence
            }
        }
        if let bytes = Self.base64(text) {
            if let type = Self.detect(bytes) {
                return DecodedEvidence(type: type, bytes: bytes, encoding: "base64", snpCertificates: nil)
            }
            if let evidence = try Self.snpReportWithTable(bytes, encoding: "base64") {
                return evidence
            }
            if bytes.first == UInt8(ascii: "{") {
                return try Self.agentJSON(bytes)
            }
        }
        throw AttestationError(
            .unsupportedFormat,
            "unrecognized evidence format: \(input.count) bytes starting \(Hex.encode(input.prefix(8))) are no TDX "
                + "quote, SEV-SNP report, simulated evidence or attestation agent JSON, raw, hex or base64"
        )
    }

    /// An SEV-SNP report followed by the GHCB certificate table of an extended report (go-sev-guest's `bin` form), or
    /// `nil` when `bytes` does not start with a report; the table's certificates become the evidence's chain.
    static func snpReportWithTable(_ bytes: [UInt8], encoding: String) throws(AttestationError) -> DecodedEvidence? {
        guard bytes.count > SNPReport.size, Self.detect(Array(bytes.prefix(SNPReport.size))) == .snpReport else {
            return nil
        }
        let entries = try SNPCertificateTable.entries(ofTable: Array(bytes.dropFirst(SNPReport.size)))
        return DecodedEvidence(
            type: .snpReport,
            bytes: Array(bytes.prefix(SNPReport.size)),
            encoding: "\(encoding), with its certificate table",
            snpCertificates: entries.isEmpty ? nil : try SNPCertificateTable.pem(fromEntries: entries)
        )
    }

    /// Decodes hex digits, with an optional `0x` prefix and whitespace anywhere; `nil` when not hex.
    static func hex(_ text: String) -> [UInt8]? {
        var digits = Array(text.utf8.filter { !Self.isWhitespace($0) })
        if digits.count >= 2, digits[0] == UInt8(ascii: "0"), digits[1] | 0x20 == UInt8(ascii: "x") {
            digits.removeFirst(2)
        }
        guard !digits.isEmpty else {
            return nil
        }
        return Hex.decode(String(decoding: digits, as: UTF8.self))
    }

    private static func base64(_ text: String) -> [UInt8]? {
        let compact = String(decoding: text.utf8.filter { !Self.isWhitespace($0) }, as: UTF8.self)
        guard !compact.isEmpty, let data = Data(base64Encoded: compact) ?? Data(base64URLEncoded: compact) else {
            return nil
        }
        return Array(data)
    }

    /// The attestation agent's evidence JSON.
    private static func agentJSON(_ bytes: [UInt8]) throws(AttestationError) -> DecodedEvidence {
        guard let object = (try? JSONParser.parse(bytes))?.objectValue else {
            throw AttestationError(.unsupportedFormat, "unrecognized evidence format: the input is not a JSON object")
        }
        if let quote = object["quote"] {
            let bytes = try Self.bytes(quote, "quote")
            guard Self.detect(bytes) == .tdxQuote else {
                throw AttestationError(.unsupportedFormat, "the attestation agent JSON's quote is not a TDX quote")
            }
            return DecodedEvidence(
                type: .tdxQuote, bytes: bytes, encoding: "attestation agent JSON", snpCertificates: nil)
        }
        guard let report = object["attestation_report"] else {
            throw AttestationError(
                .unsupportedFormat,
                "unrecognized evidence format: JSON without \"quote\" or \"attestation_report\""
            )
        }
        // The agent's own form is the report as a structure of fields, rebuilt into its signed bytes.
        let reportBytes: [UInt8]
        if let fields = report.objectValue {
            reportBytes = try AgentSNPReport.rebuild(fields)
        } else {
            reportBytes = try Self.bytes(report, "attestation_report")
        }
        guard Self.detect(reportBytes) == .snpReport else {
            throw AttestationError(
                .unsupportedFormat, "the attestation agent JSON's attestation_report is not an SEV-SNP report")
        }
        let certificates = try object["cert_chain"]?.arrayValue.map(Self.certificateTable) ?? nil
        return DecodedEvidence(
            type: .snpReport, bytes: reportBytes, encoding: "attestation agent JSON", snpCertificates: certificates)
    }

    /// The agent's `cert_chain`: `[{"cert_type": "VCEK", "data": [48, 130, ...]}, ...]`, as PEM (CRLs left out).
    private static func certificateTable(_ entries: [JSONValue]) throws(AttestationError) -> [UInt8]? {
        var table: [(kind: SNPCertificateTable.EntryKind, der: [UInt8])] = []
        for entry in entries {
            guard let fields = entry.objectValue, let data = fields["data"] else {
                throw AttestationError(.malformed, "an attestation agent cert_chain entry has no data")
            }
            if let name = fields["cert_type"]?.stringValue,
                let kind = SNPCertificateTable.certificateKind(agentName: name)
            {
                table.append((kind, try Self.bytes(data, "cert_chain data")))
            }
        }
        guard !table.isEmpty else {
            return nil
        }
        return try SNPCertificateTable.pem(fromEntries: table)
    }

    /// A byte field of the agent's JSON: base64 or hex text, or an array of numbers from 0 to 255.
    private static func bytes(_ value: JSONValue, _ name: String) throws(AttestationError) -> [UInt8] {
        if let text = value.stringValue {
            if let bytes = Self.base64(text) ?? Self.hex(text) {
                return bytes
            }
        } else if let numbers = value.arrayValue {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(numbers.count)
            for number in numbers {
                guard let value = number.int64Value, let byte = UInt8(exactly: value) else {
                    throw AttestationError(.malformed, "attestation agent JSON \(name) holds a value that is no byte")
                }
                bytes.append(byte)
            }
            return bytes
        }
        throw AttestationError(.malformed, "attestation agent JSON \(name) is neither base64 nor an array of bytes")
    }

    private static func littleEndian(_ bytes: [UInt8], at offset: Int, size: Int) -> UInt64? {
        guard offset >= 0, size <= 8, bytes.count - offset >= size else {
            return nil
        }
        var value: UInt64 = 0
        for byte in bytes[offset..<offset + size].reversed() {
            value = value << 8 | UInt64(byte)
        }
        return value
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }
}

extension Data {
    /// Decodes base64url (RFC 4648 section 5), padded or not.
    fileprivate init?(base64URLEncoded text: String) {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        let remainder = standard.utf8.count % 4
        if remainder != 0 {
            standard += String(repeating: "=", count: 4 - remainder)
        }
        self.init(base64Encoded: standard)
    }
}
