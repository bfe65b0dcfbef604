/// Chooses hardware evidence when configfs-tsm reports a TEE, and falls back to simulated evidence otherwise,
/// with ``warning`` set so the server can say loudly that its evidence is insecure.
public struct AutomaticEvidenceProvider: EvidenceProvider {
    /// The provider chosen.
    public let selected: any EvidenceProvider
    /// A message for operators when the choice fell back to simulated evidence; `nil` on TEE hardware.
    public let warning: String?

    /// Probes configfs-tsm under `root` and picks a provider.
    ///
    /// - Parameters:
    ///   - root: The configfs-tsm report directory; tests point it at a fake tree.
    ///   - entryName: A fixed configfs-tsm entry, or `nil` for a fresh one per request.
    ///   - simulatedMeasurement: The measurement the simulated fallback reports.
    public init(
        root: String = ConfigFSTSMProvider.defaultRoot,
        entryName: String? = nil,
        simulatedMeasurement: [UInt8] = SimulatedEvidenceProvider.defaultMeasurement
    ) throws(AttestationError) {
        do {
            self.selected = try ConfigFSTSMProvider(root: root, entryName: entryName)
            self.warning = nil
        } catch {
            self.selected = try SimulatedEvidenceProvider(measurement: simulatedMeasurement)
            self.warning = """
                INSECURE: no TEE found (\(error.message)); serving SIMULATED attestation evidence that proves nothing. \
                Clients refuse it unless they opt in.
                """
        }
    }

    /// Wraps a provider that a probe elsewhere chose (for example the Confidential Containers attestation agent, found
    /// where configfs-tsm is absent), with the operators' warning when it is simulated.
    public init(selected: any EvidenceProvider, warning: String?) {
        self.selected = selected
        self.warning = warning
    }

    public var evidenceType: EvidenceType { self.selected.evidenceType }

    public var isInsecure: Bool { self.selected.isInsecure }

    public var wrapped: (any EvidenceProvider)? { self.selected }

    public func evidence(reportData: [UInt8]) async throws(AttestationError) -> Evidence {
        try await self.selected.evidence(reportData: reportData)
    }
}
