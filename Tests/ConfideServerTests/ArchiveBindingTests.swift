import ConfideClient
import ConfideHTTPClient
import ConfideRuntime
import ConfideServer
import ConfideServerTestSupport
import ConfideTestSupport
import Crypto
import Foundation
import Logging
import NIOHTTP1
import Synchronization
import Testing

/// A key provider that hands out one key and records every name it is asked for.
final class RecordingKeyProvider: KeyProvider {
    let key: SymmetricKey
    private let names = Mutex<[String]>([])

    init(key: SymmetricKey) {
        self.key = key
    }

    /// Every name asked for so far.
    var requested: [String] { names.withLock { $0 } }

    func key(named name: KeyName) throws(KeyProviderError) -> SymmetricKey {
        names.withLock { $0.append(name.rawValue) }
        return key
    }
}

/// The files of a `slow`-handler model whose one weights file holds `weights`; the handler answers that file.
func slowModelFiles(weights: [UInt8]) -> [String: [UInt8]] {
    ["model.json": archiveFiles["model.json"] ?? [], "weights/w.bin": weights]
}

/// Writes `<model>.cfa` into `store`, encrypted under `keyName` with `key` when given.
func writeArchive(
    _ model: String, to store: URL, weights: [UInt8] = [1], version: String = "1", keyName: String? = nil,
    key: SymmetricKey? = nil
) throws {
    let archive = ModelArchive(
        files: slowModelFiles(weights: weights), model: model, version: version, keyName: try keyName.map(KeyName.init))
    let file = store.appendingPathComponent("\(model).\(ModelStore.archiveExtension)")
    try Data(try archive.encoded(key: key)).write(to: file)
}

/// Starts a server on the model store `models` with the `slow` handler.
func startServer(
    root: TemporaryDirectory, models: URL, configure: (inout ServerConfiguration) throws -> Void
) async throws -> TestServer {
    var configuration = ServerConfiguration(
        handlersDirectory: try makeServerHandlersDirectory(in: root, plugins: ["FixtureSlow"]),
        modelsDirectory: models.path)
    configuration.port = 0
    configuration.metricsPort = nil
    configuration.grpcPort = nil
    configuration.managementPort = nil
    configuration.attestation = .simulated
    try configure(&configuration)
    var logger = Logger(label: "confide-test")
    logger.logLevel = .critical
    return try await TestServer.run(configuration, logger: logger, root: root)
}

@Suite("Model archives are bound to the model and version their header names")
struct ArchiveBindingTests {
    let key = SymmetricKey(size: .bits256)

    /// Two archives under the same key, swapped on disk: each names the other model, so neither loads, and the key is
    /// not even asked for.
    @Test func swappedArchivesAreRefusedByTheStore() throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let models = try root.subdirectory("models")
        try writeArchive("prod", to: models, weights: [1, 1], keyName: "default/keys/shared", key: key)
        try writeArchive("debug", to: models, weights: [9, 9], keyName: "default/keys/shared", key: key)
        let provider = RecordingKeyProvider(key: key)
        let store = ModelStore(path: models.path, keys: { name in try provider.key(named: name) })
        #expect(try store.load(name: "prod").artifacts?["weights/w.bin"] == [1, 1])
        #expect(try store.load(name: "debug").artifacts?["weights/w.bin"] == [9, 9])
        #expect(provider.requested.count == 2)

        try swap(models.appendingPathComponent("prod.cfa"), models.appendingPathComponent("debug.cfa"))
        let prod = #expect(throws: ModelStoreError.self) { try store.load(name: "prod") }
        #expect(prod?.message.contains("belongs to model 'debug', not 'prod'") == true, "\(prod?.message ?? "")")
        let debug = #expect(throws: ModelStoreError.self) { try store.load(name: "debug") }
        #expect(debug?.message.contains("belongs to model 'prod', not 'debug'") == true, "\(debug?.message ?? "")")
        let scanned = try store.scan()
        #expect(scanned.count == 2)
        #expect(scanned.allSatisfy { if case .failure = $0 { true } else { false } })
        #expect(provider.requested.count == 2, "a swapped archive's key was fetched")
    }

    /// The same swap under a running server: neither model serves, and the failures say why.
    @Test func swappedArchivesAreNotServed() async throws {
        let root = try TemporaryDirectory()
        let models = try root.subdirectory("models")
        try writeArchive("prod", to: models, weights: [1, 1], keyName: "default/keys/shared", key: key)
        try writeArchive("debug", to: models, weights: [9, 9], keyName: "default/keys/shared", key: key)
        try swap(models.appendingPathComponent("prod.cfa"), models.appendingPathComponent("debug.cfa"))
        let provider = RecordingKeyProvider(key: key)
        let server = try await startServer(root: root, models: models) { $0.keyProvider = provider }
        defer { Task { await server.stop() } }
        #expect(server.server.repository.models.isEmpty)
        let failures = server.server.repository.failures
        #expect(failures.map(\.model) == ["debug", "prod"])
        #expect(failures.first?.message.contains("belongs to model 'prod', not 'debug'") == true)
        #expect(failures.last?.message.contains("belongs to model 'debug', not 'prod'") == true)
        #expect(provider.requested.isEmpty)
        for model in ["prod", "debug"] {
            let response = try await send(server.port, .POST, "/v2/models/\(model)/infer", body: int32Request(1))
            #expect(response.status != .ok, "\(model): \(response.text)")
        }
    }

    @Test func anArchiveOfAnotherVersionIsRefused() throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let models = try root.subdirectory("models")
        try writeArchive("m", to: models, version: "2")
        let error = #expect(throws: ModelStoreError.self) { try ModelStore(path: models.path).load(name: "m") }
        #expect(error?.message.contains("holds version 2 of 'm'") == true, "\(error?.message ?? "")")
    }

    /// Format 1 named no model: it is refused with the command that repacks it.
    @Test func aFormat1ArchiveIsRefusedWithHowToRepack() throws {
        var payload: [UInt8] = []
        let config = archiveFiles["model.json"] ?? []
        payload += [0, 10] + Array("model.json".utf8) + bigEndian(UInt64(config.count)) + config
        let format1 = Array("CONFIDEA".utf8) + [1, 0, 0, 0] + bigEndian(UInt64(payload.count)) + payload
        let error = #expect(throws: ArchiveError.self) { try ModelArchive(decoding: format1) }
        #expect(error?.message.contains("archive format 1 does not name the model") == true)
        #expect(error?.message.contains("confide archive create FOLDER --output NAME.cfa") == true)
    }

    @Test(arguments: ["", ".hidden", "a/b", "a:b", "tab\tname", String(repeating: "m", count: 256)])
    func archivesOfBadModelNamesAreNeitherWrittenNorRead(model: String) throws {
        #expect(throws: ArchiveError.self) { try ModelArchive(files: archiveFiles, model: model).encoded() }
        let name = Array(model.utf8)
        let header = Array("CONFIDEA".utf8) + [2, 0] + bigEndian(UInt16(name.count)) + name + [0, 1, 0x31, 0, 0]
        #expect(throws: ArchiveError.self) { try ModelArchive.header(of: header + bigEndian(UInt64(0))) }
    }

    @Test(arguments: ["", "v1", "1.0", "-1", String(repeating: "1", count: 21)])
    func archivesOfBadVersionsAreRefused(version: String) throws {
        #expect(throws: ArchiveError.self) {
            try ModelArchive(files: archiveFiles, model: "m", version: version).encoded()
        }
    }

    private func swap(_ first: URL, _ second: URL) throws {
        let aside = first.appendingPathExtension("aside")
        try FileManager.default.moveItem(at: first, to: aside)
        try FileManager.default.moveItem(at: second, to: first)
        try FileManager.default.moveItem(at: aside, to: second)
    }
}

func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.bigEndian) { Array($0) }
}

@Suite("A model store that requires encrypted archives")
struct ArchiveEncryptionRequirementTests {
    let key = SymmetricKey(size: .bits256)

    @Test func everyModelMustBeAnEncryptedArchive() throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let models = URL(fileURLWithPath: try makeModelStore(in: root, models: ["folder": #"{"handler": "slow"}"#]))
        try writeArchive("plain", to: models)
        try writeArchive("sealed", to: models, keyName: "k", key: key)
        let provider = RecordingKeyProvider(key: key)
        let store = ModelStore(
            path: models.path, keys: { name in try provider.key(named: name) },
            requiredEncryption: EncryptionRequirement(everyModel: true))
        let folder = #expect(throws: ModelStoreError.self) { try store.load(name: "folder") }
        #expect(
            folder?.message.contains("model 'folder' must be an encrypted archive") == true, "\(folder?.message ?? "")")
        #expect(folder?.message.contains("is a folder") == true)
        let plain = #expect(throws: ModelStoreError.self) { try store.load(name: "plain") }
        #expect(
            plain?.message.contains("model 'plain' must be an encrypted archive") == true, "\(plain?.message ?? "")")
        #expect(plain?.message.contains("not encrypted") == true)
        #expect(try store.load(name: "sealed").artifacts?["weights/w.bin"] == [1])
        #expect(provider.requested == ["k"])
        // The same store without the requirement serves all three.
        let open = ModelStore(path: models.path, keys: { name in try provider.key(named: name) })
        #expect(try open.scan().allSatisfy { if case .success = $0 { true } else { false } })
    }

    /// A folder next to an encrypted archive of the same name would win; where encryption is required it is refused.
    @Test func aFolderCannotShadowARequiredArchive() throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let models = URL(fileURLWithPath: try makeModelStore(in: root, models: ["m": #"{"handler": "slow"}"#]))
        try writeArchive("m", to: models, keyName: "k", key: key)
        let store = ModelStore(
            path: models.path, keys: { _ in key }, requiredEncryption: EncryptionRequirement(models: ["m"]))
        let error = #expect(throws: ModelStoreError.self) { try store.load(name: "m") }
        #expect(error?.message.contains("model 'm' must be an encrypted archive") == true)
    }

    /// Per model: only the named models must be encrypted; at start-up and when registered later.
    @Test func theServerRefusesPlainModelsNamedAsEncrypted() async throws {
        let root = try TemporaryDirectory()
        let models = URL(
            fileURLWithPath: try makeModelStore(
                in: root, models: ["folder": #"{"handler": "slow"}"#, "other": #"{"handler": "slow"}"#]))
        try writeArchive("plain", to: models)
        try writeArchive("sealed", to: models, keyName: "k", key: key)
        let server = try await startServer(root: root, models: models) { configuration in
            configuration.keyProvider = RecordingKeyProvider(key: key)
            configuration.requiredEncryption = EncryptionRequirement(models: ["folder", "plain", "sealed", "late"])
            configuration.managementPort = 0
        }
        defer { Task { await server.stop() } }
        let repository = server.server.repository
        #expect(repository.models.keys.sorted() == ["other", "sealed"])
        #expect(repository.failures.map(\.model) == ["folder", "plain"])
        #expect(
            repository.failures.allSatisfy {
                $0.message.contains("model '\($0.model)' must be an encrypted archive")
            })
        #expect(try await send(server.port, .POST, "/v2/models/sealed/infer", body: int32Request(1)).status == .ok)
        #expect(try await send(server.port, .POST, "/v2/models/plain/infer", body: int32Request(1)).status != .ok)
        // A model added to the store later and registered (as the management API does) obeys it too.
        try writeArchive("late", to: models)
        let late = #expect(throws: RepositoryError.self) { try repository.register("late") }
        #expect(late?.message.contains("model 'late' must be an encrypted archive") == true, "\(late?.message ?? "")")
        let refused = try await send(server.managementPort, .POST, "/v2/repository/models/late/load")
        #expect(refused.status == .badRequest, "a model the store refuses is not a missing one: \(refused.text)")
        #expect(try await send(server.managementPort, .POST, "/v2/repository/models/absent/load").status == .notFound)
        try writeArchive("late", to: models, keyName: "k", key: key)
        #expect(try repository.register("late").name == "late")
    }
}

@Suite("Archive key names are checked before any key provider sees them")
struct ArchiveKeyNameTests {
    @Test(arguments: ["k", "default/keys/model", "a.b_c-D/0/x..y", "...", String(repeating: "k", count: 255)])
    func goodKeyNames(text: String) throws {
        #expect(try KeyName(text).rawValue == text)
    }

    @Test(arguments: [
        ("", "must not be empty"),
        (String(repeating: "k", count: 256), "at most 255 bytes"),
        ("a/b/c/d", "at most 3 are allowed"),
        ("/a", "empty segment"), ("a/", "empty segment"), ("a//b", "empty segment"),
        (".", "'.' or '..' segment"), ("a/../b", "'.' or '..' segment"), ("a/./b", "'.' or '..' segment"),
        ("../../etc", "'.' or '..' segment"),
        ("a/b?c", "holds '?'"), ("a/b#c", "holds '#'"), ("a/%2e%2e/c", "holds '%'"), ("a b", "holds byte 32"),
        ("a\\b", "holds '\\'"), ("a\u{0}b", "holds byte 0"), ("a\nb", "holds byte 10"), ("clé", "holds byte 195"),
        ("a/b:c", "holds ':'"), ("a;b", "holds ';'"), ("a&b=c", "holds '&'"),
    ])
    func badKeyNamesAreRefused(text: String, excerpt: String) {
        let error = #expect(throws: KeyNameError.self) { try KeyName(text) }
        #expect(error?.message.contains(excerpt) == true, "\(text.debugDescription): \(error?.message ?? "")")
        #expect(error?.message.contains("\n") == false)
    }

    /// An archive whose header names a bad key is refused when its header is read, so the provider is never called.
    @Test(arguments: ["../../etc/shadow", "a/b?x=1", "a/b#c", "a/%2e%2e/c", "a/ b/c", "a/b/c/d", "a\u{0}/b/c", ""])
    func anArchiveNamingABadKeyNeverReachesTheProvider(name: String) throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let models = try root.subdirectory("models")
        let keyName = Array(name.utf8)
        let header =
            Array("CONFIDEA".utf8) + [2, 1] + [0, 1, 0x6D] + [0, 1, 0x31]
            + bigEndian(UInt16(keyName.count)) + keyName + [UInt8](repeating: 0, count: 12)
        let bytes = header + bigEndian(UInt64(1)) + [UInt8](repeating: 0, count: 17)
        try Data(bytes).write(to: models.appendingPathComponent("m.cfa"))
        let provider = RecordingKeyProvider(key: SymmetricKey(size: .bits256))
        let store = ModelStore(path: models.path, keys: { name in try provider.key(named: name) })
        let error = #expect(throws: ModelStoreError.self) { try store.load(name: "m") }
        #expect(
            error?.message.contains(name.isEmpty ? "must name its key" : "key name is refused") == true,
            "\(error?.message ?? "")")
        #expect(provider.requested.isEmpty)
    }

    @Test func aBadSharedGatewayKeyNameNeverReachesTheProvider() async throws {
        let provider = RecordingKeyProvider(key: SymmetricKey(size: .bits256))
        let error = await #expect(throws: KeyProviderError.self) {
            _ = try await TestServer.start { configuration in
                configuration.keyProvider = provider
                configuration.oblivious.sharedKeyName = "default/keys/gateway?raw=1"
            }
        }
        #expect(error?.message.contains("shared gateway key name is refused") == true, "\(error?.message ?? "")")
        #expect(provider.requested.isEmpty)
    }

    /// The key-file provider builds its path from the checked segments only.
    @Test func theKeyFileProviderReadsInsideItsFolder() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let keys = try folder.subdirectory("keys/default")
        try Data(String(repeating: "cd", count: 32).utf8).write(to: keys.appendingPathComponent("model"))
        let provider = KeyFileProvider(directory: folder.url.appendingPathComponent("keys").path)
        let key = try provider.key(named: KeyName("default/model"))
        #expect(key.withUnsafeBytes { Array($0) } == [UInt8](repeating: 0xCD, count: 32))
        #expect(throws: KeyProviderError.self) { try provider.key(named: KeyName("default/absent")) }
    }
}

@Suite("The model archive fuzz entry point")
struct ArchiveFuzzTests {
    @Test func readingMutatedArchivesNeverTraps() throws {
        let key = SymmetricKey(data: [UInt8](repeating: 0x5A, count: 32))
        let seeds = [
            try ModelArchive(files: archiveFiles, model: "m").encoded(),
            try ModelArchive(files: archiveFiles, model: "m", keyName: KeyName("a/b/c")).encoded(key: key),
            Array("default/keys/model".utf8),
        ]
        var generator = SystemRandomNumberGenerator()
        for iteration in 0..<3000 {
            var bytes = seeds[iteration % seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let position = Int.random(in: 0..<bytes.count, using: &generator)
                bytes[position] = UInt8.random(in: 0...255, using: &generator)
            }
            if iteration % 7 == 0 { bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator))) }
            ServerFuzz.modelArchive(bytes)
        }
    }
}
