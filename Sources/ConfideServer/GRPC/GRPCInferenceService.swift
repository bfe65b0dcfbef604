import ConfideHost
import ConfideKServe
import ConfideKServeGRPC
import ConfideRuntime
import ConfideSDK
import GRPCCore

/// The KServe v2 gRPC service (`inference.GRPCInferenceService`) over the models of a repository: the same models,
/// schedulers, deadlines, memory budget, limits and bearer tokens as the REST inference API, with errors as gRPC
/// status codes and the messages REST gives.
struct GRPCInferenceService: Inference_GRPCInferenceService.ServiceProtocol {
    let repository: ModelRepository
    let deadlines: DeadlinePolicy
    let tokens: TokenStore?
    let budget: MemoryBudget
    let limits: KServeLimits

    func serverLive(
        request: GRPCCore.ServerRequest<Inference_ServerLiveRequest>, context: ServerContext
    ) async throws -> GRPCCore.ServerResponse<Inference_ServerLiveResponse> {
        var response = Inference_ServerLiveResponse()
        response.live = true
        return GRPCCore.ServerResponse(message: response)
    }

    func serverReady(
        request: GRPCCore.ServerRequest<Inference_ServerReadyRequest>, context: ServerContext
    ) async throws -> GRPCCore.ServerResponse<Inference_ServerReadyResponse> {
        var response = Inference_ServerReadyResponse()
        response.ready = repository.failures.isEmpty
        return GRPCCore.ServerResponse(message: response)
    }

    func modelReady(
        request: GRPCCore.ServerRequest<Inference_ModelReadyRequest>, context: ServerContext
    ) async throws -> GRPCCore.ServerResponse<Inference_ModelReadyResponse> {
        try authorize(request.metadata, access: .model(request.message.name))
        var response = Inference_ModelReadyResponse()
        response.ready = repository.model(request.message.name)?.version(version(request.message.version)) != nil
        return GRPCCore.ServerResponse(message: response)
    }

    func serverMetadata(
        request: GRPCCore.ServerRequest<Inference_ServerMetadataRequest>, context: ServerContext
    ) async throws -> GRPCCore.ServerResponse<Inference_ServerMetadataResponse> {
        try authorize(request.metadata, access: .server)
        var response = Inference_ServerMetadataResponse()
        response.name = InferenceAPI.serverName
        response.version = InferenceAPI.serverVersion
        return GRPCCore.ServerResponse(message: response)
    }

    func modelMetadata(
        request: GRPCCore.ServerRequest<Inference_ModelMetadataRequest>, context: ServerContext
    ) async throws -> GRPCCore.ServerResponse<Inference_ModelMetadataResponse> {
        try authorize(request.metadata, access: .model(request.message.name))
        let (model, served) = try locate(request.message.name, request.message.version)
        func specs(_ specs: [TensorSpec]) -> [Inference_ModelMetadataResponse.TensorMetadata] {
            specs.map { spec in
                var tensor = Inference_ModelMetadataResponse.TensorMetadata()
                tensor.name = spec.name
                tensor.datatype = spec.dataType.name
                tensor.shape = spec.shape
                return tensor
            }
        }
        var response = Inference_ModelMetadataResponse()
        response.name = model.name
        response.versions = model.versionNames
        response.platform = "confide_\(model.handler)"
        response.inputs = specs(served.model.inputs)
        response.outputs = specs(served.model.outputs)
        return GRPCCore.ServerResponse(message: response)
    }

    func modelInfer(
        request: GRPCCore.ServerRequest<Inference_ModelInferRequest>, context: ServerContext
    ) async throws -> GRPCCore.ServerResponse<Inference_ModelInferResponse> {
        let received = ContinuousClock.now
        let message = request.message
        try authorize(request.metadata, access: .model(message.modelName))
        let (model, served) = try locate(message.modelName, message.modelVersion)
        var reserved = 0
        let decoded: InferRequest
        do throws(KServeCodecError) {
            decoded = try KServeGRPCCodec.decodeRequest(message, limits: limits) { bytes in
                guard budget.tryReserve(bytes) else { return false }
                reserved = bytes
                return true
            }
        } catch {
            budget.release(reserved)
            throw RPCError(error)
        }
        defer { budget.release(reserved) }
        let requested = [decoded.timeout, GRPCTimeout.duration(request.metadata)].compactMap { $0 }.min()
        let deadline = received + deadlines.timeout(model: model.config, requested: requested)
        let hostRequest = HostRequest(
            id: decoded.id ?? "", inputs: decoded.inputs, requestedOutputs: decoded.outputs.map(\.name))
        let metrics = served.metrics
        let result = await withCheckedContinuation { continuation in
            served.scheduler.submit(hostRequest, deadline: deadline) { continuation.resume(returning: $0) }
        }
        defer { metrics.recordLatency(since: received) }
        switch result {
        case .failure(let failure):
            throw RPCError(failure)
        case .success(let response):
            let outputs = response.outputs
            let size = KServeGRPCCodec.responseSize(request: decoded, outputs: outputs)
            guard budget.tryReserve(size) else {
                throw RPCError(
                    code: .resourceExhausted,
                    message: "a response of \(size) bytes does not fit the server's memory budget now")
            }
            defer { budget.release(size) }
            do throws(KServeCodecError) {
                return GRPCCore.ServerResponse(
                    message: try KServeGRPCCodec.encodeResponse(
                        model: model.name, version: served.name, request: decoded, outputs: outputs))
            } catch {
                throw RPCError(error)
            }
        }
    }

    /// Checks the bearer token of the `authorization` metadata as REST checks the `Authorization` field.
    private func authorize(_ metadata: Metadata, access: RouteAccess) throws(RPCError) {
        guard let tokens else { return }
        do throws(APIError) {
            _ = try tokens.authorize(
                metadata[stringValues: "authorization"].first(where: { _ in true }), scope: .inference, access: access)
        } catch {
            throw RPCError(error)
        }
    }

    private func locate(_ name: String, _ version: String) throws(RPCError) -> (ServedModel, ServedVersion) {
        do throws(APIError) {
            return try InferenceAPI.locate(model: name, version: self.version(version), in: repository)
        } catch {
            throw RPCError(error)
        }
    }

    /// A version from a message: empty means the model's default.
    private func version(_ text: String) -> String? {
        text.isEmpty ? nil : text
    }
}
