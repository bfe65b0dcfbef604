/// How a handler declares that it classifies texts or text pairs, which the runtime can serve through task routes
/// (such as a classify route) besides KServe v2 and TorchServe.
///
/// A handler declares it through the tensors it reports for a model, with no other call:
/// - an input ``textInput`` (`text`), BYTES, shape `[-1]`: the texts, UTF-8, one element per text;
/// - optionally an input ``textPairInput`` (`text_pair`), BYTES, shape `[-1]`: a second text per text, making
///   pairs (as many elements as `text`; the handler refuses a request where the counts differ);
/// - an output ``logitsOutput`` (`logits`), FP32, shape `[-1, L]` with `L` the number of labels: the raw scores;
/// - an output ``probabilitiesOutput`` (`probabilities`), FP32, shape `[-1, L]`: the scores after the model's
///   score function (softmax over the labels, a sigmoid per label, or the logits themselves for regression);
/// - an output ``labelOutput`` (`label`), BYTES, shape `[-1]`: the label of the highest score, UTF-8;
/// - optionally ``Embeddings/tokenCount`` (`token_count`), INT64, shape `[-1]`: the tokens of each text (or pair)
///   the model saw, filled only for a request that names it, as for embeddings.
///
/// Rows are in the order of the texts.
///
/// ```swift
/// var inputs: [TensorSpec] { [Classification.text, Classification.textPair] }
/// var outputs: [TensorSpec] {
///     [Classification.logits(labels: 3), Classification.probabilities(labels: 3), Classification.label]
/// }
/// ```
public enum Classification {
    /// The name of the input holding the texts.
    public static let textInput = "text"
    /// The name of the optional input holding the second text of each pair.
    public static let textPairInput = "text_pair"
    /// The name of the output holding the raw scores.
    public static let logitsOutput = "logits"
    /// The name of the output holding the scores after the score function.
    public static let probabilitiesOutput = "probabilities"
    /// The name of the output holding the label of each text.
    public static let labelOutput = "label"

    /// The input holding the texts: BYTES `[-1]`.
    public static let text = TensorSpec(name: textInput, dataType: .bytes, shape: [-1])
    /// The input holding the second text of each pair: BYTES `[-1]`.
    public static let textPair = TensorSpec(name: textPairInput, dataType: .bytes, shape: [-1])
    /// The output holding each text's label: BYTES `[-1]`.
    public static let label = TensorSpec(name: labelOutput, dataType: .bytes, shape: [-1])

    /// The output holding `labels` raw scores per text: FP32 `[-1, labels]`.
    public static func logits(labels: Int) -> TensorSpec {
        TensorSpec(name: logitsOutput, dataType: .fp32, shape: [-1, Int64(labels)])
    }

    /// The output holding `labels` scores per text after the score function: FP32 `[-1, labels]`.
    public static func probabilities(labels: Int) -> TensorSpec {
        TensorSpec(name: probabilitiesOutput, dataType: .fp32, shape: [-1, Int64(labels)])
    }

    /// The number of labels when `inputs` and `outputs` declare the contract, else `nil`.
    public static func labelCount(inputs: [TensorSpec], outputs: [TensorSpec]) -> Int? {
        guard inputs.contains(text), outputs.contains(label),
            let probabilities = outputs.first(where: { $0.name == probabilitiesOutput }),
            probabilities.dataType == .fp32, probabilities.shape.count == 2, probabilities.shape[0] == -1,
            let count = Int(exactly: probabilities.shape[1]), count >= 1,
            outputs.contains(logits(labels: count))
        else { return nil }
        return count
    }

    /// Whether `inputs` declare the text-pair input.
    public static func takesPairs(inputs: [TensorSpec]) -> Bool { inputs.contains(textPair) }
}

/// How a handler declares that it scores text pairs for relevance (a cross-encoder), which the runtime can serve
/// through a rerank route besides KServe v2 and TorchServe.
///
/// A handler declares it through the tensors it reports for a model:
/// - the inputs ``Classification/text`` (`text`, the queries) and ``Classification/textPair`` (`text_pair`, the
///   documents), BYTES `[-1]` each, as many elements each: pair `i` is `text[i]` with `text_pair[i]`;
/// - an output ``scoreOutput`` (`score`), FP32, shape `[-1]`: one relevance score per pair, higher is more
///   relevant, in the order of the pairs.
///
/// A cross-encoder is a classifier with one label, so a handler usually declares ``Classification`` as well, and
/// `score` is then the one column of its `probabilities`.
public enum Reranking {
    /// The name of the output holding one relevance score per pair.
    public static let scoreOutput = "score"
    /// The output holding one relevance score per pair: FP32 `[-1]`.
    public static let score = TensorSpec(name: scoreOutput, dataType: .fp32, shape: [-1])

    /// Whether `inputs` and `outputs` declare the contract.
    public static func isDeclared(inputs: [TensorSpec], outputs: [TensorSpec]) -> Bool {
        inputs.contains(Classification.text) && inputs.contains(Classification.textPair) && outputs.contains(score)
    }
}
