import BertModel
import ConfideHost
import ConfideJSON
import ConfideRuntime
import ConfideSDK
import ConfideTensors
import ConfideTestKit
import Foundation
import MiniLMCache
import Testing

/// The `bert` handler against transformers on seeded random-weight checkpoints of every architecture and task that
/// `scripts/bert-oracle` (Tests/Interop/bert_oracle.py) builds: BERT and DistilBERT embeddings, sequence
/// classification (single- and multi-label), cross-encoders over text pairs, token classification. FP32 must give
/// transformers' token ids, logits (within 1e-4 of the row's largest magnitude), labels, offsets and entities;
/// BF16 and INT8 report how often their labels agree.
/// Serialized: each test runs the oracle's models for tens of seconds on a thread of the concurrency pool, and two at
/// once would leave none of its threads to the servers of the suites running alongside.
@Suite(
    "The bert handler against transformers", .serialized, .enabled(if: BertOracle.available, BertOracle.skipReason))
struct BertOracleTests {
    @Test func everyModelDeclaresItsTaskContract() throws {
        for model in try BertOracle.expected().models {
            let bert = try BertOracle.tester(model.name, precision: .fp32)
            let inputs = bert.model.inputs
            let outputs = bert.model.outputs
            switch model.task {
            case "embedding":
                #expect(outputs.map(\.name) == ["embedding", "token_count"], "\(model.name)")
                #expect(!Classification.takesPairs(inputs: inputs), "\(model.name)")
            case "classification":
                #expect(
                    Classification.labelCount(inputs: inputs, outputs: outputs) == model.labelCount, "\(model.name)")
                #expect(!Reranking.isDeclared(inputs: inputs, outputs: outputs), "\(model.name)")
            case "rerank":
                #expect(Classification.labelCount(inputs: inputs, outputs: outputs) == 1, "\(model.name)")
                #expect(Reranking.isDeclared(inputs: inputs, outputs: outputs), "\(model.name)")
            default:
                #expect(TokenClassification.labelCount(inputs: inputs, outputs: outputs) == 5, "\(model.name)")
                #expect(!Classification.takesPairs(inputs: inputs), "\(model.name)")
            }
        }
    }

    /// The tokenizer gives transformers' ids and token types for texts and for pairs, truncated longest-first.
    @Test func tokensOfTextsAndPairsAreTransformers() throws {
        let expected = try BertOracle.expected()
        for model in expected.models where model.task == "classification" || model.task == "rerank" {
            let tokenizer = try BertCheckpoint(path: BertOracle.folder(model.name)).tokenizer
            let pairs = model.task == "rerank"
            for (index, ids) in model.ids.enumerated() {
                let (a, b) = pairs ? expected.pairs[index] : (expected.texts[index], nil)
                let encoding = try Array(a.utf8).withUnsafeBytes { first in
                    try b.map { Array($0.utf8) }.withUnsafeBytesIfPresent { second in
                        try tokenizer.encode(utf8: first, pair: second)
                    }
                }
                #expect(encoding.ids == ids, "\(model.name) input \(index)")
                if model.family == "bert" {
                    #expect(encoding.typeIDs == model.typeIDs[index], "\(model.name) input \(index)")
                }
            }
        }
    }

    @Test func fp32MatchesTransformers() throws {
        let expected = try BertOracle.expected()
        for model in expected.models {
            let bert = try BertOracle.tester(model.name, precision: .fp32)
            switch model.task {
            case "embedding":
                let rows = try BertOracle.run(bert, texts: expected.texts) { try BertFixtures.embeddings($0) }
                BertOracle.expectClose(rows, model.embedding, model.name)
            case "classification", "rerank":
                let pairs = model.task == "rerank" ? expected.pairs : nil
                let results = try BertOracle.classify(bert, expected: expected, pairs: pairs)
                BertOracle.expectClose(results.logits, model.logits, model.name + " logits")
                BertOracle.expectClose(results.probabilities, model.probabilities, model.name + " probabilities")
                #expect(results.labels == model.labels, "\(model.name)")
                if model.task == "rerank" {
                    BertOracle.expectClose(results.scores.map { [$0] }, model.probabilities, model.name + " score")
                }
            default:
                let results = try BertOracle.tokenClassify(bert, texts: expected.texts)
                BertOracle.expectClose(
                    results.logits.flatMap { $0 }, model.tokenLogits.flatMap { $0 }, model.name + " logits")
                for index in expected.texts.indices {
                    let name = "\(model.name) text \(index)"
                    let tokens = results.tokens[index]
                    let reference = model.tokens[index]
                    #expect(tokens.map(\.key) == reference.map(\.key), "\(name) tokens")
                    for (token, other) in zip(tokens, reference) {
                        #expect(abs(token.score - other.score) <= 1e-4, "\(name) token \(token.key)")
                    }
                    let entities = results.entities[index]
                    let references = model.entities[index]
                    #expect(entities.map(\.key) == references.map(\.key), "\(name) entities")
                    for (entity, other) in zip(entities, references) {
                        #expect(abs(entity.score - other.score) <= 1e-4, "\(name) entity \(entity.key)")
                    }
                }
            }
        }
    }

    /// BF16 and INT8: the share of labels (per text, or per token) that agree with transformers' FP32 ones.
    @Test(arguments: [BertPrecision.bf16, .int8])
    func reducedPrecisionLabelsAgree(precision: BertPrecision) throws {
        let expected = try BertOracle.expected()
        for model in expected.models where model.task != "embedding" {
            let bert = try BertOracle.tester(model.name, precision: precision)
            var agree = 0
            var total = 0
            if model.task == "token_classification" {
                let results = try BertOracle.tokenClassify(bert, texts: expected.texts)
                for (tokens, reference) in zip(results.tokens, model.tokens) {
                    for (token, other) in zip(tokens, reference) where token.key == other.key { agree += 1 }
                    total += reference.count
                }
            } else {
                let pairs = model.task == "rerank" ? expected.pairs : nil
                let results = try BertOracle.classify(bert, expected: expected, pairs: pairs)
                if model.task == "rerank" {
                    // One label: agreement is on the order of the scores, pair by pair with the next.
                    let ours = results.scores
                    let theirs = model.probabilities.map { $0[0] }
                    for index in 1..<ours.count {
                        if (ours[index] > ours[index - 1]) == (theirs[index] > theirs[index - 1]) { agree += 1 }
                        total += 1
                    }
                } else {
                    agree = zip(results.labels, model.labels).filter { $0 == $1 }.count
                    total = model.labels.count
                }
            }
            let share = Double(agree) / Double(max(total, 1))
            print(
                "bert oracle \(precision) \(model.name): \(agree) of \(total) agree with transformers FP32 (\(share))")
            #expect(share >= BertOracle.agreementBar(precision), "\(model.name) \(precision): \(share)")
        }
    }
}

/// Requests and settings around the tasks, on the oracle's checkpoints.
@Suite("The bert handler's tasks", .enabled(if: BertOracle.available, BertOracle.skipReason))
struct BertTaskRequestTests {
    @Test func pairsAreRefusedWhereTheyMeanNothingOrDoNotMatch() throws {
        let pairs = [BertFixtures.texts(["a", "b"]), BertFixtures.texts(["c", "d"], name: "text_pair")]
        for model in ["bert-embedding-mean", "bert-token-classification"] {
            let bert = try BertOracle.tester(model, precision: .fp32)
            let error = #expect(throws: HandlerError.self, "\(model)") { try bert.infer(pairs) }
            #expect(error?.code == .invalidArgument)
        }
        let crossEncoder = try BertOracle.tester("bert-cross-encoder", precision: .fp32)
        #expect(throws: HandlerError.self) {
            try crossEncoder.infer([BertFixtures.texts(["a", "b"]), BertFixtures.texts(["c"], name: "text_pair")])
        }
        let scores = try crossEncoder.infer(pairs)
        #expect(scores["score"]?.shape == [2])
        #expect(scores["label"]?.strings() == ["LABEL_0", "LABEL_0"])
    }

    /// TorchServe's text classifier answers a label → probability object per text; pairs come as "text_pair".
    @Test func torchServeClassification() throws {
        let bert = try BertOracle.tester("bert-classification", precision: .fp32)
        let kserve = try BertOracle.classify(
            bert, expected: BertOracle.Expected(texts: ["good", "bad"], pairs: [], models: []), pairs: nil)
        let single = try BertFixtures.torchServe(bert, #"{"text": "good"}"#, contentType: "application/json")
        let object = try #require(try JSONParser.parse(single).objectValue)
        #expect(object.keys == ["negative", "neutral", "positive"])
        for (index, key) in object.keys.enumerated() {
            #expect(abs((object[key]?.doubleValue ?? .nan) - Double(kserve.probabilities[0][index])) < 1e-6)
        }
        let list = try BertFixtures.torchServe(bert, #"["good", "bad"]"#, contentType: nil)
        #expect(try JSONParser.parse(list).arrayValue?.count == 2)
        let crossEncoder = try BertOracle.tester("distilbert-cross-encoder", precision: .fp32)
        let pair = try BertFixtures.torchServe(
            crossEncoder, #"{"text": ["q", "q"], "text_pair": ["a", "b"]}"#, contentType: nil)
        #expect(try JSONParser.parse(pair).arrayValue?.count == 2)
        #expect(throws: HandlerError.self) {
            try BertFixtures.torchServe(crossEncoder, #"{"text": "q", "text_pair": ["a"]}"#, contentType: nil)
        }
    }

    /// TorchServe's token classification answers the entities, as KServe's `entities` output holds them.
    @Test func torchServeTokenClassification() throws {
        let bert = try BertOracle.tester("bert-token-classification", precision: .fp32)
        let text = "Hello, world! HELLO WORLD"
        let kserve = try bert.infer([BertFixtures.texts([text])])
        let entities = try #require(kserve["entities"]?.byteElements()?.first)
        #expect(try BertFixtures.torchServe(bert, text, contentType: "text/plain") == entities)
        #expect(try JSONParser.parse(entities).arrayValue?.isEmpty == false)
    }

    /// `parameters` serve a classifier's encoder for embeddings, or rename its labels.
    @Test func parametersOverrideTheTaskAndLabels() throws {
        try BertFixtures.activation.get()
        func tester(_ parameters: String) throws -> HandlerTester {
            let config = ModelLoadConfig(
                name: "classifier", path: try BertOracle.folder("distilbert-classification"),
                configJSON: #"{"handler": "bert"}"#, parametersJSON: parameters)
            return try HandlerTester(
                library: BertFixtures.library("Bert"), model: config, worker: WorkerInfo(coreCount: 2))
        }
        let embedding = try tester(#"{"task": "embedding"}"#)
        #expect(embedding.model.outputs.map(\.name) == ["embedding", "token_count"])
        #expect(try embedding.infer([BertFixtures.texts(["a"])])["embedding"]?.shape == [1, 32])
        let renamed = try tester(#"{"labels": ["bad", "good"]}"#)
        let label = try renamed.infer([BertFixtures.texts(["a"])])["label"]?.strings()?.first
        #expect(label == "bad" || label == "good")
        #expect(throws: (any Error).self) { try tester(#"{"labels": ["one", "two", "three"]}"#) }
    }
}

/// The oracle's files and the helpers that compare with them.
enum BertOracle {
    /// What `scripts/bert-oracle` printed (the folder of the checkpoints and expected.json), or why it failed;
    /// exit status 3 means the venv cannot be created, and the suite is skipped.
    static let prepared: Result<String, OracleError> = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [(MiniLMCache.packageRoot as NSString).appendingPathComponent("scripts/bert-oracle")]
        let output = Pipe()
        process.standardOutput = output
        do {
            try process.run()
        } catch {
            return .failure(OracleError(unavailable: true, message: "cannot run scripts/bert-oracle: \(error)"))
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let folder = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0 else {
            return .failure(
                OracleError(
                    unavailable: process.terminationStatus == 3,
                    message: "scripts/bert-oracle failed with status \(process.terminationStatus)"))
        }
        return .success(folder)
    }()

    /// Whether to run the suite: unless the venv cannot be created (a failure of the oracle itself fails the tests).
    static var available: Bool {
        if case .failure(let error) = prepared, error.unavailable { return false }
        return true
    }

    static let skipReason = Comment(
        rawValue: "the transformers oracle is unavailable: scripts/bert-oracle cannot create its Python venv "
            + "(run scripts/bootstrap --test)")

    struct OracleError: Error, CustomStringConvertible {
        let unavailable: Bool
        let message: String
        var description: String { message }
    }

    /// The least share of labels that agree with transformers' FP32 ones (measured in docs/BERT.md).
    static func agreementBar(_ precision: BertPrecision) -> Double {
        precision == .bf16 ? 0.98 : 0.95
    }

    static func folder(_ model: String) throws -> String {
        (try prepared.get() as NSString).appendingPathComponent(model)
    }

    static func tester(_ model: String, precision: BertPrecision) throws -> HandlerTester {
        try BertFixtures.activation.get()
        let config = ModelLoadConfig(
            name: model, path: try folder(model), configJSON: #"{"handler": "bert"}"#,
            parametersJSON: try precision.parameters())
        return try HandlerTester(library: BertFixtures.library("Bert"), model: config, worker: WorkerInfo(coreCount: 2))
    }

    /// One model's expected outputs.
    struct Model {
        let name: String
        let task: String
        let json: JSONObject

        var family: String { name.hasPrefix("distilbert") ? "distilbert" : "bert" }
        var labelCount: Int { logits.first?.count ?? 0 }
        var embedding: [[Double]] { Self.matrix(json["embedding"]) }
        var logits: [[Double]] { Self.matrix(json["logits"]) }
        var probabilities: [[Double]] { Self.matrix(json["probabilities"]) }
        var labels: [String] { (json["labels"]?.arrayValue ?? []).map { $0.stringValue ?? "" } }
        var ids: [[Int32]] { Self.matrix(json["ids"]).map { $0.map { Int32($0) } } }
        var typeIDs: [[Int32]] { Self.matrix(json["type_ids"]).map { $0.map { Int32($0) } } }
        var tokenLogits: [[[Double]]] { (json["logits"]?.arrayValue ?? []).map { Self.matrix($0) } }
        var tokens: [[Labelled]] { (json["tokens"]?.arrayValue ?? []).map { Labelled.list($0, kind: .token) } }
        var entities: [[Labelled]] { (json["entities"]?.arrayValue ?? []).map { Labelled.list($0, kind: .entity) } }

        static func matrix(_ value: JSONValue?) -> [[Double]] {
            (value?.arrayValue ?? []).map { ($0.arrayValue ?? []).map { $0.doubleValue ?? .nan } }
        }
    }

    /// A labelled token or an entity: what must be identical (`key`), and its score.
    struct Labelled {
        enum Kind { case token, entity }
        let key: String
        let score: Double

        static func list(_ value: JSONValue, kind: Kind) -> [Labelled] {
            (value.arrayValue ?? []).map { element in
                let object = element.objectValue ?? JSONObject()
                func field(_ name: String) -> String {
                    guard let value = object[name] else { return "-" }
                    return value.stringValue ?? value.int64Value.map(String.init) ?? "?"
                }
                let names =
                    kind == .token
                    ? ["index", "token", "label", "start", "end"] : ["entity_group", "word", "start", "end"]
                return Labelled(
                    key: names.map(field).joined(separator: "|"), score: object["score"]?.doubleValue ?? .nan)
            }
        }
    }

    struct Expected {
        let texts: [String]
        let pairs: [(String, String)]
        let models: [Model]
    }

    static func expected() throws -> Expected {
        let path = (try prepared.get() as NSString).appendingPathComponent("expected.json")
        let data = try #require(FileManager.default.contents(atPath: path), "cannot read \(path)")
        let root = try #require(try JSONParser.parse([UInt8](data)).objectValue)
        let texts = (root["texts"]?.arrayValue ?? []).map { $0.stringValue ?? "" }
        let pairs = (root["pairs"]?.arrayValue ?? []).map { pair in
            let both = pair.arrayValue ?? []
            return (both.first?.stringValue ?? "", both.last?.stringValue ?? "")
        }
        let models = (root["models"]?.arrayValue ?? []).compactMap { value -> Model? in
            guard let object = value.objectValue, let name = object["name"]?.stringValue,
                let task = object["task"]?.stringValue
            else { return nil }
            return Model(name: name, task: task, json: object)
        }
        #expect(models.count == 10)
        #expect(texts.count == pairs.count)
        return Expected(texts: texts, pairs: pairs, models: models)
    }

    /// Runs `texts` through `bert` as requests of up to 8 texts, batches of 4 requests, and collects `read`'s rows.
    static func run<Row>(
        _ bert: HandlerTester, texts: [String], pairs: [String]? = nil, read: ([HostTensor]) throws -> [Row]
    ) throws -> [Row] {
        var rows: [Row] = []
        for batch in stride(from: 0, to: texts.count, by: 32) {
            var requests: [HostRequest] = []
            for start in stride(from: batch, to: min(batch + 32, texts.count), by: 8) {
                let range = start..<min(start + 8, texts.count)
                var inputs = [BertFixtures.texts(Array(texts[range]))]
                if let pairs { inputs.append(BertFixtures.texts(Array(pairs[range]), name: "text_pair")) }
                requests.append(HostRequest(inputs: inputs))
            }
            for result in bert.execute(requests) { rows += try read(try result.get().outputs) }
        }
        #expect(rows.count == texts.count)
        return rows
    }

    static func classify(_ bert: HandlerTester, expected: Expected, pairs: [(String, String)]?) throws
        -> (logits: [[Float]], probabilities: [[Float]], labels: [String], scores: [Float])
    {
        let texts = pairs.map { $0.map(\.0) } ?? expected.texts
        let rows = try run(bert, texts: texts, pairs: pairs.map { $0.map(\.1) }) { outputs in
            let named = Dictionary(outputs.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            let logits = try rowsOf(try #require(named["logits"]))
            let probabilities = try rowsOf(try #require(named["probabilities"]))
            let labels = try #require(named["label"]?.strings())
            let scores = named["score"]?.values(as: Float.self) ?? Array(repeating: .nan, count: labels.count)
            return (0..<labels.count).map { (logits[$0], probabilities[$0], labels[$0], scores[$0]) }
        }
        return (rows.map(\.0), rows.map(\.1), rows.map(\.2), rows.map(\.3))
    }

    static func tokenClassify(_ bert: HandlerTester, texts: [String]) throws
        -> (logits: [[[Float]]], tokens: [[Labelled]], entities: [[Labelled]])
    {
        let rows = try run(bert, texts: texts) { outputs in
            let named = Dictionary(outputs.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            let logits = try #require(named["logits"])
            let values = try #require(logits.values(as: Float.self))
            let (count, longest, labels) = (Int(logits.shape[0]), Int(logits.shape[1]), Int(logits.shape[2]))
            let tokens = try #require(named["tokens"]?.byteElements()).map {
                Labelled.list(try JSONParser.parse($0), kind: .token)
            }
            let entities = try #require(named["entities"]?.byteElements()).map {
                Labelled.list(try JSONParser.parse($0), kind: .entity)
            }
            return try (0..<count).map { text in
                // Each text's rows: its tokens ([CLS] and [SEP] included) are its listed tokens and two.
                let length = tokens[text].count + 2
                try #require(length <= longest)
                let rows = (0..<length).map { token in
                    let start = (text * longest + token) * labels
                    return Array(values[start..<(start + labels)])
                }
                return (rows, tokens[text], entities[text])
            }
        }
        return (rows.map(\.0), rows.map(\.1), rows.map(\.2))
    }

    static func rowsOf(_ tensor: HostTensor) throws -> [[Float]] {
        let values = try #require(tensor.values(as: Float.self))
        let width = Int(tensor.shape.last ?? 1)
        return stride(from: 0, to: values.count, by: max(width, 1)).map { Array(values[$0..<($0 + width)]) }
    }

    /// Each row within 1e-4 of the largest magnitude of the expected row, or of a hundredth of the largest magnitude
    /// of all rows when that is larger (a single logit near zero is no scale).
    static func expectClose(_ rows: [[Float]], _ expected: [[Double]], _ name: String) {
        #expect(rows.count == expected.count, "\(name): \(rows.count) rows, expected \(expected.count)")
        var worst = 0.0
        let floor = max(expected.flatMap { $0.map(abs) }.max() ?? 0, 1e-4) / 100
        for (index, (row, reference)) in zip(rows, expected).enumerated() {
            #expect(row.count == reference.count, "\(name) row \(index)")
            let scale = max(reference.map(abs).max() ?? 0, floor)
            let difference = zip(row, reference).map { abs(Double($0) - $1) }.max() ?? 0
            worst = max(worst, difference / scale)
            #expect(difference <= 1e-4 * scale, "\(name) row \(index): \(difference) against \(scale)")
        }
        print("bert oracle fp32 \(name): largest relative difference \(worst)")
    }
}

extension Optional where Wrapped == [UInt8] {
    /// Calls `body` with the bytes, or with nil when there are none.
    func withUnsafeBytesIfPresent<R>(_ body: (UnsafeRawBufferPointer?) throws -> R) rethrows -> R {
        guard let self else { return try body(nil) }
        return try self.withUnsafeBytes { try body($0) }
    }
}
