public import Crypto
public import Foundation

/// The key that signed an SEV-SNP report, as the report's SIGNING_KEY field names it.
public enum SNPSigningKey: String, Sendable, Hashable {
    /// The versioned chip endorsement key, unique to a chip and TCB, certified by the ASK.
    case vcek = "VCEK"
    /// The versioned loaded endorsement key, shared by a cloud provider's chips, certified by the ASVK.
    case vlek = "VLEK"
}

/// The lowest security patch levels an SEV-SNP report's REPORTED_TCB may have; `nil` levels are not checked.
///
/// The VCEK matches the reported TCB exactly, so this is how a client refuses a genuine chip that runs firmware or
/// microcode older than it trusts.
public struct SNPMinimumTCB: Sendable, Hashable {
    /// The lowest bootloader SPL.
    public var bootloader: UInt8?
    /// The lowest TEE (PSP OS) SPL.
    public var tee: UInt8?
    /// The lowest SNP firmware SPL.
    public var snp: UInt8?
    /// The lowest microcode SPL.
    public var microcode: UInt8?
    /// The lowest FMC SPL; only Turin and later have one, and it is not checked on Milan and Genoa.
    public var fmc: UInt8?

    /// Creates a minimum; levels left `nil` are not checked.
    public init(
        bootloader: UInt8? = nil,
        tee: UInt8? = nil,
        snp: UInt8? = nil,
        microcode: UInt8? = nil,
        fmc: UInt8? = nil
    ) {
        self.bootloader = bootloader
        self.tee = tee
        self.snp = snp
        self.microcode = microcode
        self.fmc = fmc
    }

    /// The levels by the names ``SNPEndorsement/tcb`` uses.
    var levels: [(name: String, minimum: UInt8?)] {
        [
            ("FMC", self.fmc), ("bootloader", self.bootloader), ("TEE", self.tee), ("SNP", self.snp),
            ("microcode", self.microcode),
        ]
    }
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
