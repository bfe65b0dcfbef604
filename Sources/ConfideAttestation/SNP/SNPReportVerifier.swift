public import Crypto

/// Verifies SEV-SNP attestation reports with a VCEK certificate.
public enum SNPReportVerifier {
    /// Checks the report's ECDSA P-384/SHA-384 signature over bytes `[0, 0x2A0)` with the VCEK's public key.
    ///
    /// The VCEK itself is trusted as given: obtain it from AMD's key distribution service for the report's chip ID
    /// and TCB, or check its chain to AMD's root before passing it here.
    /// - Parameters:
    ///   - report: A parsed report.
    ///   - vcek: The versioned chip endorsement key certificate, DER.
    public static func verify(_ report: SNPReport, vcek: [UInt8]) throws(AttestationError) {
        try Self.verify(report, key: try VCEKPublicKey.parse(der: vcek))
    }

    /// Checks the report's signature with a P-384 public key.
    public static func verify(_ report: SNPReport, key: P384.Signing.PublicKey) throws(AttestationError) {
        let r = try Self.bigEndianScalar(report.signatureR, "R")
        let s = try Self.bigEndianScalar(report.signatureS, "S")
        guard let signature = try? P384.Signing.ECDSASignature(rawRepresentation: r + s),
            key.isValidSignature(signature, for: report.signedBytes)
        else {
            throw AttestationError(.invalidSignature, "SNP report signature does not verify")
        }
    }

    /// Converts a 72-byte little-endian component into the 48-byte big-endian scalar P-384 uses.
    private static func bigEndianScalar(_ littleEndian: [UInt8], _ name: String) throws(AttestationError) -> [UInt8] {
        guard littleEndian.count == 72, littleEndian.dropFirst(48).allSatisfy({ $0 == 0 }) else {
            throw AttestationError(.invalidSignature, "SNP signature \(name) does not fit in 48 bytes")
        }
        return Array(littleEndian.prefix(48).reversed())
    }
}
