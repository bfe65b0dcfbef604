import ConfideJSON
import ConfideSDK

/// A handler for the OpenAI API's tests that declares the SDK's ``Embeddings`` contract with embeddings anyone can
/// compute: for a text of `n` UTF-8 bytes, value `j` of its embedding is `n + j + 1`, scaled to unit length unless
/// the parameter `unit` is false; its token count is `n + 2`, reported when asked for unless the parameter
/// `token_counts` is false. The parameter `width` sets the embedding's size (4 by default).
struct FakeEmbeddings: Handler, HandlerInstance {
    static let name = "fake-embeddings"
    let width: Int
    let unit: Bool
    let tokenCounts: Bool

    init(model: ModelContext) throws {
        let parameters = try JSONParser.parse(model.parametersJSON).objectValue
        width = Int(parameters?["width"]?.int64Value ?? 4)
        unit = parameters?["unit"]?.boolValue ?? true
        tokenCounts = parameters?["token_counts"]?.boolValue ?? true
    }

    var inputs: [TensorSpec] { [Embeddings.text] }
    var outputs: [TensorSpec] {
        [Embeddings.embedding(dimensions: width)] + (tokenCounts ? [Embeddings.tokenCount] : [])
    }

    func execute(_ batch: Batch) {
        batch.forEachRequest { request in
            let texts = try request.input(Embeddings.textInput).byteElements()
            var values: [Float] = []
            for text in texts {
                let row = (0..<width).map { Float(text.count + $0 + 1) }
                let norm = unit ? row.reduce(0) { $0 + $1 * $1 }.squareRoot() : 1
                values += row.map { $0 / norm }
            }
            try request.respond(
                Embeddings.embeddingOutput, dataType: .fp32, shape: [Int64(texts.count), Int64(width)], elements: values
            )
            if tokenCounts, request.names(output: Embeddings.tokenCountOutput) {
                try request.respond(
                    Embeddings.tokenCountOutput, dataType: .int64, shape: [Int64(texts.count)],
                    elements: texts.map { Int64($0.count + 2) })
            }
        }
    }
}

@c(confide_plugin_entry)
public func confidePluginEntry(_ major: UInt32, _ minor: UInt32) -> UnsafeRawPointer? {
    FakeEmbeddings.export(major, minor)
}
