import ConfideHost
import ConfideSDK
import ConfideTensors
import ConfideTestKit
import Testing

/// Embeds a text of `n` bytes as `[n, 1]` and counts `n` tokens, declaring the ``Embeddings`` contract.
struct LengthEmbedder: Handler, HandlerInstance {
    static let name = "length-embedder"
    init(model: ModelContext) {}

    var inputs: [TensorSpec] { [Embeddings.text] }
    var outputs: [TensorSpec] { [Embeddings.embedding(dimensions: 2), Embeddings.tokenCount] }

    func execute(_ batch: Batch) {
        batch.forEachRequest { request in
            let texts = try request.input(Embeddings.textInput).byteElements()
            try request.respond(
                Embeddings.embeddingOutput, dataType: .fp32, shape: [Int64(texts.count), 2],
                elements: texts.flatMap { [Float($0.count), 1] })
            if request.names(output: Embeddings.tokenCountOutput) {
                try request.respond(
                    Embeddings.tokenCountOutput, dataType: .int64, shape: [Int64(texts.count)],
                    elements: texts.map { Int64($0.count) })
            }
        }
    }
}

@Suite("The embeddings contract")
struct EmbeddingsTests {
    @Test func specsDeclareTheContract() throws {
        let tester = try HandlerTester(LengthEmbedder.self)
        #expect(Embeddings.dimensions(inputs: tester.model.inputs, outputs: tester.model.outputs) == 2)
        #expect(Embeddings.reportsTokenCounts(outputs: tester.model.outputs))
        let text = Embeddings.text
        for outputs in [
            [TensorSpec(name: "embedding", dataType: .fp16, shape: [-1, 2])],
            [TensorSpec(name: "embedding", dataType: .fp32, shape: [-1])],
            [TensorSpec(name: "embedding", dataType: .fp32, shape: [-1, -1])],
            [TensorSpec(name: "embedding", dataType: .fp32, shape: [1, 2])],
            [TensorSpec(name: "vector", dataType: .fp32, shape: [-1, 2])],
        ] {
            #expect(Embeddings.dimensions(inputs: [text], outputs: outputs) == nil, "\(outputs)")
        }
        let other = TensorSpec(name: "text", dataType: .fp32, shape: [-1])
        #expect(Embeddings.dimensions(inputs: [other], outputs: [Embeddings.embedding(dimensions: 2)]) == nil)
        #expect(!Embeddings.reportsTokenCounts(outputs: [Embeddings.embedding(dimensions: 2)]))
    }

    @Test func tokenCountsOnlyWhenARequestNamesThem() throws {
        let tester = try HandlerTester(LengthEmbedder.self)
        let texts = try #require(HostTensor(name: "text", strings: ["abc", "de"]))
        let all = try tester.infer([texts])
        #expect(all[Embeddings.embeddingOutput]?.values(as: Float.self) == [3, 1, 2, 1])
        #expect(all[Embeddings.tokenCountOutput] == nil)
        let named = try tester.infer([texts], requestedOutputs: ["embedding", "token_count"])
        #expect(named[Embeddings.tokenCountOutput]?.values(as: Int64.self) == [3, 2])
    }
}
