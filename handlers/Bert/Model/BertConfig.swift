import ConfideJSON

/// The activation of a BERT encoder's feed-forward layer.
public enum BertActivation: String, Sendable {
    /// GELU with the exact error function (`"gelu"`).
    case gelu
    /// GELU with the tanh approximation (`"gelu_new"`, `"gelu_pytorch_tanh"`).
    case geluTanh
    /// ReLU (`"relu"`).
    case relu

    init?(configName: String) {
        switch configName {
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh": self = .geluTanh
        case "relu": self = .relu
        default: return nil
        }
    }
}

/// The checkpoint family of a BERT-style encoder: the names of its tensors and whether it has token types.
public enum BertFamily: String, Sendable {
    /// BERT (`model_type` `bert`): `embeddings.…`, `encoder.layer.N.…`, token type embeddings.
    case bert
    /// DistilBERT (`model_type` `distilbert`): `embeddings.…`, `transformer.layer.N.…`, no token types.
    case distilBert = "distilbert"
}

/// A BERT encoder's shape and settings, from a Hugging Face `config.json`.
public struct BertConfig: Sendable, Equatable {
    /// The checkpoint family (`model_type`).
    public var family: BertFamily
    /// The width of every token's hidden state (`hidden_size`).
    public var hiddenSize: Int
    /// The number of encoder layers (`num_hidden_layers`).
    public var layerCount: Int
    /// The number of attention heads (`num_attention_heads`); it divides `hiddenSize`.
    public var headCount: Int
    /// The width of the feed-forward layer (`intermediate_size`).
    public var intermediateSize: Int
    /// The number of position embeddings, the longest sequence the model takes (`max_position_embeddings`).
    public var maxPositions: Int
    /// The number of token embeddings (`vocab_size`).
    public var vocabularySize: Int
    /// The number of token type embeddings (`type_vocab_size`); 0 for a model without them (DistilBERT).
    public var typeVocabularySize: Int
    /// The epsilon of every layer norm (`layer_norm_eps`, default 1e-12).
    public var layerNormEpsilon: Double
    /// The feed-forward activation (`hidden_act`, default `gelu`).
    public var activation: BertActivation

    /// The width of one attention head.
    public var headSize: Int { hiddenSize / headCount }

    /// Creates a configuration; ``validate()`` checks it.
    public init(
        hiddenSize: Int, layerCount: Int, headCount: Int, intermediateSize: Int, maxPositions: Int = 512,
        vocabularySize: Int = 30522, typeVocabularySize: Int = 2, layerNormEpsilon: Double = 1e-12,
        activation: BertActivation = .gelu, family: BertFamily = .bert
    ) {
        self.family = family
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.intermediateSize = intermediateSize
        self.maxPositions = maxPositions
        self.vocabularySize = vocabularySize
        self.typeVocabularySize = typeVocabularySize
        self.layerNormEpsilon = layerNormEpsilon
        self.activation = activation
    }

    /// Parses and validates the text of a `config.json` of a BERT (`model_type` `bert`) or DistilBERT
    /// (`distilbert`) model.
    public init(json bytes: some Collection<UInt8>) throws(BertModelError) {
        let object = try ConfigObject(bytes, file: "config.json")
        switch try object.string("model_type") ?? "bert" {
        case "bert": try self.init(bert: object)
        case "distilbert": try self.init(distilBert: object)
        case let type: throw .unsupported("config.json: model_type \"\(type)\" is neither \"bert\" nor \"distilbert\"")
        }
        try validate()
    }

    private init(bert object: ConfigObject) throws(BertModelError) {
        if let embedding = try object.string("position_embedding_type"), embedding != "absolute" {
            throw .unsupported(
                "config.json: position_embedding_type \"\(embedding)\" is not supported (only \"absolute\")")
        }
        self.init(
            hiddenSize: try object.requiredInt("hidden_size"),
            layerCount: try object.requiredInt("num_hidden_layers"),
            headCount: try object.requiredInt("num_attention_heads"),
            intermediateSize: try object.requiredInt("intermediate_size"),
            maxPositions: try object.requiredInt("max_position_embeddings"),
            vocabularySize: try object.requiredInt("vocab_size"),
            typeVocabularySize: try object.int("type_vocab_size") ?? 2,
            layerNormEpsilon: try object.double("layer_norm_eps") ?? 1e-12,
            activation: try Self.activation(object, key: "hidden_act"))
    }

    /// DistilBERT's names (`dim`, `n_layers`, `n_heads`, `hidden_dim`, `activation`); its layer norms use 1e-12.
    private init(distilBert object: ConfigObject) throws(BertModelError) {
        self.init(
            hiddenSize: try object.requiredInt("dim"), layerCount: try object.requiredInt("n_layers"),
            headCount: try object.requiredInt("n_heads"), intermediateSize: try object.requiredInt("hidden_dim"),
            maxPositions: try object.requiredInt("max_position_embeddings"),
            vocabularySize: try object.requiredInt("vocab_size"), typeVocabularySize: 0, layerNormEpsilon: 1e-12,
            activation: try Self.activation(object, key: "activation"), family: .distilBert)
    }

    private static func activation(_ object: ConfigObject, key: String) throws(BertModelError) -> BertActivation {
        let name = try object.string(key) ?? "gelu"
        guard let activation = BertActivation(configName: name) else {
            throw .unsupported("config.json: \(key) \"\(name)\" is not supported (gelu, gelu_new, relu)")
        }
        return activation
    }

    /// Checks that every size is positive and within limits (so products of sizes cannot overflow) and that
    /// the heads divide the hidden size.
    public func validate() throws(BertModelError) {
        let sizes: [(String, Int, Int)] = [
            ("hidden_size", hiddenSize, 1 << 16), ("num_hidden_layers", layerCount, 1024),
            ("num_attention_heads", headCount, 1024), ("intermediate_size", intermediateSize, 1 << 18),
            ("max_position_embeddings", maxPositions, 1 << 16), ("vocab_size", vocabularySize, 1 << 24),
        ]
        for (name, value, limit) in sizes where value < 1 || value > limit {
            throw .malformedConfig("config.json: \(name) \(value) is outside 1...\(limit)")
        }
        guard typeVocabularySize >= 0, typeVocabularySize <= 1 << 16 else {
            throw .malformedConfig("config.json: type_vocab_size \(typeVocabularySize) is outside 0...65536")
        }
        guard hiddenSize % headCount == 0 else {
            throw .malformedConfig(
                "config.json: hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(headCount)")
        }
        guard layerNormEpsilon.isFinite, layerNormEpsilon > 0, layerNormEpsilon < 1 else {
            throw .malformedConfig("config.json: layer_norm_eps \(layerNormEpsilon) is outside (0, 1)")
        }
    }
}

/// How a sentence-transformers model pools token states into one embedding.
public enum PoolingMode: String, Sendable {
    /// The mean of the states of the real (unpadded) tokens.
    case mean
    /// The state of the first token ([CLS]).
    case cls
    /// The element-wise maximum over the real tokens.
    case max
    /// The sum over the real tokens divided by the square root of their number.
    case meanSqrtLength
}

/// The sentence-transformers settings of a model folder: `sentence_bert_config.json` (the sequence length),
/// `1_Pooling/config.json` (the pooling) and `modules.json` (whether embeddings are L2-normalised).
public struct SentenceTransformersConfig: Sendable, Equatable {
    /// The most tokens per text, [CLS] and [SEP] included (`max_seq_length`); `nil` when not given.
    public var maxSequenceLength: Int?
    /// The pooling (default: mean).
    public var pooling: PoolingMode
    /// Whether embeddings are L2-normalised (a `Normalize` module in `modules.json`).
    public var normalize: Bool

    /// Creates settings.
    public init(maxSequenceLength: Int? = nil, pooling: PoolingMode = .mean, normalize: Bool = true) {
        self.maxSequenceLength = maxSequenceLength
        self.pooling = pooling
        self.normalize = normalize
    }

    /// Parses the three files' texts; each may be absent (`nil`), which keeps its default (no normalisation
    /// when `modules.json` is absent).
    public init(
        sentenceBertConfig: [UInt8]?, poolingConfig: [UInt8]?, modules: [UInt8]?
    ) throws(BertModelError) {
        self.init()
        if let sentenceBertConfig {
            let object = try ConfigObject(sentenceBertConfig, file: "sentence_bert_config.json")
            if let length = try object.int("max_seq_length") {
                guard length >= 2, length <= 1 << 16 else {
                    throw .malformedConfig("sentence_bert_config.json: max_seq_length \(length) is outside 2...65536")
                }
                maxSequenceLength = length
            }
        }
        if let poolingConfig {
            let object = try ConfigObject(poolingConfig, file: "1_Pooling/config.json")
            let modes: [(String, PoolingMode)] = [
                ("pooling_mode_mean_tokens", .mean), ("pooling_mode_cls_token", .cls),
                ("pooling_mode_max_tokens", .max), ("pooling_mode_mean_sqrt_len_tokens", .meanSqrtLength),
            ]
            var chosen: [PoolingMode] = []
            for (key, mode) in modes where try object.bool(key) == true { chosen.append(mode) }
            for key in object.keys where key.hasPrefix("pooling_mode_") && !modes.contains(where: { $0.0 == key }) {
                if try object.bool(key) == true {
                    throw .unsupported("1_Pooling/config.json: \(key) is not supported")
                }
            }
            guard chosen.count == 1, let mode = chosen.first else {
                throw .unsupported("1_Pooling/config.json: exactly one pooling mode must be on, found \(chosen.count)")
            }
            pooling = mode
        }
        if let modules {
            let root: JSONValue
            do {
                root = try JSONParser.parse(modules)
            } catch {
                throw .malformedConfig("modules.json: \(error)")
            }
            guard let list = root.arrayValue else { throw .malformedConfig("modules.json: not a JSON array") }
            normalize = list.contains {
                $0.objectValue?["type"]?.stringValue == "sentence_transformers.models.Normalize"
            }
        } else {
            normalize = false
        }
    }
}

/// A JSON object read from a configuration file, with typed getters whose errors name the file and key.
struct ConfigObject {
    let object: JSONObject
    let file: String

    init(_ bytes: some Collection<UInt8>, file: String) throws(BertModelError) {
        let root: JSONValue
        do {
            root = try JSONParser.parse(bytes)
        } catch {
            throw .malformedConfig("\(file): \(error)")
        }
        guard let object = root.objectValue else { throw .malformedConfig("\(file): not a JSON object") }
        self.object = object
        self.file = file
    }

    var keys: [String] { object.keys }

    subscript(key: String) -> JSONValue? {
        guard let value = object[key], value != .null else { return nil }
        return value
    }

    func string(_ key: String) throws(BertModelError) -> String? {
        guard let value = self[key] else { return nil }
        guard let string = value.stringValue else { throw mistyped(key, value, "a string") }
        return string
    }

    func bool(_ key: String) throws(BertModelError) -> Bool? {
        guard let value = self[key] else { return nil }
        guard let bool = value.boolValue else { throw mistyped(key, value, "a boolean") }
        return bool
    }

    func int(_ key: String) throws(BertModelError) -> Int? {
        guard let value = self[key] else { return nil }
        guard let integer = value.int64Value, let int = Int(exactly: integer) else {
            throw mistyped(key, value, "an integer")
        }
        return int
    }

    func requiredInt(_ key: String) throws(BertModelError) -> Int {
        guard let value = try int(key) else { throw .malformedConfig("\(file): \(key) is missing") }
        return value
    }

    func double(_ key: String) throws(BertModelError) -> Double? {
        guard let value = self[key] else { return nil }
        guard let double = value.doubleValue else { throw mistyped(key, value, "a number") }
        return double
    }

    func object(_ key: String) throws(BertModelError) -> ConfigObject? {
        guard let value = self[key] else { return nil }
        guard let object = value.objectValue else { throw mistyped(key, value, "an object") }
        return ConfigObject(object: object, file: "\(file): \(key)")
    }

    private init(object: JSONObject, file: String) {
        self.object = object
        self.file = file
    }

    private func mistyped(_ key: String, _ value: JSONValue, _ expected: String) -> BertModelError {
        .malformedConfig("\(file): \(key) is \(value.kindName), not \(expected)")
    }
}
