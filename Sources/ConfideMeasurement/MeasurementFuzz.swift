import ConfideJSON

/// Entry points for fuzzers: each parses arbitrary bytes the way a client does and must never trap.
public enum MeasurementFuzz {
    /// Parses `bytes` as a served measurement log (JSON), replays it and reads what it says is live.
    public static func servedLog(_ bytes: [UInt8]) {
        guard let value = try? JSONParser.parse(bytes), let parsed = try? MeasurementLogSnapshot.parse(value) else {
            return
        }
        _ = parsed.log.digest
        _ = MeasuredState(parsed.log)
    }

    /// Parses `bytes` as a policy file and checks a small fixed log against it.
    public static func policyFile(_ bytes: [UInt8]) {
        guard let policy = try? MeasurementPolicy(json: bytes) else {
            return
        }
        let log = MeasurementLogSnapshot(events: [
            MeasurementEvent(kind: .executable, fields: ["path": "/confide"], digest: SubjectDigest.of([])),
            MeasurementEvent(
                kind: .setting, fields: ["name": "management", "value": "off"], digest: SubjectDigest.of([])),
        ])
        _ = try? policy.check(log)
    }
}
