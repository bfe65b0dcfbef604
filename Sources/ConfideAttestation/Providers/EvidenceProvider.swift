/// The kinds of attestation evidence.
public enum EvidenceType: String, Sendable, Hashable, CaseIterable {
    /// An Intel TDX DCAP quote (version 4 or 5).
    case tdxQuote = "tdx-quote"
    /// An AMD SEV-SNP attestation report.
    case snpReport = "sev-snp-report"
    /// Simulated evidence (insecure; see ``SimulatedEvidence``).
    case simulated = "simulated"
}

/// Attestation evidence as a provider produced it and a verifier receives it.
public struct Evidence: Sendable, Hashable {
    /// The kind of evidence.
    public let type: EvidenceType
    /// The serialized evidence: the quote, the report, or the simulated evidence.
    public let bytes: [UInt8]
    /// The collateral and certificates that came with the evidence, served with it to clients.
    public var endorsements: Endorsements

    /// Wraps serialized evidence of a kind and what endorses it.
    public init(type: EvidenceType, bytes: [UInt8], endorsements: Endorsements = Endorsements()) {
        self.type = type
        self.bytes = bytes
        self.endorsements = endorsements
    }
}

/// Produces attestation evidence that carries given report data.
public protocol EvidenceProvider: Sendable {
    /// The kind of evidence this provider produces.
    var evidenceType: EvidenceType { get }

    /// Whether the evidence proves nothing (simulated); servers should say so loudly.
    var isInsecure: Bool { get }

    /// Produces evidence whose report data is `reportData` (64 bytes, see
    /// ``reportData(keyConfigurations:nonce:measurementLog:)``).
    func evidence(reportData: [UInt8]) async throws(AttestationError) -> Evidence

    /// The register this provider's evidence reports and the server's measurement events are anchored in, or
    /// `nil` when the log is bound through the report data only (SEV-SNP, TDX without RTMR3 extension).
    var anchoringRegister: AnchoringRegister? { get }
}

extension EvidenceProvider {
    /// No register: the log is bound through the report data only.
    public var anchoringRegister: AnchoringRegister? { nil }
}
