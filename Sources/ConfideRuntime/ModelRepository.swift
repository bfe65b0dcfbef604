public import ConfideHost
import ConfideSDK
import ConfideJSON
import Foundation
public import Logging

/// A model version being served: the handler's loaded model and the workers that run it.
public final class ServedVersion: Sendable {
    /// The version's name.
    public let name: String
    /// The loaded model.
    public let model: PluginModel
    /// The workers.
    public let scheduler: Scheduler

    init(name: String, model: PluginModel, scheduler: Scheduler) {
        self.name = name
        self.model = model
        self.scheduler = scheduler
    }
}

/// A model being served, with all its versions.
public final class ServedModel: Sendable {
    /// The model's name.
    public let name: String
    /// The handler serving it.
    public let handler: String
    /// The configuration.
    public let config: ModelConfig
    /// The versions by name.
    public let versions: [String: ServedVersion]
    /// The version names, lowest first.
    public let versionNames: [String]
    /// The version served when a request names none.
    public let defaultVersion: String

    init(stored: StoredModel, versions: [ServedVersion]) {
        self.name = stored.name
        self.handler = stored.config.handler
        self.config = stored.config
        self.versions = Dictionary(versions.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.versionNames = versions.map(\.name)
        self.defaultVersion = stored.defaultVersion
    }

    /// The named version, or the default version when `version` is `nil`.
    public func version(_ version: String?) -> ServedVersion? {
        versions[version ?? defaultVersion]
    }
}

/// The models a server serves, loaded from a model store with the handlers of a registry.
public final class ModelRepository: Sendable {
    /// The models being served, by name.
    public let models: [String: ServedModel]
    /// The models that failed to load, and why.
    public let failures: [ModelLoadFailure]

    /// Loads every model of the store whose handler is in the registry. Failures are logged and kept;
    /// they never stop the other models.
    public init(store: ModelStore, handlers: HandlerRegistry, logger: Logger) throws(ModelStoreError) {
        var models: [String: ServedModel] = [:]
        var failures: [ModelLoadFailure] = []
        for entry in try store.scan() {
            switch entry {
            case .failure(let failure):
                logger.error("model not loaded", metadata: ["model": "\(failure.model)", "reason": "\(failure.message)"])
                failures.append(failure)
            case .success(let stored):
                do {
                    models[stored.name] = try Self.load(stored, handlers: handlers)
                    logger.info(
                        "model ready",
                        metadata: [
                            "model": "\(stored.name)", "handler": "\(stored.config.handler)",
                            "versions": "\(stored.versions.map(\.name).joined(separator: ","))",
                            "workers": "\(stored.config.workers)", "max_batch_size": "\(stored.config.maxBatchSize)",
                        ])
                } catch {
                    logger.error("model not loaded", metadata: ["model": "\(stored.name)", "reason": "\(error.message)"])
                    failures.append(error)
                }
            }
        }
        self.models = models
        self.failures = failures
    }

    /// The named model.
    public func model(_ name: String) -> ServedModel? { models[name] }

    /// Stops every model's workers after they finish the requests already queued.
    public func shutdown() {
        for model in models.values {
            for version in model.versions.values { version.scheduler.shutdown() }
        }
    }

    private static func load(_ stored: StoredModel, handlers: HandlerRegistry) throws(ModelLoadFailure) -> ServedModel {
        guard let plugin = handlers.plugins[stored.config.handler] else {
            let available = handlers.plugins.keys.sorted().joined(separator: ", ")
            throw ModelLoadFailure(
                model: stored.name,
                message: "no handler named '\(stored.config.handler)' (loaded handlers: \(available.isEmpty ? "none" : available))")
        }
        var versions: [ServedVersion] = []
        let parameters = String(decoding: JSONValue.object(stored.config.parameters).serialized, as: UTF8.self)
        for version in stored.versions {
            do {
                let config = ModelLoadConfig(
                    name: stored.name, version: version.name, path: version.path, configJSON: stored.configText,
                    parametersJSON: parameters)
                let model = try PluginModel(plugin: plugin, config: config)
                let scheduler = try Scheduler(
                    model: model, modelName: stored.name, workers: stored.config.workers,
                    maxBatchSize: stored.config.maxBatchSize)
                versions.append(ServedVersion(name: version.name, model: model, scheduler: scheduler))
            } catch {
                for loaded in versions { loaded.scheduler.shutdown() }
                throw ModelLoadFailure(model: stored.name, message: "version \(version.name): \(error.message)")
            }
        }
        return ServedModel(stored: stored, versions: versions)
    }
}
