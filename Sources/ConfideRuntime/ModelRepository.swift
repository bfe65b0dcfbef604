public import ConfideHost
import ConfideJSON
import ConfideSDK
public import CoreMetrics
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
    /// The version's metrics.
    public var metrics: ModelMetrics { scheduler.metrics }

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

    /// How the repository places and measures workers.
    public struct Options: Sendable {
        /// The machine's CPUs and NUMA nodes.
        public var topology: Topology
        /// Whether worker threads are pinned to their cores.
        public var pinWorkers: Bool
        /// Where the models' metrics go.
        public var metricsFactory: any MetricsFactory

        /// Creates options.
        public init(topology: Topology, pinWorkers: Bool = true, metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance) {
            self.topology = topology
            self.pinWorkers = pinWorkers
            self.metricsFactory = metricsFactory
        }
    }

    /// Loads every model of the store whose handler is in the registry. Failures are logged and kept;
    /// they never stop the other models.
    public init(store: ModelStore, handlers: HandlerRegistry, options: Options, logger: Logger) throws(ModelStoreError) {
        var models: [String: ServedModel] = [:]
        var failures: [ModelLoadFailure] = []
        var planner = PlacementPlanner(topology: options.topology)
        for entry in try store.scan() {
            switch entry {
            case .failure(let failure):
                logger.error("model not loaded", metadata: ["model": "\(failure.model)", "reason": "\(failure.message)"])
                failures.append(failure)
            case .success(let stored):
                do {
                    let model = try Self.load(stored, handlers: handlers, planner: &planner, options: options)
                    models[stored.name] = model
                    for version in model.versionNames {
                        let workers = model.versions[version]?.scheduler.workers ?? []
                        logger.info(
                            "model ready",
                            metadata: [
                                "model": "\(stored.name)", "version": "\(version)", "handler": "\(stored.config.handler)",
                                "max_batch_size": "\(stored.config.maxBatchSize)",
                                "placement": "\(workers.map(\.placement.description).joined(separator: "; "))",
                            ])
                    }
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

    private static func load(
        _ stored: StoredModel, handlers: HandlerRegistry, planner: inout PlacementPlanner, options: Options
    ) throws(ModelLoadFailure) -> ServedModel {
        guard let plugin = handlers.plugins[stored.config.handler] else {
            let available = handlers.plugins.keys.sorted().joined(separator: ", ")
            throw ModelLoadFailure(
                model: stored.name,
                message: "no handler named '\(stored.config.handler)' (loaded handlers: \(available.isEmpty ? "none" : available))")
        }
        var versions: [ServedVersion] = []
        let parameters = String(decoding: JSONValue.object(stored.config.parameters).serialized, as: UTF8.self)
        let config = stored.config
        let policy = BatchingPolicy(
            maxBatchSize: config.maxBatchSize, maxBatchDelay: .microseconds(config.maxBatchDelayMicroseconds),
            preferredBatchSizes: config.preferredBatchSizes, maxQueueSize: config.maxQueueSize)
        for version in stored.versions {
            do throws(ModelLoadFailure) {
                let placements: [WorkerPlacement]
                do throws(TopologyError) {
                    placements = try planner.place(
                        PlacementRequest(workers: config.workers, coresPerWorker: config.coresPerWorker, node: config.numaNode))
                } catch {
                    throw ModelLoadFailure(model: stored.name, message: "placement refused: \(error.message)")
                }
                do throws(HandlerError) {
                    let loadConfig = ModelLoadConfig(
                        name: stored.name, version: version.name, path: version.path, configJSON: stored.configText,
                        parametersJSON: parameters)
                    let model = try PluginModel(plugin: plugin, config: loadConfig)
                    let metrics = ModelMetrics(model: stored.name, version: version.name, factory: options.metricsFactory)
                    let scheduler = try Scheduler(
                        model: model, modelName: stored.name, policy: policy, placements: placements,
                        pin: options.pinWorkers, metrics: metrics)
                    versions.append(ServedVersion(name: version.name, model: model, scheduler: scheduler))
                } catch {
                    throw ModelLoadFailure(model: stored.name, message: "version \(version.name): \(error.message)")
                }
            } catch {
                for loaded in versions { loaded.scheduler.shutdown() }
                throw error
            }
        }
        return ServedModel(stored: stored, versions: versions)
    }
}
