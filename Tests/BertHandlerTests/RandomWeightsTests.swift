import ConfideHost
import ConfideRuntime
import ConfideSDK
import ConfideTestKit
import Foundation
import Testing

/// Models with seeded random weights, from a `config.json` alone (BERT-Large-shaped ones for benchmarks).
@Suite("The bert handler with random weights")
struct RandomWeightsTests {
    static let tinyConfig = """
        {"model_type": "bert", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
         "intermediate_size": 128, "max_position_embeddings": 64, "vocab_size": 400}
        """

    @Test func aSeedGivesTheSameModelEveryTime() throws {
        let folder = try RandomModel.folder(config: Self.tinyConfig)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let texts = BertFixtures.texts(["hello world", "", String(repeating: "long text ", count: 20)])
        let first = try BertFixtures.embeddings(try RandomModel.tester(folder, seed: 7).infer([texts]))
        let again = try BertFixtures.embeddings(try RandomModel.tester(folder, seed: 7).infer([texts]))
        let other = try BertFixtures.embeddings(try RandomModel.tester(folder, seed: 8).infer([texts]))
        #expect(first.count == 3 && first.allSatisfy { $0.count == 64 })
        #expect(first == again)
        #expect(first != other)
        for embedding in first {
            #expect(abs(embedding.reduce(0) { $0 + Double($1) * Double($1) } - 1) < 1e-4)
        }
    }

    /// The precision is one of the handler's parameters: BF16 gives the same weights' embeddings, a little off.
    @Test func thePrecisionParameterTakesEffect() throws {
        let folder = try RandomModel.folder(config: Self.tinyConfig)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let texts = BertFixtures.texts(["hello world"])
        let fp32 = try BertFixtures.embeddings(try RandomModel.tester(folder, seed: 3).infer([texts]))
        let bf16 = try BertFixtures.embeddings(try RandomModel.tester(folder, seed: 3, precision: .bf16).infer([texts]))
        let first = try #require(fp32.first)
        let rounded = try #require(bf16.first)
        #expect(first != rounded)
        #expect(zip(first, rounded).reduce(0) { $0 + Double($1.0) * Double($1.1) } > 0.99)
    }

    @Test func badParametersAreRefused() throws {
        let folder = try RandomModel.folder(config: Self.tinyConfig)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(throws: (any Error).self) { try RandomModel.tester(folder, parameters: #"{"random_weights": "yes"}"#) }
        #expect(throws: (any Error).self) {
            try RandomModel.tester(folder, parameters: #"{"random_weights": true, "seed": -1}"#)
        }
        #expect(throws: (any Error).self) {
            try RandomModel.tester(folder, parameters: #"{"random_weights": true, "attention_precision": "int8"}"#)
        }
        let precision = #expect(throws: (any Error).self) {
            try RandomModel.tester(folder, parameters: #"{"random_weights": true, "precision": "fp16"}"#)
        }
        #expect(
            "\(precision.map { "\($0)" } ?? "")".contains(
                #""precision" must be one of "fp32", "bf16", "int8", not "fp16""#))
        let empty = try RandomModel.folder(config: "{}")
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect(throws: (any Error).self) { try RandomModel.tester(empty, seed: 1) }
    }
}

/// Model folders holding only a `config.json`.
enum RandomModel {
    static func folder(config: String) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bert-random-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(config.utf8).write(to: folder.appendingPathComponent("config.json"))
        return folder.path
    }

    static func tester(
        _ folder: String, seed: Int = 0, precision: BertPrecision? = nil, parameters: String? = nil
    ) throws -> HandlerTester {
        try BertFixtures.activation.get()
        let written = parameters ?? #"{"random_weights": true, "seed": \#(seed)}"#
        let config = ModelLoadConfig(
            name: "random", path: folder, configJSON: #"{"handler": "bert"}"#,
            parametersJSON: try precision?.parameters(written) ?? written)
        return try HandlerTester(library: BertFixtures.library("Bert"), model: config, worker: WorkerInfo(coreCount: 2))
    }
}
