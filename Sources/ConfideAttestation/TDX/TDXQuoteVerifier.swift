import ConfideJSON
import ConfideMeasurement
public import Crypto
public import Foundation
import SwiftASN1
@_spi(FixedExpiryValidationTime) public import X509

/// Verifies TDX quotes offline: the quote signature, the QE report signature and binding, the PCK chain up to
/// the pinned ``IntelSGXRootCA``, and with Intel's collateral (``TDXCollateral``) its revocation, the quoting
/// enclave's identity and TCB level, and the platform's TCB status.
///
/// ``verify(_:collateral:at:)`` runs every check, ``verify(_:endorsements:policy:)`` applies a policy's TCB rules
/// as well; the individual checks are public so that callers can run only those a change can affect.
public enum TDXQuoteVerifier {
    /// Runs the checks that need no collateral on `quote`: the quote signature, the QE report's signature and
    /// binding, the QE identity against Intel's fixed values (``QEIdentity/intelTDQE``), and the PCK chain.
    ///
    /// - Parameters:
    ///   - quote: A parsed quote.
    ///   - time: The time at which the PCK chain must be valid; `nil` means the current time.
    /// - Throws: ``AttestationError`` naming the first check that failed.
    public static func verify(_ quote: TDXQuote, at time: Date? = nil) async throws(AttestationError) {
        _ = try await Self.verify(quote, collateral: nil, at: time)
    }

    /// Runs every check on `quote`: those of ``verify(_:at:)`` and, with collateral, the collateral's signatures,
    /// issuer chains, revocation lists and validity windows, the revocation of the PCK certificate and its issuer,
    /// the QE identity and TCB level from the collateral, and the platform's TCB evaluation.
    ///
    /// - Parameters:
    ///   - quote: A parsed quote.
    ///   - collateral: Intel's collateral for the quote's platform; `nil` checks the QE identity against Intel's
    ///     fixed values and evaluates no TCB status. Its PCK chain, when it carries one, replaces the quote's.
    ///   - time: The verification time; `nil` means the current time.
    /// - Returns: The QE identity result, the TCB evaluation and the chains that were checked. The caller decides
    ///   whether the status is acceptable.
    /// - Throws: ``AttestationError`` naming the first check that failed.
    public static func verify(_ quote: TDXQuote, collateral: TDXCollateral?, at time: Date? = nil)
        async throws(AttestationError) -> TDXVerification
    {
        try await Self.verify(quote, collateral: collateral, at: time, root: try IntelSGXRootCA.certificate())
    }

    /// ``verify(_:collateral:at:)`` with another pinned root, for tests that sign their own collateral.
    package static func verify(_ quote: TDXQuote, collateral: TDXCollateral?, at time: Date?, root: Certificate)
        async throws(AttestationError) -> TDXVerification
    {
        let time = time ?? Date()
        guard quote.header.qeVendorID == TDXQuoteHeader.intelQEVendorID else {
            throw AttestationError(
                .unsupportedFormat,
                "QE vendor ID \(Hex.encode(quote.header.qeVendorID)) is not Intel's"
            )
        }
        // In dcap-qvl's order, so that a quote that fails several checks is refused for the same one: the signed
        // collateral, the PCK chain and its revocation, the QE report, the quote signature, then the TCB levels.
        let signed: TDXCollateralVerifier.Signers?
        if let collateral {
            signed = try await TDXCollateralVerifier.verifySigned(collateral, at: time, root: root)
        } else {
            signed = nil
        }
        let chain = try PCKCertificateChain(
            pem: collateral?.pckCertificateChain ?? quote.signatureData.pckCertificateChain)
        let pckPath = try await chain.validatedPath(at: time, root: root)
        var checked: [String] = []
        if let collateral, let signed {
            checked = try TDXCollateralVerifier.verifyRevocation(
                collateral, signed: signed, pckPath: pckPath, at: time, root: root)
        }
        try Self.verifyQEReportBinding(quote, pckKey: try chain.leafKey())
        let qeReport = quote.signatureData.qeReport
        guard let collateral else {
            try QEIdentity.intelTDQE.check(qeReport)
            try Self.verifyQuoteSignature(quote)
            return TDXVerification(
                pckChain: pckPath.map { "\($0.subject)" },
                qeIdentity: QEIdentityResult(
                    source: .fixedValues, isvSVN: qeReport.isvSVN, status: nil, advisoryIDs: [],
                    tcbEvaluationDataNumber: nil),
                tcb: nil, collateralChecks: [])
        }
        try collateral.qeIdentity.identity.check(qeReport)
        guard let qeLevel = SVNTCBLevel.match(qeReport.isvSVN, in: collateral.qeIdentity.tcbLevels) else {
            throw AttestationError(
                .noMatchingTCBLevel,
                "no TCB level of the QE Identity matches the quoting enclave's ISVSVN \(qeReport.isvSVN)")
        }
        try Self.verifyQuoteSignature(quote)
        let pck = try PCKExtension(certificate: chain.leaf)
        let evaluation = try TDXTCBEvaluation.evaluate(
            quote: quote, pck: pck, tcbInfo: collateral.tcbInfo, qe: qeLevel)
        return TDXVerification(
            pckChain: pckPath.map { "\($0.subject)" },
            qeIdentity: QEIdentityResult(
                source: .collateral, isvSVN: qeReport.isvSVN, status: qeLevel.status, advisoryIDs: qeLevel.advisoryIDs,
                tcbEvaluationDataNumber: collateral.qeIdentity.tcbEvaluationDataNumber),
            tcb: evaluation, collateralChecks: checked)
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

    /// Checks the QE report signature with the PCK leaf key, that the QE authentication data is 32 bytes and the QE
    /// report data binds the attestation key (its first 32 bytes are `SHA-256(attestation key || QE authentication
    /// data)` and the remaining 32 are zero), and that the report is from Intel's production TD quoting enclave
    /// (``QEIdentity/intelTDQE``).
    public static func verifyQEReport(_ quote: TDXQuote, pckKey: P256.Signing.PublicKey) throws(AttestationError) {
        try Self.verifyQEReportBinding(quote, pckKey: pckKey)
        try QEIdentity.intelTDQE.check(quote.signatureData.qeReport)
    }

    /// The checks of ``verifyQEReport(_:pckKey:)`` without the identity, which collateral may supersede.
    static func verifyQEReportBinding(_ quote: TDXQuote, pckKey: P256.Signing.PublicKey) throws(AttestationError) {
        let data = quote.signatureData
        try Self.checkSignature(data.qeReportSignature, of: data.qeReport.raw, with: pckKey, "QE report signature")
        guard data.qeAuthenticationData.count == 32 else {
            throw AttestationError(
                .malformed, "the QE authentication data is \(data.qeAuthenticationData.count) bytes, not 32")
        }
        let expected =
            Array(SHA256.hash(data: data.attestationKey + data.qeAuthenticationData)) + [UInt8](repeating: 0, count: 32)
        guard data.qeReport.reportData == expected else {
            throw AttestationError(.invalidSignature, "QE report data does not bind the attestation key")
        }
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

    /// Parses the PEM certificates of a quote's certification data (trailing NUL bytes are ignored). The first
    /// must be a certificate; as webpki (in dcap-qvl) does, a later one that does not parse is left out, and the
    /// chain is built from the others.
    public init(pem: [UInt8]) throws(AttestationError) {
        var text = pem[...]
        while text.last == 0 {
            text = text.dropLast()
        }
        let (leaf, intermediates) = try CertificatePath.parse(
            String(decoding: text, as: UTF8.self), what: "PCK certificate chain")
        self.leaf = leaf
        self.intermediates = intermediates
    }

    /// The CA that issued the PCK certificate, as Intel's PCS names it (`pckcrl?ca=`): `processor` or `platform`.
    public var pckCA: String {
        "\(self.leaf.issuer)".contains("Intel SGX PCK Processor CA") ? "processor" : "platform"
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
        _ = try await self.validatedPath(at: time ?? Date(), root: try IntelSGXRootCA.certificate())
    }

    /// The chain from the leaf to `root`, every certificate valid at `time`.
    func validatedPath(at time: Date, root: Certificate) async throws(AttestationError) -> [Certificate] {
        try await CertificatePath.validate(
            leaf: self.leaf, intermediates: self.intermediates, root: root, at: time, what: "PCK chain")
    }
}

/// Certificate chain parsing and validation to one pinned root.
enum CertificatePath {
    /// The leaf (the first certificate of `pem`, which must parse) and the other certificates that parse (at most 8 in
    /// all), as webpki (in dcap-qvl) takes them: a certificate that does not parse is never an issuer.
    static func parse(_ pem: String, what: String) throws(AttestationError) -> (Certificate, [Certificate]) {
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseMultiple(pemString: pem)
        } catch {
            throw AttestationError(.invalidCertificate, "\(what) does not parse as PEM: \(error)")
        }
        guard let first = documents.first, documents.count <= 8 else {
            throw AttestationError(.invalidCertificate, "\(what) holds \(documents.count) certificates, not 1 to 8")
        }
        let leaf: Certificate
        do {
            leaf = try Certificate(pemDocument: first)
        } catch {
            throw AttestationError(.invalidCertificate, "the first certificate of \(what) does not parse: \(error)")
        }
        return (leaf, documents.dropFirst().compactMap { try? Certificate(pemDocument: $0) })
    }

    /// The path from `leaf` to `root` (leaf first, root last), every certificate on it valid at `time`; other
    /// certificates of `intermediates` are not looked at.
    static func validate(
        leaf: Certificate, intermediates: [Certificate], root: Certificate, at time: Date, what: String
    ) async throws(AttestationError) -> [Certificate] {
        var verifier = Verifier(rootCertificates: CertificateStore([root])) {
            RFC5280Policy(fixedExpiryValidationTime: time)
        }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(intermediates))
        switch result {
        case .validCertificate(let path):
            return Array(path)
        case .couldNotValidate(let failures):
            for certificate in [leaf] + intermediates + [root]
            where time < certificate.notValidBefore || time > certificate.notValidAfter {
                throw AttestationError(
                    .expired,
                    "\(what): \(certificate.subject) is valid from \(UTCClock.format(certificate.notValidBefore)) "
                        + "to \(UTCClock.format(certificate.notValidAfter)), not at \(UTCClock.format(time))")
            }
            let reasons = failures.map { "\($0.policyFailureReason)" }.joined(separator: "; ")
            throw AttestationError(
                .untrustedCertificateChain,
                "\(what) (leaf \(leaf.subject)) does not lead to \(root.subject) at \(UTCClock.format(time)): "
                    + (reasons.isEmpty ? "no path to the root" : reasons)
            )
        }
    }
}
