import ConfideHost
import ConfideJSON
public import ConfideRuntime
import ConfideSDK
import ConfideTensors
import NIOCore
import NIOHTTP1

/// The task routes of the OpenAI-style family, over the models whose handlers declare the matching task contract:
/// `POST /v1/rerank` (a query scored against documents by a cross-encoder, the SDK's ``Reranking``; the shape of
/// Cohere, Jina and vLLM) and `POST /v1/classify` (texts labelled by a classifier, ``Classification``; vLLM's
/// shape). Other routes are handed on to `next`.
///
/// A request becomes one request to the model's default version (BYTES tensors `text`, and `text_pair` for
/// reranking), so the scheduler batches it with others; `usage` counts the tokens the handler reports in
/// `token_count`, or 0 when it reports none. The model is named in the body, so the API checks it against the
/// caller's token (``RoutedRequest/grant``). Errors take OpenAI's shape.
public final class TasksAPI: RouteResponder {
    private let repository: ModelRepository
    private let deadlines: DeadlinePolicy
    private let next: any RouteResponder

    /// Serves the reranking and classification models of `repository`, giving requests deadlines by `deadlines`,
    /// and hands other routes to `next`.
    public init(repository: ModelRepository, deadlines: DeadlinePolicy = DeadlinePolicy(), next: any RouteResponder) {
        self.repository = repository
        self.deadlines = deadlines
        self.next = next
    }

    public func handle(_ request: RoutedRequest, reply: @escaping RouteReply) {
        switch request.route.action {
        case .rerank, .classify:
            if request.request.body.readableBytes < InferenceAPI.inlineDecodeLimit {
                serve(request, reply)
            } else {
                BlockingWork.answer(reply) { self.serve(request, reply) }
            }
        default:
            next.handle(request, reply: reply)
        }
    }

    /// The task a route asks a model for.
    private enum Task {
        case rerank, classify

        var name: String { self == .rerank ? "reranking" : "classification" }

        /// Whether `version`'s handler declares this task's contract.
        func isDeclared(by version: ServedVersion) -> Bool {
            let inputs = version.model.inputs
            let outputs = version.model.outputs
            switch self {
            case .rerank: return Reranking.isDeclared(inputs: inputs, outputs: outputs)
            case .classify: return Classification.labelCount(inputs: inputs, outputs: outputs) != nil
            }
        }
    }

    /// The model `name` that the caller may use for `task`, and its default version.
    private func locate(_ name: String, task: Task, grant: ModelGrant) throws(APIError) -> (ServedModel, ServedVersion)
    {
        let (model, version) = try repository.defaultVersion(ofModelNamedInBody: name, grant: grant)
        guard task.isDeclared(by: version) else {
            let contract =
                task == .rerank
                ? "BYTES inputs 'text' and 'text_pair' and an FP32 output 'score' [-1]"
                : "a BYTES input 'text', FP32 outputs 'logits' and 'probabilities' [-1, L] and a BYTES output 'label'"
            throw APIError(
                .notFound,
                "model '\(name)' does not do \(task.name) (its handler '\(model.handler)' declares no \(contract))",
                parameter: "model")
        }
        return (model, version)
    }

    private func serve(_ request: RoutedRequest, _ reply: @escaping RouteReply) {
        // The body is parsed into a tree, then its texts are copied into tensors: a few times the body, until the
        // reply.
        let budget = request.request.budget
        let (reserved, overflow) = request.request.body.readableBytes.multipliedReportingOverflow(by: 6)
        guard !overflow, budget.tryReserve(reserved) else {
            return reply(.failure(.overloaded("the server's memory budget is spent; retry shortly")))
        }
        var reply = budget.releasing(reserved, after: reply)
        let task: Task = request.route.action == .rerank ? .rerank : .classify
        let modelName: String
        let inputs: [HostTensor]
        let answer: Answer
        let model: ServedModel
        let version: ServedVersion
        do throws(APIError) {
            switch task {
            case .rerank:
                let parsed = try RerankRequest(parsing: request.request.body)
                modelName = parsed.model
                (model, version) = try locate(parsed.model, task: task, grant: request.grant)
                // The query goes with every document: its copies are bounded by the body and held in the budget.
                let copies = try Self.queryCopies(parsed, body: request.request.body.readableBytes)
                guard budget.tryReserve(copies) else {
                    throw .overloaded("the server's memory budget is spent; retry shortly")
                }
                reply = budget.releasing(copies, after: reply)
                let queries = Array(repeating: parsed.query, count: parsed.documents.count)
                inputs = [
                    try Self.tensor(Classification.textInput, queries),
                    try Self.tensor(Classification.textPairInput, parsed.documents),
                ]
                answer = .rerank(parsed)
            case .classify:
                let parsed = try ClassifyRequest(parsing: request.request.body)
                modelName = parsed.model
                (model, version) = try locate(parsed.model, task: task, grant: request.grant)
                inputs = [try Self.tensor(Classification.textInput, parsed.texts)]
                answer = .classify(count: parsed.texts.count)
            }
        } catch {
            return reply(.failure(error))
        }
        var outputs =
            task == .rerank
            ? [Reranking.scoreOutput] : [Classification.probabilitiesOutput, Classification.labelOutput]
        if Embeddings.reportsTokenCounts(outputs: version.model.outputs) { outputs.append(Embeddings.tokenCountOutput) }
        let received = ContinuousClock.now
        let deadline = received + deadlines.timeout(model: model.config, requested: nil)
        let metrics = version.metrics
        let respond = reply
        RowSplit.submit(
            HostRequest(inputs: inputs, requestedOutputs: outputs), rows: answer.count, to: version.scheduler,
            budget: budget, deadline: deadline
        ) { result in
            switch result {
            case .success(let response): respond(answer.response(model: modelName, response.outputs, budget: budget))
            case .failure(let failure): respond(.failure(APIError(failure)))
            }
            metrics.recordLatency(since: received)
        }
    }

    /// The bytes the query's copies take (one per document, twice: the texts and their tensor), refused with 400
    /// beyond four times the body and 1 MiB: a long query with many documents would otherwise multiply the body.
    private static func queryCopies(_ request: RerankRequest, body: Int) throws(APIError) -> Int {
        let (copies, overflow) = (request.query.count + 4).multipliedReportingOverflow(by: request.documents.count)
        let limit = body.multipliedReportingOverflow(by: 4).overflow ? Int.max : body * 4 + (1 << 20)
        guard !overflow, copies <= limit else {
            throw APIError(
                .badRequest,
                "the query of \(request.query.count) bytes, paired with each of \(request.documents.count) documents, "
                    + "exceeds \(limit) bytes: send a shorter query or fewer documents",
                parameter: "query")
        }
        return copies * 2
    }

    /// A BYTES tensor `[count]` of `texts`.
    private static func tensor(_ name: String, _ texts: [[UInt8]]) throws(APIError) -> HostTensor {
        guard let tensor = HostTensor(name: name, byteElements: texts) else {
            throw .overloaded("the server's memory is spent; retry shortly")
        }
        return tensor
    }

    /// What the response to one request needs from the request.
    private enum Answer: Sendable {
        case rerank(RerankRequest)
        case classify(count: Int)

        /// The number of items: documents to score, or texts to classify.
        var count: Int {
            switch self {
            case .rerank(let request): request.documents.count
            case .classify(let texts): texts
            }
        }

        /// The response for the handler's `outputs`, made only when its largest size fits the memory budget.
        func response(model: String, _ outputs: [HostTensor], budget: MemoryBudget) -> Result<ServerResponse, APIError>
        {
            let named = Dictionary(outputs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            var tokens = 0
            if let counts = named[Embeddings.tokenCountOutput] {
                guard counts.dataType == .int64, counts.shape == [Int64(count)], counts.consistencyProblem() == nil,
                    let values = counts.values(as: Int64.self), let sum = Self.sum(values)
                else {
                    return .failure(Self.malformed("an INT64 output 'token_count' of shape [\(count)]"))
                }
                tokens = sum
            }
            switch self {
            case .rerank(let request):
                guard let scores = named[Reranking.scoreOutput], scores.dataType == .fp32,
                    scores.shape == [Int64(count)], scores.consistencyProblem() == nil,
                    let values = scores.values(as: Float.self)
                else {
                    return .failure(Self.malformed("an FP32 output 'score' of shape [\(count)]"))
                }
                let documentBytes = request.returnDocuments ? request.documents.reduce(0) { $0 + $1.count * 6 } : 0
                let size = 512 + count * 64 + documentBytes
                guard budget.tryReserve(size) else {
                    return .failure(
                        .overloaded("a response of \(size) bytes does not fit the server's memory budget now"))
                }
                defer { budget.release(size) }
                return .success(
                    .json(
                        .ok,
                        TaskResponses.rerank(
                            model: model, scores: values, request: request, totalTokens: tokens)))
            case .classify(let texts):
                guard let probabilities = named[Classification.probabilitiesOutput],
                    probabilities.dataType == .fp32, probabilities.shape.count == 2,
                    probabilities.shape[0] == Int64(texts), probabilities.consistencyProblem() == nil,
                    let labelCount = Int(exactly: probabilities.shape[1]), labelCount >= 1,
                    let values = probabilities.values(as: Float.self),
                    let labels = named[Classification.labelOutput]?.strings(), labels.count == texts
                else {
                    return .failure(
                        Self.malformed(
                            "FP32 'probabilities' of shape [\(texts), L] and BYTES 'label' of shape [\(texts)]"))
                }
                let (values16, overflow) = values.count.multipliedReportingOverflow(by: 16)
                let size =
                    512 + texts * 96 + labels.reduce(0) { $0 + $1.utf8.count * 6 } + (overflow ? .max / 2 : values16)
                guard budget.tryReserve(size) else {
                    return .failure(
                        .overloaded("a response of \(size) bytes does not fit the server's memory budget now"))
                }
                defer { budget.release(size) }
                return .success(
                    .json(
                        .ok,
                        TaskResponses.classify(
                            model: model, labels: labels, probabilities: values, labelCount: labelCount,
                            promptTokens: tokens)))
            }
        }

        private static func malformed(_ expected: String) -> APIError {
            APIError(.internalServerError, "the handler did not answer with \(expected)")
        }

        /// The sum of token counts, or `nil` when one is negative or the sum overflows.
        private static func sum(_ values: [Int64]) -> Int? {
            var total = 0
            for value in values {
                guard value >= 0, let count = Int(exactly: value) else { return nil }
                let (sum, overflow) = total.addingReportingOverflow(count)
                guard !overflow else { return nil }
                total = sum
            }
            return total
        }
    }
}

/// The bodies of the task routes' answers.
enum TaskResponses {
    /// `{"results": [{"index", "relevance_score", "document": {"text"}?}], "model", "usage": {"total_tokens"}}`,
    /// the results sorted by score, highest first (equal scores in document order), the first `top_n` of them.
    static func rerank(model: String, scores: [Float], request: RerankRequest, totalTokens: Int) -> [UInt8] {
        let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        let kept = order.prefix(request.topN ?? order.count)
        var writer = JSONWriter(capacity: 256 + kept.count * 64)
        writer.raw(#"{"id":"rerank","results":["#)
        for (position, index) in kept.enumerated() {
            if position > 0 { writer.raw(",") }
            writer.raw(#"{"index":"#)
            writer.integer(index)
            writer.raw(#","relevance_score":"#)
            writer.number(scores[index])
            if request.returnDocuments {
                writer.raw(#","document":{"text":"#)
                writer.string(String(decoding: request.documents[index], as: UTF8.self))
                writer.raw("}")
            }
            writer.raw("}")
        }
        writer.raw(#"],"model":"#)
        writer.string(model)
        writer.raw(#","usage":{"total_tokens":"#)
        writer.integer(totalTokens)
        writer.raw("}}")
        return writer.bytes
    }

    /// `{"object": "list", "data": [{"index", "label", "probs", "num_classes"}], "model", "usage": {...}}`.
    static func classify(
        model: String, labels: [String], probabilities: [Float], labelCount: Int, promptTokens: Int
    ) -> [UInt8] {
        var writer = JSONWriter(capacity: 256 + probabilities.count * 16 + labels.count * 64)
        writer.raw(#"{"id":"classify","object":"list","data":["#)
        for (index, label) in labels.enumerated() {
            if index > 0 { writer.raw(",") }
            writer.raw(#"{"index":"#)
            writer.integer(index)
            writer.raw(#","label":"#)
            writer.string(label)
            writer.raw(#","probs":["#)
            for (position, value) in probabilities[(index * labelCount)..<((index + 1) * labelCount)].enumerated() {
                if position > 0 { writer.raw(",") }
                writer.number(value)
            }
            writer.raw(#"],"num_classes":"#)
            writer.integer(labelCount)
            writer.raw("}")
        }
        writer.raw(#"],"model":"#)
        writer.string(model)
        writer.raw(#","usage":{"prompt_tokens":"#)
        writer.integer(promptTokens)
        writer.raw(#","total_tokens":"#)
        writer.integer(promptTokens)
        writer.raw(#","completion_tokens":0}}"#)
        return writer.bytes
    }
}
