import SwiftASN1

/// The AMD extensions (OIDs `1.3.6.1.4.1.3704.1.*`) of a VCEK or VLEK certificate, as AMD's VCEK specification
/// defines them: product name, the security patch levels the key was derived for, and the hardware ID (VCEK) or
/// cloud service provider ID (VLEK).
struct SNPKeyExtensions: Sendable {
    /// `productName`, e.g. `Milan-B0`.
    let productName: String
    /// The SPL extensions present, by the last arc of `1.3.6.1.4.1.3704.1.3.x` (1 bootloader, 2 TEE, 3 SNP,
    /// 4-7 reserved, 8 microcode, 9 FMC).
    let splByArc: [UInt: UInt8]
    /// `hwID` (VCEK only): 64 bytes, or 8 on Turin.
    let hardwareID: [UInt8]?
    /// `cspID` (VLEK only).
    let cloudServiceProviderID: String?

    static let structVersionOID: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 3704, 1, 1]
    static let productNameOID: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 3704, 1, 2]
    static let hardwareIDOID: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 3704, 1, 4]
    static let cloudServiceProviderIDOID: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 3704, 1, 5]

    /// The SPL extensions by their last arc.
    static let splOIDs: [UInt: ASN1ObjectIdentifier] = [
        1: [1, 3, 6, 1, 4, 1, 3704, 1, 3, 1], 2: [1, 3, 6, 1, 4, 1, 3704, 1, 3, 2],
        3: [1, 3, 6, 1, 4, 1, 3704, 1, 3, 3], 4: [1, 3, 6, 1, 4, 1, 3704, 1, 3, 4],
        5: [1, 3, 6, 1, 4, 1, 3704, 1, 3, 5], 6: [1, 3, 6, 1, 4, 1, 3704, 1, 3, 6],
        7: [1, 3, 6, 1, 4, 1, 3704, 1, 3, 7], 8: [1, 3, 6, 1, 4, 1, 3704, 1, 3, 8],
        9: [1, 3, 6, 1, 4, 1, 3704, 1, 3, 9],
    ]

    /// Reads the extensions of `certificate`, the key certificate of kind `key`.
    init(_ certificate: AMDCertificate, key: SNPSigningKey) throws(AttestationError) {
        let name = "\(key.rawValue) certificate \(certificate.subjectCommonName)"
        guard try certificate.extensionValue(Self.structVersionOID) != nil else {
            throw AttestationError(.invalidCertificate, "\(name) has no structVersion extension")
        }
        guard let product = try certificate.extensionValue(Self.productNameOID) else {
            throw AttestationError(.invalidCertificate, "\(name) has no productName extension")
        }
        self.productName = try Self.ia5String(product, "\(name) productName")
        var spls: [UInt: UInt8] = [:]
        for (arc, oid) in Self.splOIDs {
            if let value = try certificate.extensionValue(oid) {
                spls[arc] = try Self.level(value, "\(name) SPL extension 3.\(arc)")
            }
        }
        for arc: UInt in [1, 2, 3, 8] where spls[arc] == nil {
            throw AttestationError(
                .invalidCertificate, "\(name) has no \(Self.splName(arc)) extension (1.3.6.1.4.1.3704.1.3.\(arc))")
        }
        self.splByArc = spls
        let hardwareID = try certificate.extensionValue(Self.hardwareIDOID)
        let csp = try certificate.extensionValue(Self.cloudServiceProviderIDOID)
        switch key {
        case .vcek:
            guard let hardwareID else {
                throw AttestationError(.invalidCertificate, "\(name) has no hwID extension")
            }
            guard csp == nil else {
                throw AttestationError(.invalidCertificate, "\(name) has a cspID extension, which only VLEKs have")
            }
            self.hardwareID = try Self.hardwareID(hardwareID, name)
            self.cloudServiceProviderID = nil
        case .vlek:
            guard hardwareID == nil else {
                throw AttestationError(.invalidCertificate, "\(name) has a hwID extension, which only VCEKs have")
            }
            guard let csp else {
                throw AttestationError(.invalidCertificate, "\(name) has no cspID extension")
            }
            self.hardwareID = nil
            self.cloudServiceProviderID = try Self.ia5String(csp, "\(name) cspID")
        }
    }

    /// The name AMD's VCEK specification gives the SPL extension `1.3.6.1.4.1.3704.1.3.<arc>`.
    static func splName(_ arc: UInt) -> String {
        switch arc {
        case 1: "blSPL"
        case 2: "teeSPL"
        case 3: "snpSPL"
        case 8: "ucodeSPL"
        case 9: "fmcSPL"
        default: "spl_\(arc)"
        }
    }

    private static func ia5String(_ value: [UInt8], _ what: String) throws(AttestationError) -> String {
        do {
            let string = try ASN1IA5String(derEncoded: value)
            return String(decoding: Array(string.bytes), as: UTF8.self)
        } catch {
            throw AttestationError(.invalidCertificate, "\(what) is not an IA5String")
        }
    }

    private static func level(_ value: [UInt8], _ what: String) throws(AttestationError) -> UInt8 {
        let integer: Int
        do {
            integer = try Int(derEncoded: value)
        } catch {
            throw AttestationError(.invalidCertificate, "\(what) is not an INTEGER")
        }
        guard let level = UInt8(exactly: integer) else {
            throw AttestationError(.invalidCertificate, "\(what) is \(integer), not a level from 0 to 255")
        }
        return level
    }

    /// The hardware ID: an OCTET STRING of 64 (or 8) bytes, or those bytes untagged, as some KDS versions wrote it.
    private static func hardwareID(_ value: [UInt8], _ name: String) throws(AttestationError) -> [UInt8] {
        if value.count == 64 || value.count == 8 {
            return value
        }
        guard let octets = try? ASN1OctetString(derEncoded: value), octets.bytes.count == 64 || octets.bytes.count == 8
        else {
            throw AttestationError(.invalidCertificate, "\(name) hwID is not 64 (or on Turin 8) bytes")
        }
        return Array(octets.bytes)
    }
}

/// The security patch levels of a TCB_VERSION, laid out per product line.
enum SNPTCBLayout {
    /// The named bytes of a TCB_VERSION (little-endian u64) by index, with the SPL extension arc of each.
    static func components(_ line: SNPProductLine) -> [(index: Int, name: String, arc: UInt?)] {
        switch line {
        case .milan, .genoa:
            return [
                (0, "bootloader", 1), (1, "TEE", 2), (2, "SPL4", 4), (3, "SPL5", 5), (4, "SPL6", 6), (5, "SPL7", 7),
                (6, "SNP", 3), (7, "microcode", 8),
            ]
        case .turin:
            return [
                (0, "FMC", 9), (1, "bootloader", 1), (2, "TEE", 2), (3, "SNP", 3), (4, "reserved", nil),
                (5, "reserved", nil), (6, "reserved", nil), (7, "microcode", 8),
            ]
        }
    }

    /// The byte at `index` of a little-endian TCB_VERSION.
    static func byte(_ tcb: UInt64, _ index: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: tcb >> (8 * UInt64(index)))
    }

    /// `bootloader 3, TEE 0, SNP 8, microcode 115` (reserved bytes left out).
    static func describe(_ tcb: UInt64, _ line: SNPProductLine) -> String {
        Self.components(line).filter { !$0.name.hasPrefix("reserved") && !$0.name.hasPrefix("SPL") }
            .map { "\($0.name) \(Self.byte(tcb, $0.index))" }.joined(separator: ", ")
    }
}
