public import Crypto
public import Foundation
import SwiftASN1
@_spi(FixedExpiryValidationTime) public import X509

/// Verifies TDX quotes offline: the quote signature, the QE report signature and binding, and the PCK chain up to
/// the pinned ``IntelSGXRootCA``.
///
/// ``verify(_:at:)`` runs every check; the individual checks are public so that callers can run only those a
/// change can affect.
public enum TDXQuoteVerifier {
    /// Runs every check on `quote`.
    ///
    /// - Parameters:
    ///   - quote: A parsed quote.
    ///   - time: The time at which the PCK chain must be valid; `nil` means the current time.
    /// - Throws: ``AttestationError`` naming the first check that failed.
    public static func verify(_ quote: TDXQuote, at time: Date? = nil) async throws(AttestationError) {
        guard quote.header.qeVendorID == TDXQuoteHeader.intelQEVendorID else {
            throw AttestationError(
                .unsupportedFormat,
                "QE vendor ID \(Hex.encode(quote.header.qeVendorID)) is not Intel's"
            )
        }
        try Self.verifyQuoteSignature(quote)
        let chain = try PCKCertificateChain(pem: quote.signatureData.pckCertificateChain)
        try Self.verifyQEReport(quote, pckKey: try chain.leafKey())
        try await chain.validate(at: time)
    }

    /// Checks the quote signature over the header and body with the attestation key.
    public static func verifyQuoteSignature(_ quote: TDXQuote) throws(AttestationError) {
        let key: P256.Signing.PublicKey
        do {
            key = try P256.Signing.PublicKey(rawRepresentation: quote.signatureData.attestationKey)
        } catch {
            throw AttestationError(.invalidKey, "attestation key is not a P-256 point")
        }
        try Self.checkSignature(quote.signatureData.signature, of: quote.signedBytes, with: key, "quote signature")
    }

    /// Checks the QE report signature with the PCK leaf key, that the QE report data binds the attestation key (its
    /// first 32 bytes are `SHA-256(attestation key || QE authentication data)` and the remaining 32 are zero), and
    /// that the report is from Intel's production TD quoting enclave (``QEIdentity/intelTDQE``).
    public static func verifyQEReport(_ quote: TDXQuote, pckKey: P256.Signing.PublicKey) throws(AttestationError) {
        let data = quote.signatureData
        try Self.checkSignature(data.qeReportSignature, of: data.qeReport.raw, with: pckKey, "QE report signature")
        let expected =
            Array(SHA256.hash(data: data.attestationKey + data.qeAuthenticationData)) + [UInt8](repeating: 0, count: 32)
        guard data.qeReport.reportData == expected else {
            throw AttestationError(.invalidSignature, "QE report data does not bind the attestation key")
        }
        try QEIdentity.intelTDQE.check(data.qeReport)
    }

    private static func checkSignature(
        _ raw: [UInt8],
        of message: [UInt8],
        with key: P256.Signing.PublicKey,
        _ what: String
    ) throws(AttestationError) {
        guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: raw),
            key.isValidSignature(signature, for: message)
        else {
            throw AttestationError(.invalidSignature, "\(what) does not verify")
        }
    }
}

/// The PCK certificate chain of a TDX quote.
public struct PCKCertificateChain: Sendable {
    /// The PCK leaf certificate.
    public let leaf: Certificate
    /// The other certificates the quote carries (the intermediate CA and usually the root).
    public let intermediates: [Certificate]

    /// Parses the PEM certificates of a quote's certification data (trailing NUL bytes are ignored).
    public init(pem: [UInt8]) throws(AttestationError) {
        var text = pem[...]
        while text.last == 0 {
            text = text.dropLast()
        }
        let certificates: [Certificate]
        do {
            certificates = try PEMDocument.parseMultiple(pemString: String(decoding: text, as: UTF8.self))
                .map { try Certificate(pemDocument: $0) }
        } catch {
            throw AttestationError(.invalidCertificate, "PCK certificate chain does not parse: \(error)")
        }
        guard let leaf = certificates.first, certificates.count <= 8 else {
            throw AttestationError(
                .invalidCertificate,
                "PCK certificate chain holds \(certificates.count) certificates"
            )
        }
        self.leaf = leaf
        self.intermediates = Array(certificates.dropFirst())
    }

    /// The PCK leaf's P-256 public key.
    public func leafKey() throws(AttestationError) -> P256.Signing.PublicKey {
        guard let key = P256.Signing.PublicKey(self.leaf.publicKey) else {
            throw AttestationError(.invalidKey, "PCK leaf key is not a P-256 key")
        }
        return key
    }

    /// Validates the chain up to the pinned Intel SGX Root CA.
    ///
    /// - Parameter time: The time at which every certificate must be valid; `nil` means the current time.
    public func validate(at time: Date? = nil) async throws(AttestationError) {
        let root = try IntelSGXRootCA.certificate()
        var verifier = Verifier(rootCertificates: CertificateStore([root])) {
            if let time {
                RFC5280Policy(fixedExpiryValidationTime: time)
            } else {
                RFC5280Policy()
            }
        }
        let result = await verifier.validate(leaf: self.leaf, intermediates: CertificateStore(self.intermediates))
        switch result {
        case .validCertificate:
            return
        case .couldNotValidate(let failures):
            let reasons = failures.map { "\($0.policyFailureReason)" }.joined(separator: "; ")
            throw AttestationError(
                .untrustedCertificateChain,
                "PCK chain does not lead to the Intel SGX Root CA: \(reasons)"
            )
        }
    }
}
