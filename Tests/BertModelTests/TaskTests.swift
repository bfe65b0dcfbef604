import BertModel
import ConfideJSON
import Testing

@Suite("Tasks, pairs and offsets")
struct TaskTests {
    func task(_ json: String) throws(BertModelError) -> BertTaskConfig { try BertTaskConfig(json: Array(json.utf8)) }

    @Test func theArchitectureDecidesTheTask() throws {
        #expect(try task("{}") == BertTaskConfig(task: .embedding))
        #expect(try task(#"{"architectures": ["BertModel"], "num_labels": 3}"#) == BertTaskConfig(task: .embedding))
        let classifier = try task(
            #"{"architectures": ["BertForSequenceClassification"], "id2label": {"1": "pos", "0": "neg"}}"#)
        #expect(classifier == BertTaskConfig(task: .classification, labels: ["neg", "pos"], function: .softmax))
        let crossEncoder = try task(#"{"architectures": ["BertForSequenceClassification"], "num_labels": 1}"#)
        #expect(crossEncoder == BertTaskConfig(task: .classification, labels: ["LABEL_0"], function: .sigmoid))
        let tokens = try task(#"{"architectures": ["DistilBertForTokenClassification"], "num_labels": 3}"#)
        #expect(tokens == BertTaskConfig(task: .tokenClassification, labels: ["LABEL_0", "LABEL_1", "LABEL_2"]))
        let defaults = try task(#"{"architectures": ["DistilBertForSequenceClassification"]}"#)
        #expect(defaults.labels == ["LABEL_0", "LABEL_1"])
    }

    @Test func theProblemTypeDecidesTheScoreFunction() throws {
        let base = #"{"architectures": ["BertForSequenceClassification"], "num_labels": 3, "problem_type": "#
        #expect(try task(base + #""single_label_classification"}"#).function == .softmax)
        #expect(try task(base + #""multi_label_classification"}"#).function == .sigmoid)
        #expect(try task(base + #""regression"}"#).function == BertScoreFunction.none)
        #expect(throws: BertModelError.self) { try task(base + #""ranking"}"#) }
    }

    @Test func malformedTaskConfigurationsAreRefused() {
        let bad = [
            #"{"architectures": "BertModel"}"#, #"{"architectures": [7]}"#,
            #"{"architectures": ["BertForQuestionAnswering"]}"#,
            #"{"architectures": ["BertForSequenceClassification"], "id2label": {"0": "a", "2": "b"}}"#,
            #"{"architectures": ["BertForSequenceClassification"], "id2label": {"0": "a", "x": "b"}}"#,
            #"{"architectures": ["BertForSequenceClassification"], "id2label": {"0": 5}}"#,
            #"{"architectures": ["BertForSequenceClassification"], "id2label": {"0": "a"}, "num_labels": 2}"#,
            #"{"architectures": ["BertForSequenceClassification"], "num_labels": 0}"#,
            #"{"architectures": ["BertForSequenceClassification"], "num_labels": 99999999999}"#,
            #"{"architectures": ["BertForSequenceClassification"], "id2label": {}}"#,
        ]
        for json in bad {
            #expect(throws: BertModelError.self, "\(json)") { try task(json) }
        }
    }

    @Test func parametersOverrideTheCheckpoint() throws {
        let classifier = try task(#"{"architectures": ["BertForSequenceClassification"], "num_labels": 2}"#)
        func parameters(_ json: String) throws -> JSONObject? { try JSONParser.parse(json).objectValue }
        let renamed = try classifier.overriding(
            try parameters(#"{"labels": ["no", "yes"], "problem_type": "multi_label_classification"}"#))
        #expect(renamed == BertTaskConfig(task: .classification, labels: ["no", "yes"], function: .sigmoid))
        #expect(try classifier.overriding(try parameters(#"{"task": "embedding"}"#)).task == .embedding)
        #expect(try classifier.overriding(nil) == classifier)
        for bad in [
            #"{"labels": ["one"]}"#, #"{"labels": "yes"}"#, #"{"labels": [1, 2]}"#, #"{"task": "qa"}"#,
            #"{"problem_type": 3}"#,
        ] {
            #expect(throws: BertModelError.self, "\(bad)") { try classifier.overriding(try parameters(bad)) }
        }
        let embedding = BertTaskConfig(task: .embedding)
        #expect(throws: BertModelError.self) {
            try embedding.overriding(try parameters(#"{"task": "classification"}"#))
        }
    }

    @Test func distilBertConfigurations() throws {
        let config = try BertConfig(
            json: Array(
                #"{"model_type": "distilbert", "dim": 64, "n_layers": 2, "n_heads": 4, "hidden_dim": 128, "max_position_embeddings": 32, "vocab_size": 100}"#
                    .utf8))
        #expect(config.family == .distilBert)
        #expect(config.typeVocabularySize == 0)
        #expect(config.hiddenSize == 64 && config.intermediateSize == 128 && config.headCount == 4)
        #expect(throws: BertModelError.self) {
            try BertConfig(json: Array(#"{"model_type": "roberta", "hidden_size": 8}"#.utf8))
        }
    }

    /// Hugging Face's longest-first truncation of pairs (tokenizers' `truncate_encodings`).
    @Test func pairsAreTruncatedLongestFirst() {
        #expect(BertTokenizer.pairLengths(1, 1, budget: 5) == (1, 1))
        #expect(BertTokenizer.pairLengths(2, 10, budget: 5) == (2, 3))
        #expect(BertTokenizer.pairLengths(10, 2, budget: 5) == (3, 2))
        #expect(BertTokenizer.pairLengths(10, 10, budget: 5) == (2, 3))
        #expect(BertTokenizer.pairLengths(10, 3, budget: 5) == (3, 2))
        #expect(BertTokenizer.pairLengths(3, 10, budget: 5) == (2, 3))
        #expect(BertTokenizer.pairLengths(11, 10, budget: 5) == (3, 2))
        #expect(BertTokenizer.pairLengths(.max, .max, budget: 509) == (254, 255))
    }

    @Test func pairsGetTokenTypesAndOffsets() throws {
        let tokenizer = TokenizerTests.small
        let encoding = try Array("Héllo, world".utf8).withUnsafeBytes { first in
            try Array("unable".utf8).withUnsafeBytes { second in
                try tokenizer.encode(utf8: first, pair: second, offsets: true)
            }
        }
        // [CLS] hello , world [SEP] un ##able [SEP]: 8 tokens, the most the tokenizer gives, so nothing is cut.
        #expect(encoding.ids.count == 8)
        #expect(encoding.typeIDs == [0, 0, 0, 0, 0, 1, 1, 1])
        #expect(encoding.specialTokens == [true, false, false, false, true, false, false, true])
        #expect(encoding.offsets == [0..<0, 0..<5, 5..<6, 7..<12, 0..<0, 0..<2, 2..<6, 0..<0])
        let cafe = try Array("CAFÉ! 日".utf8).withUnsafeBytes {
            try tokenizer.encode(utf8: $0, pair: nil, offsets: true)
        }
        #expect(cafe.ids == [2, 13, 11, 16, 3])
        #expect(cafe.offsets == [0..<0, 0..<4, 4..<5, 6..<7, 0..<0])
    }

    @Test func theFuzzEntryPointsNeverTrapOnMutatedConfigsAndPairs() {
        var generator = SystemRandomNumberGenerator()
        let seeds = [
            #"{"model_type": "distilbert", "dim": 8, "n_layers": 1, "n_heads": 2, "hidden_dim": 16, "max_position_embeddings": 8, "vocab_size": 50, "architectures": ["DistilBertForTokenClassification"], "id2label": {"0": "O", "1": "B-X"}}"#,
            #"{"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 8, "vocab_size": 50, "architectures": ["BertForSequenceClassification"], "num_labels": 1, "problem_type": "regression"}"#,
            Array("Héllo, wörld! the unable [SEP] 日本 ##ing".utf8).map { String(UnicodeScalar($0)) }.joined(),
        ].map { Array($0.utf8) }
        for iteration in 0..<3000 {
            var bytes = seeds[iteration % seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            BertFuzz.config(bytes)
            BertFuzz.tokenizer(bytes)
        }
        #expect(throws: Never.self) { try BertTaskConfig(json: seeds[0]) }
    }

    @Test func theDecoderJoinsPiecesAsWordPieceDoes() {
        let tokenizer = TokenizerTests.small
        #expect(tokenizer.decode(["un", "##able", ",", "world", "!", "$"]) == "unable, world! $")
        #expect(tokenizer.decode(["##b", "a"]) == "##b a")
        #expect(tokenizer.token(for: 8) == "##able")
        #expect(tokenizer.token(for: 999) == nil)
    }
}
