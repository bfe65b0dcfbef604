import ConfideAttestation
import ConfideMeasurement
import Foundation

/// The events a server records at start, before it loads plugins and models: its executable and the settings
/// that decide who can reach plaintext.
enum StartupMeasurements {
    /// Where the running executable can be read.
    static let executable = "/proc/self/exe"

    /// The executable's event, measured once per process: every server a process starts runs the same bytes.
    private static let executableEvent = Result { () throws(MeasurementError) -> MeasurementEvent in
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: executable)) ?? executable
        return MeasurementEvent(kind: .executable, fields: ["path": path], digest: try SubjectDigest.ofFile(executable))
    }

    /// Records the executable and the access settings of `configuration` into `log`.
    ///
    /// Settings (descriptor `{"name","value"}`, digest SHA-384 of the value unless said otherwise):
    /// `authentication` (`tokens`, with the token file's digest, or `none`), `management` (`off` or the address it
    /// listens on), `attestation` (the evidence type served) and `gateway-key` (`generated` or `shared:<name>`).
    static func record(
        _ configuration: ServerConfiguration, provider: any EvidenceProvider, into log: MeasurementLog
    ) throws(MeasurementError) {
        try log.record(try executableEvent.get())
        if let tokens = configuration.tokens {
            try log.record(
                MeasurementEvent(
                    kind: .setting, fields: ["name": "authentication", "value": "tokens"], digest: tokens.fileDigest))
        } else {
            try setting("authentication", "none", into: log)
        }
        let management = configuration.managementPort.map { "\(configuration.managementHost):\($0)" } ?? "off"
        try setting("management", management, into: log)
        try setting("attestation", provider.evidenceType.rawValue, into: log)
        let gatewayKey = configuration.oblivious.sharedKeyName.map { "shared:\($0)" } ?? "generated"
        try setting("gateway-key", gatewayKey, into: log)
    }

    private static func setting(_ name: String, _ value: String, into log: MeasurementLog) throws(MeasurementError) {
        try log.record(
            MeasurementEvent(
                kind: .setting, fields: ["name": name, "value": value], digest: SubjectDigest.of(Array(value.utf8))))
    }
}
