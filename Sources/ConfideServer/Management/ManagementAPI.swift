import ConfideJSON
public import ConfideRuntime
import NIOCore
import NIOHTTP1

/// The management API, on its own port and bound to loopback unless the operator says otherwise:
/// TorchServe's management calls (list, describe, register from the model store, scale, unregister,
/// set the default version) and the KServe v2 model repository extension, mapped onto the same
/// operations. Models are only ever registered by name from the model store, never from a URL.
public struct ManagementAPI: RouteResponder {
    /// The most models one page of `GET /models` lists.
    public static let maximumPageSize = 1_000
    /// The most workers a model version may be given.
    public static let maximumWorkers = 1_024

    private let repository: ModelRepository

    /// Manages the models of `repository`.
    public init(repository: ModelRepository) {
        self.repository = repository
    }

    public func handle(_ request: RoutedRequest, reply: @escaping RouteReply) {
        // Loading a model, fetching its key or draining its workers blocks: keep it off the event loop.
        BlockingWork.answer(reply) {
            reply(Result { () throws(APIError) in try perform(request) })
        }
    }

    private func perform(_ request: RoutedRequest) throws(APIError) -> ServerResponse {
        let route = request.route
        let model = route.model ?? ""
        switch route.action {
        case .listModels: return try list(route.query)
        case .registerModel: return try register(route)
        case .describeModel: return try describe(model, version: route.version)
        case .scaleModel: return try scale(model, route.version, route.query)
        case .setDefaultVersion:
            let version = route.version ?? ""
            try repositoryCall { () throws(RepositoryError) in try repository.setDefaultVersion(model, version) }
            return status("Default version successfully updated for model \"\(model)\" to \"\(version)\"")
        case .unregisterModel:
            try repositoryCall { () throws(RepositoryError) in try repository.unregister(model) }
            return status("Model \"\(model)\" unregistered")
        case .unregisterVersion:
            throw .badRequest("versions are loaded together: unregister the whole model with DELETE /models/\(model)")
        case .repositoryIndex: return try index(request.request.body)
        case .repositoryLoad:
            try repositoryCall { () throws(RepositoryError) in _ = try repository.register(model) }
            return .json(.ok, Array("{}".utf8))
        case .repositoryUnload:
            try repositoryCall { () throws(RepositoryError) in try repository.unregister(model) }
            return .json(.ok, Array("{}".utf8))
        default:
            throw .notFound("no route for \(route.action) on the management API")
        }
    }

    // MARK: TorchServe

    /// A page of model names: `limit` (1 to ``maximumPageSize``, default 100) from the offset that
    /// `next_page_token` gives.
    private func list(_ query: QueryParameters) throws(APIError) -> ServerResponse {
        let limit = try query.integer("limit", in: 1...Self.maximumPageSize) ?? 100
        let offset = try query.integer("next_page_token", in: 0...Int(Int32.max)) ?? 0
        let names = repository.models.keys.sorted()
        let page = names.dropFirst(offset).prefix(limit)
        var body = JSONObject([
            "models": .array(page.map { .object(JSONObject(["modelName": .string($0), "modelUrl": .string($0)])) })
        ])
        let next = offset + limit
        if next < names.count { body["nextPageToken"] = .string(String(next)) }
        return .json(.object(body))
    }

    private func register(_ route: Route) throws(APIError) -> ServerResponse {
        guard let name = route.model else { throw .badRequest("register a model with ?url=<name in the model store>") }
        let workers = try route.query.integer("initial_workers", in: 0...Self.maximumWorkers)
        let model = try repositoryCall { () throws(RepositoryError) in try repository.register(name, workers: workers) }
        let count = model.version(nil)?.scheduler.workers.count ?? 0
        return status(
            "Model \"\(model.name)\" Version: \(model.defaultVersion) registered with \(count) initial workers")
    }

    private func scale(_ name: String, _ version: String?, _ query: QueryParameters) throws(APIError) -> ServerResponse
    {
        let range = 0...Self.maximumWorkers
        let minimum = try query.integer("min_worker", in: range)
        let maximum = try query.integer("max_worker", in: range)
        guard let workers = minimum ?? maximum else {
            throw .badRequest("scale a model with ?min_worker=N")
        }
        try repositoryCall { () throws(RepositoryError) in
            try repository.scale(name, version: version, workers: workers)
        }
        return status("Workers of model \"\(name)\" set to \(workers)")
    }

    private func describe(_ name: String, version: String?) throws(APIError) -> ServerResponse {
        guard let model = repository.model(name) else { throw .notFound("model '\(name)' is not registered") }
        let names = version == "all" ? model.versionNames : [version ?? model.defaultVersion]
        var entries: [JSONValue] = []
        for versionName in names {
            guard let served = model.versions[versionName] else {
                throw .notFound("model '\(name)' has no version '\(versionName)'")
            }
            let workers = served.scheduler.workers
            entries.append(
                .object(
                    JSONObject([
                        "modelName": .string(name),
                        "modelVersion": .string(versionName),
                        "modelUrl": .string(name),
                        "handler": .string(model.handler),
                        "runtime": .string("confide"),
                        "isDefaultVersion": .bool(versionName == model.defaultVersion),
                        "minWorkers": .integer(Int64(workers.count)),
                        "maxWorkers": .integer(Int64(workers.count)),
                        "batchSize": .integer(Int64(served.scheduler.policy.maxBatchSize)),
                        "maxBatchDelayMicroseconds": .integer(Int64(model.config.maxBatchDelayMicroseconds)),
                        "queueDepth": .integer(Int64(served.scheduler.queueDepth)),
                        "busyWorkers": .integer(Int64(served.scheduler.busyWorkers)),
                        "workers": .array(
                            workers.map { worker in
                                .object(
                                    JSONObject([
                                        "id": .string(String(worker.placement.index)),
                                        "status": .string("READY"),
                                        "numaNode": .integer(Int64(worker.placement.node)),
                                        "cpus": .array(worker.placement.cpus.map { .integer(Int64($0)) }),
                                    ]))
                            }),
                    ])))
        }
        return .json(.ok, JSONValue.array(entries).serialized)
    }

    // MARK: KServe v2 repository extension

    private func index(_ body: ByteBuffer) throws(APIError) -> ServerResponse {
        var readyOnly = false
        if body.readableBytes > 0 {
            let value = try? JSONParser.parse(body.readableBytesView)
            guard let object = value?.objectValue else { throw .badRequest("the index request must be a JSON object") }
            readyOnly = object["ready"]?.boolValue ?? false
        }
        return .json(.array(try index(readyOnly: readyOnly)))
    }

    private func index(readyOnly: Bool) throws(APIError) -> [JSONValue] {
        let stored: [Result<StoredModel, ModelLoadFailure>]
        do throws(ModelStoreError) {
            stored = try repository.store.scan()
        } catch {
            throw APIError(.internalServerError, error.message)
        }
        let served = repository.models
        let failures = Dictionary(
            repository.failures.map { ($0.model, $0.message) }, uniquingKeysWith: { first, _ in first })
        var entries: [JSONValue] = []
        for entry in stored {
            let name = (try? entry.get().name) ?? (entry.failureModel ?? "")
            if let model = served[name] {
                for version in model.versionNames {
                    entries.append(
                        .object(
                            JSONObject(["name": .string(name), "version": .string(version), "state": .string("READY")]))
                    )
                }
            } else if !readyOnly {
                entries.append(
                    .object(
                        JSONObject([
                            "name": .string(name), "state": .string("UNAVAILABLE"),
                            "reason": .string(failures[name] ?? "unloaded"),
                        ])))
            }
        }
        return entries
    }

    // MARK: Helpers

    @discardableResult
    private func repositoryCall<T>(_ operation: () throws(RepositoryError) -> T) throws(APIError) -> T {
        do {
            return try operation()
        } catch {
            throw APIError(error)
        }
    }

    private func status(_ message: String) -> ServerResponse {
        .json(.ok, JSONValue.object(JSONObject(["status": .string(message)])).serialized)
    }
}

extension Result where Failure == ModelLoadFailure {
    fileprivate var failureModel: String? {
        if case .failure(let failure) = self { return failure.model }
        return nil
    }
}
