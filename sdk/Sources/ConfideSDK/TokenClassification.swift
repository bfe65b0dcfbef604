/// How a handler declares that it labels the tokens of texts (named entities, PII), besides KServe v2 and TorchServe.
///
/// A handler declares it through the tensors it reports for a model:
/// - an input ``Classification/text`` (`text`), BYTES, shape `[-1]`: the texts, UTF-8, one element per text;
/// - an output ``logitsOutput`` (`logits`), FP32, shape `[-1, -1, L]` with `L` the number of labels: per text, the
///   raw scores of each token the model saw ([CLS] and [SEP] included), padded with zeros to the longest text of
///   the request;
/// - an output ``tokensOutput`` (`tokens`), BYTES, shape `[-1]`: per text, a JSON array with one object per token
///   of the text (added tokens such as [CLS] left out): `{"index", "token", "label", "score", "start", "end"}`,
///   where `index` is the token's row in `logits`, `score` the softmax score of `label`, and `start` and `end`
///   the token's span in the text in Unicode scalars (Python's character offsets, as transformers'
///   `return_offsets_mapping` gives them);
/// - an output ``entitiesOutput`` (`entities`), BYTES, shape `[-1]`: per text, a JSON array of the entities found,
///   `{"entity_group", "score", "word", "start", "end"}`, grouped as transformers' token-classification pipeline
///   does with `aggregation_strategy="simple"` (neighbouring tokens of one type joined unless a `B-` label starts
///   a new entity; the score is the mean of the tokens'; label `O` is no entity).
public enum TokenClassification {
    /// The name of the output holding each token's raw scores.
    public static let logitsOutput = "logits"
    /// The name of the output holding each text's labelled tokens, as JSON.
    public static let tokensOutput = "tokens"
    /// The name of the output holding each text's entities, as JSON.
    public static let entitiesOutput = "entities"

    /// The output holding each text's labelled tokens: BYTES `[-1]`.
    public static let tokens = TensorSpec(name: tokensOutput, dataType: .bytes, shape: [-1])
    /// The output holding each text's entities: BYTES `[-1]`.
    public static let entities = TensorSpec(name: entitiesOutput, dataType: .bytes, shape: [-1])

    /// The output holding `labels` raw scores per token: FP32 `[-1, -1, labels]`.
    public static func logits(labels: Int) -> TensorSpec {
        TensorSpec(name: logitsOutput, dataType: .fp32, shape: [-1, -1, Int64(labels)])
    }

    /// The number of labels when `inputs` and `outputs` declare the contract, else `nil`.
    public static func labelCount(inputs: [TensorSpec], outputs: [TensorSpec]) -> Int? {
        guard inputs.contains(Classification.text), outputs.contains(tokens), outputs.contains(entities),
            let logits = outputs.first(where: { $0.name == logitsOutput }), logits.dataType == .fp32,
            logits.shape.count == 3, let count = Int(exactly: logits.shape[2]), count >= 1
        else { return nil }
        return count
    }
}
