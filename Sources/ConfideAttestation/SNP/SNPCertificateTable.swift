import ConfideJSON
import ConfideMeasurement
import Foundation
import SwiftASN1

/// Reads the certificates that endorse an SEV-SNP report, in the forms they travel in: PEM (one or several
/// certificates), DER (one certificate, or several back to back), and the GHCB certificate table that the
/// hypervisor returns with an extended report (configfs-tsm's `auxblob`).
public enum SNPCertificateTable {
    /// The kinds of entries of a GHCB certificate table, by GUID.
    public enum EntryKind: String, Sendable, CaseIterable {
        /// The AMD Root Key.
        case ark = "c0b406a4-a803-4952-9743-3fb6014cd0ae"
        /// The AMD SEV Key (or the ASVK in a VLEK chain).
        case ask = "4ab7b379-bbac-4fe4-a02f-05aef327c782"
        /// The versioned chip endorsement key.
        case vcek = "63da758d-e664-4564-adc5-f4b93be8accd"
        /// The versioned loaded endorsement key.
        case vlek = "a8074bc2-a25a-483e-aae6-39c045a0b8a1"
        /// A certificate revocation list.
        case crl = "92f81bc3-5811-4d3d-97ff-d19f88dc67ea"
    }

    /// The certificate kind the attestation agent's `cert_chain` names (`VCEK`, `VLEK`, `ASK`, `ARK`, or another
    /// kind's GUID); `nil` for a CRL or an unknown kind.
    public static func certificateKind(agentName name: String) -> EntryKind? {
        let names: [String: EntryKind] = ["VCEK": .vcek, "VLEK": .vlek, "ASK": .ask, "ARK": .ark]
        guard let kind = names[name] ?? EntryKind(rawValue: name.lowercased()), kind != .crl else { return nil }
        return kind
    }

    /// The most entries a table may hold before it is refused.
    static let maximumEntries = 64

    /// Reads a GHCB certificate table: 24-byte entries (GUID in RFC 4122 byte order, then offset and length,
    /// little-endian, from the start of the table) ended by an all-zero entry.
    ///
    /// - Returns: The certificates of the known kinds, in table order; CRLs and unknown GUIDs are left out.
    /// - Throws: ``AttestationError`` when an entry points outside the table or the table has no end.
    public static func entries(ofTable table: [UInt8]) throws(AttestationError) -> [(kind: EntryKind, der: [UInt8])] {
        var reader = ByteReader(table, what: "SNP certificate table")
        var result: [(kind: EntryKind, der: [UInt8])] = []
        for _ in 0...Self.maximumEntries {
            let guid = try reader.read(16, "entry GUID")
            let offset = try reader.readUInt32("entry offset")
            let length = try reader.readUInt32("entry length")
            if guid.allSatisfy({ $0 == 0 }) {
                return result
            }
            let (end, overflow) = Int(offset).addingReportingOverflow(Int(length))
            guard !overflow, end <= table.count else {
                throw AttestationError(
                    .malformed,
                    "SNP certificate table entry at \(offset) of \(length) bytes ends past the table (\(table.count))"
                )
            }
            if let kind = EntryKind(rawValue: Self.guidString(guid)), kind != .crl {
                result.append((kind, Array(table[Int(offset)..<end])))
            }
        }
        throw AttestationError(.oversized, "SNP certificate table has more than \(Self.maximumEntries) entries")
    }

    /// Converts a GHCB certificate table into PEM text holding its certificates (VCEK or VLEK first), the form
    /// clients accept as ``Endorsements/snpCertificates``.
    public static func pem(fromTable table: [UInt8]) throws(AttestationError) -> [UInt8] {
        try Self.pem(fromEntries: try Self.entries(ofTable: table))
    }

    /// PEM text holding `entries`' certificates, VCEK or VLEK first, then ASK and ARK (for example the
    /// attestation agent's `cert_chain`, or a table read with ``entries(ofTable:)``).
    public static func pem(fromEntries entries: [(kind: EntryKind, der: [UInt8])]) throws(AttestationError) -> [UInt8] {
        let order: [EntryKind] = [.vcek, .vlek, .ask, .ark]
        let entries = entries.sorted { first, second in
            (order.firstIndex(of: first.kind) ?? order.count) < (order.firstIndex(of: second.kind) ?? order.count)
        }
        guard !entries.isEmpty else {
            throw AttestationError(.malformed, "SNP certificate table holds no certificate")
        }
        let text = entries.map { PEMDocument(type: "CERTIFICATE", derBytes: $0.der).pemString }
        return Array((text.joined(separator: "\n") + "\n").utf8)
    }

    /// Splits certificate input into DER certificates: PEM text with one or more `CERTIFICATE` blocks, or DER
    /// certificates back to back. The certificates are not parsed or checked.
    public static func derCertificates(in input: [UInt8]) throws(AttestationError) -> [[UInt8]] {
        let text = String(decoding: input, as: UTF8.self)
        if text.contains("-----BEGIN") {
            let documents: [PEMDocument]
            do {
                documents = try PEMDocument.parseMultiple(pemString: text)
            } catch {
                throw AttestationError(.invalidCertificate, "SNP certificates are not valid PEM: \(error)")
            }
            let certificates = documents.filter { $0.discriminator == "CERTIFICATE" }.map(\.derBytes)
            guard !certificates.isEmpty else {
                throw AttestationError(.invalidCertificate, "SNP certificate PEM holds no CERTIFICATE block")
            }
            return certificates
        }
        var certificates: [[UInt8]] = []
        var start = 0
        while start < input.count {
            let length = try Self.derElementLength(input, at: start)
            certificates.append(Array(input[start..<start + length]))
            start += length
        }
        guard !certificates.isEmpty else {
            throw AttestationError(.invalidCertificate, "SNP certificates are empty")
        }
        return certificates
    }

    /// The length of the DER SEQUENCE at `start`, header included, checked to fit in `bytes`.
    private static func derElementLength(_ bytes: [UInt8], at start: Int) throws(AttestationError) -> Int {
        let remaining = bytes.count - start
        guard remaining >= 2, bytes[start] == 0x30 else {
            throw AttestationError(.invalidCertificate, "SNP certificate at byte \(start) is neither PEM nor DER")
        }
        let first = Int(bytes[start + 1])
        var header = 2
        var length = first
        if first & 0x80 != 0 {
            let count = first & 0x7F
            guard count >= 1, count <= 4, remaining >= 2 + count else {
                throw AttestationError(.invalidCertificate, "SNP certificate at byte \(start) has a bad DER length")
            }
            length = 0
            for index in 0..<count {
                length = length << 8 | Int(bytes[start + 2 + index])
            }
            header += count
        }
        let (total, overflow) = header.addingReportingOverflow(length)
        guard !overflow, total <= remaining else {
            throw AttestationError(.truncated, "SNP certificate at byte \(start) is cut short")
        }
        return total
    }

    private static func guidString(_ bytes: [UInt8]) -> String {
        let hex = Hex.encode(bytes)
        let characters = Array(hex)
        guard characters.count == 32 else {
            return hex
        }
        let groups = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(characters[$0]) }
        return groups.joined(separator: "-")
    }
}
