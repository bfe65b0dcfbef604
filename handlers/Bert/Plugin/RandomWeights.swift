import BertModel
import ConfideSDK

/// Deterministic pseudo-random numbers (SplitMix64), so a seeded random model is the same on every load.
struct SeededRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    /// A value uniform in [-1, 1).
    mutating func next() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        value ^= value >> 31
        return Float(value >> 40) * (2 / Float(1 << 24)) - 1
    }
}

extension BertEncoder {
    /// An encoder of `config`'s shape with seeded random weights (uniform with BERT's initialisation's standard
    /// deviation 0.02; zero biases; layer norms of ones and zeros), for benchmarks: e.g. BERT-Large from its
    /// `config.json` alone. Mean pooling, L2-normalised.
    init(
        randomWeights config: BertConfig, seed: UInt64, kernels: Kernels, precision: Kernels.Precision,
        attention: Kernels.Precision
    ) throws(HandlerError) {
        try Self.check(config)
        var random = SeededRandom(seed: seed)
        // A uniform distribution on [-a, a] has standard deviation a / √3.
        let amplitude = Float(0.02) * Float(3).squareRoot()
        func values(_ count: Int) -> FloatTensor { FloatTensor(count: count) { random.next() * amplitude } }
        func constant(_ count: Int, _ value: Float) -> FloatTensor { FloatTensor(count: count) { value } }
        func packed(k: Int, n: Int) throws(HandlerError) -> PackedWeights {
            try values(k * n).withValues { weights throws(HandlerError) in
                try kernels.pack(weights, k: k, n: n, layout: .nk, precision: precision)
            }
        }
        let hidden = config.hiddenSize
        let inner = config.intermediateSize
        var layers: [EncoderLayer] = []
        for _ in 0..<config.layerCount {
            layers.append(
                EncoderLayer(
                    qkv: try packed(k: hidden, n: 3 * hidden), qkvBias: constant(3 * hidden, 0),
                    attentionOutput: try packed(k: hidden, n: hidden), attentionOutputBias: constant(hidden, 0),
                    attentionNormWeight: constant(hidden, 1), attentionNormBias: constant(hidden, 0),
                    intermediate: try packed(k: hidden, n: inner), intermediateBias: constant(inner, 0),
                    output: try packed(k: inner, n: hidden), outputBias: constant(hidden, 0),
                    outputNormWeight: constant(hidden, 1), outputNormBias: constant(hidden, 0)))
        }
        self.init(
            config: config, pooling: .mean, normalize: true, kernels: kernels,
            wordEmbeddings: values(config.vocabularySize * hidden),
            positionEmbeddings: values(config.maxPositions * hidden), tokenTypeEmbeddings: values(hidden),
            embeddingNormWeight: constant(hidden, 1), embeddingNormBias: constant(hidden, 0), layers: layers,
            attention: attention)
    }
}

extension BertTokenizer {
    /// A tokenizer for a model with no vocabulary file: the special tokens, every printable ASCII character
    /// (lower case) alone and as a `##` continuation, then `[unusedN]` up to `size` tokens. Text becomes about
    /// one token per character.
    static func synthetic(size: Int, maxLength: Int) throws(HandlerError) -> BertTokenizer {
        var tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        let characters = (0x21...0x7E).compactMap(Unicode.Scalar.init).filter { !$0.properties.isUppercase }
            .map(String.init)
        tokens += characters + characters.map { "##" + $0 }
        guard size >= tokens.count else {
            throw .invalidArgument("random weights: vocab_size \(size) is below the \(tokens.count) synthetic tokens")
        }
        tokens += (tokens.count..<size).map { "[unused\($0)]" }
        do {
            return try BertTokenizer(vocabulary: tokens, maxLength: maxLength)
        } catch {
            throw .internal("random weights: \(error.message)")
        }
    }
}
