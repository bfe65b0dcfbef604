import ConfideAttestation
import ConfideJSON
import ConfideMeasurement

/// Anchors measurement events in the Confidential Containers attestation agent's event log (AAEL): each event
/// becomes the entry `confide <kind> <event digest in hex>`, which the agent extends into its register (RTMR3 on
/// TDX) and reports in the event log it serves with its evidence.
///
/// Inside a CoCo pod this is the only way to anchor events: writing RTMR3 directly would break the agent's replay
/// of its own log.
struct AttestationAgentAnchor: MeasurementAnchor {
    /// The AAEL domain of Confide's entries.
    static let domain = "confide"

    let agent: CoCoAttestationAgent

    /// Records the event through the agent, waiting for its answer: the event must be anchored before it takes
    /// effect. Callers run on start-up or on a management worker thread, never on an event loop.
    func anchor(_ event: MeasurementEvent) throws(MeasurementError) {
        do {
            try self.agent.recordEventWaiting(
                domain: Self.domain, operation: event.kind.name, content: Hex.encode(event.eventDigest))
        } catch {
            throw MeasurementError("the attestation agent did not record the event: \(error.message)")
        }
    }
}
