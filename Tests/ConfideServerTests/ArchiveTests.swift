import ConfideClient
import ConfideEnvelope
import ConfideHTTPClient
import ConfideHost
import ConfideJSON
import ConfideRuntime
import ConfideServer
import ConfideServerTestSupport
import ConfideTestSupport
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing

/// Stands in for the Confidential Data Hub: serves fixed resources at /cdh/resource/...
struct KeyBrokerStandIn: RequestResponder {
    let resources: [String: [UInt8]]

    func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        guard request.method == .GET, let resource = resources[request.path] else {
            return respond(ServerResponse(status: .notFound))
        }
        respond(ServerResponse(status: .ok, body: ByteBuffer(bytes: resource)))
    }
}

@Suite("Model archives, encryption at rest and key providers")
struct ArchiveTests {
    let key = SymmetricKey(size: .bits256)

    @Test func plainAndEncryptedArchivesRoundTrip() throws {
        let plain = try ModelArchive(files: archiveFiles, model: "m").encoded()
        #expect(try ModelArchive(decoding: plain).files == archiveFiles)
        #expect(try ModelArchive.header(of: plain) == ModelArchive.Header(model: "m", version: "1", keyName: nil))
        let keyName = try KeyName("default/keys/model")
        let sealed = try ModelArchive(files: archiveFiles, model: "m", version: "7", keyName: keyName).encoded(key: key)
        #expect(try ModelArchive.header(of: sealed) == ModelArchive.Header(model: "m", version: "7", keyName: keyName))
        let decoded = try ModelArchive(decoding: sealed, key: key)
        #expect(decoded.files == archiveFiles)
        #expect((decoded.model, decoded.version, decoded.keyName) == ("m", "7", keyName))
        #expect(
            !sealed.contains(subsequence: Array("weights/w.bin".utf8)),
            "an encrypted archive must not show its file names")
    }

    /// A model-store entry often links to files in a download cache (scripts/fetch-minilm does): the archive holds
    /// the files behind the links, under the links' names; hidden files stay out.
    @Test func packingAFolderFollowsLinksToFiles() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let entry = try folder.subdirectory("entry")
        let cache = try folder.subdirectory("cache")
        try Data(archiveFiles["model.json"] ?? []).write(to: entry.appendingPathComponent("model.json"))
        try Data(archiveFiles["weights/w.bin"] ?? []).write(to: cache.appendingPathComponent("w.bin"))
        try FileManager.default.createDirectory(
            at: entry.appendingPathComponent("weights"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            at: entry.appendingPathComponent("weights/w.bin"), withDestinationURL: cache.appendingPathComponent("w.bin")
        )
        try Data("secret".utf8).write(to: entry.appendingPathComponent(".hidden"))
        #expect(try ModelArchive(packing: entry.path, model: "entry").files == archiveFiles)
    }

    @Test func everyChangeToAnEncryptedArchiveIsRejected() throws {
        let sealed = try ModelArchive(files: archiveFiles, model: "m", keyName: KeyName("k")).encoded(key: key)
        for offset in sealed.indices {
            var tampered = sealed
            tampered[offset] ^= 0x01
            #expect(throws: ArchiveError.self, "a flipped bit at \(offset) was accepted") {
                try ModelArchive(decoding: tampered, key: key)
            }
        }
        for length in 0..<sealed.count {
            #expect(throws: ArchiveError.self) { try ModelArchive(decoding: Array(sealed.prefix(length)), key: key) }
        }
        let wrong = #expect(throws: ArchiveError.self) {
            try ModelArchive(decoding: sealed, key: SymmetricKey(size: .bits256))
        }
        #expect(wrong?.message.contains("does not decrypt") == true)
        #expect(throws: ArchiveError.self) { try ModelArchive(decoding: sealed) }
    }

    @Test func theServerServesAnEncryptedArchiveDecryptedInMemory() async throws {
        let keyFolder = try TemporaryDirectory()
        defer { keyFolder.remove() }
        let keyText = key.withUnsafeBytes { $0.map { String(format: "%02x", $0) }.joined() }
        try FileManager.default.createDirectory(
            at: keyFolder.url.appendingPathComponent("default/keys"), withIntermediateDirectories: true)
        try Data(keyText.utf8).write(to: keyFolder.url.appendingPathComponent("default/keys/model"))
        let server = try await startWithArchive(
            keyName: "default/keys/model", provider: KeyFileProvider(directory: keyFolder.path))
        defer { Task { await server.stop() } }
        let response = try await send(server.port, .POST, "/v2/models/sealed/infer", body: int32Request(1))
        #expect(response.status == .ok, "\(response.text)")
        #expect(try outputData(response)["file"] == [0, 1, 2, 3, 254, 255].map { .integer($0) })
    }

    @Test func anArchiveWhoseKeyIsMissingOrWrongIsNotServed() async throws {
        let keyFolder = try TemporaryDirectory()
        defer { keyFolder.remove() }
        try Data(String(repeating: "ab", count: 32).utf8).write(to: keyFolder.url.appendingPathComponent("other"))
        let wrong = try await startWithArchive(keyName: "other", provider: KeyFileProvider(directory: keyFolder.path))
        #expect(wrong.server.repository.failures.first?.message.contains("does not decrypt") == true)
        await wrong.stop()
        let missing = try await startWithArchive(
            keyName: "absent", provider: KeyFileProvider(directory: keyFolder.path))
        #expect(missing.server.repository.failures.first?.message.contains("no key file 'absent'") == true)
        await missing.stop()
        let none = try await startWithArchive(keyName: "absent", provider: nil)
        #expect(none.server.repository.failures.first?.message.contains("no key provider") == true)
        await none.stop()
    }

    @Test func theConfidentialDataHubProviderAndItsFailures() async throws {
        let keyBytes = key.withUnsafeBytes { Array($0) }
        let broker = try await HTTPServer.start(
            host: "127.0.0.1", port: 0,
            responder: KeyBrokerStandIn(resources: [
                "/cdh/resource/default/keys/model": keyBytes, "/cdh/resource/default/keys/short": [1, 2, 3],
            ]),
            maxBodySize: 1024)
        let provider = ConfidentialDataHubProvider(port: broker.port)
        let fetched = await onOwnThread {
            try? provider.key(named: KeyName("default/keys/model")).withUnsafeBytes { Array($0) }
        }
        #expect(fetched == keyBytes)
        #expect(await keyError(provider, "default/keys/nothere")?.message.contains("HTTP 404") == true)
        #expect(await keyError(provider, "default/keys/short")?.message.contains("must be 32 bytes") == true)
        let oneSegment = #expect(throws: KeyProviderError.self) {
            try provider.key(named: KeyName("not-a-resource-path"))
        }
        #expect(oneSegment?.message.contains("<repository>/<type>/<tag>") == true)
        // The same endpoint supplies the key of an encrypted archive to a server.
        let server = try await startWithArchive(keyName: "default/keys/model", provider: provider)
        #expect(try await send(server.port, .POST, "/v2/models/sealed/infer", body: int32Request(1)).status == .ok)
        await server.stop()
        await broker.shutdown()
        #expect(await keyError(provider, "default/keys/model")?.message.contains("did not answer") == true)
    }

    /// Fetches a key off the concurrency pool (the provider blocks) and returns the error, if any.
    private func keyError(_ provider: ConfidentialDataHubProvider, _ name: String) async -> KeyProviderError? {
        await onOwnThread { () -> KeyProviderError? in
            do {
                _ = try provider.key(named: KeyName(name))
                return nil
            } catch let error as KeyProviderError {
                return error
            } catch {
                return KeyProviderError("not a key name: \(error)")
            }
        }
    }

    private func startWithArchive(keyName: String, provider: (any KeyProvider)?) async throws -> TestServer {
        let root = try TemporaryDirectory()
        let models = try root.subdirectory("models")
        let sealed = try ModelArchive(files: archiveFiles, model: "sealed", keyName: KeyName(keyName)).encoded(key: key)
        try Data(sealed).write(to: models.appendingPathComponent("sealed.cfa"))
        var configuration = ServerConfiguration(
            handlersDirectory: try makeServerHandlersDirectory(in: root, plugins: ["FixtureSlow"]),
            modelsDirectory: models.path)
        configuration.port = 0
        configuration.metricsPort = nil
        configuration.grpcPort = nil
        configuration.managementPort = nil
        configuration.keyProvider = provider
        var logger = Logger(label: "confide-test")
        logger.logLevel = .critical
        return try await TestServer.run(configuration, logger: logger, root: root)
    }
}

extension Array where Element == UInt8 {
    func contains(subsequence: [UInt8]) -> Bool {
        guard subsequence.count <= count else { return false }
        return (0...(count - subsequence.count)).contains { Array(self[$0..<($0 + subsequence.count)]) == subsequence }
    }
}

@Suite("A gateway key shared by replicas")
struct SharedGatewayKeyTests {
    @Test func replicasWithTheSameKeyServeTheSameKeyConfiguration() async throws {
        let keys = try TemporaryDirectory()
        defer { keys.remove() }
        let raw = Curve25519.KeyAgreement.PrivateKey().rawRepresentation
        try raw.write(to: keys.url.appendingPathComponent("gateway"))
        func replica() async throws -> TestServer {
            try await TestServer.start { configuration in
                configuration.keyProvider = KeyFileProvider(directory: keys.path)
                configuration.oblivious.sharedKeyName = "gateway"
            }
        }
        let first = try await replica()
        let second = try await replica()
        defer {
            Task {
                await first.stop()
                await second.stop()
            }
        }
        #expect(first.server.keyStore.currentConfiguration == second.server.keyStore.currentConfiguration)
        // A client that attested the first replica can send to the second.
        let client = try await ObliviousClient.connect(host: "127.0.0.1", port: second.port, policy: simulatedPolicy())
        defer { Task { await client.close() } }
        let input = try #require(InferTensor(name: "t", strings: ["shared"]))
        #expect(try await client.infer(model: "echo", inputs: [input]).first?.strings() == ["shared"])
        await #expect(throws: (any Error).self) {
            _ = try await TestServer.start { $0.oblivious.sharedKeyName = "gateway" }
        }
    }
}
