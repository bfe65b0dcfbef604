/// Evidence that passed every check of a policy.
public struct VerifiedEvidence: Sendable {
    /// The parsed evidence.
    public enum Claims: Sendable {
        /// A verified TDX quote.
        case tdx(TDXQuote)
        /// A verified SEV-SNP report.
        case snp(SNPReport)
        /// Simulated evidence (insecure).
        case simulated(SimulatedEvidence)
    }

    /// The kind of evidence.
    public let type: EvidenceType
    /// The main launch measurement: MRTD, the SNP MEASUREMENT, or the simulated measurement.
    public let measurement: [UInt8]
    /// The report data, equal to the policy's expected report data.
    public let reportData: [UInt8]
    /// All parsed fields.
    public let claims: Claims
    /// For TDX evidence: the QE identity result, the TCB status and advisories, and the chains checked.
    public let tdx: TDXVerification?

    /// Wraps claims that passed every check.
    package init(
        type: EvidenceType, measurement: [UInt8], reportData: [UInt8], claims: Claims, tdx: TDXVerification? = nil
    ) {
        self.type = type
        self.measurement = measurement
        self.reportData = reportData
        self.claims = claims
        self.tdx = tdx
    }

    /// Whether the evidence was simulated, and so proves nothing about the hardware.
    public var isSimulated: Bool {
        self.type == .simulated
    }
}
