public import SwiftASN1
public import X509

/// The platform's identity and TCB as Intel's SGX extension of a PCK certificate states them
/// (OID 1.2.840.113741.1.13.1): what the TCB evaluation compares with the collateral.
public struct PCKExtension: Sendable, Hashable {
    /// The platform provisioning ID (16 bytes).
    public let ppid: [UInt8]
    /// The 16 SGX TCB component SVNs (`sgxtcbcomp01svn` to `sgxtcbcomp16svn`).
    public let sgxComponents: [UInt8]
    /// The provisioning certification enclave's security version.
    public let pceSVN: UInt16
    /// The raw CPUSVN (16 bytes).
    public let cpuSVN: [UInt8]
    /// The PCE ID (2 bytes).
    public let pceID: [UInt8]
    /// The family-model-stepping-platform-custom-SKU value (6 bytes) that selects the TCB Info.
    public let fmspc: [UInt8]

    /// Intel's SGX extension.
    public static let oid: ASN1ObjectIdentifier = [1, 2, 840, 113_741, 1, 13, 1]

    /// Reads the SGX extension of a PCK certificate.
    ///
    /// - Throws: ``AttestationError`` when the extension is missing or malformed.
    public init(certificate: Certificate) throws(AttestationError) {
        guard let extensionValue = certificate.extensions[oid: Self.oid] else {
            throw AttestationError(.invalidCertificate, "the PCK certificate has no Intel SGX extension")
        }
        let base = Self.oid.oidComponents
        var values: [[UInt]: ASN1Node] = [:]
        var tcb: [[UInt]: ASN1Node] = [:]
        do {
            values = try Self.entries(try DER.parse(extensionValue.value))
            if let tcbNode = values[base + [2]] {
                tcb = try Self.entries(tcbNode)
            }
        } catch {
            throw AttestationError(.invalidCertificate, "the PCK certificate's SGX extension does not parse: \(error)")
        }
        self.ppid = try Self.octets(values[base + [1]], "PPID", count: 16)
        self.pceID = try Self.octets(values[base + [3]], "PCE-ID", count: 2)
        self.fmspc = try Self.octets(values[base + [4]], "FMSPC", count: 6)
        self.cpuSVN = try Self.octets(tcb[base + [2, 18]], "CPUSVN", count: 16)
        var components: [UInt8] = []
        for index in 1...16 {
            let component = try Self.integer(tcb[base + [2, UInt(index)]], "SGX TCB component \(index)", 255)
            components.append(UInt8(truncatingIfNeeded: component))
        }
        self.sgxComponents = components
        self.pceSVN = UInt16(truncatingIfNeeded: try Self.integer(tcb[base + [2, 17]], "PCESVN", Int(UInt16.max)))
    }

    /// The `SEQUENCE OF SEQUENCE { OID, value }` of the extension, by OID.
    private static func entries(_ node: ASN1Node) throws -> [[UInt]: ASN1Node] {
        var entries: [[UInt]: ASN1Node] = [:]
        try DER.sequence(node, identifier: .sequence) { nodes in
            while let entry = nodes.next() {
                try DER.sequence(entry, identifier: .sequence) { fields in
                    guard let oidNode = fields.next(), let value = fields.next() else {
                        throw AttestationError(.invalidCertificate, "an SGX extension entry is incomplete")
                    }
                    entries[try ASN1ObjectIdentifier(derEncoded: oidNode).oidComponents] = value
                }
            }
        }
        return entries
    }

    private static func octets(_ node: ASN1Node?, _ field: String, count: Int) throws(AttestationError) -> [UInt8] {
        guard let node, let octets = try? ASN1OctetString(derEncoded: node), octets.bytes.count == count else {
            throw AttestationError(
                .invalidCertificate, "the PCK certificate's SGX extension has no \(count)-byte \(field)")
        }
        return Array(octets.bytes)
    }

    private static func integer(_ node: ASN1Node?, _ field: String, _ maximum: Int) throws(AttestationError) -> Int {
        guard let node, let value = try? Int(derEncoded: node), (0...maximum).contains(value) else {
            throw AttestationError(
                .invalidCertificate, "the PCK certificate's SGX extension has no \(field) in 0...\(maximum)")
        }
        return value
    }
}
