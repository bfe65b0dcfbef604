import ConfideHost
import ConfideJSON
import ConfideKServe
public import ConfideRuntime
import ConfideSDK
import NIOCore
import NIOHTTP1

/// The inference APIs: the KServe Open Inference Protocol v2 (REST, with the binary tensor extension)
/// and TorchServe's inference API, over the models of a repository.
public final class InferenceAPI: RequestResponder {
    /// The server's name and version, reported by `GET /v2`.
    public static let serverName = "confide"
    /// The server's version.
    public static let serverVersion = "0.1.0"

    private let repository: ModelRepository
    private let deadlines: DeadlinePolicy

    /// Serves the models of `repository`, giving requests deadlines by `deadlines`.
    public init(repository: ModelRepository, deadlines: DeadlinePolicy = DeadlinePolicy()) {
        self.repository = repository
        self.deadlines = deadlines
    }

    public func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        let segments = request.pathSegments.map { PercentDecoding.decode($0) }
        switch segments.first {
        case "v2": kserve(request, Array(segments.dropFirst()), respond)
        case "ping" where segments.count == 1:
            respond(only(.GET, request) ?? .json(.ok, Array(#"{"status":"Healthy"}"#.utf8)))
        case "predictions": torchServe(request, Array(segments.dropFirst()), respond)
        default: respond(ErrorResponses.kserve(.notFound("no route for \(request.method) \(request.path)")))
        }
    }

    // MARK: KServe v2

    private func kserve(_ request: ServerRequest, _ path: [String], _ respond: @escaping @Sendable (ServerResponse) -> Void) {
        switch path {
        case []:
            respond(only(.GET, request) ?? serverMetadata())
        case ["health", "live"]:
            respond(only(.GET, request) ?? ServerResponse(status: .ok))
        case ["health", "ready"]:
            respond(only(.GET, request) ?? ServerResponse(status: repository.failures.isEmpty ? .ok : .serviceUnavailable))
        default:
            guard path.count >= 2, path[0] == "models" else {
                return respond(ErrorResponses.kserve(.notFound("no route for \(request.method) \(request.path)")))
            }
            var rest = path.dropFirst(2)
            var versionName: String?
            if rest.first == "versions" {
                guard rest.count >= 2 else { return respond(ErrorResponses.kserve(.notFound("no version in \(request.path)"))) }
                versionName = rest[rest.startIndex + 1]
                rest = rest.dropFirst(2)
            }
            let located: (ServedModel, ServedVersion)
            do {
                located = try locate(path[1], versionName)
            } catch {
                return respond(ErrorResponses.kserve(error))
            }
            let (model, version) = located
            switch Array(rest) {
            case []: respond(only(.GET, request) ?? modelMetadata(model, version))
            case ["ready"]: respond(only(.GET, request) ?? ServerResponse(status: .ok))
            case ["infer"]:
                if let refusal = only(.POST, request) { return respond(refusal) }
                infer(request, model, version, respond)
            default: respond(ErrorResponses.kserve(.notFound("no route for \(request.method) \(request.path)")))
            }
        }
    }

    private func infer(
        _ request: ServerRequest, _ model: ServedModel, _ version: ServedVersion,
        _ respond: @escaping @Sendable (ServerResponse) -> Void
    ) {
        let decoded: InferRequest
        do throws(KServeCodecError) {
            decoded = try KServeCodec.decodeRequest(
                body: request.body, headerLength: request.headers.first(name: "Inference-Header-Content-Length"))
        } catch {
            return respond(ErrorResponses.kserve(APIError(error)))
        }
        let hostRequest = HostRequest(id: decoded.id ?? "", inputs: decoded.inputs, requestedOutputs: decoded.outputs.map(\.name))
        let modelName = model.name
        let versionName = version.name
        let received = ContinuousClock.now
        let deadline = received + deadlines.timeout(model: model.config, requested: decoded.timeout)
        let metrics = version.metrics
        version.scheduler.submit(hostRequest, deadline: deadline) { result in
            switch result {
            case .success(let outputs):
                do throws(KServeCodecError) {
                    respond(ServerResponse(kserve: try KServeCodec.encodeResponse(
                        model: modelName, version: versionName, request: decoded, outputs: outputs)))
                } catch {
                    respond(ErrorResponses.kserve(APIError(error)))
                }
            case .failure(let failure):
                respond(ErrorResponses.kserve(APIError(failure)))
            }
            metrics.recordLatency(since: received)
        }
    }

    private func serverMetadata() -> ServerResponse {
        let body = JSONValue.object(JSONObject([
            "name": .string(Self.serverName),
            "version": .string(Self.serverVersion),
            "extensions": .array([.string("binary_tensor_data")]),
        ]))
        return .json(.ok, body.serialized)
    }

    private func modelMetadata(_ model: ServedModel, _ version: ServedVersion) -> ServerResponse {
        func specs(_ specs: [TensorSpec]) -> JSONValue {
            .array(specs.map { spec in
                .object(JSONObject([
                    "name": .string(spec.name),
                    "datatype": .string(spec.dataType.name),
                    "shape": .array(spec.shape.map { .integer($0) }),
                ]))
            })
        }
        let workers = version.scheduler.workers.map { worker in
            JSONValue.object(JSONObject([
                "index": .integer(Int64(worker.placement.index)),
                "numa_node": .integer(Int64(worker.placement.node)),
                "cpus": .array(worker.placement.cpus.map { .integer(Int64($0)) }),
            ]))
        }
        let body = JSONValue.object(JSONObject([
            "name": .string(model.name),
            "versions": .array(model.versionNames.map { .string($0) }),
            "platform": .string("confide_\(model.handler)"),
            "inputs": specs(version.model.inputs),
            "outputs": specs(version.model.outputs),
            "workers": .array(workers),
        ]))
        return .json(.ok, body.serialized)
    }

    private func locate(_ name: String, _ versionName: String?) throws(APIError) -> (ServedModel, ServedVersion) {
        guard let model = repository.model(name) else {
            if let failure = repository.failures.first(where: { $0.model == name }) {
                throw APIError(.serviceUnavailable, "model '\(name)' is not available: \(failure.message)")
            }
            throw .notFound("unknown model '\(name)'")
        }
        guard let version = model.version(versionName) else {
            throw .notFound("model '\(name)' has no version '\(versionName ?? "")' (versions: \(model.versionNames.joined(separator: ", ")))")
        }
        return (model, version)
    }

    private func only(_ method: HTTPMethod, _ request: ServerRequest) -> ServerResponse? {
        guard request.method != method else { return nil }
        return ErrorResponses.methodNotAllowed(request, allowed: [method], format: ErrorResponses.kserve)
    }

    // MARK: TorchServe

    /// `POST /predictions/{model}[/{version}]`: the raw body reaches the handler as a BYTES tensor
    /// `body` of shape [1] (and the request's content type as `content_type`). A handler output named
    /// `body` is returned verbatim, with the `content_type` output as its content type; other outputs
    /// are returned as JSON.
    private func torchServe(_ request: ServerRequest, _ path: [String], _ respond: @escaping @Sendable (ServerResponse) -> Void) {
        guard path.count == 1 || path.count == 2 else {
            return respond(ErrorResponses.torchServe(.notFound("no route for \(request.method) \(request.path)")))
        }
        guard request.method == .POST || request.method == .PUT else {
            return respond(ErrorResponses.methodNotAllowed(request, allowed: [.POST, .PUT], format: ErrorResponses.torchServe))
        }
        let located: (ServedModel, ServedVersion)
        do {
            located = try locate(path[0], path.count == 2 ? path[1] : nil)
        } catch {
            return respond(ErrorResponses.torchServe(error))
        }
        var body = request.body
        var inputs: [HostTensor] = []
        if let bodyTensor = HostTensor(name: "body", byteElements: [body.readBytes(length: body.readableBytes) ?? []]) {
            inputs.append(bodyTensor)
        }
        if let contentType = request.headers.first(name: "Content-Type"),
           let tensor = HostTensor(name: "content_type", strings: [contentType]) {
            inputs.append(tensor)
        }
        let modelName = located.0.name
        let versionName = located.1.name
        let deadline = ContinuousClock.now + deadlines.timeout(model: located.0.config, requested: nil)
        located.1.scheduler.submit(HostRequest(inputs: inputs), deadline: deadline) { result in
            switch result {
            case .failure(let failure):
                respond(ErrorResponses.torchServe(APIError(failure)))
            case .success(let outputs):
                if let output = outputs.first(where: { $0.name == "body" }), let elements = output.byteElements(),
                   elements.count == 1 {
                    let contentType = outputs.first(where: { $0.name == "content_type" })?.strings()?.first
                    respond(ServerResponse(
                        status: .ok, headers: ["Content-Type": contentType ?? "application/octet-stream"],
                        body: ByteBuffer(bytes: elements[0])))
                    return
                }
                do throws(KServeCodecError) {
                    respond(ServerResponse(kserve: try KServeCodec.encodeResponse(
                        model: modelName, version: versionName, request: InferRequest(inputs: []), outputs: outputs)))
                } catch {
                    respond(ErrorResponses.torchServe(APIError(error)))
                }
            }
        }
    }
}

/// Decoding of `%XX` escapes in URL path segments.
enum PercentDecoding {
    static func decode(_ segment: Substring) -> String {
        guard segment.contains("%") else { return String(segment) }
        var bytes: [UInt8] = []
        var iterator = Array(segment.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%"), iterator.count >= 2,
               let value = UInt8(String(decoding: iterator.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
