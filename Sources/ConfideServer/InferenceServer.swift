public import ConfideAttestation
public import ConfideEnvelope
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
    /// The Oblivious HTTP gateway's keys and checks.
    public var oblivious = ObliviousGatewayConfiguration()
    /// Where the attestation evidence served at `/attestation` comes from.
    public var attestation: AttestationSource = .automatic

    /// Creates a configuration.
    public init(handlersDirectory: String, modelsDirectory: String) {
        self.handlersDirectory = handlersDirectory
        self.modelsDirectory = modelsDirectory
    }
}

/// A running inference server: the handlers it loaded, the models it serves, its gateway keys, its evidence provider
/// and its HTTP listener.
public final class InferenceServer: Sendable {
    /// The plugins found, loaded or refused.
    public let handlers: HandlerRegistry
    /// The models served.
    public let repository: ModelRepository
    /// The Oblivious HTTP gateway's keys, generated in memory at start-up.
    public let keyStore: GatewayKeyStore
    /// The provider of the evidence served at `/attestation`.
    public let evidenceProvider: any EvidenceProvider
    /// The inference API's listener.
    public let http: HTTPServer
    private let rotation: Task<Void, Never>?

    private init(
        handlers: HandlerRegistry, repository: ModelRepository, keyStore: GatewayKeyStore,
        evidenceProvider: any EvidenceProvider, http: HTTPServer, rotation: Task<Void, Never>?
    ) {
        self.handlers = handlers
        self.repository = repository
        self.keyStore = keyStore
        self.evidenceProvider = evidenceProvider
        self.http = http
        self.rotation = rotation
    }

    /// Loads the plugins and models, generates the gateway's keys, opens the evidence provider and starts listening.
    /// A refused plugin or a model that fails to load is logged and skipped; the server serves the rest. A hardware
    /// evidence provider that was asked for and is absent stops the start.
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
        let evidenceProvider = try makeEvidenceProvider(configuration.attestation, logger: logger)
        let keyStore = try GatewayKeyStore(
            suites: configuration.oblivious.suites, gracePeriod: configuration.oblivious.gracePeriod)
        let repository = try ModelRepository(
            store: ModelStore(path: configuration.modelsDirectory), handlers: handlers, logger: logger)
        let api = InferenceAPI(repository: repository)
        let attestation = AttestationAPI(provider: evidenceProvider, keyStore: keyStore, next: api, logger: logger)
        let gateway = ObliviousGatewayAPI(
            keyStore: keyStore, next: attestation, configuration: configuration.oblivious,
            maxContentSize: configuration.maxBodySize, logger: logger)
        let http: HTTPServer
        do {
            http = try await HTTPServer.start(
                host: configuration.host, port: configuration.port, responder: gateway,
                maxBodySize: configuration.maxBodySize)
        } catch {
            repository.shutdown()
            throw error
        }
        logger.info("inference API listening", metadata: ["address": "\(http.localAddress)"])
        logger.info(
            "oblivious HTTP gateway ready",
            metadata: ["key_id": "\(keyStore.currentConfiguration.keyID)", "path": "\(ObliviousGatewayAPI.path)"])
        let rotation = configuration.oblivious.rotationInterval.map { interval in
            Task {
                while true {
                    do {
                        try await Task.sleep(for: interval)
                    } catch {
                        return
                    }
                    let rotated = keyStore.rotate()
                    logger.info("gateway key rotated", metadata: ["key_id": "\(rotated.keyID)"])
                }
            }
        }
        return InferenceServer(
            handlers: handlers, repository: repository, keyStore: keyStore, evidenceProvider: evidenceProvider,
            http: http, rotation: rotation)
    }

    private static func makeEvidenceProvider(_ source: AttestationSource, logger: Logger) throws
        -> any EvidenceProvider
    {
        let insecure = "INSECURE: serving SIMULATED attestation evidence that proves nothing about this machine; "
            + "requests are NOT confidential. Clients refuse it unless they opt in."
        let provider: any EvidenceProvider
        var warning: String?
        switch source {
        case .automatic:
            let automatic = try AutomaticEvidenceProvider()
            warning = automatic.warning
            provider = automatic
        case .simulated:
            provider = try SimulatedEvidenceProvider()
        case .tdx:
            provider = try ConfigFSTSMProvider(expected: .tdxQuote)
        case .snp:
            provider = try ConfigFSTSMProvider(expected: .snpReport)
        case .provider(let chosen):
            provider = chosen
        }
        if provider.isInsecure {
            logger.critical("\(warning ?? insecure)")
        }
        logger.info("attestation evidence", metadata: ["type": "\(provider.evidenceType.rawValue)"])
        return provider
    }

    /// Stops rotating keys and accepting connections, then lets every model finish the requests it already queued.
    public func shutdown() async {
        rotation?.cancel()
        try? await http.close()
        repository.shutdown()
    }
}
