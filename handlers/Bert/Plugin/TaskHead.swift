import BertModel
import ConfideSDK
import Foundation

/// A classification model's head, in FP32: for sequence classification a dense layer on the first token's state
/// (BERT's pooler with tanh, DistilBERT's `pre_classifier` with ReLU), then the classifier; for token
/// classification the classifier on every token's state.
struct TaskHead: Sendable {
    /// The activation after the dense layer before the classifier.
    enum Activation: Sendable {
        case tanh, relu
    }

    let task: BertTaskConfig
    let hidden: Int
    let pooler: (weight: FloatTensor, bias: FloatTensor, activation: Activation)?
    /// `[labels, hidden]`.
    let classifierWeight: FloatTensor
    let classifierBias: FloatTensor

    /// The number of labels.
    var labelCount: Int { task.labels.count }

    init(_ weights: BertHeadWeights, task: BertTaskConfig, config: BertConfig) throws(HandlerError) {
        self.task = task
        hidden = config.hiddenSize
        if let dense = weights.pooler {
            let activation: Activation = config.family == .bert ? .tanh : .relu
            pooler = (try FloatTensor(dense.weight), try FloatTensor(dense.bias), activation)
        } else {
            pooler = nil
        }
        classifierWeight = try FloatTensor(weights.classifierWeight)
        classifierBias = try FloatTensor(weights.classifierBias)
    }

    /// The logits of `rows` states of `hidden` values each: `rows × labels`, row-major.
    func logits(_ states: UnsafeBufferPointer<Float>, rows: Int) -> [Float] {
        let labels = labelCount
        var logits = [Float](repeating: 0, count: rows * labels)
        var pooled = [Float](repeating: 0, count: hidden)
        for row in 0..<rows {
            let state = UnsafeBufferPointer(rebasing: states[(row * hidden)..<((row + 1) * hidden)])
            if let pooler {
                Self.linear(state, pooler.weight.values, pooler.bias.values, into: &pooled, offset: 0)
                for j in 0..<hidden {
                    pooled[j] = pooler.activation == .tanh ? Self.tanh(pooled[j]) : max(pooled[j], 0)
                }
                pooled.withUnsafeBufferPointer { pooled in
                    Self.linear(
                        pooled, classifierWeight.values, classifierBias.values, into: &logits, offset: row * labels)
                }
            } else {
                Self.linear(state, classifierWeight.values, classifierBias.values, into: &logits, offset: row * labels)
            }
        }
        return logits
    }

    /// The scores of one row of logits after the model's score function.
    static func probabilities(_ logits: ArraySlice<Float>, function: BertScoreFunction) -> [Float] {
        switch function {
        case .none:
            return Array(logits)
        case .sigmoid:
            return logits.map { 1 / (1 + Self.exp(-$0)) }
        case .softmax:
            let largest = logits.max() ?? 0
            let exponentials = logits.map { Self.exp($0 - largest) }
            let sum = exponentials.reduce(0, +)
            return exponentials.map { $0 / sum }
        }
    }

    /// The index of the largest value (the first of equal ones, as `argmax` picks).
    static func argmax(_ values: some Collection<Float>) -> Int {
        var best = 0
        var bestValue = -Float.infinity
        for (index, value) in values.enumerated() where value > bestValue {
            best = index
            bestValue = value
        }
        return best
    }

    /// `output[offset + i] = bias[i] + Σ_j weight[i·k + j] · input[j]` for a `[n, k]` weight.
    private static func linear(
        _ input: UnsafeBufferPointer<Float>, _ weight: UnsafeBufferPointer<Float>, _ bias: UnsafeBufferPointer<Float>,
        into output: inout [Float], offset: Int
    ) {
        let k = input.count
        for i in 0..<bias.count {
            var sum: Float = 0
            for j in 0..<k { sum += weight[i * k + j] * input[j] }
            output[offset + i] = sum + bias[i]
        }
    }

    private static func exp(_ x: Float) -> Float { Foundation.exp(x) }

    private static func tanh(_ x: Float) -> Float { Foundation.tanh(x) }
}
