import Crypto
import Foundation
import SwiftASN1
import X509
import _CryptoExtras

/// An X.509 certificate of AMD's SEV-SNP hierarchy (ARK, ASK, ASVK, VCEK or VLEK) with the fields the chain check
/// uses.
///
/// AMD signs these certificates with RSASSA-PSS, which swift-certificates does not parse, so the DER is read here
/// with swift-asn1. Parsing checks that both signature algorithm identifiers are RSASSA-PSS with SHA-384,
/// MGF1-SHA-384 and a 48-byte salt; nothing else is trusted until ``isSigned(by:)`` says so.
struct AMDCertificate: Sendable {
    /// One extension: its identifier, criticality and the bytes of its `extnValue` octet string.
    struct Extension: Sendable {
        let oid: ASN1ObjectIdentifier
        let critical: Bool
        let value: [UInt8]
    }

    /// The certificate's DER encoding.
    let der: [UInt8]
    /// The DER of `tbsCertificate`, which the signature covers.
    let tbsBytes: [UInt8]
    /// The signature bits.
    let signature: [UInt8]
    /// The DER of the issuer name.
    let issuer: [UInt8]
    /// The DER of the subject name.
    let subject: [UInt8]
    /// The issuer's common name, for messages and role checks.
    let issuerCommonName: String
    /// The subject's common name, for messages and role checks.
    let subjectCommonName: String
    /// The start of the validity window.
    let notBefore: Date
    /// The end of the validity window.
    let notAfter: Date
    /// The DER of the subject public key info.
    let subjectPublicKeyInfo: [UInt8]
    /// The extensions, in certificate order.
    let extensions: [Extension]

    /// `id-RSASSA-PSS`.
    static let rsassaPSS: ASN1ObjectIdentifier = [1, 2, 840, 113549, 1, 1, 10]
    /// `id-mgf1`.
    static let mgf1: ASN1ObjectIdentifier = [1, 2, 840, 113549, 1, 1, 8]
    /// `id-sha384`.
    static let sha384: ASN1ObjectIdentifier = [2, 16, 840, 1, 101, 3, 4, 2, 2]

    /// Parses a DER certificate; `what` names it in errors until its subject is known.
    init(der: [UInt8], what: String) throws(AttestationError) {
        do {
            let root = try DER.parse(der)
            var parsed: (tbs: ASN1Node, outer: ASN1Node, signature: ASN1BitString)?
            parsed = try DER.sequence(root, identifier: .sequence) { nodes in
                guard let tbs = nodes.next(), let algorithm = nodes.next(), let signature = nodes.next() else {
                    throw ASN1Error.invalidASN1Object(reason: "a certificate has three elements")
                }
                return (tbs, algorithm, try ASN1BitString(derEncoded: signature))
            }
            guard let parsed, root.encodedBytes.count == der.count else {
                throw AttestationError(.invalidCertificate, "\(what) has bytes after the certificate")
            }
            self.der = der
            self.tbsBytes = Array(parsed.tbs.encodedBytes)
            self.signature = Array(parsed.signature.bytes)
            let fields = try Self.parseTBS(parsed.tbs)
            self.issuer = fields.issuer
            self.subject = fields.subject
            self.issuerCommonName = fields.issuerCommonName
            self.subjectCommonName = fields.subjectCommonName
            self.notBefore = fields.notBefore
            self.notAfter = fields.notAfter
            self.subjectPublicKeyInfo = fields.subjectPublicKeyInfo
            self.extensions = fields.extensions
            let name = "certificate \(fields.subjectCommonName)"
            guard fields.innerAlgorithm == Array(parsed.outer.encodedBytes) else {
                throw AttestationError(
                    .invalidCertificate, "\(name): the signature algorithms inside and outside the TBS differ")
            }
            try Self.checkPSSParameters(parsed.outer, name)
        } catch let error as AttestationError {
            throw error
        } catch {
            throw AttestationError(.invalidCertificate, "\(what) is not a DER X.509 certificate: \(error)")
        }
    }

    /// Whether `issuer`'s RSA key made this certificate's RSASSA-PSS SHA-384 signature over its TBS bytes.
    func isSigned(by issuer: AMDCertificate) -> Bool {
        guard let key = try? _RSA.Signing.PublicKey(derRepresentation: issuer.subjectPublicKeyInfo) else {
            return false
        }
        let signature = _RSA.Signing.RSASignature(rawRepresentation: self.signature)
        return key.isValidSignature(signature, for: SHA384.hash(data: self.tbsBytes), padding: .PSS)
    }

    /// Whether `time` lies inside the validity window.
    func isValid(at time: Date) -> Bool {
        self.notBefore <= time && time <= self.notAfter
    }

    /// The value of the extension `oid`, or `nil` when absent; a repeated extension is refused.
    func extensionValue(_ oid: ASN1ObjectIdentifier) throws(AttestationError) -> [UInt8]? {
        let matching = self.extensions.filter { $0.oid == oid }
        guard matching.count <= 1 else {
            throw AttestationError(
                .invalidCertificate, "certificate \(self.subjectCommonName) repeats extension \(oid)")
        }
        return matching.first?.value
    }

    private struct TBSFields {
        var innerAlgorithm: [UInt8]
        var issuer: [UInt8]
        var subject: [UInt8]
        var issuerCommonName: String
        var subjectCommonName: String
        var notBefore: Date
        var notAfter: Date
        var subjectPublicKeyInfo: [UInt8]
        var extensions: [Extension]
    }

    private static func parseTBS(_ node: ASN1Node) throws -> TBSFields {
        try DER.sequence(node, identifier: .sequence) { nodes in
            let version = try DER.optionalExplicitlyTagged(&nodes, tagNumber: 0, tagClass: .contextSpecific) {
                try Int(derEncoded: $0)
            }
            guard version == 2 else {
                throw ASN1Error.invalidASN1Object(reason: "only X.509 version 3 certificates are accepted")
            }
            guard let serial = nodes.next(), serial.identifier == .integer,
                let algorithm = nodes.next(), let issuer = nodes.next(), let validity = nodes.next(),
                let subject = nodes.next(), let spki = nodes.next()
            else {
                throw ASN1Error.invalidASN1Object(reason: "the TBS certificate lacks a field")
            }
            let window = try DER.sequence(validity, identifier: .sequence) { times in
                guard let start = times.next(), let end = times.next() else {
                    throw ASN1Error.invalidASN1Object(reason: "the validity lacks a time")
                }
                return (try Self.time(start), try Self.time(end))
            }
            for uniqueID in [UInt(1), 2] {
                let tag = ASN1Identifier(tagWithNumber: uniqueID, tagClass: .contextSpecific)
                _ = try DER.optionalImplicitlyTagged(&nodes, tag: tag) as ASN1BitString?
            }
            let extensions: [Extension] =
                try DER.optionalExplicitlyTagged(&nodes, tagNumber: 3, tagClass: .contextSpecific) {
                    node -> [Extension] in
                    guard node.identifier == .sequence, case .constructed(let list) = node.content else {
                        throw ASN1Error.invalidASN1Object(reason: "the extensions are not a SEQUENCE")
                    }
                    return try list.map(Self.extensionOf)
                } ?? []
            guard nodes.next() == nil else {
                throw ASN1Error.invalidASN1Object(reason: "the TBS certificate has trailing fields")
            }
            return TBSFields(
                innerAlgorithm: Array(algorithm.encodedBytes),
                issuer: Array(issuer.encodedBytes),
                subject: Array(subject.encodedBytes),
                issuerCommonName: try Self.commonName(issuer),
                subjectCommonName: try Self.commonName(subject),
                notBefore: window.0,
                notAfter: window.1,
                subjectPublicKeyInfo: Array(spki.encodedBytes),
                extensions: extensions
            )
        }
    }

    private static func extensionOf(_ node: ASN1Node) throws -> Extension {
        try DER.sequence(node, identifier: .sequence) { nodes in
            guard let oidNode = nodes.next() else {
                throw ASN1Error.invalidASN1Object(reason: "an extension lacks its identifier")
            }
            let oid = try ASN1ObjectIdentifier(derEncoded: oidNode)
            let critical = try DER.decodeDefault(&nodes, defaultValue: false)
            guard let valueNode = nodes.next(), nodes.next() == nil else {
                throw ASN1Error.invalidASN1Object(reason: "extension \(oid) has no single value")
            }
            let value = try ASN1OctetString(derEncoded: valueNode)
            return Extension(oid: oid, critical: critical, value: Array(value.bytes))
        }
    }

    private static func commonName(_ node: ASN1Node) throws -> String {
        let name = try DistinguishedName(derEncoded: node)
        for relativeName in name {
            for attribute in relativeName where attribute.type == .RDNAttributeType.commonName {
                return attribute.value.description
            }
        }
        return "(no common name)"
    }

    private static func time(_ node: ASN1Node) throws -> Date {
        var components = DateComponents()
        switch node.identifier {
        case .utcTime:
            let time = try UTCTime(derEncoded: node)
            components = DateComponents(
                year: time.year, month: time.month, day: time.day,
                hour: time.hours, minute: time.minutes, second: time.seconds)
        case .generalizedTime:
            let time = try GeneralizedTime(derEncoded: node)
            components = DateComponents(
                year: time.year, month: time.month, day: time.day,
                hour: time.hours, minute: time.minutes, second: time.seconds)
        default:
            throw ASN1Error.invalidASN1Object(reason: "a validity time is neither UTCTime nor GeneralizedTime")
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        guard let date = calendar.date(from: components) else {
            throw ASN1Error.invalidASN1Object(reason: "a validity time is not a date")
        }
        return date
    }

    /// Checks `AlgorithmIdentifier { id-RSASSA-PSS, { [0] sha384, [1] mgf1(sha384), [2] 48, [3] 1 } }`.
    private static func checkPSSParameters(_ node: ASN1Node, _ name: String) throws {
        let valid: Bool = try DER.sequence(node, identifier: .sequence) { nodes in
            guard let oidNode = nodes.next(), try ASN1ObjectIdentifier(derEncoded: oidNode) == Self.rsassaPSS,
                let parameters = nodes.next(), nodes.next() == nil
            else {
                return false
            }
            return try DER.sequence(parameters, identifier: .sequence) { fields in
                let hash = try DER.optionalExplicitlyTagged(&fields, tagNumber: 0, tagClass: .contextSpecific) {
                    try Self.digestAlgorithm($0)
                }
                let mask = try DER.optionalExplicitlyTagged(&fields, tagNumber: 1, tagClass: .contextSpecific) {
                    node in
                    try DER.sequence(node, identifier: .sequence) { mgf in
                        guard let mgfOID = mgf.next(), let digest = mgf.next(), mgf.next() == nil else {
                            throw ASN1Error.invalidASN1Object(reason: "MGF without parameters")
                        }
                        return (try ASN1ObjectIdentifier(derEncoded: mgfOID), try Self.digestAlgorithm(digest))
                    }
                }
                let salt = try DER.optionalExplicitlyTagged(&fields, tagNumber: 2, tagClass: .contextSpecific) {
                    try Int(derEncoded: $0)
                }
                let trailer = try DER.optionalExplicitlyTagged(&fields, tagNumber: 3, tagClass: .contextSpecific) {
                    try Int(derEncoded: $0)
                }
                guard fields.next() == nil, let hash, let mask else {
                    return false
                }
                return hash == Self.sha384 && mask.0 == Self.mgf1 && mask.1 == Self.sha384 && salt == 48
                    && (trailer ?? 1) == 1
            }
        }
        guard valid else {
            throw AttestationError(
                .invalidCertificate,
                "\(name) is not signed with RSASSA-PSS, SHA-384, MGF1-SHA-384 and a 48-byte salt"
            )
        }
    }

    private static func digestAlgorithm(_ node: ASN1Node) throws -> ASN1ObjectIdentifier {
        try DER.sequence(node, identifier: .sequence) { nodes in
            guard let oid = nodes.next() else {
                throw ASN1Error.invalidASN1Object(reason: "a digest algorithm lacks its identifier")
            }
            if let parameters = nodes.next(), parameters.identifier != .null {
                throw ASN1Error.invalidASN1Object(reason: "a digest algorithm has parameters")
            }
            return try ASN1ObjectIdentifier(derEncoded: oid)
        }
    }
}
