public import ConfideHost
public import ConfideMeasurement
import ConfideSDK
import ConfideTensors
public import CoreMetrics
import Foundation
public import Logging
import Synchronization

/// A model version being served: the handler's loaded model and the workers that run it.
public final class ServedVersion: Sendable {
    /// The version's name.
    public let name: String
    /// The loaded model.
    public let model: PluginModel
    /// The workers.
    public let scheduler: Scheduler
    /// The event recorded in the measurement log when the version was loaded.
    public let measurement: MeasurementEvent
    /// The version's metrics.
    public var metrics: ModelMetrics { scheduler.metrics }

    init(name: String, model: PluginModel, scheduler: Scheduler, measurement: MeasurementEvent) {
        self.name = name
        self.model = model
        self.scheduler = scheduler
        self.measurement = measurement
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
    /// The model's folder in the store.
    public let path: String
    /// The versions by name.
    public let versions: [String: ServedVersion]
    /// The version names, lowest first.
    public let versionNames: [String]
    private let defaultVersionName: Mutex<String>

    init(stored: StoredModel, versions: [ServedVersion]) {
        self.name = stored.name
        self.handler = stored.config.handler
        self.config = stored.config
        self.path = stored.path
        self.versions = Dictionary(versions.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.versionNames = versions.map(\.name)
        self.defaultVersionName = Mutex(stored.defaultVersion)
    }

    /// The version served when a request names none.
    public var defaultVersion: String { defaultVersionName.withLock { $0 } }

    /// The named version, or the default version when `version` is `nil`.
    public func version(_ version: String?) -> ServedVersion? {
        versions[version ?? defaultVersion]
    }

    func setDefaultVersion(_ version: String) {
        defaultVersionName.withLock { $0 = version }
    }
}

/// Why a repository operation was refused.
public struct RepositoryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of refusal; the management API maps it to a status.
    public enum Code: Sendable {
        case notFound, alreadyExists, invalid, unavailable
    }

    /// The kind of refusal.
    public let code: Code
    /// What happened, for people.
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// The models a server serves: loaded from a model store with the handlers of a registry, and
/// registered, unregistered and scaled at run time by the management API.
public final class ModelRepository: Sendable {
    /// How the repository places and measures workers.
    public struct Options: Sendable {
        /// The machine's CPUs and NUMA nodes.
        public var topology: Topology
        /// Whether worker threads are pinned to their cores.
        public var pinWorkers: Bool
        /// Where the models' metrics go.
        public var metricsFactory: any MetricsFactory
        /// Where every model version loaded or unloaded is recorded, before it takes effect.
        public var measurements: MeasurementLog?

        /// Creates options.
        public init(
            topology: Topology, pinWorkers: Bool = true,
            metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance, measurements: MeasurementLog? = nil
        ) {
            self.topology = topology
            self.pinWorkers = pinWorkers
            self.metricsFactory = metricsFactory
            self.measurements = measurements
        }
    }

    private struct State {
        var models: [String: ServedModel] = [:]
        var failures: [String: ModelLoadFailure] = [:]
        var planner: PlacementPlanner
        var loading: Set<String> = []
    }

    /// The model store models are registered from.
    public let store: ModelStore
    private let handlers: HandlerRegistry
    private let options: Options
    private let logger: Logger
    private let state: Mutex<State>

    /// Loads every model of the store whose handler is in the registry. Failures are logged and kept;
    /// they never stop the other models.
    public init(store: ModelStore, handlers: HandlerRegistry, options: Options, logger: Logger) throws(ModelStoreError)
    {
        self.store = store
        self.handlers = handlers
        self.options = options
        self.logger = logger
        self.state = Mutex(State(planner: PlacementPlanner(topology: options.topology)))
        for entry in try store.scan() {
            switch entry {
            case .failure(let failure): record(failure)
            case .success(let stored): _ = try? load(stored)
            }
        }
    }

    /// The models being served, by name.
    public var models: [String: ServedModel] { state.withLock { $0.models } }

    /// The models of the store that failed to load, and why.
    public var failures: [ModelLoadFailure] { state.withLock { $0.failures.values.sorted { $0.model < $1.model } } }

    /// The named model.
    public func model(_ name: String) -> ServedModel? { state.withLock { $0.models[name] } }

    /// Loads a model of the store by name (never from anywhere else). `workers` overrides its
    /// `model.json`.
    @discardableResult
    public func register(_ name: String, workers: Int? = nil) throws(RepositoryError) -> ServedModel {
        guard !name.isEmpty, !name.contains("/"), !name.contains(":"), !name.hasPrefix(".") else {
            throw RepositoryError(
                .invalid, "'\(name)' is not a model name: models are registered from the model store by name only")
        }
        let stored: StoredModel
        do throws(ModelStoreError) {
            stored = try store.load(name: name)
        } catch {
            guard error.isMissing else {
                throw RepositoryError(.invalid, "model '\(name)' cannot be loaded: \(error.message)")
            }
            throw RepositoryError(.notFound, "no model '\(name)' in the model store: \(error.message)")
        }
        var adjusted = stored
        if let workers {
            guard (1...1024).contains(workers) else {
                throw RepositoryError(.invalid, "workers must be from 1 to 1024")
            }
            adjusted = stored.withWorkers(workers)
        }
        return try load(adjusted)
    }

    /// Stops serving a model: new requests get 404 at once, queued requests are still answered, then its
    /// workers stop.
    public func unregister(_ name: String) throws(RepositoryError) {
        let removed = state.withLock { state -> ServedModel? in
            state.failures[name] = nil
            return state.models.removeValue(forKey: name)
        }
        guard let removed else { throw RepositoryError(.notFound, "model '\(name)' is not registered") }
        for version in removed.versions.values {
            let loaded = version.measurement
            do throws(MeasurementError) {
                try options.measurements?.record(
                    MeasurementEvent(kind: .modelUnloaded, descriptor: loaded.descriptor, digest: loaded.digest))
            } catch {
                logger.error("model unload not measured", metadata: ["model": "\(name)", "error": "\(error)"])
            }
            let placements = version.scheduler.workers.map(\.placement)
            version.scheduler.shutdown()
            state.withLock { $0.planner.release(placements) }
        }
        logger.info("model unregistered", metadata: ["model": "\(name)"])
    }

    /// Changes the number of workers of a model version while it serves; queued requests are kept.
    public func scale(_ name: String, version: String? = nil, workers: Int) throws(RepositoryError) {
        guard (1...1024).contains(workers) else { throw RepositoryError(.invalid, "workers must be from 1 to 1024") }
        guard let model = model(name) else { throw RepositoryError(.notFound, "model '\(name)' is not registered") }
        guard let served = model.version(version) else {
            throw RepositoryError(.notFound, "model '\(name)' has no version '\(version ?? "")'")
        }
        let scheduler = served.scheduler
        let current = scheduler.workers
        if workers < current.count {
            let leaving = Array(current.suffix(current.count - workers))
            scheduler.removeWorkers(leaving.map(\.placement.index))
            state.withLock { $0.planner.release(leaving.map(\.placement)) }
        } else if workers > current.count {
            let node = current.first?.placement.node
            let firstIndex = (current.map(\.placement.index).max() ?? -1) + 1
            let placements: [WorkerPlacement]
            do throws(TopologyError) {
                placements = try state.withLock { state throws(TopologyError) in
                    try state.planner.place(
                        PlacementRequest(
                            workers: workers - current.count, coresPerWorker: model.config.coresPerWorker, node: node),
                        avoiding: Set(current.flatMap(\.placement.cpus)), firstIndex: firstIndex)
                }
            } catch {
                throw RepositoryError(
                    .unavailable, "cannot place \(workers - current.count) more workers: \(error.message)")
            }
            do throws(HandlerError) {
                try scheduler.addWorkers(placements)
            } catch {
                state.withLock { $0.planner.release(placements) }
                throw RepositoryError(.unavailable, "new workers failed to start: \(error.message)")
            }
        }
        logger.info(
            "model scaled", metadata: ["model": "\(name)", "version": "\(served.name)", "workers": "\(workers)"])
    }

    /// Makes `version` the version served when a request names none.
    public func setDefaultVersion(_ name: String, _ version: String) throws(RepositoryError) {
        guard let model = model(name) else { throw RepositoryError(.notFound, "model '\(name)' is not registered") }
        guard model.versions[version] != nil else {
            throw RepositoryError(
                .notFound,
                "model '\(name)' has no version '\(version)' (versions: \(model.versionNames.joined(separator: ", ")))")
        }
        model.setDefaultVersion(version)
    }

    /// Stops every model's workers after they finish the requests already queued.
    public func shutdown() {
        for model in models.values {
            for version in model.versions.values { version.scheduler.shutdown() }
        }
    }

    private func record(_ failure: ModelLoadFailure) {
        logger.error("model not loaded", metadata: ["model": "\(failure.model)", "reason": "\(failure.message)"])
        state.withLock { $0.failures[failure.model] = failure }
    }

    @discardableResult
    private func load(_ stored: StoredModel) throws(RepositoryError) -> ServedModel {
        let claimed = state.withLock { state -> Bool in
            guard state.models[stored.name] == nil, !state.loading.contains(stored.name) else { return false }
            state.loading.insert(stored.name)
            return true
        }
        guard claimed else { throw RepositoryError(.alreadyExists, "model '\(stored.name)' is already registered") }
        defer { state.withLock { _ = $0.loading.remove(stored.name) } }
        for warning in stored.config.warnings {
            logger.warning("\(warning)", metadata: ["model": "\(stored.name)"])
        }
        do throws(ModelLoadFailure) {
            let model = try build(stored)
            state.withLock { state in
                state.models[stored.name] = model
                state.failures[stored.name] = nil
            }
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
            return model
        } catch {
            record(error)
            throw RepositoryError(.unavailable, error.message)
        }
    }

    private func build(_ stored: StoredModel) throws(ModelLoadFailure) -> ServedModel {
        guard let plugin = handlers.plugins[stored.config.handler] else {
            let available = handlers.plugins.keys.sorted().joined(separator: ", ")
            throw ModelLoadFailure(
                model: stored.name,
                message:
                    "no handler named '\(stored.config.handler)' (loaded handlers: \(available.isEmpty ? "none" : available))"
            )
        }
        var versions: [ServedVersion] = []
        let config = stored.config
        let policy = BatchingPolicy(
            maxBatchSize: config.maxBatchSize, maxBatchDelay: .microseconds(config.maxBatchDelayMicroseconds),
            preferredBatchSizes: config.preferredBatchSizes, maxQueueSize: config.maxQueueSize)
        let artifacts = try Self.buffers(stored)
        for version in stored.versions {
            do throws(ModelLoadFailure) {
                let placements: [WorkerPlacement]
                do throws(TopologyError) {
                    placements = try state.withLock { state throws(TopologyError) in
                        try state.planner.place(
                            PlacementRequest(
                                workers: config.workers, coresPerWorker: config.coresPerWorker, node: config.numaNode))
                    }
                } catch {
                    throw ModelLoadFailure(model: stored.name, message: "placement refused: \(error.message)")
                }
                let measurement: MeasurementEvent
                do throws(MeasurementError) {
                    measurement = try measure(stored, version: version)
                } catch {
                    state.withLock { $0.planner.release(placements) }
                    throw ModelLoadFailure(
                        model: stored.name, message: "version \(version.name) not measured: \(error.message)")
                }
                do throws(HandlerError) {
                    let model = try PluginModel(
                        plugin: plugin, config: stored.loadConfig(version: version, artifacts: artifacts))
                    let metrics = ModelMetrics(
                        model: stored.name, version: version.name, factory: options.metricsFactory)
                    let scheduler = try Scheduler(
                        model: model, modelName: stored.name, policy: policy, placements: placements,
                        pin: options.pinWorkers, metrics: metrics)
                    versions.append(
                        ServedVersion(name: version.name, model: model, scheduler: scheduler, measurement: measurement))
                } catch {
                    state.withLock { $0.planner.release(placements) }
                    throw ModelLoadFailure(model: stored.name, message: "version \(version.name): \(error.message)")
                }
            } catch {
                for loaded in versions {
                    let placements = loaded.scheduler.workers.map(\.placement)
                    loaded.scheduler.shutdown()
                    state.withLock { $0.planner.release(placements) }
                }
                throw error
            }
        }
        return ServedModel(stored: stored, versions: versions)
    }

    /// Records the version in the measurement log before the handler loads it.
    private func measure(
        _ stored: StoredModel, version: (name: String, path: String)
    ) throws(MeasurementError) -> MeasurementEvent {
        guard let measurements = options.measurements else {
            return MeasurementEvent(kind: .modelLoaded, descriptor: [], digest: [])
        }
        let event = try stored.measurement(version: version)
        try measurements.record(event)
        return event
    }

    /// The in-memory files of a model from an archive, as aligned buffers for the handler.
    private static func buffers(_ stored: StoredModel) throws(ModelLoadFailure) -> [String: TensorBuffer] {
        var buffers: [String: TensorBuffer] = [:]
        for (name, bytes) in stored.artifacts ?? [:] {
            guard let buffer = TensorBuffer(copying: bytes) else {
                throw ModelLoadFailure(model: stored.name, message: "out of memory for the archive's '\(name)'")
            }
            buffers[name] = buffer
        }
        return buffers
    }
}
