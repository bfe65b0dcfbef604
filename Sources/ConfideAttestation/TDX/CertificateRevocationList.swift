import Crypto
public import Foundation
import SwiftASN1
public import X509

/// An X.509 certificate revocation list (RFC 5280) signed with ECDSA P-256 and SHA-256, as Intel's PCS issues them
/// (the PCK CRLs of the Platform and Processor CAs, and the Intel SGX Root CA's CRL).
///
/// Parsing checks structure only; ``verify(issuer:at:what:)`` checks the signature and the validity window.
public struct CertificateRevocationList: Sendable {
    /// The distinguished name of the CA that issued the list.
    public let issuer: DistinguishedName
    /// When the list was issued.
    public let thisUpdate: Date
    /// When the next list will be issued; the list must not be used after it.
    public let nextUpdate: Date
    /// The serial numbers of the revoked certificates.
    public let revokedSerialNumbers: Set<Certificate.SerialNumber>
    /// The DER encoding of the signed part (`tbsCertList`).
    let signedBytes: [UInt8]
    /// The DER-encoded ECDSA signature.
    let signature: [UInt8]

    /// The largest list accepted, in bytes; Intel's PCK CRLs are a few kilobytes.
    public static let maximumSize = 4 * 1024 * 1024

    private static let ecdsaWithSHA256: ASN1ObjectIdentifier = [1, 2, 840, 10045, 4, 3, 2]

    /// Parses a DER-encoded CRL.
    ///
    /// - Parameter what: What the list is, for messages (for example "the PCK CRL").
    /// - Throws: ``AttestationError`` when the list is oversized, not DER, not a CRL or not signed with ECDSA
    ///   P-256 and SHA-256, or has no `nextUpdate`.
    public init(derEncoded bytes: [UInt8], what: String) throws(AttestationError) {
        guard bytes.count <= Self.maximumSize else {
            throw AttestationError(.oversized, "\(what) is \(bytes.count) bytes, at most \(Self.maximumSize)")
        }
        do {
            let parsed = try Self.parse(try DER.parse(bytes), what: what)
            self = parsed
        } catch let error as AttestationError {
            throw error
        } catch {
            throw AttestationError(.malformed, "\(what) is not a DER certificate revocation list: \(error)")
        }
    }

    private init(
        issuer: DistinguishedName, thisUpdate: Date, nextUpdate: Date, revoked: Set<Certificate.SerialNumber>,
        signedBytes: [UInt8], signature: [UInt8]
    ) {
        self.issuer = issuer
        self.thisUpdate = thisUpdate
        self.nextUpdate = nextUpdate
        self.revokedSerialNumbers = revoked
        self.signedBytes = signedBytes
        self.signature = signature
    }

    private static func parse(_ root: ASN1Node, what: String) throws -> CertificateRevocationList {
        try DER.sequence(root, identifier: .sequence) { nodes in
            guard let tbsNode = nodes.next() else {
                throw AttestationError(.malformed, "\(what) has no tbsCertList")
            }
            let algorithm = try Self.algorithm(try Self.required(&nodes, what, "signatureAlgorithm"))
            guard algorithm == Self.ecdsaWithSHA256 else {
                throw AttestationError(
                    .unsupportedFormat, "\(what) is signed with \(algorithm), not ECDSA with SHA-256")
            }
            let signatureBits = try ASN1BitString(derEncoded: try Self.required(&nodes, what, "signatureValue"))
            guard nodes.next() == nil else {
                throw AttestationError(.malformed, "\(what) has data after its signature")
            }
            let tbs = try Self.parseTBS(tbsNode, what: what)
            guard tbs.algorithm == algorithm else {
                throw AttestationError(.malformed, "\(what) names two different signature algorithms")
            }
            return CertificateRevocationList(
                issuer: tbs.issuer, thisUpdate: tbs.thisUpdate, nextUpdate: tbs.nextUpdate, revoked: tbs.revoked,
                signedBytes: Array(tbsNode.encodedBytes), signature: Array(signatureBits.bytes))
        }
    }

    private struct TBS {
        var algorithm: ASN1ObjectIdentifier
        var issuer: DistinguishedName
        var thisUpdate: Date
        var nextUpdate: Date
        var revoked: Set<Certificate.SerialNumber>
    }

    private static func parseTBS(_ node: ASN1Node, what: String) throws -> TBS {
        try DER.sequence(node, identifier: .sequence) { nodes in
            var next = try Self.required(&nodes, what, "signature algorithm")
            if next.identifier == .integer {
                let version = try Int(derEncoded: next)
                guard version == 1 else {
                    throw AttestationError(.unsupportedFormat, "\(what) has version \(version + 1), not 2")
                }
                next = try Self.required(&nodes, what, "signature algorithm")
            }
            let algorithm = try Self.algorithm(next)
            let issuer = try DistinguishedName(derEncoded: try Self.required(&nodes, what, "issuer"))
            let thisUpdate = try Self.time(try Self.required(&nodes, what, "thisUpdate"), what, "thisUpdate")
            guard let nextUpdateNode = nodes.next(), nextUpdateNode.identifier != .sequence,
                nextUpdateNode.identifier.tagClass == .universal
            else {
                throw AttestationError(.malformed, "\(what) has no nextUpdate")
            }
            let nextUpdate = try Self.time(nextUpdateNode, what, "nextUpdate")
            var revoked: Set<Certificate.SerialNumber> = []
            if let entries = nodes.next(), entries.identifier == .sequence {
                try DER.sequence(entries, identifier: .sequence) { entryNodes in
                    while let entry = entryNodes.next() {
                        try DER.sequence(entry, identifier: .sequence) { fields in
                            let serial = try ArraySlice<UInt8>(derEncoded: try Self.required(&fields, what, "serial"))
                            revoked.insert(Certificate.SerialNumber(bytes: serial))
                            while fields.next() != nil {}
                        }
                    }
                }
            }
            while nodes.next() != nil {}
            return TBS(
                algorithm: algorithm, issuer: issuer, thisUpdate: thisUpdate, nextUpdate: nextUpdate, revoked: revoked)
        }
    }

    private static func required(_ nodes: inout ASN1NodeCollection.Iterator, _ what: String, _ field: String) throws
        -> ASN1Node
    {
        guard let node = nodes.next() else {
            throw AttestationError(.malformed, "\(what) ends before its \(field)")
        }
        return node
    }

    private static func algorithm(_ node: ASN1Node) throws -> ASN1ObjectIdentifier {
        try DER.sequence(node, identifier: .sequence) { nodes in
            guard let oid = nodes.next() else {
                throw AttestationError(.malformed, "an algorithm identifier is empty")
            }
            while nodes.next() != nil {}
            return try ASN1ObjectIdentifier(derEncoded: oid)
        }
    }

    private static func time(_ node: ASN1Node, _ what: String, _ field: String) throws -> Date {
        let date: Date?
        switch node.identifier {
        case .utcTime:
            let time = try UTCTime(derEncoded: node)
            date = UTCClock.date(
                year: time.year, month: time.month, day: time.day, hours: time.hours, minutes: time.minutes,
                seconds: time.seconds)
        case .generalizedTime:
            let time = try GeneralizedTime(derEncoded: node)
            date = UTCClock.date(
                year: time.year, month: time.month, day: time.day, hours: time.hours, minutes: time.minutes,
                seconds: time.seconds)
        default:
            date = nil
        }
        guard let date else {
            throw AttestationError(.malformed, "\(what) has an invalid \(field)")
        }
        return date
    }

    /// Checks that `issuer` signed the list and issued it under its subject name, and that `time` is before its
    /// `nextUpdate`. As in dcap-qvl (webpki), `thisUpdate` is not compared: a list issued after `time` is fresher,
    /// not less valid.
    ///
    /// - Throws: ``AttestationError`` naming the list: ``AttestationError/ErrorCode/untrustedCertificateChain`` when
    ///   another CA issued it, ``AttestationError/ErrorCode/invalidSignature`` or
    ///   ``AttestationError/ErrorCode/expired``.
    public func verify(issuer: Certificate, at time: Date, what: String) throws(AttestationError) {
        guard self.issuer == issuer.subject else {
            throw AttestationError(
                .untrustedCertificateChain, "\(what) is issued by \(self.issuer), not by \(issuer.subject)")
        }
        guard let key = P256.Signing.PublicKey(issuer.publicKey),
            let signature = try? P256.Signing.ECDSASignature(derRepresentation: self.signature),
            key.isValidSignature(signature, for: self.signedBytes)
        else {
            throw AttestationError(
                .invalidSignature, "\(what)'s signature does not verify with \(issuer.subject)'s key")
        }
        guard time < self.nextUpdate else {
            throw AttestationError(
                .expired,
                "\(what) expired at its nextUpdate \(UTCClock.format(self.nextUpdate)) (verifying at "
                    + "\(UTCClock.format(time)))")
        }
    }

    /// Whether the list revokes `certificate` (by serial number; the caller has matched the issuer).
    public func revokes(_ certificate: Certificate) -> Bool {
        self.revokedSerialNumbers.contains(certificate.serialNumber)
    }
}
