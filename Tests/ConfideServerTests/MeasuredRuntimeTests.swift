import ConfideAttestation
import ConfideClient
import ConfideHTTPClient
import ConfideMeasurement
import ConfideRuntime
import ConfideServer
import ConfideServerTestSupport
import ConfideTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The measurement log end to end: a client that knows only a policy can tell what runs on a server, and refuses a
/// server where anything differs.
@Suite("The measurement log: what a server runs, as a client sees and checks it")
struct MeasuredRuntimeTests {
    static let nonce = [UInt8](repeating: 0x3C, count: 32)

    /// The server's attestation document for `nonce`.
    static func document(_ server: TestServer, nonce: [UInt8] = nonce) async throws -> AttestationDocument {
        try await fetchAttestation(server.port, nonce: nonce)
    }

    /// Verifies `document` with the simulated policy and `measurements`.
    static func verify(
        _ document: AttestationDocument, _ measurements: MeasurementPolicy?, nonce: [UInt8] = nonce
    ) async throws -> AttestedKeys {
        var policy = simulatedPolicy()
        policy.measurements = measurements
        return try await ObliviousClient.verify(document, nonce: nonce, policy: policy)
    }

    /// The refusal's message, or "" when the document is accepted.
    static func refusal(_ document: AttestationDocument, _ measurements: MeasurementPolicy?) async -> String {
        do {
            _ = try await verify(document, measurements)
            return ""
        } catch {
            return "\(error)"
        }
    }

    /// The policy that allows exactly what `log` holds.
    static func policy(allowing log: MeasurementLogSnapshot) -> MeasurementPolicy {
        let state = MeasuredState(log)
        var policy = MeasurementPolicy()
        policy.executables = state.executable.map { [$0.digest] } ?? []
        policy.plugins = state.plugins.map { .init(name: $0.name, digest: $0.digest) }
        policy.models = state.models.map { .init(name: $0.name, version: $0.version, digest: $0.digest) }
        policy.settings = state.settings
        return policy
    }

    @Test func measureComputesExactlyTheDigestsTheServerReports() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let output = try await ConfideCommand.run(
            "attest", "measure", "--handlers", server.root.url.appendingPathComponent("handlers").path,
            "--models", server.root.url.appendingPathComponent("models").path, "--executable", executable,
            "--require", "authentication=none", "--require", "attestation=simulated")
        #expect(output.status == 0, "\(output.output)")
        let policy = try MeasurementPolicy(json: Array(output.output.utf8))
        let keys = try await Self.verify(try await Self.document(server), policy)
        #expect(Set(keys.measured.plugins.map(\.digest)) == Set(policy.plugins.map(\.digest)))
        #expect(keys.measured.plugins.count == policy.plugins.count)
        #expect(keys.measured.plugins.contains { $0.name == "echo" })
        #expect(keys.measured.models.map(\.digest) == policy.models.map(\.digest))
        #expect(keys.measured.executable?.digest == policy.executables.first)
    }

    /// KServe's single-model mode: the folder at `/mnt/models` is served under the InferenceService's name, only it
    /// is served, and `attest measure --model-dir --model-name` computes the digest the server reports for it.
    @Test func aSingleModelFolderIsServedAndMeasuredUnderItsGivenName() async throws {
        let server = try await TestServer.start { configuration in
            let folder = URL(fileURLWithPath: configuration.modelsDirectory).appendingPathComponent("echo").path
            configuration.modelsDirectory = folder
            configuration.modelLayout = .singleModel("sentiment")
        }
        defer { Task { await server.stop() } }
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        #expect(server.server.repository.model("sentiment") != nil && server.server.repository.model("echo") == nil)
        #expect(try await send(server.port, .GET, "/v2/models/sentiment/ready").status == .ok)
        #expect(try await send(server.port, .GET, "/v2/models/echo/ready").status == .notFound)
        let output = try await ConfideCommand.run(
            "attest", "measure", "--handlers", server.root.url.appendingPathComponent("handlers").path,
            "--model-dir", server.server.repository.store.path, "--model-name", "sentiment", "--executable", executable)
        #expect(output.status == 0, "\(output.output)")
        let policy = try MeasurementPolicy(json: Array(output.output.utf8))
        #expect(policy.models.map(\.name) == ["sentiment"])
        let keys = try await Self.verify(try await Self.document(server), policy)
        #expect(keys.measured.models.map(\.name) == ["sentiment"])
        #expect(keys.measured.models.map(\.digest) == policy.models.map(\.digest))
    }

    @Test func oneByteChangedInAPluginChangesTheLogAndTheOldPolicyRefuses() async throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let original = try Array(Data(contentsOf: URL(fileURLWithPath: BuildProducts.library("Echo"))))
        let changed = try #require(Self.changingOneByte(of: original))
        let first = try await TestServer.start()
        let genuine = try await Self.document(first)
        await first.stop()
        let policy = Self.policy(allowing: genuine.measurements)
        _ = try await Self.verify(genuine, policy)

        let server = try await TestServer.start { configuration in
            let folder = URL(fileURLWithPath: configuration.handlersDirectory)
            try FileManager.default.removeItem(at: folder.appendingPathComponent("libEcho.so"))
            try Data(changed).write(to: folder.appendingPathComponent("libEcho.so"))
        }
        defer { Task { await server.stop() } }
        let document = try await Self.document(server)
        #expect(document.measurements.digest != genuine.measurements.digest)
        let state = MeasuredState(document.measurements)
        #expect(state.plugins.first { $0.name == "echo" }?.digest == SubjectDigest.of(changed))
        #expect(await Self.refusal(document, policy).contains("the plugin file libEcho.so"))
    }

    /// A copy of a plugin library with one byte of its `.comment` section (the compiler's name) changed, which
    /// leaves it loadable.
    static func changingOneByte(of library: [UInt8]) -> [UInt8]? {
        let marker = Array("Swift version".utf8)
        guard
            let start = (0...(library.count - marker.count)).first(where: {
                library[$0..<$0 + marker.count].elementsEqual(marker)
            })
        else { return nil }
        var changed = library
        changed[start] = UInt8(ascii: "s")
        return changed
    }

    @Test func aModelRegisteredThroughManagementAppearsAndAPolicyWithoutItRefuses() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let before = try await Self.document(server)
        let policy = Self.policy(allowing: before.measurements)
        let late = server.root.url.appendingPathComponent("models/late")
        try FileManager.default.createDirectory(at: late, withIntermediateDirectories: true)
        try Data(#"{"handler": "echo"}"#.utf8).write(to: late.appendingPathComponent("model.json"))
        let registered = try await send(server.managementPort, .POST, "/models?url=late")
        #expect(registered.status == .ok, "\(registered.text)")

        let after = try await Self.document(server)
        let state = MeasuredState(after.measurements)
        #expect(state.models.map(\.name).sorted() == ["echo", "late"])
        #expect(await Self.refusal(after, policy).contains("model 'late' version 1"))
        _ = try await Self.verify(after, Self.policy(allowing: after.measurements))

        let unregistered = try await send(server.managementPort, .DELETE, "/models/late")
        #expect(unregistered.status == .ok, "\(unregistered.text)")
        let last = try await Self.document(server)
        #expect(MeasuredState(last.measurements).models.map(\.name) == ["echo"])
        #expect(last.measurements.events.last?.kind == .modelUnloaded)
    }

    @Test func aLogEntryRemovedReorderedOrChangedIsRefused() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let genuine = try await Self.document(server)
        let policy = Self.policy(allowing: genuine.measurements)
        _ = try await Self.verify(genuine, policy)
        let events = genuine.measurements.events
        #expect(events.count >= 6)

        var removed = genuine
        removed.measurements = MeasurementLogSnapshot(events: Array(events.dropLast()))
        var reordered = genuine
        reordered.measurements = MeasurementLogSnapshot(
            events: [events[0], events[2], events[1]] + events.dropFirst(3))
        var changed = genuine
        var descriptor = events[1].descriptor
        descriptor[descriptor.count - 2] ^= 0x01
        changed.measurements = MeasurementLogSnapshot(
            events: [
                events[0], MeasurementEvent(kind: events[1].kind, descriptor: descriptor, digest: events[1].digest),
            ] + events.dropFirst(2))
        var retyped = genuine
        retyped.measurements = MeasurementLogSnapshot(
            events: [
                events[0],
                MeasurementEvent(
                    kind: .modelUnloaded, descriptor: events[1].descriptor,
                    digest: events[1].digest),
            ] + events.dropFirst(2))
        for tampered in [removed, reordered, changed, retyped] {
            #expect(await Self.refusal(tampered, policy).contains("does not bind"))
            #expect(await Self.refusal(tampered, nil).contains("does not bind"))
        }
    }

    @Test func anAnswerForAnotherNonceIsRefused() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let replayed = try await Self.document(server, nonce: [UInt8](repeating: 0x11, count: 32))
        await #expect(throws: ObliviousClientError(.attestationRefused, "")) {
            _ = try await Self.verify(replayed, Self.policy(allowing: replayed.measurements))
        }
    }

    @Test func theSimulatedRegisterMustReplayTheLog() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let genuine = try await Self.document(server)
        let evidence = try SimulatedEvidence(bytes: genuine.evidence)
        #expect(evidence.rtmr3 == genuine.measurements.digest)
        #expect(genuine.register == "simulated-rtmr3")
    }
}
