import ConfideJSON
import ConfideMeasurement
public import Crypto
import Foundation

/// Verifies SEV-SNP attestation reports: the certificate chain to AMD's pinned root, the report's signature, the
/// match between the report and its endorsement key certificate, and the guest's policy.
public enum SNPReportVerifier {
    /// Verifies `report` completely under `policy`: the evidence (``verifyEvidence(_:certificates:policy:)``), then
    /// the guest (``checkGuestPolicy(_:policy:)``).
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
        let endorsement = try Self.verifyEvidence(report, certificates: certificates, policy: policy)
        try Self.checkGuestPolicy(report, policy: policy)
        return endorsement
    }

    /// Verifies that `report` is genuine evidence of an AMD chip, without judging the guest.
    ///
    /// Checks, in order: the reserved fields (guest policy bit 17 set, bits 26-63 clear; signing flags bits 5-31
    /// clear, SIGNING_KEY not 2-6; the must-be-zero byte ranges); the VCEK (or VLEK) chain in `certificates` to the
    /// ARK pinned for the report's product line (RSASSA-PSS signatures, names, validity at
    /// ``AttestationPolicy/validationTime``); the report's ECDSA P-384 signature with the endorsement key; the key
    /// certificate's hwID against CHIP_ID (unless CHIP_ID is all zero) and its SPLs against REPORTED_TCB; and
    /// REPORTED_TCB against ``AttestationPolicy/snpMinimumTCB`` when the policy sets one. These are the checks of
    /// go-sev-guest's `verify` package, and the CHIP_ID and TCB matches of its `validate` package.
    /// - Parameters:
    ///   - report: A parsed report.
    ///   - certificates: The VCEK or VLEK certificate, optionally with its ASK (or ASVK) and ARK: PEM (one or more
    ///     certificates) or DER (one or more back to back).
    ///   - policy: The trust anchors, the verification time and the minimum TCB.
    /// - Returns: The chain and platform the report was verified with.
    /// - Throws: ``AttestationError`` naming the first check that failed.
    @discardableResult
    public static func verifyEvidence(
        _ report: SNPReport,
        certificates: [UInt8],
        policy: AttestationPolicy
    ) throws(AttestationError) -> SNPEndorsement {
        try Self.checkReservedFields(report)
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
        return endorsement
    }

    /// The must-be-zero byte ranges of a report before its signature, by report version: the reserved bytes after
    /// the signing flags, after REPORTED_TCB (after the CPUID fields from version 3), after the firmware versions,
    /// and between the mitigation vectors and the signature.
    static func reservedRanges(version: UInt32) -> [Range<Int>] {
        [0x4C..<0x50, (version >= 3 ? 0x18B : 0x188)..<0x1A0, 0x1EB..<0x1EC, 0x1EF..<0x1F0, 0x208..<0x2A0]
    }

    /// Checks the reserved fields the SEV-SNP ABI fixes: guest policy bit 17 set and bits 26-63 clear, signing flags
    /// bits 5-31 clear and SIGNING_KEY not one of the reserved values 2-6, and every must-be-zero byte zero.
    static func checkReservedFields(_ report: SNPReport) throws(AttestationError) {
        guard report.policy & (1 << 17) != 0 else {
            throw AttestationError(.malformed, "SNP guest policy bit 17 is reserved and must be 1, got 0")
        }
        guard report.policy >> 26 == 0 else {
            throw AttestationError(
                .malformed, "SNP guest policy 0x\(String(report.policy, radix: 16)) sets reserved bits 26-63")
        }
        guard report.signingFlags >> 5 == 0 else {
            throw AttestationError(
                .malformed, "SNP signing flags 0x\(String(report.signingFlags, radix: 16)) set reserved bits 5-31")
        }
        guard !(2...6).contains(report.signingKeySelector) else {
            throw AttestationError(
                .malformed, "SNP report SIGNING_KEY \(report.signingKeySelector) is reserved (values 2-6 are)")
        }
        for range in Self.reservedRanges(version: report.version) {
            let bytes = report.signedBytes.indices.clamped(to: range).map { report.signedBytes[$0] }
            guard bytes.allSatisfy({ $0 == 0 }) else {
                throw AttestationError(.malformed, Self.notZero(range, bytes))
            }
        }
        guard report.signatureReserved.allSatisfy({ $0 == 0 }) else {
            let start = SNPReport.signatureOffset + 144
            throw AttestationError(
                .malformed, Self.notZero(start..<(start + report.signatureReserved.count), report.signatureReserved))
        }
    }

    private static func notZero(_ range: Range<Int>, _ bytes: [UInt8]) -> String {
        let bounds = "[0x\(String(range.lowerBound, radix: 16)):0x\(String(range.upperBound, radix: 16))]"
        return "SNP report bytes \(bounds) are reserved and must be zero, got \(Hex.encode(bytes))"
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

    /// Checks the guest against `policy`: the VMPL the report was requested at, and the guest policy's debug,
    /// migration agent and SMT bits (SMT also from PLATFORM_INFO). These are a client's rules, not checks of the
    /// evidence: go-sev-guest leaves them to its `validate` package's options.
    /// - Throws: ``AttestationError`` (code `guestPolicyNotAllowed` or `debugNotAllowed`) naming the rule the guest
    ///   breaks.
    public static func checkGuestPolicy(_ report: SNPReport, policy: AttestationPolicy) throws(AttestationError) {
        guard report.vmpl == policy.snpVMPL else {
            throw AttestationError(
                .guestPolicyNotAllowed,
                "report VMPL \(report.vmpl) is not \(policy.snpVMPL), the VMPL the policy accepts"
            )
        }
        guard policy.acceptDebug || !report.allowsDebug else {
            throw AttestationError(
                .debugNotAllowed, "found unauthorized debug capability: the guest policy allows debugging")
        }
        guard policy.acceptSNPMigrationAgent || !report.allowsMigrationAgent else {
            throw AttestationError(
                .guestPolicyNotAllowed,
                "found unauthorized migration agent capability: the guest policy allows a migration agent, which can "
                    + "export the guest's memory"
            )
        }
        guard policy.acceptSNPSMT || !(report.allowsSMT || report.platformSMTEnabled) else {
            let what =
                report.platformSMTEnabled
                ? "unauthorized platform feature SMT enabled: the platform runs with SMT"
                : "found unauthorized symmetric multithreading (SMT) capability: the guest policy allows SMT"
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
