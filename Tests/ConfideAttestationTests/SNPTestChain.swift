import ConfideAttestation
import Crypto
import Foundation
import SwiftASN1
import X509
import _CryptoExtras

/// Builds AMD-style certificates (RSASSA-PSS SHA-384 signatures) and re-signs SEV-SNP reports, so that tests reach
/// the checks that come after a valid signature.
enum SNPTestChain {
    /// `AlgorithmIdentifier { id-RSASSA-PSS, { sha384, mgf1(sha384), salt 48, trailer 1 } }` as AMD writes it.
    static let pssAlgorithm: [UInt8] =
        hex(
            "304606092a864886f70d01010a3039a00f300d06096086480165030402020500a11c301a06092a864886f70d010108300d0609"
                + "6086480165030402020500a203020130a303020101") ?? []

    /// An RSA issuer: its key and its name.
    struct Authority {
        let key: _RSA.Signing.PrivateKey
        let name: String
        let certificate: [UInt8]
    }

    /// A self-signed test ARK named `ARK-<line>`.
    static func root(_ line: String = "Milan") throws -> Authority {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let name = "ARK-\(line)"
        let certificate = try Self.certificate(
            issuer: name, subject: name, spki: Array(key.publicKey.derRepresentation), extensions: [], signer: key)
        return Authority(key: key, name: name, certificate: certificate)
    }

    /// A test intermediate named `name`, signed by `issuer`.
    static func intermediate(_ name: String, issuer: Authority) throws -> Authority {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let certificate = try Self.certificate(
            issuer: issuer.name, subject: name, spki: Array(key.publicKey.derRepresentation), extensions: [],
            signer: issuer.key)
        return Authority(key: key, name: name, certificate: certificate)
    }

    /// A test VCEK (or, with `cloudServiceProviderID`, VLEK) for `key`, signed by `issuer`, with AMD's extensions.
    static func vcek(
        key: P384.Signing.PublicKey,
        issuer: Authority,
        productName: String = "Milan-B0",
        spls: [UInt: UInt8],
        hardwareID: [UInt8]?,
        cloudServiceProviderID: String? = nil
    ) throws -> [UInt8] {
        var extensions: [(ASN1ObjectIdentifier, [UInt8])] = []
        extensions.append(([1, 3, 6, 1, 4, 1, 3704, 1, 1], try Self.der(1)))
        extensions.append(([1, 3, 6, 1, 4, 1, 3704, 1, 2], try Self.der(ASN1IA5String(productName))))
        for (arc, level) in spls.sorted(by: { $0.key < $1.key }) {
            let oid = try ASN1ObjectIdentifier(elements: [1, 3, 6, 1, 4, 1, 3704, 1, 3, arc])
            extensions.append((oid, try Self.der(Int(level))))
        }
        if let hardwareID {
            let hwID = try Self.der(ASN1OctetString(contentBytes: hardwareID[...]))
            extensions.append(([1, 3, 6, 1, 4, 1, 3704, 1, 4], hwID))
        }
        if let cloudServiceProviderID {
            extensions.append(([1, 3, 6, 1, 4, 1, 3704, 1, 5], try Self.der(ASN1IA5String(cloudServiceProviderID))))
        }
        return try Self.certificate(
            issuer: issuer.name, subject: cloudServiceProviderID == nil ? "SEV-VCEK" : "SEV-VLEK",
            spki: Array(key.derRepresentation), extensions: extensions, signer: issuer.key)
    }

    /// The SPL extensions a Milan or Genoa VCEK for `tcb` carries.
    static func milanSPLs(_ tcb: UInt64) -> [UInt: UInt8] {
        func byte(_ index: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: tcb >> (8 * index)) }
        return [1: byte(0), 2: byte(1), 4: byte(2), 5: byte(3), 6: byte(4), 7: byte(5), 3: byte(6), 8: byte(7)]
    }

    /// An X.509 v3 certificate with AMD's RSASSA-PSS signature by `signer`.
    static func certificate(
        issuer: String,
        subject: String,
        spki: [UInt8],
        extensions: [(ASN1ObjectIdentifier, [UInt8])],
        signer: _RSA.Signing.PrivateKey,
        notBefore: Date = Date(timeIntervalSince1970: 1_600_000_000),
        notAfter: Date = Date(timeIntervalSinceNow: 86_400 * 365)
    ) throws -> [UInt8] {
        var tbs = DER.Serializer()
        try tbs.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific) { try $0.serialize(2) }
            try coder.serialize(Int.random(in: 1...1_000_000))
            coder.serializeRawBytes(Self.pssAlgorithm)
            try coder.serialize(Self.name(issuer))
            try coder.appendConstructedNode(identifier: .sequence) { validity in
                try validity.serialize(Self.utcTime(notBefore))
                try validity.serialize(Self.utcTime(notAfter))
            }
            try coder.serialize(Self.name(subject))
            coder.serializeRawBytes(spki)
            if !extensions.isEmpty {
                try coder.serialize(explicitlyTaggedWithTagNumber: 3, tagClass: .contextSpecific) { tagged in
                    try tagged.appendConstructedNode(identifier: .sequence) { list in
                        for (oid, value) in extensions {
                            try list.appendConstructedNode(identifier: .sequence) { item in
                                try item.serialize(oid)
                                try item.serialize(ASN1OctetString(contentBytes: value[...]))
                            }
                        }
                    }
                }
            }
        }
        return try Self.wrap(tbs: tbs.serializedBytes, signer: signer)
    }

    /// `tbs` signed by `signer` as an AMD certificate.
    static func wrap(tbs: [UInt8], signer: _RSA.Signing.PrivateKey) throws -> [UInt8] {
        let signature = try signer.signature(for: SHA384.hash(data: tbs), padding: .PSS).rawRepresentation
        var certificate = DER.Serializer()
        try certificate.appendConstructedNode(identifier: .sequence) { coder in
            coder.serializeRawBytes(tbs)
            coder.serializeRawBytes(Self.pssAlgorithm)
            try coder.serialize(ASN1BitString(bytes: Array(signature)[...]))
        }
        return certificate.serializedBytes
    }

    /// The TBS bytes of a DER certificate.
    static func tbs(of certificate: [UInt8]) throws -> [UInt8] {
        let root = try DER.parse(certificate)
        guard case .constructed(let children) = root.content, let tbs = children.first(where: { _ in true }) else {
            throw ASN1Error.invalidASN1Object(reason: "not a certificate")
        }
        return Array(tbs.encodedBytes)
    }

    /// `report` with its signature replaced by one from `key`.
    static func resign(_ report: [UInt8], with key: P384.Signing.PrivateKey) throws -> [UInt8] {
        var bytes = report
        let signedCount = SNPReport.signatureOffset
        let signature = try key.signature(for: Array(bytes[0..<signedCount])).rawRepresentation
        let r = Array(signature.prefix(48).reversed()) + Array(repeating: 0, count: 24)
        let s = Array(signature.suffix(48).reversed()) + Array(repeating: 0, count: 24)
        bytes.replaceSubrange(signedCount..<signedCount + 144, with: r + s)
        return bytes
    }

    /// Sets the little-endian integer of `size` bytes at `offset`.
    static func set(_ bytes: inout [UInt8], at offset: Int, size: Int, to value: UInt64) {
        for index in 0..<size {
            bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))
        }
    }

    /// The little-endian integer of `size` bytes at `offset`.
    static func get(_ bytes: [UInt8], at offset: Int, size: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in (0..<size).reversed() {
            value = value << 8 | UInt64(bytes[offset + index])
        }
        return value
    }

    private static func name(_ commonName: String) throws -> DistinguishedName {
        try DistinguishedName {
            OrganizationalUnitName("Engineering")
            CountryName("US")
            LocalityName("Santa Clara")
            StateOrProvinceName("CA")
            OrganizationName("Advanced Micro Devices")
            CommonName(commonName)
        }
    }

    private static func utcTime(_ date: Date) throws -> UTCTime {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return try UTCTime(
            year: parts.year ?? 2000, month: parts.month ?? 1, day: parts.day ?? 1, hours: parts.hour ?? 0,
            minutes: parts.minute ?? 0, seconds: parts.second ?? 0)
    }

    private static func der(_ value: some DERSerializable) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(value)
        return serializer.serializedBytes
    }
}
