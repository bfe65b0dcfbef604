import ConfideJSON
import Dispatch
public import ConfideRuntime
import NIOCore
import NIOHTTP1

/// The management API, on its own port and bound to loopback unless the operator says otherwise:
/// TorchServe's management calls (list, describe, register from the model store, scale, unregister,
/// set the default version) and the KServe v2 model repository extension, mapped onto the same
/// operations. Models are only ever registered by name from the model store, never from a URL.
public struct ManagementAPI: RequestResponder {
    private let repository: ModelRepository

    /// Manages the models of `repository`.
    public init(repository: ModelRepository) {
        self.repository = repository
    }

    public func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        // Loading a model, fetching its key or draining its workers blocks: keep it off the event loop.
        DispatchQueue.global().async { route(request, respond: respond) }
    }

    private func route(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        let path = request.pathSegments.map { PercentDecoding.decode($0) }
        if path.first == "v2" {
            respond(Self.result(format: ErrorResponses.kserve) { () throws(APIError) in try kserveRepository(request, Array(path.dropFirst())) })
        } else if path.first == "models" {
            respond(Self.result(format: ErrorResponses.torchServe) { () throws(APIError) in try torchServe(request, Array(path.dropFirst())) })
        } else {
            respond(ErrorResponses.torchServe(.notFound("no route for \(request.method) \(request.path)")))
        }
    }

    // MARK: TorchServe

    private func torchServe(_ request: ServerRequest, _ path: [String]) throws(APIError) -> ServerResponse {
        let query = request.queryItems
        switch (request.method, path.count) {
        case (.GET, 0): return try list(query)
        case (.POST, 0): return try register(query)
        case (.GET, 1), (.GET, 2): return try describe(path[0], version: path.count == 2 ? path[1] : nil)
        case (.PUT, 1): return try scale(path[0], nil, query)
        case (.PUT, 2): return try scale(path[0], path[1], query)
        case (.PUT, 3) where path[2] == "set-default":
            try perform { () throws(RepositoryError) in try repository.setDefaultVersion(path[0], path[1]) }
            return status("Default version successfully updated for model \"\(path[0])\" to \"\(path[1])\"")
        case (.DELETE, 1):
            try perform { () throws(RepositoryError) in try repository.unregister(path[0]) }
            return status("Model \"\(path[0])\" unregistered")
        case (.DELETE, 2):
            throw .badRequest("versions are loaded together: unregister the whole model with DELETE /models/\(path[0])")
        default:
            throw APIError(.methodNotAllowed, "no management call for \(request.method) \(request.path)")
        }
    }

    private func list(_ query: [String: String]) throws(APIError) -> ServerResponse {
        let limit = Int(query["limit"] ?? "100") ?? -1
        let offset = Int(query["next_page_token"] ?? "0") ?? -1
        guard limit > 0, offset >= 0 else { throw .badRequest("limit must be positive and next_page_token a page token") }
        let names = repository.models.keys.sorted()
        let page = names.dropFirst(offset).prefix(limit)
        var body = JSONObject([
            "models": .array(page.map { .object(JSONObject(["modelName": .string($0), "modelUrl": .string($0)])) }),
        ])
        if offset + limit < names.count { body["nextPageToken"] = .string(String(offset + limit)) }
        return .json(.ok, JSONValue.object(body).serialized)
    }

    private func register(_ query: [String: String]) throws(APIError) -> ServerResponse {
        guard let url = query["url"], !url.isEmpty else { throw .badRequest("register a model with ?url=<name in the model store>") }
        guard !url.contains("://") else {
            throw .badRequest("remote model URLs are refused: register a model of the model store by its name")
        }
        var workers: Int?
        if let text = query["initial_workers"] {
            guard let count = Int(text) else { throw .badRequest("initial_workers must be a number") }
            workers = count
        }
        let model = try perform { () throws(RepositoryError) in try repository.register(url, workers: workers) }
        let count = model.version(nil)?.scheduler.workers.count ?? 0
        return status("Model \"\(model.name)\" Version: \(model.defaultVersion) registered with \(count) initial workers")
    }

    private func scale(_ name: String, _ version: String?, _ query: [String: String]) throws(APIError) -> ServerResponse {
        guard let text = query["min_worker"] ?? query["max_worker"], let workers = Int(text) else {
            throw .badRequest("scale a model with ?min_worker=N")
        }
        try perform { () throws(RepositoryError) in try repository.scale(name, version: version, workers: workers) }
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
            entries.append(.object(JSONObject([
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
                "workers": .array(workers.map { worker in
                    .object(JSONObject([
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

    private func kserveRepository(_ request: ServerRequest, _ path: [String]) throws(APIError) -> ServerResponse {
        guard request.method == .POST else { throw APIError(.methodNotAllowed, "\(request.path) accepts POST only") }
        switch path {
        case ["repository", "index"]:
            var readyOnly = false
            if request.body.readableBytes > 0 {
                let body = try? JSONParser.parse(Array(request.body.readableBytesView))
                guard let object = body?.objectValue else { throw .badRequest("the index request must be a JSON object") }
                readyOnly = object["ready"]?.boolValue ?? false
            }
            return .json(.ok, JSONValue.array(try index(readyOnly: readyOnly)).serialized)
        case _ where path.count == 4 && path[0] == "repository" && path[1] == "models" && path[3] == "load":
            try perform { () throws(RepositoryError) in _ = try repository.register(path[2]) }
            return .json(.ok, Array("{}".utf8))
        case _ where path.count == 4 && path[0] == "repository" && path[1] == "models" && path[3] == "unload":
            try perform { () throws(RepositoryError) in try repository.unregister(path[2]) }
            return .json(.ok, Array("{}".utf8))
        default:
            throw .notFound("no route for \(request.method) \(request.path)")
        }
    }

    private func index(readyOnly: Bool) throws(APIError) -> [JSONValue] {
        let stored: [Result<StoredModel, ModelLoadFailure>]
        do throws(ModelStoreError) {
            stored = try repository.store.scan()
        } catch {
            throw APIError(.internalServerError, error.message)
        }
        let served = repository.models
        let failures = Dictionary(repository.failures.map { ($0.model, $0.message) }, uniquingKeysWith: { first, _ in first })
        var entries: [JSONValue] = []
        for entry in stored {
            let name = (try? entry.get().name) ?? (entry.failureModel ?? "")
            if let model = served[name] {
                for version in model.versionNames {
                    entries.append(.object(JSONObject(["name": .string(name), "version": .string(version), "state": .string("READY")])))
                }
            } else if !readyOnly {
                entries.append(.object(JSONObject([
                    "name": .string(name), "state": .string("UNAVAILABLE"), "reason": .string(failures[name] ?? "unloaded"),
                ])))
            }
        }
        return entries
    }

    // MARK: Helpers

    @discardableResult
    private func perform<T>(_ operation: () throws(RepositoryError) -> T) throws(APIError) -> T {
        do {
            return try operation()
        } catch {
            let status: HTTPResponseStatus =
                switch error.code {
                case .notFound: .notFound
                case .alreadyExists: .conflict
                case .invalid: .badRequest
                case .unavailable: .serviceUnavailable
                }
            throw APIError(status, error.message)
        }
    }

    private func status(_ message: String) -> ServerResponse {
        .json(.ok, JSONValue.object(JSONObject(["status": .string(message)])).serialized)
    }

    private static func result(format: (APIError) -> ServerResponse, _ body: () throws(APIError) -> ServerResponse) -> ServerResponse {
        do {
            return try body()
        } catch {
            return format(error)
        }
    }
}

extension Result where Failure == ModelLoadFailure {
    fileprivate var failureModel: String? {
        if case .failure(let failure) = self { return failure.model }
        return nil
    }
}
