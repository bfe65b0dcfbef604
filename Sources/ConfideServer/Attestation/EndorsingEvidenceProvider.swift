public import ConfideAttestation

/// An evidence provider that adds endorsements the operator supplied (for example Intel's collateral for this
/// platform, `--tdx-collateral`) to the evidence of another provider, so that clients can verify it offline.
///
/// Endorsements the wrapped provider already attaches are kept; the supplied ones fill only the members it leaves
/// empty.
public struct EndorsingEvidenceProvider: EvidenceProvider {
    /// The provider whose evidence is endorsed.
    public let base: any EvidenceProvider
    private let source: @Sendable () async -> Endorsements

    /// Wraps `base`, adding `endorsements` to its evidence.
    public init(_ base: any EvidenceProvider, endorsements: Endorsements) {
        self.init(base) { endorsements }
    }

    /// Wraps `base`, adding the endorsements `source` gives at the time of each piece of evidence (for collateral
    /// that is renewed while the server runs).
    public init(_ base: any EvidenceProvider, source: @escaping @Sendable () async -> Endorsements) {
        self.base = base
        self.source = source
    }

    public var evidenceType: EvidenceType {
        self.base.evidenceType
    }

    public var isInsecure: Bool {
        self.base.isInsecure
    }

    public var wrapped: (any EvidenceProvider)? {
        self.base
    }

    public func evidence(reportData: [UInt8]) async throws(AttestationError) -> Evidence {
        var evidence = try await self.base.evidence(reportData: reportData)
        let endorsements = await self.source()
        evidence.endorsements.tdxCollateral = evidence.endorsements.tdxCollateral ?? endorsements.tdxCollateral
        evidence.endorsements.snpCertificates = evidence.endorsements.snpCertificates ?? endorsements.snpCertificates
        return evidence
    }
}
