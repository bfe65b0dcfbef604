import ConfideHost
import ConfideJSON
import ConfideKServe
public import ConfideRuntime
import ConfideSDK
import ConfideTensors
import NIOCore
import NIOHTTP1

/// The inference APIs: the KServe Open Inference Protocol v2 (REST, with the binary tensor extension)
/// and TorchServe's inference API, over the models of a repository.
public final class InferenceAPI: RouteResponder {
    /// The server's name and version, reported by `GET /v2`.
    public static let serverName = "confide"
    /// The server's version.
    public static let serverVersion = "0.1.0"

    private let repository: ModelRepository
    /// How long requests may wait for a worker.
    let deadlines: DeadlinePolicy

    /// Serves the models of `repository`, giving requests deadlines by `deadlines`.
    public init(repository: ModelRepository, deadlines: DeadlinePolicy = DeadlinePolicy()) {
        self.repository = repository
        self.deadlines = deadlines
    }

    public func handle(_ request: RoutedRequest, reply: @escaping RouteReply) {
        let route = request.route
        do throws(APIError) {
            switch route.action {
            case .serverMetadata: reply(.success(serverMetadata()))
            case .live: reply(.success(ServerResponse(status: .ok)))
            case .ready:
                reply(.success(ServerResponse(status: repository.failures.isEmpty ? .ok : .serviceUnavailable)))
            case .ping: reply(.success(.json(.ok, Array(#"{"status":"Healthy"}"#.utf8))))
            case .modelMetadata:
                let (model, version) = try locate(route)
                reply(.success(modelMetadata(model, version)))
            case .modelReady:
                _ = try locate(route)
                reply(.success(ServerResponse(status: .ok)))
            case .infer:
                let (model, version) = try locate(route)
                if request.request.body.readableBytes < Self.inlineDecodeLimit {
                    infer(request.request, model, version, reply)
                } else {
                    BlockingWork.answer(reply) { self.infer(request.request, model, version, reply) }
                }
            case .predict:
                let (model, version) = try locate(route)
                predict(request.request, model, version, reply)
            default:
                throw .notFound("no route for \(route.action) on the inference API")
            }
        } catch {
            reply(.failure(error))
        }
    }

    /// Bodies smaller than this are decoded on the event loop; larger ones on the blocking pool, so that one large
    /// body never stalls the connections that share the loop.
    static let inlineDecodeLimit = 64 << 10

    // MARK: KServe v2

    private func infer(
        _ request: ServerRequest, _ model: ServedModel, _ version: ServedVersion, _ reply: @escaping RouteReply
    ) {
        // The tensors are reserved at their largest before decoding, then at their real size until the reply.
        let budget = request.budget
        var reserved = request.body.readableBytes * KServeCodec.maximumExpansion
        guard budget.tryReserve(reserved) else {
            return reply(.failure(.overloaded("the server's memory budget is spent; retry shortly")))
        }
        let decoded: InferRequest
        do throws(KServeCodecError) {
            decoded = try KServeCodec.decodeRequest(
                body: request.body, headerLength: request.headers.first(name: "Inference-Header-Content-Length"))
        } catch {
            budget.release(reserved)
            return reply(.failure(APIError(error)))
        }
        let tensors = min(decoded.inputs.reduce(0) { $0 + $1.buffer.count }, reserved)
        budget.release(reserved - tensors)
        reserved = tensors
        let reply = budget.releasing(reserved, after: reply)
        let hostRequest = HostRequest(
            id: decoded.id ?? "", inputs: decoded.inputs, requestedOutputs: decoded.outputs.map(\.name))
        let modelName = model.name
        let versionName = version.name
        let received = ContinuousClock.now
        let deadline = received + deadlines.timeout(model: model.config, requested: decoded.timeout)
        let metrics = version.metrics
        version.scheduler.submit(hostRequest, deadline: deadline) { result in
            switch result {
            case .success(let response):
                reply(
                    Self.encode(
                        model: modelName, version: versionName, request: decoded, outputs: response.outputs,
                        budget: budget))
            case .failure(let failure):
                reply(.failure(APIError(failure)))
            }
            metrics.recordLatency(since: received)
        }
    }

    /// The KServe response for `outputs`, made only when its largest size fits the memory budget, which holds it
    /// while it is made; from the reply on, the HTTP layer counts it until it is written.
    static func encode(
        model: String, version: String, request: InferRequest, outputs: [HostTensor], budget: MemoryBudget
    ) -> Result<ServerResponse, APIError> {
        let size = KServeCodec.responseSizeEstimate(model: model, version: version, request: request, outputs: outputs)
        guard budget.tryReserve(size) else {
            return .failure(.overloaded("a response of \(size) bytes does not fit the server's memory budget now"))
        }
        defer { budget.release(size) }
        return Result { () throws(KServeCodecError) in
            ServerResponse(
                kserve: try KServeCodec.encodeResponse(
                    model: model, version: version, request: request, outputs: outputs))
        }.mapError(APIError.init)
    }

    private func serverMetadata() -> ServerResponse {
        let body = JSONValue.object(
            JSONObject([
                "name": .string(Self.serverName),
                "version": .string(Self.serverVersion),
                "extensions": .array([.string("binary_tensor_data")]),
            ]))
        return .json(.ok, body.serialized)
    }

    private func modelMetadata(_ model: ServedModel, _ version: ServedVersion) -> ServerResponse {
        func specs(_ specs: [TensorSpec]) -> JSONValue {
            .array(
                specs.map { spec in
                    .object(
                        JSONObject([
                            "name": .string(spec.name),
                            "datatype": .string(spec.dataType.name),
                            "shape": .array(spec.shape.map { .integer($0) }),
                        ]))
                })
        }
        let workers = version.scheduler.workers.map { worker in
            JSONValue.object(
                JSONObject([
                    "index": .integer(Int64(worker.placement.index)),
                    "numa_node": .integer(Int64(worker.placement.node)),
                    "cpus": .array(worker.placement.cpus.map { .integer(Int64($0)) }),
                ]))
        }
        let body = JSONValue.object(
            JSONObject([
                "name": .string(model.name),
                "versions": .array(model.versionNames.map { .string($0) }),
                "platform": .string("confide_\(model.handler)"),
                "inputs": specs(version.model.inputs),
                "outputs": specs(version.model.outputs),
                "workers": .array(workers),
            ]))
        return .json(.ok, body.serialized)
    }

    private func locate(_ route: Route) throws(APIError) -> (ServedModel, ServedVersion) {
        try Self.locate(model: route.model ?? "", version: route.version, in: repository)
    }

    /// The model `name` and its `version` (its default version when `nil`): 404 for a model or version it does not
    /// serve, 503 for a model that failed to load.
    static func locate(
        model name: String, version: String?, in repository: ModelRepository
    ) throws(APIError) -> (ServedModel, ServedVersion) {
        guard let model = repository.model(name) else {
            if let failure = repository.failures.first(where: { $0.model == name }) {
                throw APIError(.serviceUnavailable, "model '\(name)' is not available: \(failure.message)")
            }
            throw .notFound("unknown model '\(Router.printable(name))'")
        }
        guard let served = model.version(version) else {
            throw .notFound(
                "model '\(name)' has no version '\(Router.printable(version ?? ""))' "
                    + "(versions: \(model.versionNames.joined(separator: ", ")))")
        }
        return (model, served)
    }
}
