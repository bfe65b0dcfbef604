import BertModel
import ConfideSDK

/// One encoder layer, ready for the kernels: every linear layer packed once in the model's precision (the query,
/// key and value projections as one `[hidden, 3·hidden]` GEMM), biases and layer norms in FP32.
struct EncoderLayer: Sendable {
    let qkv: PackedWeights, qkvBias: FloatTensor
    let attentionOutput: PackedWeights, attentionOutputBias: FloatTensor
    let attentionNormWeight: FloatTensor, attentionNormBias: FloatTensor
    let intermediate: PackedWeights, intermediateBias: FloatTensor
    let output: PackedWeights, outputBias: FloatTensor
    let outputNormWeight: FloatTensor, outputNormBias: FloatTensor
}

/// A BERT encoder with pooling: the model state every worker shares. ``encode(_:lengths:into:scratch:)`` runs a
/// packed batch of token sequences through it.
struct BertEncoder: Sendable {
    let config: BertConfig
    let pooling: PoolingMode
    let normalize: Bool
    let kernels: Kernels
    let wordEmbeddings: FloatTensor
    let positionEmbeddings: FloatTensor
    /// The token type embeddings, `[types, hidden]`; nil for a model without token types (DistilBERT).
    let tokenTypeEmbeddings: FloatTensor?
    let embeddingNormWeight: FloatTensor, embeddingNormBias: FloatTensor
    let layers: [EncoderLayer]
    /// The precision of attention's two products (FP32 or BF16); the softmax is FP32 always.
    let attentionPrecision: Kernels.Precision

    /// Packs the weights of a checkpoint for `precision`; attention's products run in `attention`.
    init(checkpoint: BertCheckpoint, kernels: Kernels, precision: Kernels.Precision, attention: Kernels.Precision)
        throws(HandlerError)
    {
        let config = checkpoint.config
        try Self.check(config)
        let weights = checkpoint.weights
        let hidden = config.hiddenSize
        let inner = config.intermediateSize
        func pack(_ tensor: TensorView, k: Int, n: Int) throws(HandlerError) -> PackedWeights {
            try FloatTensor(tensor).withValues { values throws(HandlerError) in
                try kernels.pack(values, k: k, n: n, layout: .nk, precision: precision)
            }
        }
        var layers: [EncoderLayer] = []
        for layer in weights.layers {
            let qkv = try FloatTensor(concatenating: [layer.queryWeight, layer.keyWeight, layer.valueWeight])
                .withValues { values throws(HandlerError) in
                    try kernels.pack(values, k: hidden, n: 3 * hidden, layout: .nk, precision: precision)
                }
            layers.append(
                EncoderLayer(
                    qkv: qkv,
                    qkvBias: try FloatTensor(concatenating: [layer.queryBias, layer.keyBias, layer.valueBias]),
                    attentionOutput: try pack(layer.attentionOutputWeight, k: hidden, n: hidden),
                    attentionOutputBias: try FloatTensor(layer.attentionOutputBias),
                    attentionNormWeight: try FloatTensor(layer.attentionNormWeight),
                    attentionNormBias: try FloatTensor(layer.attentionNormBias),
                    intermediate: try pack(layer.intermediateWeight, k: hidden, n: inner),
                    intermediateBias: try FloatTensor(layer.intermediateBias),
                    output: try pack(layer.outputWeight, k: inner, n: hidden),
                    outputBias: try FloatTensor(layer.outputBias),
                    outputNormWeight: try FloatTensor(layer.outputNormWeight),
                    outputNormBias: try FloatTensor(layer.outputNormBias)))
        }
        let tokenTypes: FloatTensor?
        if let types = weights.tokenTypeEmbeddings { tokenTypes = try FloatTensor(types) } else { tokenTypes = nil }
        self.init(
            config: config, pooling: checkpoint.sentenceTransformers.pooling,
            normalize: checkpoint.sentenceTransformers.normalize, kernels: kernels,
            wordEmbeddings: try FloatTensor(weights.wordEmbeddings),
            positionEmbeddings: try FloatTensor(weights.positionEmbeddings),
            tokenTypeEmbeddings: tokenTypes,
            embeddingNormWeight: try FloatTensor(weights.embeddingNormWeight),
            embeddingNormBias: try FloatTensor(weights.embeddingNormBias), layers: layers, attention: attention)
    }

    init(
        config: BertConfig, pooling: PoolingMode, normalize: Bool, kernels: Kernels, wordEmbeddings: FloatTensor,
        positionEmbeddings: FloatTensor, tokenTypeEmbeddings: FloatTensor?, embeddingNormWeight: FloatTensor,
        embeddingNormBias: FloatTensor, layers: [EncoderLayer], attention: Kernels.Precision
    ) {
        self.config = config
        self.pooling = pooling
        self.normalize = normalize
        self.kernels = kernels
        self.wordEmbeddings = wordEmbeddings
        self.positionEmbeddings = positionEmbeddings
        self.tokenTypeEmbeddings = tokenTypeEmbeddings
        self.embeddingNormWeight = embeddingNormWeight
        self.embeddingNormBias = embeddingNormBias
        self.layers = layers
        attentionPrecision = attention
    }

    /// Refuses what the kernels cannot compute.
    static func check(_ config: BertConfig) throws(HandlerError) {
        guard config.activation == .gelu else {
            throw .unsupported("hidden_act \(config.activation) is not supported: the bert handler computes exact GELU")
        }
    }

    /// The width of one embedding.
    var width: Int { config.hiddenSize }

    /// The most tokens one pass through the encoder takes (a text is never split; BERT's are at most 512): a larger
    /// batch runs in several passes, so scratch memory stays bounded however many texts a batch holds (14 MB for
    /// MiniLM, 38 MB for BERT-Large), and a pass's activations stay in the L3 cache between its layers (32 texts
    /// of 128 tokens ran 1–3 % faster in passes of 1,024 tokens than in one of 4,096).
    static let tokensPerPass = 1024

    /// Whether the model has embeddings for token type 1 (the second text of a pair).
    var takesPairs: Bool { tokenTypeEmbeddings == nil || config.typeVocabularySize >= 2 }

    /// Runs the sequences packed in `ids` (`lengths[i]` tokens each, one after the other; token types `types`, all
    /// 0 when nil) through the encoder and writes into `output`, per `readout`, one row of `hidden` values per
    /// sequence (``Readout/pooled``, ``Readout/first``) or per token (``Readout/tokens``).
    func encode(
        _ ids: [Int32], types: [Int32]? = nil, lengths: [Int], readout: Readout = .pooled,
        into output: UnsafeMutableBufferPointer<Float>, scratch: Scratch
    ) throws(HandlerError) {
        let hidden = config.hiddenSize
        let rows = readout == .tokens ? ids.count : lengths.count
        guard output.count >= rows * hidden, lengths.reduce(0, +) == ids.count,
            types.map({ $0.count == ids.count }) ?? true
        else {
            throw .internal("encode: \(lengths.count) sequences of \(ids.count) tokens do not fit the buffers")
        }
        var first = 0
        var token = 0
        while first < lengths.count {
            var end = first + 1
            var tokens = lengths[first]
            while end < lengths.count, tokens + lengths[end] <= Self.tokensPerPass {
                tokens += lengths[end]
                end += 1
            }
            let (from, to) = readout == .tokens ? (token, token + tokens) : (first, end)
            try encodePass(
                ids[token..<(token + tokens)], types: types?[token..<(token + tokens)], lengths: lengths[first..<end],
                readout: readout, into: UnsafeMutableBufferPointer(rebasing: output[(from * hidden)..<(to * hidden)]),
                scratch: scratch)
            first = end
            token += tokens
        }
    }

    /// One pass of ``encode(_:lengths:into:scratch:)``, all tokens at once.
    private func encodePass(
        _ ids: ArraySlice<Int32>, types: ArraySlice<Int32>?, lengths: ArraySlice<Int>, readout: Readout,
        into output: UnsafeMutableBufferPointer<Float>, scratch: Scratch
    ) throws(HandlerError) {
        let hidden = config.hiddenSize
        let heads = config.headCount
        let headSize = config.headSize
        let tokens = ids.count
        guard tokens > 0 else { return }
        scratch.reserve(tokens: tokens, hidden: hidden, intermediate: config.intermediateSize)
        let x = scratch.hidden
        let qkv = scratch.qkv
        let context = scratch.context
        let up = scratch.intermediate
        let sequences = Array(lengths)
        let eps = Float(config.layerNormEpsilon)
        try embed(ids, types: types, lengths: lengths, into: x)
        try kernels.layerNorm(
            UnsafeBufferPointer(x), rows: tokens, cols: hidden, gamma: embeddingNormWeight.values,
            beta: embeddingNormBias.values, eps: eps, into: x)
        let scale = 1 / Float(headSize).squareRoot()
        for layer in layers {
            try kernels.gemm(
                UnsafeBufferPointer(x), rows: tokens, weights: layer.qkv, into: qkv, bias: layer.qkvBias.values)
            try kernels.attention(
                q: UnsafeBufferPointer(qkv), k: UnsafeBufferPointer(rebasing: qkv[hidden...]),
                v: UnsafeBufferPointer(rebasing: qkv[(2 * hidden)...]), ld: 3 * hidden, lengths: sequences,
                heads: heads,
                headSize: headSize, scale: scale, precision: attentionPrecision, into: context, ldOut: hidden)
            // The attention projection adds the residual into `mid` (the QKV buffer, free again) and the FFN's
            // into `x`, and each layer norm runs in place on rows its GEMM has just written, still in the cache:
            // a GEMM never writes memory it reads.
            let mid = UnsafeMutableBufferPointer(rebasing: qkv[0..<(tokens * hidden)])
            try kernels.gemm(
                UnsafeBufferPointer(context), rows: tokens, weights: layer.attentionOutput, into: mid,
                bias: layer.attentionOutputBias.values, residual: UnsafeBufferPointer(x))
            try kernels.layerNorm(
                UnsafeBufferPointer(mid), rows: tokens, cols: hidden, gamma: layer.attentionNormWeight.values,
                beta: layer.attentionNormBias.values, eps: eps, into: mid)
            try kernels.gemm(
                UnsafeBufferPointer(mid), rows: tokens, weights: layer.intermediate, into: up,
                bias: layer.intermediateBias.values, gelu: true)
            try kernels.gemm(
                UnsafeBufferPointer(up), rows: tokens, weights: layer.output, into: x, bias: layer.outputBias.values,
                residual: UnsafeBufferPointer(mid))
            try kernels.layerNorm(
                UnsafeBufferPointer(x), rows: tokens, cols: hidden, gamma: layer.outputNormWeight.values,
                beta: layer.outputNormBias.values, eps: eps, into: x)
        }
        switch readout {
        case .pooled:
            pool(UnsafeBufferPointer(x), lengths: lengths, into: output)
        case .first:
            var start = 0
            for (index, length) in lengths.enumerated() {
                for j in 0..<hidden { output[index * hidden + j] = x[start * hidden + j] }
                start += length
            }
        case .tokens:
            _ = output.initialize(from: UnsafeBufferPointer(rebasing: x[0..<(tokens * hidden)]))
        }
    }

    /// Word + position + token type embeddings of every token (no token type for a model without them); positions
    /// restart at each sequence.
    private func embed(
        _ ids: ArraySlice<Int32>, types: ArraySlice<Int32>?, lengths: ArraySlice<Int>,
        into x: UnsafeMutableBufferPointer<Float>
    ) throws(HandlerError) {
        let hidden = config.hiddenSize
        let vocabulary = config.vocabularySize
        let words = wordEmbeddings.values
        let positions = positionEmbeddings.values
        let typeRows = tokenTypeEmbeddings.map { $0.values.count / hidden } ?? 0
        var token = 0
        var next = ids.startIndex
        for length in lengths {
            guard length <= config.maxPositions else {
                throw .internal("a sequence of \(length) tokens exceeds the model's \(config.maxPositions) positions")
            }
            for position in 0..<length {
                let id = Int(ids[next])
                next += 1
                guard id >= 0, id < vocabulary else { throw .internal("token id \(id) is outside the vocabulary") }
                let row = token * hidden
                let word = id * hidden
                let place = position * hidden
                if let typeEmbeddings = tokenTypeEmbeddings?.values {
                    let type = types.map { Int($0[$0.startIndex + token]) } ?? 0
                    guard type >= 0, type < typeRows else {
                        throw .invalidArgument("token type \(type) is outside the model's \(typeRows) token types")
                    }
                    let typeRow = type * hidden
                    for j in 0..<hidden {
                        x[row + j] = words[word + j] + positions[place + j] + typeEmbeddings[typeRow + j]
                    }
                } else {
                    for j in 0..<hidden { x[row + j] = words[word + j] + positions[place + j] }
                }
                token += 1
            }
        }
    }

    /// Pools each sequence's token states into one row of `output`, then L2-normalises it when the model does.
    private func pool(
        _ x: UnsafeBufferPointer<Float>, lengths: ArraySlice<Int>, into output: UnsafeMutableBufferPointer<Float>
    ) {
        let hidden = config.hiddenSize
        var start = 0
        for (index, length) in lengths.enumerated() {
            let out = UnsafeMutableBufferPointer(rebasing: output[(index * hidden)..<((index + 1) * hidden)])
            switch pooling {
            case .cls:
                for j in 0..<hidden { out[j] = x[start * hidden + j] }
            case .max:
                for j in 0..<hidden { out[j] = -.infinity }
                for token in start..<(start + length) {
                    for j in 0..<hidden { out[j] = max(out[j], x[token * hidden + j]) }
                }
            case .mean, .meanSqrtLength:
                for j in 0..<hidden { out[j] = 0 }
                for token in start..<(start + length) {
                    for j in 0..<hidden { out[j] += x[token * hidden + j] }
                }
                let divisor = pooling == .mean ? Float(length) : Float(length).squareRoot()
                for j in 0..<hidden { out[j] /= divisor }
            }
            if normalize {
                var sum: Float = 0
                for j in 0..<hidden { sum += out[j] * out[j] }
                // sentence-transformers divides by max(‖v‖, 1e-12).
                let inverse = 1 / max(sum.squareRoot(), 1e-12)
                for j in 0..<hidden { out[j] *= inverse }
            }
            start += length
        }
    }
}

/// What ``BertEncoder/encode(_:types:lengths:readout:into:scratch:)`` writes out.
enum Readout {
    /// One embedding per sequence, pooled and L2-normalised as the model's sentence-transformers files say.
    case pooled
    /// The first token's ([CLS]) final state per sequence, for a sequence-classification head.
    case first
    /// Every token's final state, for a token-classification head.
    case tokens
}

/// One worker's working memory for ``BertEncoder/encode(_:lengths:into:scratch:)``: grown when a batch needs more,
/// never shrunk.
final class Scratch {
    private(set) var hidden = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    private(set) var qkv = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    private(set) var context = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    private(set) var intermediate = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    /// The embeddings of a batch's texts, before they are copied into each request's output.
    private(set) var embeddings = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)

    /// Makes every buffer large enough for `tokens` tokens.
    func reserve(tokens: Int, hidden width: Int, intermediate inner: Int) {
        Self.grow(&hidden, to: tokens * width)
        Self.grow(&qkv, to: tokens * 3 * width)
        Self.grow(&context, to: tokens * width)
        Self.grow(&intermediate, to: tokens * inner)
    }

    /// Makes ``embeddings`` hold at least `count` values and returns its first `count`.
    func embeddings(count: Int) -> UnsafeMutableBufferPointer<Float> {
        Self.grow(&embeddings, to: count)
        return UnsafeMutableBufferPointer(rebasing: embeddings[0..<count])
    }

    deinit {
        for buffer in [hidden, qkv, context, intermediate, embeddings] { buffer.deallocate() }
    }

    private static func grow(_ buffer: inout UnsafeMutableBufferPointer<Float>, to count: Int) {
        guard buffer.count < count else { return }
        buffer.deallocate()
        // A quarter more than asked, so slowly growing batches do not reallocate every time.
        let capacity = count + count / 4
        let raw = UnsafeMutableRawPointer.allocate(byteCount: capacity * 4, alignment: 64)
        buffer = UnsafeMutableBufferPointer(start: raw.bindMemory(to: Float.self, capacity: capacity), count: capacity)
    }
}
