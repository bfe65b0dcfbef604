import ConfideSDK
import Testing

@Suite("Task contracts")
struct TaskContractsTests {
    @Test func classificationIsDeclaredByItsTensors() {
        let inputs = [Classification.text, Classification.textPair]
        let outputs = [Classification.logits(labels: 3), Classification.probabilities(labels: 3), Classification.label]
        #expect(Classification.labelCount(inputs: inputs, outputs: outputs) == 3)
        #expect(Classification.takesPairs(inputs: inputs))
        #expect(!Classification.takesPairs(inputs: [Classification.text]))
        #expect(Classification.labelCount(inputs: inputs, outputs: Array(outputs.dropLast())) == nil)
        let mismatched = [
            Classification.logits(labels: 2), Classification.probabilities(labels: 3), Classification.label,
        ]
        #expect(Classification.labelCount(inputs: inputs, outputs: mismatched) == nil)
        #expect(Classification.labelCount(inputs: [Embeddings.text], outputs: outputs) == 3, "the same 'text' input")
    }

    @Test func rerankingNeedsPairsAndAScore() {
        let pairs = [Classification.text, Classification.textPair]
        #expect(Reranking.isDeclared(inputs: pairs, outputs: [Reranking.score]))
        #expect(!Reranking.isDeclared(inputs: [Classification.text], outputs: [Reranking.score]))
        #expect(!Reranking.isDeclared(inputs: pairs, outputs: [Classification.label]))
    }

    @Test func tokenClassificationIsDeclaredByItsTensors() {
        let outputs = [TokenClassification.logits(labels: 9), TokenClassification.tokens, TokenClassification.entities]
        #expect(TokenClassification.labelCount(inputs: [Classification.text], outputs: outputs) == 9)
        #expect(TokenClassification.labelCount(inputs: [Classification.text], outputs: Array(outputs.prefix(2))) == nil)
        #expect(TokenClassification.logits(labels: 9).shape == [-1, -1, 9])
    }
}
