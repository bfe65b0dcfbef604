import ConfideJSON
import ConfideMeasurement
import Crypto
import Foundation
import X509

/// What verifying a TDX quote established beyond the quote's own fields.
public struct TDXVerification: Sendable {
    /// The subjects of the PCK chain that was validated, leaf first, ending with the pinned root.
    public let pckChain: [String]
    /// The quoting enclave's identity check and TCB level.
    public let qeIdentity: QEIdentityResult
    /// The TCB evaluation from the collateral; `nil` when there was no collateral.
    public let tcb: TDXTCBEvaluation?
    /// One line for each collateral item that was checked: what it is, who signed it, and its validity window.
    public let collateralChecks: [String]
}

/// Verifies Intel's collateral for a TDX quote: the signatures and issuer chains of the TCB Info and QE Identity,
/// the root CA and PCK revocation lists, every validity window at the verification time, and that neither the PCK
/// certificate nor a CA or signing certificate above it, nor the root itself, is revoked.
///
/// The checks run in two steps, in dcap-qvl's order around the PCK chain: ``verifySigned(_:at:root:)`` before it,
/// ``verifyRevocation(_:signed:pckPath:at:root:)`` after it.
enum TDXCollateralVerifier {
    /// The signers of the TCB Info and the QE Identity, once verified.
    struct Signers {
        let tcbInfo: Certificate
        let qeIdentity: Certificate
    }

    /// Checks the TCB Info's validity window, the root CA CRL (and that it does not revoke the root), the TCB Info's
    /// issuer chain and signature, then the QE Identity's validity window, issuer chain and signature.
    static func verifySigned(_ collateral: TDXCollateral, at time: Date, root: Certificate)
        async throws(AttestationError) -> Signers
    {
        try Self.checkWindow(
            issued: collateral.tcbInfo.issueDate, next: collateral.tcbInfo.nextUpdate, at: time, what: "the TCB Info")
        try collateral.rootCACRL.verify(issuer: root, at: time, what: "the root CA CRL")
        guard !collateral.rootCACRL.revokes(root) else {
            throw AttestationError(.revoked, "the root CA \(root.subject) is revoked by its own CRL")
        }
        let tcbSigner = try await Self.signer(
            collateral.tcbInfoIssuerChain, root: root, rootCRL: collateral.rootCACRL, at: time,
            what: "the TCB Info issuer chain")
        try Self.checkSignature(
            collateral.tcbInfoSignature, of: collateral.tcbInfoBytes, by: tcbSigner, what: "the TCB Info")
        try Self.checkWindow(
            issued: collateral.qeIdentity.issueDate, next: collateral.qeIdentity.nextUpdate, at: time,
            what: "the QE Identity")
        let qeSigner = try await Self.signer(
            collateral.qeIdentityIssuerChain, root: root, rootCRL: collateral.rootCACRL, at: time,
            what: "the QE Identity issuer chain")
        try Self.checkSignature(
            collateral.qeIdentitySignature, of: collateral.qeIdentityBytes, by: qeSigner, what: "the QE Identity")
        return Signers(tcbInfo: tcbSigner, qeIdentity: qeSigner)
    }

    /// Verifies the PCK CRL with the CA of the validated PCK chain `pckPath` (leaf first, root last), that it does not
    /// revoke the PCK certificate, and that the root CA CRL revokes no certificate above it.
    ///
    /// - Returns: One line for each collateral item checked.
    static func verifyRevocation(
        _ collateral: TDXCollateral, signed: Signers, pckPath: [Certificate], at time: Date, root: Certificate
    ) throws(AttestationError) -> [String] {
        guard let pck = pckPath.first, pckPath.count >= 2 else {
            throw AttestationError(.untrustedCertificateChain, "the PCK chain has no issuer above the PCK certificate")
        }
        let pckIssuer = pckPath[1]
        guard collateral.pckCRL.issuer == pckIssuer.subject else {
            throw AttestationError(
                .collateralMismatch,
                "the PCK CRL is issued by \(collateral.pckCRL.issuer), the PCK certificate by \(pckIssuer.subject)")
        }
        try collateral.pckCRL.verify(issuer: pckIssuer, at: time, what: "the PCK CRL")
        guard !collateral.pckCRL.revokes(pck) else {
            throw AttestationError(
                .revoked,
                "the PCK certificate (serial \(pck.serialNumber)) is revoked by the PCK CRL of \(pckIssuer.subject)")
        }
        try Self.checkNotRevoked(Array(pckPath.dropFirst()), root: root, rootCRL: collateral.rootCACRL)

        let crlWindow = { (crl: CertificateRevocationList) in
            "\(UTCClock.format(crl.thisUpdate)) .. \(UTCClock.format(crl.nextUpdate))"
        }
        return [
            "TCB Info (FMSPC \(Hex.encode(collateral.tcbInfo.fmspc))) signed by \(signed.tcbInfo.subject), "
                + "\(UTCClock.format(collateral.tcbInfo.issueDate)) .. "
                + UTCClock.format(collateral.tcbInfo.nextUpdate),
            "QE Identity (\(collateral.qeIdentity.id)) signed by \(signed.qeIdentity.subject), "
                + "\(UTCClock.format(collateral.qeIdentity.issueDate)) .. "
                + UTCClock.format(collateral.qeIdentity.nextUpdate),
            "PCK CRL of \(collateral.pckCRL.issuer), \(crlWindow(collateral.pckCRL)): PCK certificate not revoked",
            "root CA CRL of \(collateral.rootCACRL.issuer), \(crlWindow(collateral.rootCACRL)): intermediate and "
                + "signing certificates not revoked",
        ]
    }

    /// The leaf of an issuer chain from the collateral, validated to `root` at `time` and not revoked.
    private static func signer(
        _ chain: [Certificate], root: Certificate, rootCRL: CertificateRevocationList, at time: Date, what: String
    ) async throws(AttestationError) -> Certificate {
        guard let leaf = chain.first else {
            throw AttestationError(.invalidCertificate, "\(what) is empty")
        }
        let path = try await CertificatePath.validate(
            leaf: leaf, intermediates: Array(chain.dropFirst()), root: root, at: time, what: what)
        try Self.checkNotRevoked(path, root: root, rootCRL: rootCRL)
        return leaf
    }

    /// Checks that no certificate of `path` but the root is on the root CA CRL. Intel's chains are one level below
    /// the root (the PCK certificate, below its CA, is checked against the PCK CRL by the caller), so a certificate
    /// that another CA issued is refused: no list the collateral holds could revoke it.
    private static func checkNotRevoked(_ path: [Certificate], root: Certificate, rootCRL: CertificateRevocationList)
        throws(AttestationError)
    {
        for certificate in path where certificate != root {
            guard certificate.issuer == root.subject else {
                throw AttestationError(
                    .untrustedCertificateChain,
                    "\(certificate.subject) is issued by \(certificate.issuer), not by the root; no revocation list of "
                        + "the collateral covers it")
            }
            guard !rootCRL.revokes(certificate) else {
                throw AttestationError(
                    .revoked,
                    "\(certificate.subject) (serial \(certificate.serialNumber)) is revoked by the root CA CRL")
            }
        }
    }

    private static func checkSignature(_ raw: [UInt8], of message: [UInt8], by signer: Certificate, what: String)
        throws(AttestationError)
    {
        guard let key = P256.Signing.PublicKey(signer.publicKey) else {
            throw AttestationError(.invalidKey, "the key that signs \(what) is not a P-256 key")
        }
        guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: raw),
            key.isValidSignature(signature, for: message)
        else {
            throw AttestationError(
                .invalidSignature, "\(what)'s signature does not verify with \(signer.subject)'s key")
        }
    }

    private static func checkWindow(issued: Date, next: Date, at time: Date, what: String) throws(AttestationError) {
        guard time >= issued else {
            throw AttestationError(
                .expired,
                "\(what) is issued at \(UTCClock.format(issued)), after the verification time \(UTCClock.format(time))")
        }
        guard time <= next else {
            throw AttestationError(
                .expired,
                "\(what) expired at its nextUpdate \(UTCClock.format(next)) (verifying at \(UTCClock.format(time)))")
        }
    }
}
