public import Crypto
import Foundation

/// Verifies SEV-SNP attestation reports: the certificate chain to AMD's pinned root, the report's signature, the
/// match between the report and its endorsement key certificate, and the guest's policy.
public enum SNPReportVerifier {
    /// Verifies `report` completely under `policy`.
    ///
    /// Checks, in order: the VCEK (or VLEK) chain in `certificates` to the ARK pinned for the report's product line
    /// (RSASSA-PSS signatures, names, validity at ``AttestationPolicy/validationTime``); the report's ECDSA P-384
    /// signature with the endorsement key; the key certificate's hwID against CHIP_ID and its SPLs against
    /// REPORTED_TCB; then the VMPL, debug, migration agent and SMT rules of the policy.
    /// - Parameters:
    ///   - report: A parsed report.
    ///   - certificates: The VCEK or VLEK certificate, optionally with its ASK (or ASVK) and ARK: PEM (one or more
    ///     certificates) or DER (one or more back to back).
    ///   - policy: What the caller accepts.
    /// - Returns: The chain and platform the report was verified with.
    /// - Throws: ``AttestationError`` naming the first check that failed.
    @discardableResult
    public static func verify(
        _ report: SNPReport,
        certificates: [UInt8],
        policy: AttestationPolicy
    ) throws(AttestationError) -> SNPEndorsement {
        try Self.checkReservedBits(report)
        let (endorsement, extensions) = try SNPChainVerifier.verify(
            report: report,
            certificates: certificates,
            anchors: policy.snpTrustAnchors,
            at: policy.validationTime ?? Date()
        )
        try Self.verify(report, key: endorsement.publicKey)
        try SNPChainVerifier.checkPlatform(report: report, endorsement: endorsement, extensions: extensions)
        if let minimum = policy.snpMinimumTCB {
            try Self.checkMinimum(report, minimum, endorsement.productLine)
        }
        try Self.checkGuest(report, policy: policy)
        return endorsement
    }

    /// Checks the reserved bits of the guest policy (bit 17 set, bits 26-63 clear) and of the signing flags
    /// (bits 5-31 clear), as the SEV-SNP ABI requires.
    static func checkReservedBits(_ report: SNPReport) throws(AttestationError) {
        guard report.policy & (1 << 17) != 0 else {
            throw AttestationError(.malformed, "SNP guest policy bit 17 is reserved and must be set")
        }
        guard report.policy >> 26 == 0 else {
            throw AttestationError(
                .malformed, "SNP guest policy 0x\(String(report.policy, radix: 16)) sets reserved bits 26-63")
        }
        guard report.signingFlags >> 5 == 0 else {
            throw AttestationError(
                .malformed, "SNP signing flags 0x\(String(report.signingFlags, radix: 16)) set reserved bits 5-31")
        }
    }

    /// Checks REPORTED_TCB against the lowest levels the policy accepts.
    static func checkMinimum(
        _ report: SNPReport,
        _ minimum: SNPMinimumTCB,
        _ line: SNPProductLine
    ) throws(AttestationError) {
        let components = SNPTCBLayout.components(line)
        var older: [String] = []
        for (name, lowest) in minimum.levels {
            guard let lowest, let component = components.first(where: { $0.name == name }) else {
                continue
            }
            let level = SNPTCBLayout.byte(report.reportedTCB, component.index)
            if level < lowest {
                older.append("\(name) \(level) (at least \(lowest))")
            }
        }
        guard older.isEmpty else {
            throw AttestationError(
                .tcbStatusNotAccepted,
                "the report's REPORTED_TCB is older than the policy accepts: " + older.joined(separator: ", ")
            )
        }
    }

    /// Checks the guest's VMPL and policy bits against `policy`.
    static func checkGuest(_ report: SNPReport, policy: AttestationPolicy) throws(AttestationError) {
        guard report.vmpl == policy.snpVMPL else {
            throw AttestationError(
                .guestPolicyNotAllowed,
                "the report was requested at VMPL \(report.vmpl); the policy accepts VMPL \(policy.snpVMPL)"
            )
        }
        guard policy.acceptDebug || !report.allowsDebug else {
            throw AttestationError(.debugNotAllowed, "the guest policy allows debugging")
        }
        guard policy.acceptSNPMigrationAgent || !report.allowsMigrationAgent else {
            throw AttestationError(
                .guestPolicyNotAllowed,
                "the guest policy allows a migration agent, which can export the guest's memory"
            )
        }
        guard policy.acceptSNPSMT || !(report.allowsSMT || report.platformSMTEnabled) else {
            let what = report.platformSMTEnabled ? "the platform runs with SMT enabled" : "the guest policy allows SMT"
            throw AttestationError(.guestPolicyNotAllowed, "\(what), and the policy refuses SMT")
        }
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
