import ConfideHost
import ConfideJSON
import ConfideRuntime
import ConfideSDK
import ConfideTensors
import ConfideTestKit
import Foundation
import MiniLMCache
import Testing

/// The built `bert` handler (`libBert.so`, loaded with `dlopen` as the server does) on the real all-MiniLM-L6-v2,
/// against the sentence-transformers reference embeddings of `../shared/testdata/reference/minilm-public.jsonl`.
@Suite("The bert handler on all-MiniLM-L6-v2", .enabled(if: BertFixtures.modelTestsEnabled, BertFixtures.modelAbsent))
struct BertHandlerTests {
    /// Cosine to the reference, per precision: every text in FP32 and BF16; INT8's mean and minimum.
    @Test(arguments: [BertPrecision.fp32, .bf16, .int8])
    func embeddingsMatchTheReference(precision: BertPrecision) throws {
        let rows = try BertFixtures.referenceRows()
        let cosines = try BertFixtures.cosines(try BertFixtures.tester(precision: precision), rows: rows)
        let worst = cosines.indices.min { cosines[$0] < cosines[$1] } ?? 0
        let mean = cosines.reduce(0, +) / Double(cosines.count)
        print(
            "bert \(precision) (\(BertFixtures.kernelsProduct)): cosine to the reference min \(cosines[worst]) "
                + "(text \(worst)), mean \(mean) over \(cosines.count) texts")
        switch precision {
        case .fp32: #expect(cosines[worst] >= 0.99999, "text \(worst): \(rows[worst].text.debugDescription)")
        case .bf16: #expect(cosines[worst] >= 0.9995, "text \(worst): \(rows[worst].text.debugDescription)")
        case .int8:
            #expect(mean >= 0.995)
            #expect(cosines[worst] >= 0.98, "text \(worst): \(rows[worst].text.debugDescription)")
        }
    }

    /// An INT8 model's attention meets the bar in either precision (`"attention_precision"`), the two differ, and by
    /// default it is BF16 where the kernels have BF16 instructions (AVX-512 BF16 or AMX BF16 among the plugin's
    /// required features) and FP32 elsewhere, where BF16 attention is slower and no more accurate.
    @Test func int8AttentionMeetsTheBarInEitherPrecisionAndDefaultsByTheKernels() throws {
        let rows = try BertFixtures.referenceRows()
        var cosines: [String: [Double]] = [:]
        for attention in ["fp32", "bf16"] {
            let tester = try BertFixtures.tester(
                precision: .int8, parameters: #"{"attention_precision": "\#(attention)"}"#)
            let values = try BertFixtures.cosines(tester, rows: rows)
            print(
                "bert int8, \(attention) attention: cosine to the reference min \(values.min() ?? .nan), "
                    + "mean \(values.reduce(0, +) / Double(values.count))")
            #expect(values.reduce(0, +) / Double(values.count) >= 0.995, "\(attention) attention")
            #expect((values.min() ?? 0) >= 0.98, "\(attention) attention")
            cosines[attention] = values
        }
        #expect(cosines["fp32"] != cosines["bf16"])
        let plugin = try PluginLoader.open(path: BertFixtures.library(BertFixtures.kernelsProduct))
        let bf16Instructions = !CPUFeatures(rawValue: plugin.requiredFeatures).isDisjoint(with: [.avx512bf16, .amxBF16])
        let byDefault = try BertFixtures.cosines(try BertFixtures.tester(precision: .int8), rows: rows)
        #expect(byDefault == cosines[bf16Instructions ? "bf16" : "fp32"], "\(BertFixtures.kernelsProduct)")
    }

    /// A model from an encrypted archive reaches the handler as in-memory files and no folder: it must serve the
    /// reference embeddings all the same.
    @Test func aModelFromInMemoryFilesMatchesTheReference() throws {
        try BertFixtures.activation.get()
        var artifacts: [String: TensorBuffer] = [:]
        for name in [
            "config.json", "model.safetensors", "tokenizer.json", "sentence_bert_config.json", "modules.json",
            "1_Pooling/config.json",
        ] {
            let path = (BertFixtures.modelFolder as NSString).appendingPathComponent(name)
            let bytes = try #require(FileManager.default.contents(atPath: path), "cannot read \(path)")
            artifacts[name] = TensorBuffer(copying: [UInt8](bytes))
        }
        let config = ModelLoadConfig(
            name: "minilm", path: "/nonexistent", configJSON: #"{"handler": "bert"}"#, artifacts: artifacts)
        #expect(artifacts.count == 6)
        let bert = try HandlerTester(
            library: BertFixtures.library("Bert"), model: config, worker: WorkerInfo(coreCount: 2))
        let rows = try BertFixtures.referenceRows().prefix(24)
        let outputs = try bert.infer([BertFixtures.texts(rows.map(\.text))])
        let embeddings = try BertFixtures.embeddings(outputs)
        #expect(embeddings.count == rows.count)
        for (row, embedding) in zip(rows, embeddings) {
            #expect(BertFixtures.cosine(embedding, row.embedding) >= 0.99999, "\(row.text.debugDescription)")
        }
        artifacts["model.safetensors"] = nil
        let incomplete = ModelLoadConfig(
            name: "minilm", path: "/nonexistent", configJSON: #"{"handler": "bert"}"#, artifacts: artifacts)
        #expect(throws: (any Error).self) {
            try HandlerTester(
                library: BertFixtures.library("Bert"), model: incomplete, worker: WorkerInfo(coreCount: 2))
        }
    }

    @Test func aBatchOfMixedLengthsGivesWhatEachTextGivesAlone() throws {
        let bert = try BertFixtures.tester(precision: .fp32)
        let texts = [
            "a", String(repeating: "long text with many words ", count: 40), "Hello, world!", "",
            "Ünïcödé and 中文 and emoji 🎉", String(repeating: "medium ", count: 30),
        ]
        let alone = try texts.map { try BertFixtures.embeddings(try bert.infer([BertFixtures.texts([$0])]))[0] }
        let together = try BertFixtures.embeddings(try bert.infer([BertFixtures.texts(texts, shape: [2, 3])]))
        let requests = texts.map { HostRequest(inputs: [BertFixtures.texts([$0])]) }
        let batched = try bert.execute(requests).flatMap { try BertFixtures.embeddings(try $0.get().outputs) }
        for index in texts.indices {
            for other in [together[index], batched[index]] {
                let difference = zip(alone[index], other).map { abs($0 - $1) }.max() ?? .infinity
                #expect(difference < 1e-5, "text \(index): \(difference)")
            }
        }
    }

    /// 40 texts of 256 tokens exceed one encoder pass (1,024 tokens): the batch runs in passes of four texts, with
    /// the same result (texts 31 and 32 sit on either side of a pass boundary).
    @Test func aBatchLargerThanOnePassGivesWhatEachTextGivesAlone() throws {
        let bert = try BertFixtures.tester(precision: .fp32)
        let texts = (0..<40).map { "text \($0) " + String(repeating: "word\($0 % 7) ", count: 300) }
        let together = try BertFixtures.embeddings(try bert.infer([BertFixtures.texts(texts)]))
        #expect(together.count == texts.count)
        for index in [0, 31, 32, 39] {
            let alone = try BertFixtures.embeddings(try bert.infer([BertFixtures.texts([texts[index]])]))[0]
            let difference = zip(alone, together[index]).map { abs($0 - $1) }.max() ?? .infinity
            #expect(difference < 1e-5, "text \(index): \(difference)")
        }
    }

    @Test func theOutputHasOneRowPerTextWhateverTheInputShape() throws {
        let bert = try BertFixtures.tester(precision: .fp32)
        let outputs = try bert.infer([BertFixtures.texts(["a", "b", "c", "d"], shape: [2, 2], name: "sentences")])
        #expect(outputs["embedding"]?.shape == [4, 384])
        #expect(outputs["embedding"]?.dataType == .fp32)
        let none = try bert.infer([BertFixtures.texts([], shape: [0])])
        #expect(none["embedding"]?.shape == [0, 384])
    }

    @Test func emptyAndOddTextsAreValid() throws {
        let bert = try BertFixtures.tester(precision: .fp32)
        let texts = ["", " ", "\u{0}\u{7}", String(repeating: "🎉", count: 5000), "[CLS] [SEP] [PAD]"]
        let embeddings = try BertFixtures.embeddings(try bert.infer([BertFixtures.texts(texts)]))
        #expect(embeddings.count == texts.count)
        for embedding in embeddings {
            let norm = embedding.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(abs(norm - 1) < 1e-4)
        }
    }

    @Test func invalidUTF8FailsOnlyItsRequest() throws {
        let bert = try BertFixtures.tester(precision: .fp32)
        let bad = try #require(HostTensor(name: "text", byteElements: [[0x66, 0xFF, 0xFE]]))
        let results = bert.execute([HostRequest(inputs: [bad]), HostRequest(inputs: [BertFixtures.texts(["fine"])])])
        #expect(throws: HandlerError.invalidArgument("the text is not valid UTF-8")) { try results[0].get() }
        #expect(try BertFixtures.embeddings(try results[1].get().outputs).count == 1)
    }

    @Test func torchServeBodies() throws {
        let bert = try BertFixtures.tester(precision: .fp32)
        let reference = try BertFixtures.embeddings(try bert.infer([BertFixtures.texts(["hello there", "second"])]))
        let cases: [(body: String, contentType: String?, expected: [[Float]], single: Bool)] = [
            (#"{"text": "hello there"}"#, "application/json", [reference[0]], true),
            (#"{"text": "hello there"}"#, nil, [reference[0]], true),
            (#"["hello there", "second"]"#, "application/json; charset=utf-8", reference, false),
            (#"{"text": ["hello there", "second"]}"#, nil, reference, false),
            ("hello there", nil, [reference[0]], true),
            ("hello there", "text/plain", [reference[0]], true),
            ("hello there", "application/x-www-form-urlencoded", [reference[0]], true),
        ]
        for item in cases {
            let json = try JSONParser.parse(try BertFixtures.torchServe(bert, item.body, contentType: item.contentType))
            let rows = item.single ? [json] : (json.arrayValue ?? [])
            let values = rows.map { ($0.arrayValue ?? []).compactMap { $0.doubleValue.map(Float.init) } }
            #expect(values == item.expected, "\(item.body) as \(item.contentType ?? "no content type")")
        }
        let empty = try BertFixtures.torchServe(bert, "", contentType: nil)
        #expect(try JSONParser.parse(empty).arrayValue?.count == 384)
        for malformed in [#"{"text": "unterminated"#, #"[1, 2]"#, #"{"txt": "a"}"#, "{nope"] {
            #expect(throws: HandlerError.self, "\(malformed)") {
                try BertFixtures.torchServe(bert, malformed, contentType: "application/json")
            }
            let error = #expect(throws: HandlerError.self) {
                try BertFixtures.torchServe(bert, malformed, contentType: nil)
            }
            #expect(error?.code == .invalidArgument)
        }
    }
}

/// The model, the reference and the kernels the tests use.
enum BertFixtures {
    static let modelFolder = MiniLMCache.folder
    static var modelTestsEnabled: Bool { MiniLMCache.testsEnabled }
    static let modelAbsent = Comment(rawValue: MiniLMCache.absentReason)
    static let referencePath = MiniLMCache.referencePath

    /// The directory SwiftPM builds the products into, next to the test bundle.
    static let products = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()

    static func library(_ product: String) -> String { products.appendingPathComponent("lib\(product).so").path }

    /// The kernels `CONFIDE_KERNELS` names (`portable`, `avx2`, `avx512`, `amx`, as for `confide serve`), else the
    /// AVX-512 ones where the CPU has them, else the AVX2 ones, else the portable ones.
    static let kernelsProduct: String = {
        let products = [
            "portable": "KernelsPortable", "avx2": "KernelsAVX2", "avx512": "KernelsAVX512", "amx": "KernelsAMX",
        ]
        if let name = ProcessInfo.processInfo.environment["CONFIDE_KERNELS"], let product = products[name] {
            return product
        }
        let features = CPUProbe.detect().features
        return ["KernelsAVX512", "KernelsAVX2"].first { product in
            guard let plugin = try? PluginLoader.open(path: library(product)) else { return false }
            return CPUFeatures(rawValue: plugin.requiredFeatures).isSubset(of: features)
        } ?? "KernelsPortable"
    }()

    /// Makes the kernel plugin the table every handler gets (once per process).
    static let activation: Result<Void, any Error> = Result {
        try HostAPI.useKernels(try PluginLoader.open(path: library(kernelsProduct)))
    }

    /// The cosine of each reference text's embedding from `bert` to the reference's.
    static func cosines(_ bert: HandlerTester, rows: [(text: String, embedding: [Double])]) throws -> [Double] {
        var cosines: [Double] = []
        // 198 texts as batches of requests of several texts each, as a server batches them.
        for chunk in stride(from: 0, to: rows.count, by: 32) {
            let part = rows[chunk..<min(chunk + 32, rows.count)]
            let requests = stride(from: part.startIndex, to: part.endIndex, by: 4).map { start in
                HostRequest(inputs: [BertFixtures.texts(part[start..<min(start + 4, part.endIndex)].map(\.text))])
            }
            var embeddings: [[Float]] = []
            for result in bert.execute(requests) { embeddings += try BertFixtures.embeddings(try result.get().outputs) }
            for (row, embedding) in zip(part, embeddings) {
                cosines.append(cosine(embedding, row.embedding))
            }
        }
        #expect(cosines.count == rows.count)
        return cosines
    }

    /// `libBert.so` serving the cached model in `precision`, with model.json's `parameters`.
    static func tester(precision: BertPrecision, parameters: String = "{}") throws -> HandlerTester {
        try activation.get()
        let config = ModelLoadConfig(
            name: "minilm", path: modelFolder, configJSON: #"{"handler": "bert"}"#,
            parametersJSON: try precision.parameters(parameters))
        return try HandlerTester(library: library("Bert"), model: config, worker: WorkerInfo(coreCount: 2))
    }

    static func referenceRows() throws -> [(text: String, embedding: [Double])] {
        let data = try #require(FileManager.default.contents(atPath: referencePath), "cannot read \(referencePath)")
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").map { line in
            let row = try #require(try JSONParser.parse(String(line)).objectValue)
            let text = try #require(row["text"]?.stringValue)
            let embedding = try #require(row["embedding"]?.arrayValue).map { $0.doubleValue ?? .nan }
            return (text, embedding)
        }
    }

    static func texts(_ texts: [String], shape: [Int64]? = nil, name: String = "text") -> HostTensor {
        HostTensor(name: name, strings: texts, shape: shape)!
    }

    /// Sends `body` as TorchServe's `/predictions` does and returns the JSON body of the answer; throws the
    /// request's error.
    static func torchServe(_ bert: HandlerTester, _ body: String, contentType: String?) throws -> [UInt8] {
        let answer = try #require(try bert.post(body: Array(body.utf8), contentType: contentType).body)
        #expect(answer.contentType == "application/json")
        return Array(answer.bytes.bytes)
    }

    /// The rows of the `embedding` output.
    static func embeddings(_ outputs: [HostTensor]) throws -> [[Float]] {
        try embeddings(Dictionary(outputs.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a }))
    }

    static func embeddings(_ outputs: [String: HostTensor]) throws -> [[Float]] {
        let output = try #require(outputs["embedding"])
        let values = try #require(output.values(as: Float.self))
        let width = Int(output.shape.last ?? 1)
        return stride(from: 0, to: values.count, by: width).map { Array(values[$0..<($0 + width)]) }
    }

    static func cosine(_ a: [Float], _ b: [Double]) -> Double {
        var dot = 0.0
        var na = 0.0
        var nb = 0.0
        for (x, y) in zip(a, b) {
            dot += Double(x) * y
            na += Double(x) * Double(x)
            nb += y * y
        }
        return dot / (na * nb).squareRoot()
    }
}

/// The `bert` handler's precisions (`"parameters": {"precision": ...}` in `model.json`).
enum BertPrecision: String, Sendable, CaseIterable {
    case fp32, bf16, int8

    /// `parameters`, a JSON object's text, with `"precision"` set to this one.
    func parameters(_ parameters: String = "{}") throws -> String {
        var object = try #require(try JSONParser.parse(parameters).objectValue, "parameters must be an object")
        object["precision"] = .string(rawValue)
        return String(decoding: JSONValue.object(object).serialized, as: UTF8.self)
    }
}
