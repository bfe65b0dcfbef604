import ConfideJSON
public import ConfideMeasurement

extension AttestationVerifier {
    /// Checks a server's measurement log against evidence that already passed
    /// ``verify(evidence:type:endorsements:policy:)`` with the report data that binds the log's digest, and returns
    /// what the log says is live.
    ///
    /// Simulated evidence's RTMR3 must equal the log's replay; a TDX quote's RTMR3 must too when the server says it
    /// anchors its log there (`register` is `rtmr3`) or the policy's measurement policy asks for it
    /// (``MeasurementPolicy/RegisterRequirement/replay``), so a server cannot escape the check by naming another
    /// register. Then every event must be allowed by ``AttestationPolicy/measurements``, when set.
    /// - Throws: ``AttestationError/ErrorCode/measurementLogMismatch`` when a register disagrees with the log,
    ///   ``AttestationError/ErrorCode/measurementLogRefused`` naming the first event or setting the policy refuses.
    public static func verify(
        measurementLog log: MeasurementLogSnapshot, register: String, evidence: VerifiedEvidence,
        policy: AttestationPolicy
    ) throws(AttestationError) -> MeasuredState {
        let replayed = log.digest
        switch evidence.claims {
        case .simulated(let simulated):
            guard simulated.rtmr3 == replayed else {
                throw AttestationError(
                    .measurementLogMismatch,
                    "the simulated RTMR3 \(Hex.encode(simulated.rtmr3)) is not the replay of the measurement log "
                        + "(\(Hex.encode(replayed)))")
            }
        case .tdx(let quote):
            let required = register == "rtmr3" || policy.measurements?.rtmr3 == .replay
            if required, quote.body.rtmrs.count == 4, quote.body.rtmrs[3] != replayed {
                throw AttestationError(
                    .measurementLogMismatch,
                    "RTMR3 \(Hex.encode(quote.body.rtmrs[3])) is not the replay of the measurement log "
                        + "(\(Hex.encode(replayed))): something else extended RTMR3, or the log is incomplete")
            }
        case .snp:
            break
        }
        guard let measurements = policy.measurements else { return MeasuredState(log) }
        do {
            return try measurements.check(log)
        } catch {
            throw AttestationError(.measurementLogRefused, error.message)
        }
    }
}
