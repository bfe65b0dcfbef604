public import ConfideAttestation

/// An evidence provider that adds endorsements the operator supplied (for example Intel's collateral for this
/// platform, `--tdx-collateral`) to the evidence of another provider, so that clients can verify it offline.
///
/// Endorsements the wrapped provider already attaches are kept; the supplied ones fill only the members it leaves
/// empty.
public struct EndorsingEvidenceProvider: EvidenceProvider {
    /// The provider whose evidence is endorsed.
    public let base: any EvidenceProvider
    /// The endorsements added to every piece of evidence.
    public let endorsements: Endorsements

    /// Wraps `base`, adding `endorsements` to its evidence.
    public init(_ base: any EvidenceProvider, endorsements: Endorsements) {
        self.base = base
        self.endorsements = endorsements
    }

    public var evidenceType: EvidenceType {
        self.base.evidenceType
    }

    public var isInsecure: Bool {
        self.base.isInsecure
    }

    public func evidence(reportData: [UInt8]) async throws(AttestationError) -> Evidence {
        var evidence = try await self.base.evidence(reportData: reportData)
        evidence.endorsements.tdxCollateral = evidence.endorsements.tdxCollateral ?? self.endorsements.tdxCollateral
        evidence.endorsements.snpCertificates =
            evidence.endorsements.snpCertificates ?? self.endorsements.snpCertificates
        return evidence
    }
}
