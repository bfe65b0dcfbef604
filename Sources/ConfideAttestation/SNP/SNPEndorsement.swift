public import Crypto
public import Foundation

/// The key that signed an SEV-SNP report, as the report's SIGNING_KEY field names it.
public enum SNPSigningKey: String, Sendable, Hashable {
    /// The versioned chip endorsement key, unique to a chip and TCB, certified by the ASK.
    case vcek = "VCEK"
    /// The versioned loaded endorsement key, shared by a cloud provider's chips, certified by the ASVK.
    case vlek = "VLEK"
}

/// One certificate of a verified SEV-SNP chain, for people.
public struct SNPCertificateSummary: Sendable, Hashable, CustomStringConvertible {
    /// The certificate's common name (`SEV-VCEK`, `SEV-Milan`, `ARK-Milan`, ...).
    public let subject: String
    /// The issuer's common name.
    public let issuer: String
    /// The start of the validity window.
    public let notBefore: Date
    /// The end of the validity window.
    public let notAfter: Date
    /// Where the certificate came from: `given` (with the evidence or by the client) or `pinned` (built in).
    public let origin: String

    public var description: String {
        let formatter = ISO8601DateFormatter()
        let window = "valid \(formatter.string(from: self.notBefore)) .. \(formatter.string(from: self.notAfter))"
        return "\(self.subject) (\(self.origin), issued by \(self.issuer), \(window))"
    }
}

/// What checking an SEV-SNP report's certificates established: the chain from the signing key to AMD's pinned
/// root, the product line, and the platform the endorsement key certificate describes.
public struct SNPEndorsement: Sendable {
    /// The product line whose ARK the chain leads to.
    public let productLine: SNPProductLine
    /// Which key signed the report.
    public let signingKey: SNPSigningKey
    /// The chain, signing key certificate first, ARK last.
    public let chain: [SNPCertificateSummary]
    /// The TCB the endorsement key certificate is for, which is the report's REPORTED_TCB.
    public let tcb: String
    /// The VCEK's hardware ID (the chip's CHIP_ID), or `nil` for a VLEK.
    public let hardwareID: [UInt8]?
    /// The VLEK's cloud service provider ID, or `nil` for a VCEK.
    public let cloudServiceProviderID: String?
    /// The endorsement key's public key, which verifies the report's signature.
    public let publicKey: P384.Signing.PublicKey
}
