public import ConfideAttestation
import Crypto

/// Produces TDX quotes or SEV-SNP reports through the Confidential Containers attestation agent, for a CoCo pod where
/// configfs-tsm is not mounted into containers.
///
/// The 64 bytes of report data go to the agent as its runtime data, which it places into the report data unchanged;
/// the evidence that comes back is parsed and refused unless its report data is exactly what was asked.
///
/// The agent answers any container of the pod, over any runtime data: evidence it produced proves what runs in the
/// pod's guest, not which container asked. Run Confide alone in its pod and pin the pod's initdata digest.
public struct CoCoEvidenceProvider: EvidenceProvider {
    /// The agent the evidence comes from; its ``CoCoAttestationAgent/recordEvent(domain:operation:content:)``
    /// records events in the agent's event log.
    public let agent: CoCoAttestationAgent
    /// The kind of evidence the agent produces, learned when the provider was created.
    public let evidenceType: EvidenceType

    /// Creates a provider after asking the agent once for evidence over fresh random report data, which checks the
    /// whole path (the agent answers, its attestation API is on, the report data arrives unchanged) and tells
    /// which TEE the pod runs in.
    ///
    /// - Parameters:
    ///   - agent: The agent to ask.
    ///   - expected: The evidence the caller wants, or `nil` to accept TDX or SEV-SNP.
    /// - Throws: ``AttestationError``: see ``CoCoAttestationAgent/evidence(runtimeData:)``; `.providerMismatch` when
    ///   the agent produces another kind of evidence than `expected`.
    public init(
        agent: CoCoAttestationAgent = CoCoAttestationAgent(), expected: EvidenceType? = nil
    ) async throws(AttestationError) {
        var probe = SystemRandomNumberGenerator()
        let reportData = (0..<CoCoAttestationAgent.maximumRuntimeData).map { _ in
            UInt8.random(in: .min ... .max, using: &probe)
        }
        let found = try await agent.evidence(runtimeData: reportData).evidence.type
        if let expected, expected != found {
            throw AttestationError(
                .providerMismatch,
                "the attestation agent at \(agent.address) provides \(found.rawValue), not \(expected.rawValue)")
        }
        self.agent = agent
        self.evidenceType = found
    }

    public var isInsecure: Bool { false }

    /// The attestation agent behind `provider`, itself a ``CoCoEvidenceProvider`` or one that automatic detection
    /// chose; `nil` for evidence from anywhere else. Where it is not `nil`, runtime measurements go through the
    /// agent's event log, never straight to the TEE's registers, which would break the agent's replay of its log.
    public static func agent(behind provider: any EvidenceProvider) -> CoCoAttestationAgent? {
        provider.unwrapped(as: CoCoEvidenceProvider.self)?.agent
    }

    /// The evidence over `reportData`; an SEV-SNP report carries the certificates the agent sent beside it as its
    /// endorsements (PEM, key certificate first), so clients can verify it offline.
    public func evidence(reportData: [UInt8]) async throws(AttestationError) -> Evidence {
        let answer = try await self.agentEvidence(reportData: reportData)
        var evidence = answer.evidence
        let entries = answer.certificates.compactMap { certificate in
            SNPCertificateTable.certificateKind(agentName: certificate.kind).map { (kind: $0, der: certificate.bytes) }
        }
        if !entries.isEmpty {
            evidence.endorsements.snpCertificates = try SNPCertificateTable.pem(fromEntries: entries)
        }
        return evidence
    }

    /// The evidence over `reportData` (64 bytes) with what the agent sent beside it: the TDX event log, or the
    /// SEV-SNP certificates.
    public func agentEvidence(reportData: [UInt8]) async throws(AttestationError) -> CoCoEvidence {
        guard reportData.count == CoCoAttestationAgent.maximumRuntimeData else {
            throw AttestationError(.invalidArgument, "report data is \(reportData.count) bytes, expected 64")
        }
        let answer = try await self.agent.evidence(runtimeData: reportData)
        guard answer.evidence.type == self.evidenceType else {
            throw AttestationError(
                .providerMismatch, "the attestation agent now provides \(answer.evidence.type.rawValue)")
        }
        return answer
    }
}

extension AutomaticEvidenceProvider {
    /// Picks the evidence a machine can produce: configfs-tsm when it reports a TEE, otherwise the Confidential
    /// Containers attestation agent when it answers with TDX or SEV-SNP evidence, otherwise simulated evidence with a
    /// ``warning`` that gives both reasons.
    ///
    /// Where nothing listens on the agent's port the refused connection fails at once; an agent that is slow to
    /// answer is waited for at most its ``CoCoAttestationAgent/connectTimeout`` and
    /// ``CoCoAttestationAgent/requestTimeout``.
    ///
    /// - Parameters:
    ///   - configFSRoot: The configfs-tsm report directory; tests point it at a fake tree.
    ///   - agent: The attestation agent to try; tests point it at a stand-in.
    ///   - simulatedMeasurement: The measurement the simulated fallback reports.
    public static func detect(
        configFSRoot: String = ConfigFSTSMProvider.defaultRoot, agent: CoCoAttestationAgent = CoCoAttestationAgent(),
        simulatedMeasurement: [UInt8] = SimulatedEvidenceProvider.defaultMeasurement
    ) async throws(AttestationError) -> AutomaticEvidenceProvider {
        let configFSProblem: AttestationError
        do {
            return AutomaticEvidenceProvider(selected: try ConfigFSTSMProvider(root: configFSRoot), warning: nil)
        } catch {
            configFSProblem = error
        }
        let agentProblem: AttestationError
        do {
            return AutomaticEvidenceProvider(selected: try await CoCoEvidenceProvider(agent: agent), warning: nil)
        } catch {
            agentProblem = error
        }
        return AutomaticEvidenceProvider(
            selected: try SimulatedEvidenceProvider(measurement: simulatedMeasurement),
            warning: """
                INSECURE: no TEE found (\(configFSProblem.message); \(agentProblem.message)); serving SIMULATED \
                attestation evidence that proves nothing. Clients refuse it unless they opt in.
                """)
    }
}
