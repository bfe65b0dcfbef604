import BertModel
import Foundation
import Testing

@Suite("SafeTensors")
struct SafeTensorsTests {
    @Test func readsEveryDType() throws {
        let file = try SafeTensors(bytes: SafeTensorsBuilder.valid)
        #expect(file.names == ["a", "b", "c", "d"])
        #expect(file.metadata == ["format": "pt"])
        let a = try #require(file["a"])
        #expect(a.shape == [2, 3] && a.dtype == .float32 && a.elementCount == 6)
        #expect(a.float32.map(Array.init) == [0, 1, 2, 3, 4, 5])
        #expect(file["b"]?.int64.map(Array.init) == [7, -1])
        #expect(file["c"]?.floats() == [1, -2])
        #expect(file["d"]?.floats() == [1])
        #expect(file["c"]?.bits16.map(Array.init) == [0x3F80, 0xC000])
    }

    @Test func rejectsEveryTruncation() {
        let valid = SafeTensorsBuilder.valid
        for length in 0..<valid.count {
            #expect(throws: BertModelError.self, "truncated to \(length) bytes") {
                try SafeTensors(bytes: valid[0..<length])
            }
        }
    }

    static func malformed(_ header: String, data: [UInt8] = Array(repeating: 0, count: 8)) -> [UInt8] {
        SafeTensorsBuilder.file(header: header, data: data)
    }

    @Test(arguments: [
        ("not JSON", malformed("{\"a\":")),
        ("not an object", malformed("[1,2]")),
        (
            "duplicate name",
            malformed(
                #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
            )
        ),
        (
            "overlap",
            malformed(
                #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
            )
        ),
        ("hole", malformed(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#)),
        ("trailing data", malformed(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#)),
        ("past the end", malformed(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#)),
        (
            "huge offsets",
            malformed(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[9223372036854775806,9223372036854775807]}}"#)
        ),
        ("negative offset", malformed(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}"#)),
        ("reversed offsets", malformed(#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}}"#)),
        ("wrong dtype size", malformed(#"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}}"#)),
        ("wrong shape size", malformed(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#)),
        ("shape overflow", malformed(#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#)),
        ("negative dimension", malformed(#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#)),
        ("unknown dtype", malformed(#"{"a":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}}"#)),
        ("unknown field", malformed(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}"#)),
        (
            "metadata not strings",
            malformed(#"{"__metadata__":{"a":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#)
        ),
        ("non-UTF-8 name", malformed("{\"\u{FFFF}\":1}").map { $0 == 0xEF ? 0xFF : $0 }),
        ("header length past the end", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7B, 0x7D]),
        ("header length one too many", [3, 0, 0, 0, 0, 0, 0, 0, 0x7B, 0x7D]),
        ("empty header", [0, 0, 0, 0, 0, 0, 0, 0]),
    ])
    func rejectsMalformedFiles(_ name: String, _ bytes: [UInt8]) {
        #expect(throws: BertModelError.self, "\(name)") { try SafeTensors(bytes: bytes) }
    }

    @Test func acceptsAnEmptyFileOfTensorsAndPadding() throws {
        #expect(try SafeTensors(bytes: SafeTensorsBuilder.file(header: "{}  ", data: [])).names.isEmpty)
        let scalar = try SafeTensors(
            bytes: SafeTensorsBuilder.file(
                header:
                    #"{"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}"#,
                data: [0, 0, 0x80, 0x3F]))
        #expect(scalar["s"]?.floats() == [1])
        #expect(scalar["z"]?.elementCount == 0)
    }

    @Test func reportsMissingFiles() {
        let error = #expect(throws: BertModelError.self) {
            try SafeTensors(contentsOf: "/nonexistent/model.safetensors")
        }
        #expect(error?.code == .fileNotFound)
    }

    @Test(.enabled(if: Fixtures.modelTestsEnabled, Fixtures.modelAbsent))
    func loadsTheReferenceModel() throws {
        let folder = try BertCheckpoint(path: Fixtures.modelFolder)
        let config = folder.config
        #expect(config == BertConfig(hiddenSize: 384, layerCount: 6, headCount: 12, intermediateSize: 1536))
        #expect(
            folder.sentenceTransformers
                == SentenceTransformersConfig(maxSequenceLength: 256, pooling: .mean, normalize: true))
        let weights = folder.weights
        #expect(weights.wordEmbeddings.shape == [30522, 384])
        #expect(weights.positionEmbeddings.shape == [512, 384])
        #expect(weights.tokenTypeEmbeddings?.shape == [2, 384])
        #expect(weights.layers.count == 6)
        #expect(
            weights.layers.allSatisfy {
                $0.intermediateWeight.shape == [1536, 384] && $0.outputWeight.shape == [384, 1536]
            })
        let file = folder.safeTensors
        #expect(file.names.count == 104)
        #expect(file["embeddings.position_ids"]?.int64.map { Array($0.prefix(3)) } == [0, 1, 2])
        for name in file.names where name.hasSuffix(".weight") || name.hasSuffix(".bias") {
            let tensor = try #require(file[name])
            let values = try #require(tensor.float32, "\(name) is not aligned F32")
            #expect(values.count == tensor.elementCount)
        }
        let gamma = try #require(weights.embeddingNormWeight.float32)
        #expect(gamma.allSatisfy { $0.isFinite && abs($0) < 10 })
    }

    @Test(.enabled(if: Fixtures.modelTestsEnabled, Fixtures.modelAbsent))
    func rejectsTruncatedReferenceModel() throws {
        let path = (Fixtures.modelFolder as NSString).appendingPathComponent("model.safetensors")
        let prefix = [UInt8](try #require(FileHandle(forReadingAtPath: path)).readData(ofLength: 12_000))
        for length in Array(stride(from: 0, to: prefix.count, by: 37)) + [11_415, 11_416, 11_417] {
            #expect(throws: BertModelError.self, "truncated to \(length) bytes") {
                try SafeTensors(bytes: prefix[0..<length])
            }
        }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent(
            "bert-\(UInt64.random(in: 0...UInt64.max)).safetensors")
        defer { try? FileManager.default.removeItem(at: copy) }
        try FileManager.default.copyItem(atPath: path, toPath: copy.path)
        let handle = try FileHandle(forUpdating: copy)
        defer { try? handle.close() }
        for length in [size - 1, size - 4, size / 2, 11_417] {
            try handle.truncate(atOffset: UInt64(length))
            let error = #expect(throws: BertModelError.self, "truncated to \(length) bytes") {
                try SafeTensors(contentsOf: copy.path)
            }
            #expect(error?.message.contains("run past the end of the data") == true)
        }
    }

    @Test func rejectsBadConfigs() throws {
        let good =
            #"{"hidden_size":384,"num_hidden_layers":6,"num_attention_heads":12,"intermediate_size":1536,"max_position_embeddings":512,"vocab_size":30522}"#
        #expect(try BertConfig(json: Array(good.utf8)).headSize == 32)
        for bad in [
            #"{"hidden_size":384}"#, #"{"hidden_size":"384"}"#, "[]", "",
            good.replacingOccurrences(of: "\"num_attention_heads\":12", with: "\"num_attention_heads\":7"),
            good.replacingOccurrences(of: "384", with: "-384"),
            good.replacingOccurrences(of: "{", with: #"{"hidden_act":"swish","#),
            good.replacingOccurrences(of: "{", with: #"{"layer_norm_eps":0,"#),
        ] {
            #expect(throws: BertModelError.self, "\(bad)") { try BertConfig(json: Array(bad.utf8)) }
        }
        #expect(throws: BertModelError.self) {
            try SentenceTransformersConfig(
                sentenceBertConfig: nil,
                poolingConfig: Array(#"{"pooling_mode_cls_token":true,"pooling_mode_mean_tokens":true}"#.utf8),
                modules: nil)
        }
    }
}
