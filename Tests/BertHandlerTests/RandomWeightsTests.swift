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

    @Test func badParametersAreRefused() throws {
        let folder = try RandomModel.folder(config: Self.tinyConfig)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(throws: (any Error).self) { try RandomModel.tester(folder, parameters: #"{"random_weights": "yes"}"#) }
        #expect(throws: (any Error).self) {
            try RandomModel.tester(folder, parameters: #"{"random_weights": true, "seed": -1}"#)
        }
        let empty = try RandomModel.folder(config: "{}")
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect(throws: (any Error).self) { try RandomModel.tester(empty, seed: 1) }
    }
}

/// Engine-level throughput (sequences of 128 tokens per second, through the handler ABI on 2 cores): all-MiniLM-L6-v2
/// at batch 1, 8 and 32 and BERT-Large (random weights) at batch 8, at each precision. Opt in with
/// `CONFIDE_BENCH=1 swift test --filter BertBenchmark`.
@Suite("bert engine benchmark", .serialized, .enabled(if: ProcessInfo.processInfo.environment["CONFIDE_BENCH"] != nil))
struct BertBenchmark {
    static let bertLarge = """
        {"model_type": "bert", "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
         "intermediate_size": 4096, "max_position_embeddings": 512, "vocab_size": 30522}
        """

    @Test(arguments: [ModelConfig.Precision.fp32, .bf16, .int8])
    func miniLM(precision: ModelConfig.Precision) throws {
        try #require(BertFixtures.modelPresent, BertFixtures.modelAbsent)
        let bert = try BertFixtures.tester(precision: precision)
        // 126 words of one token each, between [CLS] and [SEP].
        let text = Array(repeating: "hello", count: 126).joined(separator: " ")
        for batch in [1, 8, 32] {
            let rate = try Self.sequencesPerSecond(bert, text: text, batch: batch, seconds: 3)
            print("bench minilm \(precision) seq 128 batch \(batch): \(String(format: "%.1f", rate)) sequences/s")
        }
    }

    @Test(arguments: [ModelConfig.Precision.fp32, .bf16, .int8])
    func bertLarge(precision: ModelConfig.Precision) throws {
        let folder = try RandomModel.folder(config: Self.bertLarge)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let bert = try RandomModel.tester(folder, seed: 1, precision: precision)
        // 126 one-character words: one token each with the synthetic vocabulary.
        let text = Array(repeating: "a", count: 126).joined(separator: " ")
        let rate = try Self.sequencesPerSecond(bert, text: text, batch: 8, seconds: 10)
        print("bench bert-large \(precision) seq 128 batch 8: \(String(format: "%.2f", rate)) sequences/s")
    }

    /// Runs batches of `batch` copies of `text` (one request each) for about `seconds` after one warm-up batch.
    static func sequencesPerSecond(_ bert: HandlerTester, text: String, batch: Int, seconds: Double) throws -> Double {
        let requests = (0..<batch).map { _ in HostRequest(inputs: [BertFixtures.texts([text])]) }
        for result in bert.execute(requests) { _ = try result.get() }
        let clock = ContinuousClock()
        let start = clock.now
        var sequences = 0
        repeat {
            for result in bert.execute(requests) { _ = try result.get() }
            sequences += batch
        } while (clock.now - start) < .seconds(seconds)
        let elapsed = clock.now - start
        return Double(sequences) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
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
        _ folder: String, seed: Int = 0, precision: ModelConfig.Precision = .fp32, parameters: String? = nil
    ) throws -> HandlerTester {
        try BertFixtures.activation.get()
        let config = ModelLoadConfig(
            name: "random", path: folder, configJSON: #"{"handler": "bert", "precision": "\#(precision.rawValue)"}"#,
            parametersJSON: parameters ?? #"{"random_weights": true, "seed": \#(seed)}"#)
        return try HandlerTester(library: BertFixtures.library("Bert"), model: config, worker: WorkerInfo(coreCount: 2))
    }
}
