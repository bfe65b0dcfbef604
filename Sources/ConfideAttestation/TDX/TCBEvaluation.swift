import ConfideJSON
import ConfideMeasurement
public import Foundation

/// The TCB status of a TDX platform as Intel's collateral rates it: the matching TCB level of the platform (SGX
/// components and PCESVN from the PCK certificate, TDX components from TEE_TCB_SVN), the TDX module's level, and
/// the quoting enclave's, converged into one status with the advisories of each.
public struct TDXTCBEvaluation: Sendable, Hashable {
    /// The final status: the platform's, converged with the TDX module's and the quoting enclave's.
    public let status: TCBStatus
    /// The advisory IDs of the platform's, the TDX module's and the quoting enclave's levels, without repeats.
    public let advisoryIDs: [String]
    /// The TCB Info's evaluation data number.
    public let tcbEvaluationDataNumber: Int
    /// The status of the platform's matching TCB level.
    public let platformStatus: TCBStatus
    /// The date of the platform's matching TCB level.
    public let platformTCBDate: Date
    /// The status of the TDX module's TCB level, when the TCB Info rates module versions.
    public let tdxModuleStatus: TCBStatus?
    /// The platform's FMSPC (6 bytes).
    public let fmspc: [UInt8]

    /// Evaluates the platform of `quote` with PCK extension `pck` against `tcbInfo`, and converges the result with
    /// the quoting enclave's level `qe`.
    ///
    /// - Throws: ``AttestationError`` with ``AttestationError/ErrorCode/collateralMismatch`` when the TCB Info is
    ///   for another platform or TDX module, and ``AttestationError/ErrorCode/noMatchingTCBLevel`` when the
    ///   platform or module reaches no level.
    static func evaluate(quote: TDXQuote, pck: PCKExtension, tcbInfo: TDXTCBInfo, qe: SVNTCBLevel)
        throws(AttestationError) -> TDXTCBEvaluation
    {
        guard pck.fmspc == tcbInfo.fmspc else {
            throw AttestationError(
                .collateralMismatch,
                "the TCB Info is for FMSPC \(Hex.encode(tcbInfo.fmspc)), the PCK certificate's is "
                    + Hex.encode(pck.fmspc))
        }
        guard pck.pceID == tcbInfo.pceID else {
            throw AttestationError(
                .collateralMismatch,
                "the TCB Info is for PCE ID \(Hex.encode(tcbInfo.pceID)), the PCK certificate's is "
                    + Hex.encode(pck.pceID))
        }
        let teeTCBSVN = quote.body.teeTCBSVN
        // As dcap-qvl and Intel's QVL match them: the first level, highest first, that the SGX components, the PCESVN
        // and all 16 bytes of TEE_TCB_SVN reach.
        let matching = tcbInfo.tcbLevels.first { level in
            pck.pceSVN >= level.pceSVN && zip(pck.sgxComponents, level.sgxComponents).allSatisfy { $0 >= $1 }
                && zip(teeTCBSVN, level.tdxComponents).allSatisfy { $0 >= $1 }
        }
        guard let level = matching else {
            throw AttestationError(
                .noMatchingTCBLevel,
                "no TCB level of FMSPC \(Hex.encode(pck.fmspc)) matches the platform (SGX components "
                    + "\(pck.sgxComponents.map(String.init).joined(separator: ",")), PCESVN \(pck.pceSVN), "
                    + "TEE_TCB_SVN \(Hex.encode(teeTCBSVN)))")
        }
        let module = try Self.moduleLevel(body: quote.body, tcbInfo: tcbInfo)
        var status = level.status
        var advisories = level.advisoryIDs
        for part in [module, qe].compactMap({ $0 }) {
            status = status.converged(with: part.status)
            for id in part.advisoryIDs where !advisories.contains(id) {
                advisories.append(id)
            }
        }
        return TDXTCBEvaluation(
            status: status, advisoryIDs: advisories, tcbEvaluationDataNumber: tcbInfo.tcbEvaluationDataNumber,
            platformStatus: level.status, platformTCBDate: level.tcbDate, tdxModuleStatus: module?.status,
            fmspc: pck.fmspc)
    }

    /// Checks the TDX module's signer and attributes, and returns its TCB level when the TCB Info rates module
    /// versions (`tdxModuleIdentities`, selected by TEE_TCB_SVN[1], rated by TEE_TCB_SVN[0]).
    private static func moduleLevel(body: TDXReportBody, tcbInfo: TDXTCBInfo) throws(AttestationError)
        -> SVNTCBLevel?
    {
        let svn = body.teeTCBSVN.first ?? 0
        let version = body.teeTCBSVN.dropFirst().first ?? 0
        // dcap-qvl refuses TCB Info without tdxModule even when a versioned identity stands in for it.
        guard var identity = tcbInfo.tdxModule else {
            throw AttestationError(.malformed, "the TDX TCB Info has no tdxModule")
        }
        var versioned: TDXModuleIdentity?
        if version > 0, !tcbInfo.tdxModuleIdentities.isEmpty {
            let id = "TDX_" + Hex.encode([version]).uppercased()
            guard let found = tcbInfo.tdxModuleIdentities.first(where: { $0.id?.uppercased() == id }) else {
                throw AttestationError(
                    .collateralMismatch, "the TCB Info has no TDX module identity \(id) (TEE_TCB_SVN[1] = \(version))")
            }
            identity = found
            versioned = found
        }
        guard body.mrSignerSeam == identity.mrSigner else {
            throw AttestationError(
                .collateralMismatch,
                "the TDX module's MRSIGNERSEAM \(Hex.encode(body.mrSignerSeam)) is not the TCB Info's "
                    + Hex.encode(identity.mrSigner))
        }
        guard
            zip(zip(body.seamAttributes, identity.attributes), identity.attributesMask)
                .allSatisfy({ ($0.0 & $1) == ($0.1 & $1) })
        else {
            throw AttestationError(
                .collateralMismatch,
                "the TDX module's SEAMATTRIBUTES \(Hex.encode(body.seamAttributes)) do not match the TCB Info's "
                    + "\(Hex.encode(identity.attributes)) under its mask \(Hex.encode(identity.attributesMask))")
        }
        guard zip(body.seamAttributes, identity.attributesMask).allSatisfy({ $0 & ~$1 == 0 }) else {
            throw AttestationError(
                .collateralMismatch,
                "the TDX module's SEAMATTRIBUTES \(Hex.encode(body.seamAttributes)) set bits outside the TCB Info's "
                    + "mask \(Hex.encode(identity.attributesMask))")
        }
        guard let versioned else {
            return nil
        }
        guard let level = SVNTCBLevel.match(UInt16(svn), in: versioned.tcbLevels) else {
            throw AttestationError(
                .noMatchingTCBLevel,
                "no TCB level of TDX module \(versioned.id ?? "") matches its SVN \(svn) (TEE_TCB_SVN[0])")
        }
        return level
    }
}

/// The outcome of checking the quoting enclave that signed a TDX quote.
public struct QEIdentityResult: Sendable, Hashable {
    /// What the enclave's report was checked against.
    public enum Source: String, Sendable, Hashable {
        /// Intel's signed QE Identity from the collateral.
        case collateral
        /// The documented fixed values of Intel's production TD quoting enclave (``QEIdentity/intelTDQE``), used
        /// when there is no collateral and the policy allows that; no TCB status is known then.
        case fixedValues
    }

    /// What the report was checked against.
    public let source: Source
    /// The enclave's security version.
    public let isvSVN: UInt16
    /// The status of the enclave's TCB level (collateral only).
    public let status: TCBStatus?
    /// The advisory IDs of the enclave's TCB level (collateral only).
    public let advisoryIDs: [String]
    /// The QE Identity's evaluation data number (collateral only).
    public let tcbEvaluationDataNumber: Int?
}
