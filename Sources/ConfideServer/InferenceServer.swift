public import ConfideRuntime
public import Logging
import ConfideHost

/// Where a server finds its plugins and models, and where it listens.
public struct ServerConfiguration: Sendable {
    /// The folder scanned for handler plugins (`*.so`).
    public var handlersDirectory: String
    /// The model store.
    public var modelsDirectory: String
    /// The address the inference API binds.
    public var host: String = "127.0.0.1"
    /// The inference API's port (TorchServe's default, 8080); 0 picks a free port.
    public var port: Int = 8080
    /// The largest request body accepted; larger ones get 413.
    public var maxBodySize: Int = 16 << 20
    /// The kernel plugin to force by name; nil picks the best one this CPU supports, unless the
    /// `CONFIDE_KERNELS` environment variable names one.
    public var kernels: String?

    /// Creates a configuration.
    public init(handlersDirectory: String, modelsDirectory: String) {
        self.handlersDirectory = handlersDirectory
        self.modelsDirectory = modelsDirectory
    }
}

/// A running inference server: the handlers it loaded, the models it serves and its HTTP listener.
public final class InferenceServer: Sendable {
    /// The plugins found, loaded or refused.
    public let handlers: HandlerRegistry
    /// The models served.
    public let repository: ModelRepository
    /// The inference API's listener.
    public let http: HTTPServer

    private init(handlers: HandlerRegistry, repository: ModelRepository, http: HTTPServer) {
        self.handlers = handlers
        self.repository = repository
        self.http = http
    }

    /// Loads the plugins and models and starts listening. A refused plugin or a model that fails to
    /// load is logged and skipped; the server serves the rest.
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
        let kernels = try KernelSelection.activate(
            from: Array(handlers.kernelPlugins.values), explicit: configuration.kernels)
        logger.info(
            "kernels", metadata: ["plugin": "\(kernels.plugin?.name ?? "none")", "reason": "\(kernels.reason)"])
        let repository = try ModelRepository(
            store: ModelStore(path: configuration.modelsDirectory), handlers: handlers, logger: logger)
        let http = try await HTTPServer.start(
            host: configuration.host, port: configuration.port, responder: InferenceAPI(repository: repository),
            maxBodySize: configuration.maxBodySize)
        logger.info("inference API listening", metadata: ["address": "\(http.localAddress)"])
        return InferenceServer(handlers: handlers, repository: repository, http: http)
    }

    /// Stops accepting connections, then lets every model finish the requests it already queued.
    public func shutdown() async {
        try? await http.close()
        repository.shutdown()
    }
}
