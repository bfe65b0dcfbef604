public import ConfideRuntime
import ConfideHost
import Crypto
public import Logging
import Prometheus
public import ServiceLifecycle

/// Where a server finds its plugins and models, where it listens, and its limits.
public struct ServerConfiguration: Sendable {
    /// The folder scanned for handler plugins (`*.so`).
    public var handlersDirectory: String
    /// The model store.
    public var modelsDirectory: String
    /// The address the inference API and the metrics endpoint bind.
    public var host: String = "127.0.0.1"
    /// The inference API's port (TorchServe's default, 8080); 0 picks a free port.
    public var port: Int = 8080
    /// The metrics port (TorchServe's default, 8082); 0 picks a free port, `nil` serves no metrics.
    public var metricsPort: Int? = 8082
    /// The address the management API binds: loopback unless the operator says otherwise.
    public var managementHost: String = "127.0.0.1"
    /// The management API's port (TorchServe's default, 8081); 0 picks a free port, `nil` serves none.
    public var managementPort: Int? = 8081
    /// The largest request body accepted; larger ones get 413.
    public var maxBodySize: Int = 16 << 20
    /// How long a request may wait for a worker when neither its model nor the request says.
    public var requestTimeout: Duration = .seconds(60)
    /// The longest deadline a request may ask for (KServe's `timeout` parameter, in microseconds).
    public var maxRequestTimeout: Duration = .seconds(600)
    /// Whether worker threads are pinned to their cores.
    public var pinWorkers = true
    /// The bearer tokens allowed; `nil` leaves the APIs open, which is only allowed on loopback.
    public var tokens: TokenStore?
    /// Allows serving without tokens on an address other than loopback.
    public var allowUnauthenticated = false
    /// Where the keys of encrypted model archives come from; `nil` refuses encrypted archives.
    public var keyProvider: (any KeyProvider)?
    /// The kernel plugin to force by name; nil picks the best one this CPU supports, unless the
    /// `CONFIDE_KERNELS` environment variable names one.
    public var kernels: String?

    /// Creates a configuration.
    public init(handlersDirectory: String, modelsDirectory: String) {
        self.handlersDirectory = handlersDirectory
        self.modelsDirectory = modelsDirectory
    }
}

/// A running inference server: the handlers it loaded, the models it serves, its HTTP listeners.
///
/// As a `Service` it runs until a graceful shutdown (SIGTERM or SIGINT in a `ServiceGroup`), then stops
/// accepting connections, answers every request already received, stops the workers and returns.
public final class InferenceServer: Service, Sendable {
    /// The plugins found, loaded or refused.
    public let handlers: HandlerRegistry
    /// The models served.
    public let repository: ModelRepository
    /// The inference API's listener.
    public let http: HTTPServer
    /// The management API's listener, when it is served.
    public let management: HTTPServer?
    /// The metrics listener, when metrics are served.
    public let metrics: HTTPServer?
    private let logger: Logger

    private init(
        handlers: HandlerRegistry, repository: ModelRepository, http: HTTPServer, management: HTTPServer?,
        metrics: HTTPServer?, logger: Logger
    ) {
        self.handlers = handlers
        self.repository = repository
        self.http = http
        self.management = management
        self.metrics = metrics
        self.logger = logger
    }

    /// Loads the plugins and models and starts listening. A refused plugin or a model that fails to
    /// load (an impossible placement included) is logged and skipped; the server serves the rest.
    public static func start(_ configuration: ServerConfiguration, logger: Logger) async throws -> InferenceServer {
        HostAPI.setLogSink { level, message in
            switch level {
            case .error: logger.error("\(message)")
            case .warning: logger.warning("\(message)")
            case .info: logger.info("\(message)")
            case .debug: logger.debug("\(message)")
            }
        }
        let handlers = HandlerRegistry.scan(directory: configuration.handlersDirectory)
        for plugin in handlers.plugins.values.sorted(by: { $0.name < $1.name }) {
            logger.info("handler loaded", metadata: ["handler": "\(plugin.name)", "version": "\(plugin.version)", "path": "\(plugin.origin)"])
        }
        for refusal in handlers.refusals {
            logger.error("plugin refused: \(refusal.error.message)")
        }
        let registry = PrometheusCollectorRegistry()
        let topology = try Topology.current()
        logger.info("topology", metadata: ["nodes": "\(topology.nodes.map { "node \($0.id): cpus \($0.cpus)" })"])
        let kernels = try KernelSelection.activate(
            from: Array(handlers.kernelPlugins.values), explicit: configuration.kernels)
        logger.info(
            "kernels", metadata: ["plugin": "\(kernels.plugin?.name ?? "none")", "reason": "\(kernels.reason)"])
        let repository = try ModelRepository(
            store: ModelStore(path: configuration.modelsDirectory, keys: archiveKeys(configuration.keyProvider)),
            handlers: handlers,
            options: ModelRepository.Options(
                topology: topology, pinWorkers: configuration.pinWorkers,
                metricsFactory: MetricsAPI.factory(for: registry)),
            logger: logger)
        try checkExposure(configuration, logger: logger)
        let api = InferenceAPI(
            repository: repository,
            deadlines: DeadlinePolicy(default: configuration.requestTimeout, maximum: configuration.maxRequestTimeout))
        let inference: any RequestResponder = configuration.tokens.map {
            BearerAuthorization(
                tokens: $0, scope: .inference, guarding: api, isPublic: BearerAuthorization.isProbe,
                model: BearerAuthorization.inferenceModel)
        } ?? api
        let http = try await HTTPServer.start(
            host: configuration.host, port: configuration.port, responder: inference, maxBodySize: configuration.maxBodySize)
        logger.info("inference API listening", metadata: ["address": "\(http.localAddress)"])
        var management: HTTPServer?
        if let port = configuration.managementPort {
            let managementAPI = ManagementAPI(repository: repository)
            let responder: any RequestResponder = configuration.tokens.map {
                BearerAuthorization(tokens: $0, scope: .management, guarding: managementAPI)
            } ?? managementAPI
            let server = try await HTTPServer.start(
                host: configuration.managementHost, port: port, responder: responder, maxBodySize: 64 << 10)
            logger.info("management API listening", metadata: ["address": "\(server.localAddress)"])
            management = server
        }
        var metrics: HTTPServer?
        if let port = configuration.metricsPort {
            let server = try await HTTPServer.start(
                host: configuration.host, port: port, responder: MetricsAPI(registry: registry), maxBodySize: 4096)
            logger.info("metrics listening", metadata: ["address": "\(server.localAddress)"])
            metrics = server
        }
        return InferenceServer(
            handlers: handlers, repository: repository, http: http, management: management, metrics: metrics, logger: logger)
    }

    private static func archiveKeys(_ provider: (any KeyProvider)?) -> ArchiveKeyLookup? {
        guard let provider else { return nil }
        return { (name: String) throws -> SymmetricKey in try provider.key(named: name) }
    }

    /// Refuses to serve without tokens on an address other than loopback unless the operator allowed it;
    /// says loudly when the APIs are open.
    private static func checkExposure(_ configuration: ServerConfiguration, logger: Logger) throws(AuthorizationError) {
        guard configuration.tokens == nil else { return }
        var exposed = [configuration.host]
        if configuration.managementPort != nil { exposed.append(configuration.managementHost) }
        if let open = exposed.first(where: { !isLoopback($0) }), !configuration.allowUnauthenticated {
            throw AuthorizationError(
                "refusing to serve on \(open) without a token file: give --tokens FILE, or --allow-unauthenticated to accept anyone who can reach it")
        }
        logger.warning("no token file: the inference and management APIs accept every request that reaches \(exposed.joined(separator: ", "))")
    }

    private static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Serves until a graceful shutdown is requested, then shuts down.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Stops accepting connections, answers every request already received, then stops the workers.
    public func shutdown() async {
        logger.info("shutting down: no new connections; finishing the requests already received")
        await management?.shutdown()
        await http.shutdown()
        repository.shutdown()
        await metrics?.shutdown()
        logger.info("stopped")
    }
}
