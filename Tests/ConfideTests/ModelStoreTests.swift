import ConfideJSON
import ConfideRuntime
import Foundation
import Testing

@Suite("The model store and model.json")
struct ModelStoreTests {
    @Test func aHandlerAloneIsACompleteModel() throws {
        let config = try ModelConfig(json: Array(#"{"handler": "echo"}"#.utf8))
        #expect(config.handler == "echo")
        #expect(config.workers == 1)
        #expect(config.maxBatchSize == 8)
        #expect(config.precision == .fp32)
    }

    @Test(arguments: ModelConfig.Precision.allCases)
    func precisionIsATopLevelKey(precision: ModelConfig.Precision) throws {
        let config = try ModelConfig(json: Array(#"{"handler": "bert", "precision": "\#(precision.rawValue)"}"#.utf8))
        #expect(config.precision == precision)
    }

    @Test(arguments: [
        (#"{"handler": "echo", "wrkers": 2}"#, "unknown key \"wrkers\""),
        (#"{}"#, "\"handler\" must name a handler"),
        (#"[]"#, "must hold a JSON object"),
        (#"{"handler": "echo", "workers": 0}"#, "\"workers\" must be an integer from 1"),
        (#"{"handler": "echo", "max_batch_size": "8"}"#, "\"max_batch_size\" must be an integer"),
        (#"{"handler": "echo", "parameters": 3}"#, "\"parameters\" must be an object"),
        (#"{"handler": "echo""#, "model.json: invalid JSON"),
        (#"{"handler": "bert", "precision": "fp16"}"#, #""precision" must be one of "fp32", "bf16", "int8""#),
        (#"{"handler": "bert", "precision": 8}"#, #""precision" must be one of"#),
    ])
    func badConfigurationsNameTheProblem(text: String, excerpt: String) {
        let error = #expect(throws: ModelStoreError.self) { try ModelConfig(json: Array(text.utf8)) }
        #expect(error?.message.contains(excerpt) == true, "\(error?.message ?? "")")
    }

    @Test func versionsAreNumberedFoldersAndTheHighestIsTheDefault() throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let store = try makeModelStore(in: root, models: ["m": #"{"handler": "echo", "parameters": {"k": 1}}"#, "plain": #"{"handler": "echo"}"#])
        for version in ["1", "2", "10", "notes"] {
            try FileManager.default.createDirectory(
                atPath: "\(store)/m/\(version)", withIntermediateDirectories: true)
        }
        let model = try ModelStore(path: store).load(name: "m")
        #expect(model.versions.map(\.name) == ["1", "2", "10"])
        #expect(model.defaultVersion == "10")
        #expect(model.versions.last?.path.hasSuffix("/m/10") == true)
        #expect(model.config.parameters["k"] == .integer(1))
        let plain = try ModelStore(path: store).load(name: "plain")
        #expect(plain.versions.map(\.name) == ["1"])
        #expect(plain.versions.first?.path.hasSuffix("/plain") == true)
    }

    /// KServe's storage initializer leaves one model at `/mnt/models`: the folder itself, served under the name the
    /// server is given, with its versions; no other name is found there.
    @Test func aSingleModelFolderIsServedUnderTheGivenName() throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let folder = try root.subdirectory("mnt-models")
        try Data(#"{"handler": "echo"}"#.utf8).write(to: folder.appendingPathComponent("model.json"))
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("2"), withIntermediateDirectories: true)
        let store = ModelStore(path: folder.path, layout: .singleModel("sentiment"))
        let scanned = try store.scan()
        #expect(scanned.count == 1)
        let model = try #require(try scanned.first?.get())
        #expect(model.name == "sentiment" && model.path == folder.path)
        #expect(model.versions.map(\.name) == ["2"])
        let other = #expect(throws: ModelStoreError.self) { try store.load(name: "echo") }
        #expect(other?.isMissing == true)
        #expect(other?.message.contains("serves the one model 'sentiment'") == true, "\(other?.message ?? "")")
    }

    /// A single-model folder without `model.json` holds one archive, which must name the model it is served as.
    @Test func aSingleModelFolderMayHoldOneArchiveThatNamesTheModel() throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let folder = try root.subdirectory("mnt-models")
        let files = ["model.json": Array(#"{"handler": "echo"}"#.utf8)]
        try Data(try ModelArchive(files: files, model: "sentiment").encoded())
            .write(to: folder.appendingPathComponent("sentiment.cfa"))
        let model = try ModelStore(path: folder.path, layout: .singleModel("sentiment")).load(name: "sentiment")
        #expect(model.artifacts?["model.json"] == files["model.json"] && model.archiveDigest != nil)

        let renamed = #expect(throws: ModelStoreError.self) {
            try ModelStore(path: folder.path, layout: .singleModel("moderation")).load(name: "moderation")
        }
        #expect(renamed?.message.contains("belongs to model 'sentiment'") == true, "\(renamed?.message ?? "")")

        try Data(try ModelArchive(files: files, model: "sentiment").encoded())
            .write(to: folder.appendingPathComponent("copy.cfa"))
        let two = #expect(throws: ModelStoreError.self) {
            try ModelStore(path: folder.path, layout: .singleModel("sentiment")).load(name: "sentiment")
        }
        #expect(two?.message.contains("found 2 archives") == true, "\(two?.message ?? "")")
        let empty = try root.subdirectory("empty")
        let nothing = try ModelStore(path: empty.path, layout: .singleModel("sentiment")).scan()
        #expect(nothing.count == 1)
        if case .failure(let failure) = nothing.first {
            #expect(failure.model == "sentiment" && failure.message.contains("neither model.json"))
        } else {
            Issue.record("an empty single-model folder must fail to load, naming the model")
        }
    }

    @Test func aDefaultVersionMustExist() throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let store = try makeModelStore(in: root, models: ["m": #"{"handler": "echo", "default_version": 3}"#])
        let error = #expect(throws: ModelStoreError.self) { try ModelStore(path: store).load(name: "m") }
        #expect(error?.message.contains("default_version \"3\" is not one of the versions") == true)
    }
}
