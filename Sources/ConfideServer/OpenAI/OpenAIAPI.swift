import ConfideHost
import ConfideJSON
public import ConfideRuntime
import ConfideSDK
import ConfideTensors
import NIOCore
import NIOHTTP1

/// The OpenAI embeddings API over the models whose handlers declare that they produce embeddings (the SDK's
/// ``Embeddings`` contract): `POST /v1/embeddings`, `GET /v1/models` and `GET /v1/models/{model}`. Other routes are
/// handed on to `next`.
///
/// A request's texts go to the model's default version as one request (one BYTES tensor `text` of all of them), so
/// the scheduler batches them with other requests; `usage` counts the tokens the handler reports in `token_count`,
/// or 0 when it reports none. The model is named in the body, so the API checks it against the caller's token
/// (``RoutedRequest/grant``), and lists only the models the token may use.
public final class OpenAIAPI: RouteResponder {
    private let repository: ModelRepository
    private let deadlines: DeadlinePolicy
    private let next: any RouteResponder

    /// Serves the embeddings models of `repository`, giving requests deadlines by `deadlines`, and hands other
    /// routes to `next`.
    public init(repository: ModelRepository, deadlines: DeadlinePolicy = DeadlinePolicy(), next: any RouteResponder) {
        self.repository = repository
        self.deadlines = deadlines
        self.next = next
    }

    public func handle(_ request: RoutedRequest, reply: @escaping RouteReply) {
        switch request.route.action {
        case .embeddings:
            if request.request.body.readableBytes < InferenceAPI.inlineDecodeLimit {
                embed(request, reply)
            } else {
                BlockingWork.answer(reply) { self.embed(request, reply) }
            }
        case .openAIModels:
            reply(.success(.json(.ok, listModels(request.grant))))
        case .openAIModel:
            reply(
                Result { () throws(APIError) in
                    let (model, _, _) = try locate(request.route.model ?? "", grant: request.grant)
                    return .json(.ok, Self.modelObject(model.name).serialized)
                })
        default:
            next.handle(request, reply: reply)
        }
    }

    // MARK: Models

    /// OpenAI's `Model` object.
    private static func modelObject(_ name: String) -> JSONValue {
        .object(
            JSONObject([
                "id": .string(name), "object": .string("model"), "created": .integer(0), "owned_by": .string("confide"),
            ]))
    }

    private func listModels(_ grant: ModelGrant) -> [UInt8] {
        let names = repository.models.values.filter { model in
            grant.allows(model.name) && model.version(nil).flatMap(Self.dimensions) != nil
        }.map(\.name).sorted()
        let body = JSONValue.object(
            JSONObject([
                "object": .string("list"), "data": .array(names.map(Self.modelObject)),
            ]))
        return body.serialized
    }

    /// The embedding size of a version whose handler declares the ``Embeddings`` contract.
    private static func dimensions(_ version: ServedVersion) -> Int? {
        Embeddings.dimensions(inputs: version.model.inputs, outputs: version.model.outputs)
    }

    /// The embeddings model `name` that the caller may use, its default version and its embedding size.
    private func locate(_ name: String, grant: ModelGrant) throws(APIError) -> (ServedModel, ServedVersion, Int) {
        let (model, version) = try repository.defaultVersion(ofModelNamedInBody: name, grant: grant)
        guard let dimensions = Self.dimensions(version) else {
            throw APIError(
                .notFound,
                "model '\(name)' does not produce embeddings (its handler '\(model.handler)' declares no BYTES input "
                    + "'text' and FP32 output 'embedding' [-1, D])",
                parameter: "model")
        }
        return (model, version, dimensions)
    }

    // MARK: Embeddings

    private func embed(_ request: RoutedRequest, _ reply: @escaping RouteReply) {
        // The texts are copied from the body, then into the tensor: two copies of at most the body and a length
        // prefix per text, until the reply.
        let budget = request.request.budget
        let prefixes = EmbeddingsRequest.maximumInputs * 4
        let (copy, overflowCopy) = request.request.body.readableBytes.addingReportingOverflow(prefixes)
        let (reserved, overflowReserved) = copy.multipliedReportingOverflow(by: 2)
        guard !overflowCopy, !overflowReserved, budget.tryReserve(reserved) else {
            return reply(.failure(.overloaded("the server's memory budget is spent; retry shortly")))
        }
        let reply = budget.releasing(reserved, after: reply)
        let parsed: EmbeddingsRequest
        let model: ServedModel
        let version: ServedVersion
        let width: Int
        do throws(APIError) {
            parsed = try EmbeddingsRequest(parsing: request.request.body)
            (model, version, width) = try locate(parsed.model, grant: request.grant)
            if let size = parsed.dimensions, !model.config.embeddingDimensions.allows(size, of: width) {
                throw APIError(
                    .badRequest, Self.dimensionsRefusal(model.name, size: size, width: width, model.config),
                    parameter: "dimensions")
            }
        } catch {
            return reply(.failure(error))
        }
        guard let buffer = parsed.texts.withUnsafeBytes({ TensorBuffer(copying: $0) }) else {
            return reply(.failure(.overloaded("the server's memory is spent; retry shortly")))
        }
        let texts = HostTensor(
            name: Embeddings.textInput, dataType: .bytes, shape: [Int64(parsed.count)], buffer: buffer)
        var outputs = [Embeddings.embeddingOutput]
        if Embeddings.reportsTokenCounts(outputs: version.model.outputs) { outputs.append(Embeddings.tokenCountOutput) }
        let answer = Answer(
            model: parsed.model, count: parsed.count, width: width, dimensions: parsed.dimensions ?? width,
            format: parsed.encodingFormat)
        let received = ContinuousClock.now
        let deadline = received + deadlines.timeout(model: model.config, requested: nil)
        let metrics = version.metrics
        let hostRequest = HostRequest(inputs: [texts], requestedOutputs: outputs)
        RowSplit.submit(
            hostRequest, rows: parsed.count, to: version.scheduler, budget: budget,
            deadline: deadline
        ) { result in
            switch result {
            case .success(let response): reply(answer.response(response.outputs, budget: budget))
            case .failure(let failure): reply(.failure(APIError(failure)))
            }
            metrics.recordLatency(since: received)
        }
    }

    /// What the response to one embeddings request needs from the request.
    private struct Answer: Sendable {
        let model: String
        let count: Int
        let width: Int
        let dimensions: Int
        let format: EmbeddingsRequest.EncodingFormat

        /// The response for the handler's `outputs`, made only when its largest size fits the memory budget, which
        /// holds it while it is made; from the reply on, the HTTP layer counts it until it is written.
        func response(_ outputs: [HostTensor], budget: MemoryBudget) -> Result<ServerResponse, APIError> {
            guard let embedding = outputs.first(where: { $0.name == Embeddings.embeddingOutput }),
                embedding.dataType == .fp32, embedding.shape == [Int64(count), Int64(width)],
                embedding.consistencyProblem() == nil
            else {
                return .failure(
                    APIError(
                        .internalServerError,
                        "the handler did not answer with an FP32 output 'embedding' of shape [\(count), \(width)]"))
            }
            var tokens = 0
            if let counts = outputs.first(where: { $0.name == Embeddings.tokenCountOutput }) {
                guard counts.dataType == .int64, counts.shape == [Int64(count)], counts.consistencyProblem() == nil,
                    let values = counts.values(as: Int64.self),
                    let sum = Self.sum(values)
                else {
                    return .failure(
                        APIError(
                            .internalServerError,
                            "the handler did not answer with an INT64 output 'token_count' of shape [\(count)]"))
                }
                tokens = sum
            }
            let size = EmbeddingsResponse.sizeEstimate(count: count, dimensions: dimensions, format: format)
            guard budget.tryReserve(size) else {
                return .failure(.overloaded("a response of \(size) bytes does not fit the server's memory budget now"))
            }
            defer { budget.release(size) }
            let body = EmbeddingsResponse.encode(
                model: model, rows: embedding.buffer.bytes.assumingMemoryBound(to: Float.self), count: count,
                width: width, dimensions: dimensions, format: format, promptTokens: tokens)
            return .success(.json(.ok, body))
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

    /// Why `size` is refused for a model whose embeddings have `width` values.
    private static func dimensionsRefusal(_ name: String, size: Int, width: Int, _ config: ModelConfig) -> String {
        switch config.embeddingDimensions {
        case .full:
            "model '\(name)' produces embeddings of \(width) values and cannot shorten them to \(size)"
        case .any:
            "model '\(name)' produces embeddings of \(width) values: 'dimensions' must be from 1 to \(width)"
        case .sizes(let sizes):
            "model '\(name)' produces embeddings of \(width) values and can shorten them to "
                + "\(sizes.filter { $0 < width }.sorted().map(String.init).joined(separator: ", ")) only"
        }
    }
}

extension ModelRepository {
    /// The model a request body names (the OpenAI-style APIs'), if the caller's token may use it, with its default
    /// version; errors name the body's `model` parameter.
    func defaultVersion(
        ofModelNamedInBody name: String, grant: ModelGrant
    ) throws(APIError) -> (ServedModel, ServedVersion) {
        do throws(APIError) {
            try grant.check(name)
        } catch {
            throw APIError(error.status, error.message, parameter: "model")
        }
        guard let model = model(name) else {
            if let failure = failures.first(where: { $0.model == name }) {
                throw APIError(.serviceUnavailable, "model '\(name)' is not available: \(failure.message)")
            }
            throw APIError(.notFound, "the model '\(Router.printable(name))' does not exist", parameter: "model")
        }
        guard let version = model.version(nil) else {
            throw APIError(.serviceUnavailable, "model '\(name)' has no default version loaded")
        }
        return (model, version)
    }
}
