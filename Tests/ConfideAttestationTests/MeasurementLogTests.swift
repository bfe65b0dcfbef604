import ConfideAttestation
import ConfideJSON
import ConfideMeasurement
import Foundation
import Testing

/// The measurement log's encoding, replay, served form and policy. Expected digests were computed with Python's
/// hashlib from the documented encoding (docs/MEASUREMENTS.md), not with this code.
struct MeasurementLogTests {
    static let pluginDescriptor = #"{"name":"echo","version":"1.0.0","abi":"1.3","kind":"handler","file":"libEcho.so"}"#
    static let pluginDigest = SubjectDigest.of(Array("plugin bytes".utf8))

    static var plugin: MeasurementEvent {
        MeasurementEvent(kind: .plugin, descriptor: Array(pluginDescriptor.utf8), digest: pluginDigest)
    }

    static func digestHex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// The worked example of docs/MEASUREMENTS.md.
    @Test func theWorkedExampleMatchesTheDocumentedEncoding() {
        #expect(
            Self.digestHex(Self.pluginDigest)
                == "73b94748f917eddf15b1a6b0b4b518aa8ec01254ac80c16d"
                + "8b94d71247f210ad956aef5ec9479eab9b231b02bdabc781")
        #expect(
            Self.digestHex(Self.plugin.eventDigest)
                == "bc9f97f7aad0ddc9402e57db0ec922a5d6033e75caa04563"
                + "63e97d3bc9944e60b6b623a4f84a1979a768f7808dc0ed72")
        #expect(
            Self.digestHex(MeasurementLogSnapshot(events: [Self.plugin]).digest)
                == "dd2bd5d8be727e0dc919575c0eef8d18ce9e02a90ab8aed4"
                + "669d75755cd1c2b7390b296338ba252d67269e83dbdbdbcd")
        // The descriptor written from fields is the same text.
        let built = MeasurementEvent(
            kind: .plugin,
            fields: ["name": "echo", "version": "1.0.0", "abi": "1.3", "kind": "handler", "file": "libEcho.so"],
            digest: Self.pluginDigest)
        #expect(built == Self.plugin)
    }

    @Test func theModelTreeDigestMatchesTheDocumentedEncoding() throws {
        let digest = SubjectDigest.modelTree(
            config: Array(#"{"handler":"echo"}"#.utf8),
            files: [("b/weights.bin", [1, 2]), ("a.txt", Array("hi".utf8))])
        #expect(
            Self.digestHex(digest)
                == "d1bd14fadfe341ef843224c359b79509dc8836dcd57b0176"
                + "9039bc3a54f5c62d3b5ba7b011879b03c4550f265c60bebe")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("confide-tree-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(
            at: folder.appendingPathComponent("b"), withIntermediateDirectories: true)
        try Data([1, 2]).write(to: folder.appendingPathComponent("b/weights.bin"))
        try Data("hi".utf8).write(to: folder.appendingPathComponent("a.txt"))
        try Data("ignored: the config is given".utf8).write(to: folder.appendingPathComponent("model.json"))
        let config = Array(#"{"handler":"echo"}"#.utf8)
        #expect(try SubjectDigest.modelFolder(config: config, folder: folder.path) == digest)
        try Data([1, 3]).write(to: folder.appendingPathComponent("b/weights.bin"))
        #expect(try SubjectDigest.modelFolder(config: config, folder: folder.path) != digest)
    }

    @Test func theLogRecordsInOrderAndAnchorsEveryEvent() throws {
        let register = RecordingAnchor()
        let log = MeasurementLog(anchors: [register])
        let setting = MeasurementEvent(
            kind: .setting, fields: ["name": "management", "value": "off"], digest: SubjectDigest.of(Array("off".utf8)))
        try log.record(Self.plugin)
        try log.record(setting)
        #expect(log.snapshot.events == [Self.plugin, setting])
        #expect(register.events == [Self.plugin, setting])
        #expect(
            log.snapshot.digest
                == MeasurementRegister.extend(
                    MeasurementRegister.extend(MeasurementRegister.initial, with: Self.plugin.eventDigest),
                    with: setting.eventDigest))

        let failing = MeasurementLog(anchors: [FailingAnchor()])
        #expect(throws: MeasurementError.self) { try failing.record(Self.plugin) }
    }

    @Test func theRTMR3AnchorWritesExactly48BytesPerEvent() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("rtmr3-\(UUID())")
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(RTMR3Anchor(path: file.path) == nil)
        _ = FileManager.default.createFile(atPath: file.path, contents: Data())
        let anchor = try #require(RTMR3Anchor(path: file.path))
        try anchor.anchor(Self.plugin)
        #expect(try Array(Data(contentsOf: file)) == Self.plugin.eventDigest)
    }

    @Test func theServedFormRoundTripsAndRefusesMalformedLogs() throws {
        let log = MeasurementLogSnapshot(events: [Self.plugin])
        let parsed = try MeasurementLogSnapshot.parse(log.json(register: "rtmr3"))
        #expect(parsed.log == log)
        #expect(parsed.register == "rtmr3")
        let descriptor = #""{\"a\":\"b\"}""#
        let digest = String(repeating: "ab", count: 48)
        for bad in [
            "[]", #"{"events":[]}"#, #"{"register":"none"}"#,
            #"{"register":"none","events":[{"type":"plugin","descriptor":"# + descriptor + "}]}",
            #"{"register":"none","events":[{"type":"kernel","descriptor":"# + descriptor + #","digest":""# + digest
                + #""}]}"#,
            #"{"register":"none","events":[{"type":"plugin","descriptor":"# + descriptor + #","digest":"abcd"}]}"#,
            #"{"register":"none","events":[{"type":"plugin","descriptor":"# + descriptor + #","digest":""#
                + String(repeating: "zz", count: 48) + #""}]}"#,
        ] {
            #expect(throws: MeasurementError.self, "\(bad)") {
                _ = try MeasurementLogSnapshot.parse(try JSONParser.parse(bad))
            }
        }
    }

    @Test func simulatedEvidenceMustReplayTheLogItBinds() async throws {
        let provider = try SimulatedEvidenceProvider()
        let log = MeasurementLog(anchors: [provider])
        try log.record(Self.plugin)
        let keys: [UInt8] = [1, 2, 3]
        let nonce = [UInt8](repeating: 9, count: 16)
        var policy = try AttestationPolicy(keyConfigurations: keys, nonce: nonce, measurementLog: log.snapshot.digest)
        policy.acceptSimulated = true
        policy.allowedSimulatedMeasurements = [SimulatedEvidenceProvider.defaultMeasurement]
        let evidence = try await provider.evidence(reportData: policy.expectedReportData)
        let verified = try await AttestationVerifier.verify(evidence, policy: policy)
        let state = try AttestationVerifier.verify(
            measurementLog: log.snapshot, register: "simulated-rtmr3", evidence: verified, policy: policy)
        #expect(state.plugins.map(\.name) == ["echo"])
        // A log the register did not see: an event missing, or one more.
        for other in [MeasurementLogSnapshot(events: []), MeasurementLogSnapshot(events: [Self.plugin, Self.plugin])] {
            expectError(.measurementLogMismatch) {
                _ = try AttestationVerifier.verify(
                    measurementLog: other, register: "simulated-rtmr3", evidence: verified, policy: policy)
            }
        }
        policy.measurements = MeasurementPolicy()
        expectError(.measurementLogRefused) {
            _ = try AttestationVerifier.verify(
                measurementLog: log.snapshot, register: "simulated-rtmr3", evidence: verified, policy: policy)
        }
    }

    /// A TDX quote's RTMR3 must replay the log when the server says it anchors there or the policy requires it.
    @Test func aTDXQuotesRTMR3MustReplayTheLogWhenRequired() throws {
        let quote = try TDXQuote(bytes: try Fixtures.bytes("tdx-quote-v4-b.bin"))
        let verified = VerifiedEvidence(
            type: .tdxQuote, measurement: quote.body.mrTD, reportData: quote.body.reportData, claims: .tdx(quote))
        let log = MeasurementLogSnapshot(events: [Self.plugin])
        var policy = AttestationPolicy(expectedReportData: quote.body.reportData)
        #expect(quote.body.rtmrs[3] != log.digest)
        _ = try AttestationVerifier.verify(measurementLog: log, register: "none", evidence: verified, policy: policy)
        expectError(.measurementLogMismatch) {
            _ = try AttestationVerifier.verify(
                measurementLog: log, register: "rtmr3", evidence: verified, policy: policy)
        }
        policy.measurements = Self.policy
        policy.measurements?.rtmr3 = .replay
        expectError(.measurementLogMismatch) {
            _ = try AttestationVerifier.verify(
                measurementLog: log, register: "none", evidence: verified, policy: policy)
        }
        policy.measurements?.rtmr3 = .ignore
        expectError(.measurementLogRefused) {
            _ = try AttestationVerifier.verify(
                measurementLog: log, register: "aael", evidence: verified, policy: policy)
        }
    }

    // MARK: Policy

    static let executable = MeasurementEvent(
        kind: .executable, fields: ["path": "/usr/bin/confide"], digest: SubjectDigest.of([1]))
    static let pluginFile = MeasurementEvent(kind: .pluginFile, fields: ["file": "libEcho.so"], digest: pluginDigest)
    static let model = MeasurementEvent(
        kind: .modelLoaded, fields: ["model": "echo", "version": "1", "handler": "echo", "source": "folder"],
        digest: SubjectDigest.of([2]))
    static let authentication = MeasurementEvent(
        kind: .setting, fields: ["name": "authentication", "value": "tokens"], digest: SubjectDigest.of([3]))

    static var log: MeasurementLogSnapshot {
        MeasurementLogSnapshot(events: [executable, pluginFile, plugin, authentication, model])
    }

    static var policy: MeasurementPolicy {
        var policy = MeasurementPolicy()
        policy.executables = [executable.digest]
        policy.plugins = [.init(name: "echo", digest: pluginDigest)]
        policy.models = [.init(name: "echo", version: "1", digest: model.digest)]
        policy.settings = ["authentication": "tokens"]
        return policy
    }

    @Test func aPolicyAllowsExactlyWhatItLists() throws {
        let state = try Self.policy.check(Self.log)
        #expect(state.plugins.map(\.name) == ["echo"])
        #expect(state.models.map(\.name) == ["echo"])
        #expect(state.settings == ["authentication": "tokens"])
        #expect(state.executable?.path == "/usr/bin/confide")

        let unloaded = MeasurementEvent(
            kind: .modelUnloaded, descriptor: Self.model.descriptor, digest: Self.model.digest)
        #expect(try Self.policy.check(MeasurementLogSnapshot(events: Self.log.events + [unloaded])).models.isEmpty)
    }

    @Test func eachBrokenEntryIsNamed() {
        func refusal(_ policy: MeasurementPolicy, _ log: MeasurementLogSnapshot) -> String {
            do {
                try policy.check(log)
                return ""
            } catch {
                return error.message
            }
        }
        var policy = Self.policy
        policy.executables = [SubjectDigest.of([9])]
        #expect(refusal(policy, Self.log).contains("event 0: the executable /usr/bin/confide"))
        policy = Self.policy
        policy.plugins = [.init(name: "echo", digest: SubjectDigest.of([9]))]
        #expect(refusal(policy, Self.log).contains("event 1: the plugin file libEcho.so"))
        policy.plugins = [.init(name: "other", digest: Self.pluginDigest)]
        #expect(refusal(policy, Self.log).contains("event 2: the plugin 'echo'"))
        policy = Self.policy
        policy.models = [.init(name: "echo", version: "2", digest: Self.model.digest)]
        #expect(refusal(policy, Self.log).contains("event 4: model 'echo' version 1"))
        policy = Self.policy
        policy.settings["management"] = "off"
        #expect(refusal(policy, Self.log).contains("records no setting 'management'"))
        policy = Self.policy
        policy.settings["authentication"] = "none"
        #expect(refusal(policy, Self.log).contains("the setting 'authentication' is 'tokens'"))
        #expect(
            refusal(Self.policy, MeasurementLogSnapshot(events: Array(Self.log.events.dropFirst())))
                .contains("does not start with the executable"))
        #expect(
            refusal(Self.policy, MeasurementLogSnapshot(events: Self.log.events + [Self.executable]))
                .contains("a second executable"))
    }

    @Test func policyFilesRoundTripAndRefuseUnknownMembers() throws {
        var policy = Self.policy
        policy.mrTDs = [[UInt8](repeating: 7, count: 48)]
        policy.acceptSimulated = true
        policy.rtmr3 = .ignore
        let text = JSONValue.object(policy.json.objectValue ?? JSONObject()).serialized
        #expect(try MeasurementPolicy(json: text) == policy)
        for bad in [
            "[]", #"{"executable":[]}"#, #"{"plugins":[{"name":"a"}]}"#, #"{"plugins":[{"name":"a","digest":"ab"}]}"#,
            #"{"models":[{"name":"a","digest":"zz"}]}"#, #"{"settings":{"a":1}}"#, #"{"rtmr3":"sometimes"}"#,
            #"{"evidence":{"accept_simulated":"yes"}}"#, #"{"evidence":{"mrtds":[]}}"#,
        ] {
            #expect(throws: MeasurementError.self, "\(bad)") { _ = try MeasurementPolicy(json: Array(bad.utf8)) }
        }
    }
}

/// An anchor that keeps what it was given.
final class RecordingAnchor: MeasurementAnchor, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [MeasurementEvent] = []

    var events: [MeasurementEvent] { lock.withLock { recorded } }

    func anchor(_ event: MeasurementEvent) throws(MeasurementError) {
        lock.withLock { recorded.append(event) }
    }
}

/// An anchor that refuses every event.
struct FailingAnchor: MeasurementAnchor {
    func anchor(_ event: MeasurementEvent) throws(MeasurementError) {
        throw MeasurementError("refused")
    }
}

/// The measurement fuzz entry points over random and mutated inputs; the test passes if nothing traps.
struct MeasurementFuzzEntryPointTests {
    @Test func servedLogAndPolicyEntryPoints() {
        var rng = FuzzEntryPointTests.SplitMix64(state: 18)
        let log = JSONValue.object(
            MeasurementLogSnapshot(events: [MeasurementLogTests.plugin, MeasurementLogTests.executable])
                .json(register: "rtmr3").objectValue ?? JSONObject()
        ).serialized
        let policy = JSONValue.object(MeasurementLogTests.policy.json.objectValue ?? JSONObject()).serialized
        for round in 0..<3_000 {
            MeasurementFuzz.servedLog(
                round % 5 == 0
                    ? FuzzEntryPointTests.random(&rng, maximumCount: 300)
                    : FuzzEntryPointTests.mutate(log, &rng))
            MeasurementFuzz.policyFile(
                round % 5 == 0
                    ? FuzzEntryPointTests.random(&rng, maximumCount: 300)
                    : FuzzEntryPointTests.mutate(policy, &rng))
        }
    }
}
