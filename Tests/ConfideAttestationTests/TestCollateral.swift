import ConfideAttestation
import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

/// A test PKI in the shape of Intel's (a root, a PCK Platform CA, a TCB signing certificate and a PCK certificate
/// carrying the real SGX extension of a shared quote), the shared quote re-signed into it, and collateral derived
/// from the shared collateral and re-signed by it. A policy pins its root through the package-level override.
struct TestCollateral {
    static let ecdsaWithSHA256: ASN1ObjectIdentifier = [1, 2, 840, 10045, 4, 3, 2]
    static let quoteFile = "tdx-quote-v4-b.bin"
    static let collateralFile = "tdx-quote-v4-b.collateral.json"
    /// Inside every window of the shared collateral of tdx-quote-v4-b.
    static let time = Date(timeIntervalSince1970: 1_750_377_600)  // 2025-06-20T00:00:00Z

    let rootKey = P256.Signing.PrivateKey()
    let platformKey = P256.Signing.PrivateKey()
    let signingKey = P256.Signing.PrivateKey()
    let pckKey = P256.Signing.PrivateKey()
    let root: Certificate
    let platformCA: Certificate
    let tcbSigning: Certificate
    let pck: Certificate
    /// The shared quote with its QE report signed by ``pckKey`` and this PKI's PCK chain.
    let quoteBytes: [UInt8]
    /// ``quoteBytes``, parsed.
    let quote: TDXQuote
    /// The members of the shared collateral, decoded.
    var tcbInfo: [String: Any]
    var qeIdentity: [String: Any]
    /// Serial numbers the PCK CRL and the root CA CRL list.
    var revokedByPlatformCA: [Certificate.SerialNumber] = []
    var revokedByRoot: [Certificate.SerialNumber] = []

    init() throws {
        let notBefore = Date(timeIntervalSince1970: 1_577_836_800)  // 2020
        let notAfter = Date(timeIntervalSince1970: 2_208_988_800)  // 2040
        func name(_ commonName: String) throws -> DistinguishedName {
            try DistinguishedName {
                CommonName(commonName)
                OrganizationName("Confide Test")
            }
        }
        let caExtensions = try Certificate.Extensions([
            Certificate.Extension(BasicConstraints.isCertificateAuthority(maxPathLength: nil), critical: true),
            Certificate.Extension(KeyUsage(keyCertSign: true, cRLSign: true), critical: true),
        ])
        let rootName = try name("Test SGX Root CA")
        self.root = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(1), publicKey: .init(self.rootKey.publicKey),
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: rootName, subject: rootName,
            signatureAlgorithm: .ecdsaWithSHA256, extensions: caExtensions, issuerPrivateKey: .init(self.rootKey))
        let platformName = try name("Test SGX PCK Platform CA")
        self.platformCA = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(2), publicKey: .init(self.platformKey.publicKey),
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: rootName, subject: platformName,
            signatureAlgorithm: .ecdsaWithSHA256, extensions: caExtensions, issuerPrivateKey: .init(self.rootKey))
        let leafExtensions = try Certificate.Extensions([
            Certificate.Extension(BasicConstraints.notCertificateAuthority, critical: true),
            Certificate.Extension(KeyUsage(digitalSignature: true, nonRepudiation: true), critical: true),
        ])
        self.tcbSigning = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(3), publicKey: .init(self.signingKey.publicKey),
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: rootName,
            subject: try name("Test SGX TCB Signing"),
            signatureAlgorithm: .ecdsaWithSHA256, extensions: leafExtensions, issuerPrivateKey: .init(self.rootKey))

        let shared = try TDXQuote(bytes: try Fixtures.bytes(Self.quoteFile))
        let realPCK = try PCKCertificateChain(pem: shared.signatureData.pckCertificateChain).leaf
        let sgxExtension = try #require(realPCK.extensions[oid: PCKExtension.oid])
        var pckExtensions = leafExtensions
        try pckExtensions.append(sgxExtension)
        self.pck = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(4), publicKey: .init(self.pckKey.publicKey),
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: platformName,
            subject: try name("Test SGX PCK Certificate"), signatureAlgorithm: .ecdsaWithSHA256,
            extensions: pckExtensions, issuerPrivateKey: .init(self.platformKey))
        let chain = try [self.pck, self.platformCA, self.root].map { try $0.serializeAsPEM().pemString }
            .joined(separator: "\n")
        self.quoteBytes = try Self.resign(shared, qeReportKey: self.pckKey, chain: Array(chain.utf8))
        self.quote = try TDXQuote(bytes: self.quoteBytes)

        let collateral = try Self.sharedCollateral()
        let tcbInfo = try #require(collateral["tcb_info"])
        let qeIdentity = try #require(collateral["qe_identity"])
        self.tcbInfo = try #require(JSONSerialization.jsonObject(with: Data(tcbInfo.utf8)) as? [String: Any])
        self.qeIdentity = try #require(JSONSerialization.jsonObject(with: Data(qeIdentity.utf8)) as? [String: Any])
    }

    static func sharedCollateral() throws -> [String: String] {
        try #require(
            JSONSerialization.jsonObject(with: Data(try Fixtures.bytes(Self.collateralFile))) as? [String: String])
    }

    /// `quote` with its QE report signed by `qeReportKey` and `chain` as its PCK certificate chain.
    static func resign(_ quote: TDXQuote, qeReportKey: P256.Signing.PrivateKey, chain: [UInt8]) throws -> [UInt8] {
        func le16(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)] }
        func le32(_ value: Int) -> [UInt8] { le16(value & 0xFFFF) + le16(value >> 16) }
        let data = quote.signatureData
        let qeSignature = Array(try qeReportKey.signature(for: data.qeReport.raw).rawRepresentation)
        let certification =
            data.qeReport.raw + qeSignature + le16(data.qeAuthenticationData.count) + data.qeAuthenticationData
            + le16(5) + le32(chain.count) + chain
        let signatureData = data.signature + data.attestationKey + le16(6) + le32(certification.count) + certification
        return quote.signedBytes + le32(signatureData.count) + signatureData
    }

    /// The quote of this PKI with its header and body changed by `change`, its QE report changed by `changeReport`
    /// and signed by ``pckKey``, and `authenticationData` (or the shared quote's) as QE authentication data: the QE
    /// report data binds a fresh attestation key, which signs the changed header and body.
    func requoted(
        _ change: (inout [UInt8]) -> Void = { _ in }, qeReport changeReport: (inout [UInt8]) -> Void = { _ in },
        authenticationData: [UInt8]? = nil
    ) throws -> [UInt8] {
        func le16(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)] }
        func le32(_ value: Int) -> [UInt8] { le16(value & 0xFFFF) + le16(value >> 16) }
        let attestationKey = P256.Signing.PrivateKey()
        let publicKey = Array(attestationKey.publicKey.rawRepresentation)
        let data = self.quote.signatureData
        let authentication = authenticationData ?? data.qeAuthenticationData
        var signed = self.quote.signedBytes
        change(&signed)
        var report = data.qeReport.raw
        report.replaceSubrange(320..<352, with: Array(SHA256.hash(data: publicKey + authentication)))
        changeReport(&report)
        let chain = Array(try self.pckChainPEM().utf8)
        let certification =
            report + Array(try self.pckKey.signature(for: report).rawRepresentation) + le16(authentication.count)
            + authentication + le16(5) + le32(chain.count) + chain
        let signatureData =
            Array(try attestationKey.signature(for: signed).rawRepresentation) + publicKey + le16(6)
            + le32(certification.count) + certification
        return signed + le32(signatureData.count) + signatureData
    }

    /// This PKI's PCK chain (PCK certificate, Platform CA, root) as PEM text.
    func pckChainPEM() throws -> String {
        try Self.pem([self.pck, self.platformCA, self.root])
    }

    /// `certificates` as PEM text, one after the other.
    static func pem(_ certificates: [Certificate]) throws -> String {
        try certificates.map { try $0.serializeAsPEM().pemString }.joined(separator: "\n")
    }

    /// The level of `tcbLevels` at `index` of the TCB Info, changed by `change`.
    mutating func changeTCBLevel(_ index: Int, _ change: (inout [String: Any]) -> Void) throws {
        var levels = try #require(self.tcbInfo["tcbLevels"] as? [[String: Any]])
        change(&levels[index])
        self.tcbInfo["tcbLevels"] = levels
    }

    /// The TCB levels of the TDX module identity `id`, replaced.
    mutating func setModuleLevels(
        _ id: String, _ levels: [(isvsvn: Int, status: String, advisories: [String])]
    ) throws {
        var identities = try #require(self.tcbInfo["tdxModuleIdentities"] as? [[String: Any]])
        let index = try #require(identities.firstIndex { $0["id"] as? String == id })
        identities[index]["tcbLevels"] = Self.svnLevels(levels)
        self.tcbInfo["tdxModuleIdentities"] = identities
    }

    /// The QE Identity's TCB levels, replaced.
    mutating func setQELevels(_ levels: [(isvsvn: Int, status: String, advisories: [String])]) {
        self.qeIdentity["tcbLevels"] = Self.svnLevels(levels)
    }

    static func svnLevels(_ levels: [(isvsvn: Int, status: String, advisories: [String])]) -> [[String: Any]] {
        levels.map {
            [
                "tcb": ["isvsvn": $0.isvsvn], "tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": $0.status,
                "advisoryIDs": $0.advisories,
            ]
        }
    }

    /// The collateral JSON, every item signed by this PKI; `tamper` changes the signed TCB Info text afterwards.
    func json(tamper: ((String) -> String)? = nil) throws -> [UInt8] {
        let tcbInfo = String(decoding: try JSONSerialization.data(withJSONObject: self.tcbInfo), as: UTF8.self)
        let qeIdentity = String(decoding: try JSONSerialization.data(withJSONObject: self.qeIdentity), as: UTF8.self)
        let signingChain = try [self.tcbSigning, self.root].map { try $0.serializeAsPEM().pemString }
            .joined(separator: "\n")
        let crlChain = try [self.platformCA, self.root].map { try $0.serializeAsPEM().pemString }
            .joined(separator: "\n")
        let collateral: [String: String] = [
            "tcb_info": tamper?(tcbInfo) ?? tcbInfo,
            "tcb_info_signature": Self.hex(try self.signingKey.signature(for: Array(tcbInfo.utf8)).rawRepresentation),
            "tcb_info_issuer_chain": signingChain,
            "qe_identity": qeIdentity,
            "qe_identity_signature": Self.hex(
                try self.signingKey.signature(for: Array(qeIdentity.utf8)).rawRepresentation),
            "qe_identity_issuer_chain": signingChain,
            "pck_crl": Self.hex(
                try Self.crl(issuer: self.platformCA, key: self.platformKey, revoked: self.revokedByPlatformCA)),
            "pck_crl_issuer_chain": crlChain,
            "root_ca_crl": Self.hex(try Self.crl(issuer: self.root, key: self.rootKey, revoked: self.revokedByRoot)),
        ]
        return Array(try JSONSerialization.data(withJSONObject: collateral))
    }

    /// A policy that pins this PKI's root, accepts the quote's MRTD and report data, and brings `collateral`.
    func policy(_ collateral: [UInt8]) -> AttestationPolicy {
        var policy = AttestationPolicy(expectedReportData: self.quote.body.reportData)
        policy.allowedTDX = [TDXReferenceValues(mrTD: self.quote.body.mrTD)]
        policy.validationTime = Self.time
        policy.tdxCollateral = collateral
        policy.tdxRootOverride = self.root
        return policy
    }

    /// Verifies the re-signed quote with `policy`.
    func verify(_ policy: AttestationPolicy) async throws -> VerifiedEvidence {
        try await AttestationVerifier.verify(evidence: self.quoteBytes, type: .tdxQuote, policy: policy)
    }

    /// A DER CRL (version 2) by `issuer`, valid from a day before ``time`` to 60 days after it, listing `revoked`.
    static func crl(issuer: Certificate, key: P256.Signing.PrivateKey, revoked: [Certificate.SerialNumber]) throws
        -> [UInt8]
    {
        func utc(_ date: Date) throws -> UTCTime {
            let parts = Calendar(identifier: .gregorian).dateComponents(in: .gmt, from: date)
            return try UTCTime(
                year: parts.year ?? 0, month: parts.month ?? 0, day: parts.day ?? 0, hours: parts.hour ?? 0,
                minutes: parts.minute ?? 0, seconds: parts.second ?? 0)
        }
        var tbs = DER.Serializer()
        try tbs.appendConstructedNode(identifier: .sequence) { tbs in
            try tbs.serialize(1)
            try tbs.appendConstructedNode(identifier: .sequence) { try $0.serialize(Self.ecdsaWithSHA256) }
            try tbs.serialize(issuer.subject)
            try tbs.serialize(try utc(Self.time.addingTimeInterval(-86_400)))
            try tbs.serialize(try utc(Self.time.addingTimeInterval(60 * 86_400)))
            if !revoked.isEmpty {
                try tbs.appendConstructedNode(identifier: .sequence) { list in
                    for serial in revoked {
                        try list.appendConstructedNode(identifier: .sequence) { entry in
                            try entry.serialize(serial.bytes)
                            try entry.serialize(try utc(Self.time.addingTimeInterval(-3_600)))
                        }
                    }
                }
            }
        }
        let signature = Array(try key.signature(for: tbs.serializedBytes).derRepresentation)
        var crl = DER.Serializer()
        try crl.appendConstructedNode(identifier: .sequence) { crl in
            crl.serializeRawBytes(tbs.serializedBytes)
            try crl.appendConstructedNode(identifier: .sequence) { try $0.serialize(Self.ecdsaWithSHA256) }
            try crl.serialize(ASN1BitString(bytes: signature[...]))
        }
        return crl.serializedBytes
    }

    static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
