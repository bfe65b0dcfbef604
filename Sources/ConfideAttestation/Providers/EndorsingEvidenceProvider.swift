/// Serves another provider's evidence with endorsements the operator supplies (for example the VCEK chain from a
/// file), so that clients can verify offline.
///
/// A member set in ``endorsements`` replaces the one the underlying provider attached; members left `nil` keep it.
public struct EndorsingEvidenceProvider: EvidenceProvider {
    /// The provider that produces the evidence.
    public let base: any EvidenceProvider
    /// The endorsements attached to every evidence.
    public let endorsements: Endorsements

    /// Wraps `base`, attaching `endorsements` to its evidence.
    public init(_ base: any EvidenceProvider, endorsements: Endorsements) {
        self.base = base
        self.endorsements = endorsements
    }

    public var evidenceType: EvidenceType { self.base.evidenceType }

    public var isInsecure: Bool { self.base.isInsecure }

    public func evidence(reportData: [UInt8]) async throws(AttestationError) -> Evidence {
        var evidence = try await self.base.evidence(reportData: reportData)
        if let collateral = self.endorsements.tdxCollateral {
            evidence.endorsements.tdxCollateral = collateral
        }
        if let certificates = self.endorsements.snpCertificates {
            evidence.endorsements.snpCertificates = certificates
        }
        return evidence
    }
}
