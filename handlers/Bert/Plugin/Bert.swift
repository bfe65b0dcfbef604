import BertModel
import ConfideJSON
import ConfideSDK

/// The `bert` handler: a BERT or DistilBERT encoder in a Hugging Face / sentence-transformers model folder, for the
/// task its `config.json` declares (or `parameters` names): sentence embeddings (all-MiniLM-L6-v2 is the
/// reference), classification of texts or text pairs (cross-encoders for reranking among them), or token
/// classification. The encoder computes through the kernel table the runtime provides in the precision
/// `model.json`'s parameters ask for (`"parameters": {"precision": ...}`: `fp32`, `bf16` or `int8`); task heads
/// compute in FP32.
///
/// Requests: KServe BYTES tensors `text` (or any single BYTES input; any shape) and, for classification, an optional
/// `text_pair` with as many elements; the outputs per task are the SDK's contracts (``Embeddings``: `embedding`, and
/// `token_count` when the request names it; ``Classification``, ``Reranking``, ``TokenClassification``). A
/// TorchServe body (`{"text": ...}` with an optional `"text_pair"`, a JSON list of texts, or plain text) gives
/// JSON. The texts of a whole batch run together: their tokens are packed into one matrix for the dense layers (no
/// padding) and attention runs per text.
struct Bert: Handler {
    static let name = "bert"
    static let description =
        "BERT and DistilBERT: sentence embeddings, text and text-pair classification, reranking, token classification"

    let tokenizer: BertTokenizer
    let encoder: BertEncoder
    /// The task, its labels and score function.
    let task: BertTaskConfig
    /// The classification head; nil for embeddings.
    let head: TaskHead?

    init(model: ModelContext) throws {
        guard let kernels = model.kernels else {
            throw HandlerError.unavailable(
                "the bert handler computes through a kernel table, and the runtime provides none: install a kernel "
                    + "plugin (libKernelsPortable.so, libKernelsAVX512.so or libKernelsAMX.so) in the handlers folder")
        }
        let parameters = try Self.parameters(model.parametersJSON)
        let precision = try Self.precision(parameters)
        let attention = try Self.attentionPrecision(
            parameters, precision: precision, bf16Instructions: kernels.hasBF16Instructions)
        if let seed = try Self.randomSeed(parameters) {
            let config: BertConfig
            do {
                config = try BertConfig(json: try model.file("config.json").withUnsafeBytes { Array($0) })
            } catch {
                throw HandlerError.invalidArgument("model '\(model.name)': config.json: \(error)")
            }
            tokenizer = try BertTokenizer.synthetic(size: config.vocabularySize, maxLength: config.maxPositions)
            encoder = try BertEncoder(
                randomWeights: config, seed: seed, kernels: kernels, precision: precision, attention: attention)
            task = BertTaskConfig(task: .embedding)
            head = nil
        } else {
            // A model from an encrypted archive arrives as in-memory files, which the host keeps until the model
            // is unloaded; otherwise the files are in the model's folder.
            let files: BertModelFiles =
                model.artifacts.isEmpty
                ? .folder(model.path) : .memory(model.artifacts, origin: "model '\(model.name)' (archive)")
            let checkpoint: BertCheckpoint
            let task: BertTaskConfig
            let headWeights: BertHeadWeights?
            do {
                checkpoint = try BertCheckpoint(files: files)
                task = try checkpoint.task.overriding(parameters)
                headWeights = task.task == .embedding ? nil : try checkpoint.head(for: task)
            } catch {
                throw HandlerError.invalidArgument("model '\(model.name)': \(error.message)")
            }
            self.task = task
            head = try headWeights.map { weights throws(HandlerError) in
                try TaskHead(weights, task: task, config: checkpoint.config)
            }
            tokenizer = checkpoint.tokenizer
            encoder = try BertEncoder(
                checkpoint: checkpoint, kernels: kernels, precision: precision, attention: attention)
            // Packing read every weight through the mapping; only the embeddings are read from it again, a
            // row per token, so the rest need not stay resident.
            checkpoint.safeTensors.releaseResidentPages()
        }
        let config = encoder.config
        let labels = task.task == .embedding ? "" : ", \(task.labels.count) labels (\(task.function))"
        model.log.info(
            "\(config.family.rawValue) \(task.task.rawValue)\(labels), \(config.layerCount) layers, hidden "
                + "\(config.hiddenSize), \(precision), attention \(attention), at most \(tokenizer.maxLength) tokens "
                + "per text")
    }

    /// `model.json`'s `"parameters"` object (nil when it has none).
    static func parameters(_ parametersJSON: String) throws(HandlerError) -> JSONObject? {
        do {
            return try JSONParser.parse(parametersJSON).objectValue
        } catch {
            throw .invalidArgument("model.json: parameters: \(error)")
        }
    }

    /// The precision of attention's two products (`"parameters": {"attention_precision": "fp32"}` or `"bf16"`; the
    /// softmax is FP32 always). By default FP32 models keep FP32 and BF16 models use BF16; INT8 models use BF16 where
    /// the kernels have BF16 instructions (`bf16Instructions`) and FP32 elsewhere. With BF16 instructions BF16
    /// attention makes an INT8 batch of 8 about 5% faster and lowers the worst cosine to the reference texts from
    /// 0.9857 to 0.9807 (the bar is 0.98; see docs/BERT.md); without them it is slower than FP32 attention.
    static func attentionPrecision(
        _ parameters: JSONObject?, precision: Kernels.Precision, bf16Instructions: Bool
    ) throws(HandlerError) -> Kernels.Precision {
        guard let value = parameters?["attention_precision"] else {
            switch precision {
            case .fp32: return .fp32
            case .bf16: return .bf16
            case .int8: return bf16Instructions ? .bf16 : .fp32
            }
        }
        switch value.stringValue {
        case "fp32": return .fp32
        case "bf16": return .bf16
        default: throw .invalidArgument("model.json: \"attention_precision\" must be \"fp32\" or \"bf16\"")
        }
    }

    /// The seed of a model with random weights (`"parameters": {"random_weights": true, "seed": 7}`; seed 0 by
    /// default), or nil for a model whose weights are in its folder.
    static func randomSeed(_ parameters: JSONObject?) throws(HandlerError) -> UInt64? {
        guard let random = parameters?["random_weights"] else { return nil }
        guard let enabled = random.boolValue else { throw .invalidArgument("\"random_weights\" must be true or false") }
        guard enabled else { return nil }
        guard let seed = parameters?["seed"] else { return 0 }
        guard let value = seed.int64Value, value >= 0 else {
            throw .invalidArgument("\"seed\" must be a non-negative integer")
        }
        return UInt64(value)
    }

    /// The precision of the encoder's matrix products (`"parameters": {"precision": "int8"}`; FP32 when absent).
    static func precision(_ parameters: JSONObject?) throws(HandlerError) -> Kernels.Precision {
        guard let value = parameters?["precision"] else { return .fp32 }
        switch value.stringValue {
        case "fp32": return .fp32
        case "bf16": return .bf16
        case "int8": return .int8
        default:
            throw .invalidArgument(
                "model.json: parameters: \"precision\" must be one of \"fp32\", \"bf16\", \"int8\", not "
                    + String(decoding: value.serialized.prefix(64), as: UTF8.self))
        }
    }

    /// The encoding of UTF-8 `text`, or of the pair `text`, `pair`, with each token's span when `offsets` is set;
    /// invalid UTF-8 is an invalid-argument error.
    func tokenize(_ text: [UInt8], pair: [UInt8]? = nil, offsets: Bool = false) throws(HandlerError) -> BertEncoding {
        let result = text.withUnsafeBytes { bytes in
            guard let pair else {
                return Result { () throws(BertModelError) in
                    try tokenizer.encode(utf8: bytes, pair: nil, offsets: offsets)
                }
            }
            return pair.withUnsafeBytes { second in
                Result { () throws(BertModelError) in try tokenizer.encode(utf8: bytes, pair: second, offsets: offsets)
                }
            }
        }
        return try result.mapError { HandlerError.invalidArgument($0.message) }.get()
    }

    /// Whether requests may carry text pairs: classification models whose encoder has a second token type (or
    /// none at all, as DistilBERT).
    var takesPairs: Bool { task.task == .classification && encoder.takesPairs }

    var inputs: [TensorSpec] {
        switch task.task {
        case .embedding: [Embeddings.text]
        case .classification: takesPairs ? [Classification.text, Classification.textPair] : [Classification.text]
        case .tokenClassification: [Classification.text]
        }
    }
    var outputs: [TensorSpec] {
        let labels = task.labels.count
        switch task.task {
        case .embedding:
            return [Embeddings.embedding(dimensions: encoder.width), Embeddings.tokenCount]
        case .classification:
            let outputs = [
                Classification.logits(labels: labels), Classification.probabilities(labels: labels),
                Classification.label,
            ]
            return (labels == 1 ? outputs + [Reranking.score] : outputs) + [Embeddings.tokenCount]
        case .tokenClassification:
            return [
                TokenClassification.logits(labels: labels), TokenClassification.tokens, TokenClassification.entities,
            ]
        }
    }

    func makeInstance(worker: WorkerContext) throws -> BertInstance {
        BertInstance(model: self)
    }
}

/// The plugin's entry point: negotiates the ABI and returns the `bert` handler's descriptor.
@c(confide_plugin_entry)
public func confidePluginEntry(_ major: UInt32, _ minor: UInt32) -> UnsafeRawPointer? { Bert.export(major, minor) }
