/// One encoder layer's tensors, checked against the configuration. Matrices are `[out, in]`, row-major, as
/// PyTorch's `nn.Linear` stores them.
public struct BertLayerWeights: Sendable {
    /// `attention.self.query`: `[hidden, hidden]` and `[hidden]`.
    public let queryWeight: TensorView, queryBias: TensorView
    /// `attention.self.key`: `[hidden, hidden]` and `[hidden]`.
    public let keyWeight: TensorView, keyBias: TensorView
    /// `attention.self.value`: `[hidden, hidden]` and `[hidden]`.
    public let valueWeight: TensorView, valueBias: TensorView
    /// `attention.output.dense`: `[hidden, hidden]` and `[hidden]`.
    public let attentionOutputWeight: TensorView, attentionOutputBias: TensorView
    /// `attention.output.LayerNorm`: `[hidden]` each.
    public let attentionNormWeight: TensorView, attentionNormBias: TensorView
    /// `intermediate.dense`: `[intermediate, hidden]` and `[intermediate]`.
    public let intermediateWeight: TensorView, intermediateBias: TensorView
    /// `output.dense`: `[hidden, intermediate]` and `[hidden]`.
    public let outputWeight: TensorView, outputBias: TensorView
    /// `output.LayerNorm`: `[hidden]` each.
    public let outputNormWeight: TensorView, outputNormBias: TensorView
}

/// A BERT or DistilBERT encoder's tensors in a safetensors file, each checked to exist with the shape the
/// configuration implies and a floating-point type (F32, F16 or BF16). Names may carry the prefix of a task
/// model's checkpoint (`bert.`, `distilbert.`); DistilBERT's names (`transformer.layer.N.attention.q_lin`,
/// `sa_layer_norm`, `ffn.lin1`, `output_layer_norm`, ...) map onto the same layer structure. Other tensors (the
/// pooler, task heads, `position_ids`) are not read here; ``BertHeadWeights`` reads the heads.
public struct BertWeights: Sendable {
    /// The floating-point types accepted for weights.
    public static let floatTypes: Set<SafeTensorsDType> = [.float32, .float16, .bfloat16]

    /// `embeddings.word_embeddings.weight`: `[vocab, hidden]`.
    public let wordEmbeddings: TensorView
    /// `embeddings.position_embeddings.weight`: `[maxPositions, hidden]`.
    public let positionEmbeddings: TensorView
    /// `embeddings.token_type_embeddings.weight`: `[typeVocab, hidden]`; nil for a model without token types.
    public let tokenTypeEmbeddings: TensorView?
    /// `embeddings.LayerNorm`: `[hidden]` each.
    public let embeddingNormWeight: TensorView, embeddingNormBias: TensorView
    /// The encoder layers, first to last.
    public let layers: [BertLayerWeights]
    /// The prefix of the encoder's tensor names in this file (`""`, `"bert."` or `"distilbert."`).
    public let prefix: String

    /// Finds and checks every tensor of the encoder that `config` describes.
    public init(_ file: SafeTensors, config: BertConfig) throws(BertModelError) {
        try config.validate()
        let family = config.family
        let base = family == .bert ? "bert." : "distilbert."
        let prefix =
            file["embeddings.word_embeddings.weight"] == nil && file[base + "embeddings.word_embeddings.weight"] != nil
            ? base : ""
        func tensor(_ name: String, _ shape: [Int]) throws(BertModelError) -> TensorView {
            try file.tensor(prefix + name, shape: shape, dtypes: Self.floatTypes)
        }
        let hidden = config.hiddenSize
        let intermediate = config.intermediateSize
        wordEmbeddings = try tensor("embeddings.word_embeddings.weight", [config.vocabularySize, hidden])
        positionEmbeddings = try tensor("embeddings.position_embeddings.weight", [config.maxPositions, hidden])
        tokenTypeEmbeddings =
            config.typeVocabularySize == 0
            ? nil : try tensor("embeddings.token_type_embeddings.weight", [config.typeVocabularySize, hidden])
        embeddingNormWeight = try tensor("embeddings.LayerNorm.weight", [hidden])
        embeddingNormBias = try tensor("embeddings.LayerNorm.bias", [hidden])
        let names = LayerNames(family)
        var layers: [BertLayerWeights] = []
        for index in 0..<config.layerCount {
            let layer = (family == .bert ? "encoder.layer." : "transformer.layer.") + "\(index)."
            func pair(_ name: String, _ shape: [Int]) throws(BertModelError) -> (TensorView, TensorView) {
                guard let rows = shape.first else { throw .malformedConfig("\(name): no shape") }
                return (try tensor(layer + name + ".weight", shape), try tensor(layer + name + ".bias", [rows]))
            }
            let query = try pair(names.query, [hidden, hidden])
            let key = try pair(names.key, [hidden, hidden])
            let value = try pair(names.value, [hidden, hidden])
            let attentionOutput = try pair(names.attentionOutput, [hidden, hidden])
            let attentionNorm = try pair(names.attentionNorm, [hidden])
            let up = try pair(names.intermediate, [intermediate, hidden])
            let down = try pair(names.output, [hidden, intermediate])
            let outputNorm = try pair(names.outputNorm, [hidden])
            layers.append(
                BertLayerWeights(
                    queryWeight: query.0, queryBias: query.1, keyWeight: key.0, keyBias: key.1,
                    valueWeight: value.0, valueBias: value.1,
                    attentionOutputWeight: attentionOutput.0, attentionOutputBias: attentionOutput.1,
                    attentionNormWeight: attentionNorm.0, attentionNormBias: attentionNorm.1,
                    intermediateWeight: up.0, intermediateBias: up.1, outputWeight: down.0, outputBias: down.1,
                    outputNormWeight: outputNorm.0, outputNormBias: outputNorm.1))
        }
        self.layers = layers
        self.prefix = prefix
    }
}

/// The names of one layer's linear layers and layer norms in each family.
private struct LayerNames {
    let query, key, value, attentionOutput, attentionNorm, intermediate, output, outputNorm: String

    init(_ family: BertFamily) {
        switch family {
        case .bert:
            (query, key, value) = ("attention.self.query", "attention.self.key", "attention.self.value")
            (attentionOutput, attentionNorm) = ("attention.output.dense", "attention.output.LayerNorm")
            (intermediate, output, outputNorm) = ("intermediate.dense", "output.dense", "output.LayerNorm")
        case .distilBert:
            (query, key, value) = ("attention.q_lin", "attention.k_lin", "attention.v_lin")
            (attentionOutput, attentionNorm) = ("attention.out_lin", "sa_layer_norm")
            (intermediate, output, outputNorm) = ("ffn.lin1", "ffn.lin2", "output_layer_norm")
        }
    }
}

/// A task model's head, checked against the configuration and the number of labels: the classifier, and for
/// sequence classification the dense layer on the first token's state before it (BERT's pooler, followed by tanh;
/// DistilBERT's `pre_classifier`, followed by ReLU).
public struct BertHeadWeights: Sendable {
    /// `bert.pooler.dense` or `pre_classifier`: `[hidden, hidden]` and `[hidden]`; nil for token classification.
    public let pooler: (weight: TensorView, bias: TensorView)?
    /// `classifier`: `[labels, hidden]` and `[labels]`.
    public let classifierWeight: TensorView, classifierBias: TensorView

    /// Finds the head of `task` (a classification task) for `labels` labels, beside the encoder `weights`.
    public init(
        _ file: SafeTensors, weights: BertWeights, config: BertConfig, task: BertTask, labels: Int
    ) throws(BertModelError) {
        let hidden = config.hiddenSize
        func tensor(_ name: String, _ shape: [Int]) throws(BertModelError) -> TensorView {
            try file.tensor(name, shape: shape, dtypes: BertWeights.floatTypes)
        }
        switch task {
        case .embedding:
            throw .unsupported("an embedding model has no task head")
        case .classification:
            let dense = config.family == .bert ? weights.prefix + "pooler.dense" : "pre_classifier"
            pooler = (try tensor(dense + ".weight", [hidden, hidden]), try tensor(dense + ".bias", [hidden]))
        case .tokenClassification:
            pooler = nil
        }
        classifierWeight = try tensor("classifier.weight", [labels, hidden])
        classifierBias = try tensor("classifier.bias", [labels])
    }
}
