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

    /// The provider this one wraps (the one automatic detection chose, or the one whose evidence it endorses), if any.
    var wrapped: (any EvidenceProvider)? { get }
}

extension EvidenceProvider {
    /// The register of the wrapped provider, if any: a wrapper's evidence is the wrapped provider's.
    public var anchoringRegister: AnchoringRegister? { self.wrapped?.anchoringRegister }

    /// Wraps nothing.
    public var wrapped: (any EvidenceProvider)? { nil }

    /// This provider if it is a `Provider`, else the first provider of that type it wraps, directly or not.
    public func unwrapped<Provider: EvidenceProvider>(as type: Provider.Type) -> Provider? {
        (self as? Provider) ?? self.wrapped?.unwrapped(as: type)
    }
}
