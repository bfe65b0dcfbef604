import ConfideHost
import ConfideJSON
import ConfideRuntime
import ConfideTestSupport
import Foundation
import Testing

@Suite("The model store and model.json")
struct ModelStoreTests {
    @Test func aHandlerAloneIsACompleteModel() throws {
        let config = try ModelConfig(json: Array(#"{"handler": "echo"}"#.utf8))
        #expect(config.handler == "echo")
        #expect(config.workers == 1)
        #expect(config.maxBatchSize == 8)
        #expect(config.parametersJSON == "{}")
        #expect(config.warnings.isEmpty)
    }

    /// The handler's keys are its own: the runtime hands `"parameters"` over byte for byte as written, whatever it
    /// holds, and checks none of it (a precision no handler knows included).
    @Test func parametersReachTheHandlerAsWritten() throws {
        let parameters =
            #"{ "precision" : "fp16", "zeta": 1.50, "big": 12345678901234567890123, "e": 2E+3,"#
            + #" "nested": {"a": [1, "\u00e9", null]} }"#
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let store = try makeModelStore(
            in: root, models: ["m": "{\"handler\": \"bert\",\n \"parameters\":  \(parameters)\n, \"workers\": 1}"])
        let model = try ModelStore(path: store).load(name: "m")
        #expect(model.config.warnings.isEmpty)
        #expect(model.config.parametersJSON == parameters)
        let version = try #require(model.versions.first)
        #expect(model.loadConfig(version: version).parametersJSON == parameters)
        #expect(model.config.parameters["precision"] == .string("fp16"))
    }

    /// A top-level `"precision"` (where `model.json` kept it before it became the handler's) still reaches the
    /// handler for one release: moved under `"parameters"`, with a warning.
    @Test func aTopLevelPrecisionMovesUnderParametersWithAWarning() throws {
        let config = try ModelConfig(
            json: Array(#"{"handler": "bert", "precision": "int8", "parameters": {"task": "embedding"}}"#.utf8))
        #expect(config.parameters.keys == ["task", "precision"])
        #expect(config.parametersJSON == #"{"task":"embedding","precision":"int8"}"#)
        #expect(config.warnings.count == 1)
        #expect(config.warnings.first?.contains(#"top-level "precision" is deprecated"#) == true)
        #expect(config.warnings.first?.contains(#"move it under "parameters""#) == true)

        let alone = try ModelConfig(json: Array(#"{"handler": "bert", "precision": "bf16"}"#.utf8))
        #expect(alone.parametersJSON == #"{"precision":"bf16"}"#)

        let both = try ModelConfig(
            json: Array(#"{"handler": "bert", "precision": "int8", "parameters": {"precision": "bf16"}}"#.utf8))
        #expect(both.parameters["precision"] == .string("bf16"))
        #expect(both.parametersJSON == #"{"precision": "bf16"}"#)
        #expect(both.warnings.first?.contains(#"top-level "precision" is ignored"#) == true)
    }

    /// Changing the parameters (as `confide bench model --precisions` does) gives the handler the changed ones.
    @Test func changedParametersAreSerialized() throws {
        var config = try ModelConfig(json: Array(#"{"handler": "bert", "parameters": {"seed": 7}}"#.utf8))
        #expect(config.parametersJSON == #"{"seed": 7}"#)
        config.parameters["precision"] = .string("int8")
        #expect(config.parametersJSON == #"{"seed":7,"precision":"int8"}"#)
    }

    @Test(arguments: [
        (#"{"handler": "echo", "wrkers": 2}"#, "unknown key \"wrkers\""),
        (#"{}"#, "\"handler\" must name a handler"),
        (#"[]"#, "must hold a JSON object"),
        (#"{"handler": "echo", "workers": 0}"#, "\"workers\" must be an integer from 1"),
        (#"{"handler": "echo", "max_batch_size": "8"}"#, "\"max_batch_size\" must be an integer"),
        (#"{"handler": "echo", "parameters": 3}"#, "\"parameters\" must be an object"),
        (#"{"handler": "echo""#, "model.json: invalid JSON"),
    ])
    func badConfigurationsNameTheProblem(text: String, excerpt: String) {
        let error = #expect(throws: ModelStoreError.self) { try ModelConfig(json: Array(text.utf8)) }
        #expect(error?.message.contains(excerpt) == true, "\(error?.message ?? "")")
    }

    @Test func versionsAreNumberedFoldersAndTheHighestIsTheDefault() throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let store = try makeModelStore(
            in: root, models: ["m": #"{"handler": "echo", "parameters": {"k": 1}}"#, "plain": #"{"handler": "echo"}"#])
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
        try FileManager.default.createDirectory(
            at: folder.appendingPathComponent("2"), withIntermediateDirectories: true)
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
