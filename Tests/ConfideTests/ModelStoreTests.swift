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

    @Test func aDefaultVersionMustExist() throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let store = try makeModelStore(in: root, models: ["m": #"{"handler": "echo", "default_version": 3}"#])
        let error = #expect(throws: ModelStoreError.self) { try ModelStore(path: store).load(name: "m") }
        #expect(error?.message.contains("default_version \"3\" is not one of the versions") == true)
    }
}
