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

/// A BERT encoder's tensors in a safetensors file, each checked to exist with the shape the configuration
/// implies and a floating-point type (F32, F16 or BF16). Names may carry a `bert.` prefix (as in checkpoints of
/// task models); other tensors (the pooler, task heads, `position_ids`) are not used.
public struct BertWeights: Sendable {
    /// The floating-point types accepted for weights.
    public static let floatTypes: Set<SafeTensorsDType> = [.float32, .float16, .bfloat16]

    /// `embeddings.word_embeddings.weight`: `[vocab, hidden]`.
    public let wordEmbeddings: TensorView
    /// `embeddings.position_embeddings.weight`: `[maxPositions, hidden]`.
    public let positionEmbeddings: TensorView
    /// `embeddings.token_type_embeddings.weight`: `[typeVocab, hidden]`.
    public let tokenTypeEmbeddings: TensorView
    /// `embeddings.LayerNorm`: `[hidden]` each.
    public let embeddingNormWeight: TensorView, embeddingNormBias: TensorView
    /// The encoder layers, first to last.
    public let layers: [BertLayerWeights]

    /// Finds and checks every tensor of the encoder that `config` describes.
    public init(_ file: SafeTensors, config: BertConfig) throws(BertModelError) {
        try config.validate()
        let prefix =
            file["embeddings.word_embeddings.weight"] == nil && file["bert.embeddings.word_embeddings.weight"] != nil
            ? "bert." : ""
        func tensor(_ name: String, _ shape: [Int]) throws(BertModelError) -> TensorView {
            try file.tensor(prefix + name, shape: shape, dtypes: Self.floatTypes)
        }
        let hidden = config.hiddenSize
        let intermediate = config.intermediateSize
        wordEmbeddings = try tensor("embeddings.word_embeddings.weight", [config.vocabularySize, hidden])
        positionEmbeddings = try tensor("embeddings.position_embeddings.weight", [config.maxPositions, hidden])
        tokenTypeEmbeddings = try tensor(
            "embeddings.token_type_embeddings.weight", [config.typeVocabularySize, hidden])
        embeddingNormWeight = try tensor("embeddings.LayerNorm.weight", [hidden])
        embeddingNormBias = try tensor("embeddings.LayerNorm.bias", [hidden])
        var layers: [BertLayerWeights] = []
        for index in 0..<config.layerCount {
            let layer = "encoder.layer.\(index)."
            layers.append(
                BertLayerWeights(
                    queryWeight: try tensor(layer + "attention.self.query.weight", [hidden, hidden]),
                    queryBias: try tensor(layer + "attention.self.query.bias", [hidden]),
                    keyWeight: try tensor(layer + "attention.self.key.weight", [hidden, hidden]),
                    keyBias: try tensor(layer + "attention.self.key.bias", [hidden]),
                    valueWeight: try tensor(layer + "attention.self.value.weight", [hidden, hidden]),
                    valueBias: try tensor(layer + "attention.self.value.bias", [hidden]),
                    attentionOutputWeight: try tensor(layer + "attention.output.dense.weight", [hidden, hidden]),
                    attentionOutputBias: try tensor(layer + "attention.output.dense.bias", [hidden]),
                    attentionNormWeight: try tensor(layer + "attention.output.LayerNorm.weight", [hidden]),
                    attentionNormBias: try tensor(layer + "attention.output.LayerNorm.bias", [hidden]),
                    intermediateWeight: try tensor(layer + "intermediate.dense.weight", [intermediate, hidden]),
                    intermediateBias: try tensor(layer + "intermediate.dense.bias", [intermediate]),
                    outputWeight: try tensor(layer + "output.dense.weight", [hidden, intermediate]),
                    outputBias: try tensor(layer + "output.dense.bias", [hidden]),
                    outputNormWeight: try tensor(layer + "output.LayerNorm.weight", [hidden]),
                    outputNormBias: try tensor(layer + "output.LayerNorm.bias", [hidden])))
        }
        self.layers = layers
    }
}
