public import ConfideMeasurement
public import Foundation
package import X509

/// What a client accepts: the measurements it trusts, the report data it expects, whether simulated evidence
/// is acceptable, and what may run on the server (its measurement log's policy).
///
/// An empty allow-list accepts nothing: a policy must name every measurement it trusts.
public struct AttestationPolicy: Sendable {
    /// The report data the evidence must carry: see ``reportData(keyConfigurations:nonce:measurementLog:)``.
    public var expectedReportData: [UInt8]
    /// The TDX reference values accepted; evidence must match at least one entry.
    public var allowedTDX: [TDXReferenceValues]
    /// The SEV-SNP launch measurements (48 bytes each) accepted.
    public var allowedSNPMeasurements: Set<[UInt8]>
    /// The certificates that endorse SEV-SNP reports, obtained out of band: the VCEK or VLEK, optionally with its ASK
    /// (or ASVK) and ARK, PEM or DER. When set they are used instead of those served with the evidence; either way
    /// they must chain to AMD's pinned ARK.
    public var snpVCEK: [UInt8]?
    /// The VMPL at which SEV-SNP reports must have been requested; 0, the most privileged level, by default.
    public var snpVMPL: UInt32
    /// Whether an SEV-SNP guest whose policy allows a migration agent is accepted; off by default.
    public var acceptSNPMigrationAgent: Bool
    /// Whether an SEV-SNP guest that may share cores through SMT (its policy allows it, or the platform has it on) is
    /// accepted; on by default.
    public var acceptSNPSMT: Bool
    /// The lowest REPORTED_TCB accepted from SEV-SNP reports; `nil` (the default) accepts any TCB the VCEK is for.
    public var snpMinimumTCB: SNPMinimumTCB?
    /// The AMD roots SEV-SNP chains must lead to: AMD's pinned ARKs unless a test pins its own.
    package var snpTrustAnchors: SNPTrustAnchors
    /// The simulated measurements accepted when ``acceptSimulated`` is on.
    public var allowedSimulatedMeasurements: Set<[UInt8]>
    /// Whether simulated (insecure) evidence is accepted at all; off by default.
    public var acceptSimulated: Bool
    /// Whether evidence from a debuggable guest (TDX debug attribute, SNP debug policy) is accepted; off by default.
    public var acceptDebug: Bool
    /// The time at which certificate chains must be valid; `nil` means the current time.
    public var validationTime: Date?
    /// What the server's measurement log may hold (its executable, plugins, models and settings); `nil` accepts
    /// any log (the log is still bound to the evidence, and replayed into simulated evidence's register).
    public var measurements: MeasurementPolicy?
    /// The TCB statuses of TDX platforms accepted; only ``TCBStatus/upToDate`` by default.
    /// ``TCBStatus/revoked`` is never accepted.
    public var acceptedTCBStatuses: Set<TCBStatus>
    /// The lowest TCB evaluation data number of the TDX collateral (TCB Info and QE Identity) accepted; `nil`
    /// accepts any.
    public var minimumTCBEvaluationDataNumber: Int?
    /// Whether TDX evidence without collateral is accepted; off by default. Without collateral the quoting
    /// enclave is checked against Intel's fixed values and no TCB status or revocation is known.
    public var allowMissingTDXCollateral: Bool
    /// Intel PCS collateral the client brings for TDX evidence (see ``Endorsements/tdxCollateral``); when set it is
    /// used instead of the collateral served with the evidence.
    public var tdxCollateral: [UInt8]?
    /// The root that TDX PCK chains and collateral must lead to instead of ``IntelSGXRootCA``, for tests.
    package var tdxRootOverride: Certificate?

    /// Creates a policy that expects `expectedReportData` and accepts nothing until measurements are added.
    public init(expectedReportData: [UInt8]) {
        self.expectedReportData = expectedReportData
        self.allowedTDX = []
        self.allowedSNPMeasurements = []
        self.snpVCEK = nil
        self.snpVMPL = 0
        self.acceptSNPMigrationAgent = false
        self.acceptSNPSMT = true
        self.snpMinimumTCB = nil
        self.snpTrustAnchors = .amd
        self.allowedSimulatedMeasurements = []
        self.acceptSimulated = false
        self.acceptDebug = false
        self.validationTime = nil
        self.measurements = nil
        self.acceptedTCBStatuses = [.upToDate]
        self.minimumTCBEvaluationDataNumber = nil
        self.allowMissingTDXCollateral = false
        self.tdxCollateral = nil
        self.tdxRootOverride = nil
    }

    /// Creates a policy that expects the binding of `keyConfigurations`, the measurement log's digest and the
    /// client's fresh `nonce`.
    public init(keyConfigurations: [UInt8], nonce: [UInt8], measurementLog: [UInt8]) throws(AttestationError) {
        self.init(
            expectedReportData: try reportData(
                keyConfigurations: keyConfigurations, nonce: nonce, measurementLog: measurementLog))
    }
}

/// One accepted set of TDX measurements. MRTD is required; the other registers are checked when set.
public struct TDXReferenceValues: Sendable, Hashable {
    /// The accepted MRTD (48 bytes).
    public var mrTD: [UInt8]
    /// The accepted RTMR0 to RTMR3 (48 bytes each); `nil` entries are not checked.
    public var rtmrs: [[UInt8]?]
    /// The accepted MRCONFIGID (48 bytes), or `nil` to not check it.
    public var mrConfigID: [UInt8]?

    /// Creates reference values; registers left `nil` are not checked.
    public init(
        mrTD: [UInt8],
        rtmr0: [UInt8]? = nil,
        rtmr1: [UInt8]? = nil,
        rtmr2: [UInt8]? = nil,
        rtmr3: [UInt8]? = nil,
        mrConfigID: [UInt8]? = nil
    ) {
        self.mrTD = mrTD
        self.rtmrs = [rtmr0, rtmr1, rtmr2, rtmr3]
        self.mrConfigID = mrConfigID
    }

    /// Whether a TD report body carries these values.
    public func matches(_ body: TDXReportBody) -> Bool {
        guard body.mrTD == self.mrTD else {
            return false
        }
        if let mrConfigID = self.mrConfigID, mrConfigID != body.mrConfigID {
            return false
        }
        for (expected, actual) in zip(self.rtmrs, body.rtmrs) {
            if let expected, expected != actual {
                return false
            }
        }
        return true
    }
}
