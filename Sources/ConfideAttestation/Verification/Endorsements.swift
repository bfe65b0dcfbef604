/// What a verifier needs besides the evidence and its pinned roots: the collateral and certificates that endorse
/// the platform that produced the evidence.
///
/// A server serves the endorsements of its own platform with its evidence so that clients can verify offline;
/// a client may bring its own instead. Nothing in them is trusted until it verifies to a pinned root.
public struct Endorsements: Sendable, Hashable {
    /// Intel PCS collateral for a TDX quote: the JSON object with the members `tcb_info`, `qe_identity`, their
    /// signatures and issuer chains, `pck_crl`, `root_ca_crl` and `pck_crl_issuer_chain` (the format dcap-qvl and
    /// dstack use).
    public var tdxCollateral: [UInt8]?
    /// The certificates that chain an SEV-SNP report's signing key to AMD's root: the VCEK or VLEK, and optionally
    /// the ASK (or ASVK) and ARK, DER or PEM.
    public var snpCertificates: [UInt8]?

    /// Creates endorsements; absent members are `nil`.
    public init(tdxCollateral: [UInt8]? = nil, snpCertificates: [UInt8]? = nil) {
        self.tdxCollateral = tdxCollateral
        self.snpCertificates = snpCertificates
    }

    /// Whether no endorsement is present.
    public var isEmpty: Bool {
        self.tdxCollateral == nil && self.snpCertificates == nil
    }
}
