/// How a handler declares that it produces text embeddings, which the runtime serves through the OpenAI embeddings
/// API (`POST /v1/embeddings`, `GET /v1/models`) besides KServe v2 and TorchServe.
///
/// A handler declares it through the tensors it reports for a model, with no other call:
/// - an input ``textInput`` (`text`), BYTES, shape `[-1]`: the texts, UTF-8, one element per text;
/// - an output ``embeddingOutput`` (`embedding`), FP32, shape `[-1, D]` with `D` the embedding's size: one row per
///   text, in the order of the texts;
/// - optionally an output ``tokenCountOutput`` (`token_count`), INT64, shape `[-1]`: how many tokens of each text the
///   model saw (after truncation, special tokens included). A handler that declares it fills it only for a request
///   that names it among its requested outputs (``Request/requestedOutputs``), so other clients never receive it.
///
/// ```swift
/// var inputs: [TensorSpec] { [Embeddings.text] }
/// var outputs: [TensorSpec] { [Embeddings.embedding(dimensions: 384), Embeddings.tokenCount] }
/// ```
public enum Embeddings {
    /// The name of the input holding the texts.
    public static let textInput = "text"
    /// The name of the output holding one embedding per text.
    public static let embeddingOutput = "embedding"
    /// The name of the optional output holding each text's token count.
    public static let tokenCountOutput = "token_count"

    /// The input holding the texts: BYTES `[-1]`.
    public static let text = TensorSpec(name: textInput, dataType: .bytes, shape: [-1])
    /// The optional output holding each text's token count: INT64 `[-1]`.
    public static let tokenCount = TensorSpec(name: tokenCountOutput, dataType: .int64, shape: [-1])

    /// The output holding one embedding of `dimensions` values per text: FP32 `[-1, dimensions]`.
    public static func embedding(dimensions: Int) -> TensorSpec {
        TensorSpec(name: embeddingOutput, dataType: .fp32, shape: [-1, Int64(dimensions)])
    }

    /// The embedding's size when `inputs` and `outputs` declare the contract, else `nil`.
    public static func dimensions(inputs: [TensorSpec], outputs: [TensorSpec]) -> Int? {
        guard inputs.contains(text), let output = outputs.first(where: { $0.name == embeddingOutput }),
            output.dataType == .fp32, output.shape.count == 2, output.shape[0] == -1,
            let size = Int(exactly: output.shape[1]), size >= 1
        else { return nil }
        return size
    }

    /// Whether `outputs` declare the token-count output.
    public static func reportsTokenCounts(outputs: [TensorSpec]) -> Bool {
        outputs.contains(tokenCount)
    }
}

extension Request {
    /// Whether this request names `output` among the outputs it asked for (not when it asked for every output): for
    /// outputs a handler fills only on demand, such as ``Embeddings/tokenCountOutput``.
    public func names(output: String) -> Bool {
        requestedOutputs.contains(output)
    }
}
