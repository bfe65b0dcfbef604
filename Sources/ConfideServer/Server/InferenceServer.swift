import CConfideSystem
public import ConfideAttestation
public import ConfideEnvelope
import ConfideHost
import ConfideJSON
import ConfideKServe
import ConfideMeasurement
public import ConfideRuntime
import Crypto
public import Logging
import Prometheus

/// Where a server finds its plugins and models, where it listens, and its limits.
public struct ServerConfiguration: Sendable {
    /// The folder scanned for handler plugins (`*.so`).
    public var handlersDirectory: String
    /// The model store.
    public var modelsDirectory: String
    /// How ``modelsDirectory`` holds its models: a store of models, or one model (KServe's `/mnt/models`).
    public var modelLayout: ModelStore.Layout = .store
    /// The address the inference API and the metrics endpoint bind.
    public var host: String = "127.0.0.1"
    /// The inference API's port (TorchServe's default, 8080); 0 picks a free port.
    public var port: Int = 8080
    /// The KServe v2 gRPC port (Triton's default, 8001), bound on ``host``; 0 picks a free port, `nil` serves no gRPC.
    public var grpcPort: Int? = 8001
    /// The metrics port (TorchServe's default, 8082); 0 picks a free port, `nil` serves no metrics.
    public var metricsPort: Int? = 8082
    /// The address the management API binds: loopback unless the operator says otherwise.
    public var managementHost: String = "127.0.0.1"
    /// The management API's port (TorchServe's default, 8081); 0 picks a free port, `nil` serves none.
    public var managementPort: Int? = 8081
    /// The largest request body accepted; larger ones get 413.
    public var maxBodySize: Int = 16 << 20
    /// The bytes of request bodies in flight and of responses not yet written that all listeners may hold
    /// together; a request whose body does not fit gets 503 with `Retry-After`.
    public var memoryBudget: Int = 1 << 30
    /// The inference listener's connection limit and timeouts (the management and metrics listeners keep at most
    /// 64 connections each and share the timeouts).
    public var connections = ConnectionLimits()
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
    /// Which models must be encrypted archives; a folder or a plain archive for one of them is not served, and
    /// neither is one registered later through the management API.
    public var requiredEncryption: EncryptionRequirement = .none
    /// The kernel plugin to force by name; nil picks the best one this CPU supports, unless the
    /// `CONFIDE_KERNELS` environment variable names one.
    public var kernels: String?
    /// The Oblivious HTTP gateway's keys and checks.
    public var oblivious = ObliviousGatewayConfiguration()
    /// Where the attestation evidence served at `/attestation` comes from.
    public var attestation: AttestationSource = .automatic
    /// The Confidential Containers attestation agent that `.coco` takes evidence from and `.automatic` tries when
    /// configfs-tsm is absent.
    public var attestationAgent = CoCoAttestationAgent()
    /// Intel's PCS collateral for this platform's TDX quotes, served with the evidence (see
    /// ``Endorsements/tdxCollateral``); it must parse, or the server does not start.
    public var tdxCollateral: [UInt8]?
    /// The PCCS or Intel PCS base URL to fetch this platform's TDX collateral from at start (the server does not start
    /// when that fails) and again before it expires, to serve it with the evidence; ignored with ``tdxCollateral``.
    public var tdxCollateralURL: String?
    /// How the collateral is fetched from ``tdxCollateralURL``; tests replace it.
    package var tdxCollateralTransport: TDXCollateralFetcher.Transport = TDXCollateralFetcher.urlSession
    /// The SEV-SNP VCEK or VLEK chain (PEM or DER) served with the evidence when the host attaches none (see
    /// ``Endorsements/snpCertificates``).
    public var snpCertificates: [UInt8]?

    /// Creates a configuration.
    public init(handlersDirectory: String, modelsDirectory: String) {
        self.handlersDirectory = handlersDirectory
        self.modelsDirectory = modelsDirectory
    }
}

/// A started inference server: the handlers it loaded, the models it serves, its gateway keys, its
/// evidence provider and its listeners. ``ConfideService`` starts one in its `run()` and shuts it down on a
/// graceful shutdown.
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
    /// The KServe v2 gRPC listener, when it is served.
    public let grpc: GRPCListener?
    /// The management API's listener, when it is served.
    public let management: HTTPServer?
    /// The metrics listener, when metrics are served.
    public let metrics: HTTPServer?
    private let logger: Logger

    private init(
        handlers: HandlerRegistry, repository: ModelRepository, keyStore: GatewayKeyStore,
        evidenceProvider: any EvidenceProvider, http: HTTPServer, grpc: GRPCListener?, management: HTTPServer?,
        metrics: HTTPServer?, logger: Logger
    ) {
        self.handlers = handlers
        self.repository = repository
        self.keyStore = keyStore
        self.evidenceProvider = evidenceProvider
        self.http = http
        self.grpc = grpc
        self.management = management
        self.metrics = metrics
        self.logger = logger
    }

    /// Loads the plugins and models, generates the gateway's keys, opens the evidence provider and starts
    /// listening. A refused plugin or a model that fails to load (an impossible placement included) is
    /// logged and skipped; the server serves the rest. A hardware evidence provider that was asked for and
    /// is absent stops the start. Loading runs on the blocking pool (``BlockingWork``), off the caller's task.
    public static func start(_ configuration: ServerConfiguration, logger: Logger) async throws -> InferenceServer {
        HostAPI.setLogSink { level, message in
            switch level {
            case .error: logger.error("\(message)")
            case .warning: logger.warning("\(message)")
            case .info: logger.info("\(message)")
            case .debug: logger.debug("\(message)")
            }
        }
        var evidenceProvider = try await endorse(
            makeEvidenceProvider(configuration.attestation, agent: configuration.attestationAgent, logger: logger),
            configuration, logger: logger)
        if let certificates = configuration.snpCertificates {
            evidenceProvider = EndorsingEvidenceProvider(
                evidenceProvider, endorsements: Endorsements(snpCertificates: certificates))
        }
        let register =
            CoCoEvidenceProvider.agent(behind: evidenceProvider).map {
                AnchoringRegister(name: "aael", anchor: AttestationAgentAnchor(agent: $0))
            } ?? evidenceProvider.anchoringRegister
        let measurements = MeasurementLog(anchors: register.map { [$0.anchor] } ?? [])
        let endorsed = evidenceProvider
        // Measuring, loading plugins and models and fetching keys read files and wait for agents and key brokers.
        let loaded = try await BlockingWork.run {
            try load(configuration, provider: endorsed, register: register?.name, into: measurements, logger: logger)
        }
        let (handlers, registry, metricsFactory, keyStore, repository) =
            (loaded.handlers, loaded.registry, loaded.metricsFactory, loaded.keyStore, loaded.repository)
        try checkExposure(configuration, logger: logger)
        let deadlines = DeadlinePolicy(default: configuration.requestTimeout, maximum: configuration.maxRequestTimeout)
        let api = OpenAIAPI(
            repository: repository, deadlines: deadlines,
            next: TasksAPI(
                repository: repository, deadlines: deadlines,
                next: InferenceAPI(repository: repository, deadlines: deadlines)))
        // The gateway decrypts, routes the inner request with the same router and hands it to the same chain as
        // plaintext requests, so tokens inside encrypted requests are checked the same way.
        let authorized: any RouteResponder =
            configuration.tokens.map {
                BearerAuthorization(tokens: $0, scope: .inference, guarding: api)
            } ?? api
        let attestation = AttestationAPI(
            provider: evidenceProvider, keyStore: keyStore, measurements: measurements,
            register: register?.name ?? "none", next: authorized, logger: logger)
        let gateway = ObliviousGatewayAPI(
            keyStore: keyStore, next: attestation, configuration: configuration.oblivious,
            maxContentSize: configuration.maxBodySize, logger: logger)
        let inference = Listener(surface: .inference, sites: SitePolicy(boundTo: configuration.host), next: gateway)
        // Buffers of requests and responses go back to the OS when freed, so the memory budget bounds the resident set.
        _ = confide_return_large_blocks(Self.largeBlock)
        let budget = MemoryBudget(limit: configuration.memoryBudget)
        let limits = configuration.connections.forListeners()
        if limits.inference.maxConnections < configuration.connections.maxConnections {
            logger.warning(
                "connection limit lowered to fit the file-descriptor limit",
                metadata: ["max_connections": "\(limits.inference.maxConnections)"])
        }
        let http: HTTPServer
        do {
            http = try await HTTPServer.start(
                host: configuration.host, port: configuration.port,
                responder: ResponseCounter(api: "inference", counting: inference, factory: metricsFactory),
                maxBodySize: configuration.maxBodySize, limits: limits.inference, budget: budget,
                renderError: ErrorFormat.kserve.response)
        } catch {
            await Self.stop(repository)
            throw error
        }
        logger.info("inference API listening", metadata: ["address": "\(http.localAddress)"])
        var grpc: GRPCListener?
        if let port = configuration.grpcPort {
            let service = GRPCInferenceService(
                repository: repository, deadlines: deadlines, tokens: configuration.tokens, budget: budget,
                limits: KServeLimits())
            let listener: GRPCListener
            do {
                listener = try await GRPCListener.start(
                    host: configuration.host, port: port, service: service, maxMessageSize: configuration.maxBodySize,
                    idleTimeout: configuration.connections.idleTimeout)
            } catch {
                await http.shutdown()
                await Self.stop(repository)
                throw error
            }
            logger.info("KServe v2 gRPC listening", metadata: ["address": "\(configuration.host):\(listener.port)"])
            grpc = listener
        }
        logger.info(
            "oblivious HTTP gateway ready",
            metadata: ["key_id": "\(keyStore.currentConfiguration.keyID)", "path": "\(ObliviousGatewayAPI.path)"])
        var management: HTTPServer?
        if let port = configuration.managementPort {
            let managementAPI = ManagementAPI(repository: repository)
            let authorized: any RouteResponder =
                configuration.tokens.map {
                    BearerAuthorization(tokens: $0, scope: .management, guarding: managementAPI)
                } ?? managementAPI
            let listener = Listener(
                surface: .management, sites: SitePolicy(boundTo: configuration.managementHost), next: authorized)
            let server = try await HTTPServer.start(
                host: configuration.managementHost, port: port,
                responder: ResponseCounter(api: "management", counting: listener, factory: metricsFactory),
                maxBodySize: 64 << 10, limits: limits.management, budget: budget,
                renderError: ErrorFormat.torchServe.response)
            logger.info("management API listening", metadata: ["address": "\(server.localAddress)"])
            management = server
        }
        var metrics: HTTPServer?
        if let port = configuration.metricsPort {
            let server = try await HTTPServer.start(
                host: configuration.host, port: port,
                responder: Listener(
                    surface: .metrics, sites: SitePolicy(boundTo: configuration.host),
                    next: MetricsAPI(registry: registry)),
                maxBodySize: 4096, limits: limits.metrics, budget: budget, renderError: ErrorFormat.kserve.response)
            logger.info("metrics listening", metadata: ["address": "\(server.localAddress)"])
            metrics = server
        }
        return InferenceServer(
            handlers: handlers, repository: repository, keyStore: keyStore, evidenceProvider: evidenceProvider,
            http: http, grpc: grpc, management: management, metrics: metrics, logger: logger)
    }

    /// What ``start(_:logger:)`` loads before it listens.
    private struct Loaded: Sendable {
        let handlers: HandlerRegistry
        let registry: PrometheusCollectorRegistry
        let metricsFactory: PrometheusMetricsFactory
        let keyStore: GatewayKeyStore
        let repository: ModelRepository
    }

    /// Records the start-up measurements, loads the plugins, kernels and models and makes the gateway's keys: the
    /// blocking part of a start.
    private static func load(
        _ configuration: ServerConfiguration, provider: any EvidenceProvider, register: String?,
        into measurements: MeasurementLog, logger: Logger
    ) throws -> Loaded {
        try StartupMeasurements.record(configuration, provider: provider, into: measurements)
        logger.info("measurement log", metadata: ["anchored_in": "\(register ?? "report data only")"])
        let handlers = HandlerRegistry.scan(directory: configuration.handlersDirectory, measurements: measurements)
        for plugin in handlers.plugins.values.sorted(by: { $0.name < $1.name }) {
            logger.info(
                "handler loaded",
                metadata: ["handler": "\(plugin.name)", "version": "\(plugin.version)", "path": "\(plugin.origin)"])
        }
        for refusal in handlers.refusals {
            logger.error("plugin refused: \(refusal.error.message)")
        }
        let registry = PrometheusCollectorRegistry()
        let metricsFactory = MetricsAPI.factory(for: registry)
        let topology = try Topology.current()
        logger.info("topology", metadata: ["nodes": "\(topology.nodes.map { "node \($0.id): cpus \($0.cpus)" })"])
        let kernels = try KernelSelection.activate(
            from: Array(handlers.kernelPlugins.values), explicit: configuration.kernels)
        logger.info(
            "kernels", metadata: ["plugin": "\(kernels.plugin?.name ?? "none")", "reason": "\(kernels.reason)"])
        let keyStore = try makeKeyStore(configuration, logger: logger)
        let repository = try ModelRepository(
            store: ModelStore(
                path: configuration.modelsDirectory, layout: configuration.modelLayout,
                keys: archiveKeys(configuration.keyProvider),
                requiredEncryption: configuration.requiredEncryption),
            handlers: handlers,
            options: ModelRepository.Options(
                topology: topology, pinWorkers: configuration.pinWorkers,
                metricsFactory: metricsFactory, measurements: measurements),
            logger: logger)
        return Loaded(
            handlers: handlers, registry: registry, metricsFactory: metricsFactory, keyStore: keyStore,
            repository: repository)
    }

    /// The gateway's keys: generated in memory, or a key shared by replicas from the key provider, whose
    /// key id is derived from the key so that every replica agrees on it.
    private static func makeKeyStore(_ configuration: ServerConfiguration, logger: Logger) throws -> GatewayKeyStore {
        let oblivious = configuration.oblivious
        var now: @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
        if let clock = oblivious.clock {
            now = { clock.instant }
        }
        guard let text = oblivious.sharedKeyName else {
            return try GatewayKeyStore(suites: oblivious.suites, gracePeriod: oblivious.gracePeriod, now: now)
        }
        let name: KeyName
        do throws(KeyNameError) {
            name = try KeyName(text)
        } catch {
            throw KeyProviderError("the shared gateway key name is refused: \(error.message)")
        }
        guard let provider = configuration.keyProvider else {
            throw KeyProviderError("a shared gateway key ('\(name)') needs a key provider (--key-provider)")
        }
        let raw = try provider.key(named: name).withUnsafeBytes { Array($0) }
        let keyID = SHA256.hash(data: raw).withUnsafeBytes { $0[0] }
        let key = try GatewayKey(rawPrivateKey: raw, keyID: keyID, suites: oblivious.suites)
        logger.info("gateway key shared by replicas", metadata: ["key_name": "\(name)", "key_id": "\(keyID)"])
        return try GatewayKeyStore(currentKey: key, gracePeriod: oblivious.gracePeriod, now: now)
    }

    private static func makeEvidenceProvider(
        _ source: AttestationSource, agent: CoCoAttestationAgent, logger: Logger
    ) async throws -> any EvidenceProvider {
        let insecure =
            "INSECURE: serving SIMULATED attestation evidence that proves nothing about this machine; "
            + "requests are NOT confidential. Clients refuse it unless they opt in."
        let provider: any EvidenceProvider
        var warning: String?
        switch source {
        case .automatic:
            let automatic = try await AutomaticEvidenceProvider.detect(agent: agent)
            warning = automatic.warning
            provider = automatic
        case .simulated:
            provider = try SimulatedEvidenceProvider()
        case .tdx:
            provider = try ConfigFSTSMProvider(expected: .tdxQuote)
        case .snp:
            provider = try ConfigFSTSMProvider(expected: .snpReport)
        case .coco:
            provider = try await CoCoEvidenceProvider(agent: agent)
        case .provider(let chosen):
            provider = chosen
        }
        if provider.isInsecure {
            logger.critical("\(warning ?? insecure)")
        }
        logger.info("attestation evidence", metadata: ["type": "\(provider.evidenceType.rawValue)"])
        return provider
    }

    /// The provider, serving the operator's endorsements with its evidence when there are any.
    private static func endorse(_ provider: any EvidenceProvider, _ configuration: ServerConfiguration, logger: Logger)
        async throws -> any EvidenceProvider
    {
        if let json = configuration.tdxCollateral {
            let collateral = try TDXCollateral(json: json)
            let tcbInfo = collateral.tcbInfo
            let nextUpdate = min(tcbInfo.nextUpdate, collateral.qeIdentity.nextUpdate, collateral.pckCRL.nextUpdate)
            logger.info(
                "serving TDX collateral",
                metadata: [
                    "fmspc": "\(Hex.encode(tcbInfo.fmspc))",
                    "tcb_evaluation_data_number": "\(tcbInfo.tcbEvaluationDataNumber)",
                    "next_update": "\(nextUpdate)",
                ])
            if provider.evidenceType != .tdxQuote {
                logger.warning("--tdx-collateral is served, but the evidence is \(provider.evidenceType.rawValue)")
            }
            return EndorsingEvidenceProvider(provider, endorsements: Endorsements(tdxCollateral: json))
        }
        guard let url = configuration.tdxCollateralURL else {
            return provider
        }
        // The platform's FMSPC and PCK CA come from a quote it produces.
        let evidence = try await provider.evidence(reportData: [UInt8](repeating: 0, count: 64))
        guard evidence.type == .tdxQuote else {
            throw AttestationError(
                .providerMismatch, "--tdx-collateral-url needs TDX evidence, the server's is \(evidence.type.rawValue)")
        }
        let fetcher = try TDXCollateralFetcher(
            baseURL: url, quote: try TDXQuote(bytes: evidence.bytes), logger: logger,
            transport: configuration.tdxCollateralTransport)
        try await fetcher.fetch()
        return EndorsingEvidenceProvider(provider) { Endorsements(tdxCollateral: await fetcher.current()) }
    }

    private static func archiveKeys(_ provider: (any KeyProvider)?) -> ArchiveKeyLookup? {
        guard let provider else { return nil }
        return { (name: KeyName) throws -> SymmetricKey in try provider.key(named: name) }
    }

    /// Refuses to serve without tokens on an address other than loopback unless the operator allowed it;
    /// says loudly when the APIs are open.
    private static func checkExposure(_ configuration: ServerConfiguration, logger: Logger) throws(AuthorizationError) {
        guard configuration.tokens == nil else { return }
        var exposed = [configuration.host]
        if configuration.managementPort != nil { exposed.append(configuration.managementHost) }
        if let open = exposed.first(where: { !SitePolicy.isLoopback($0) }), !configuration.allowUnauthenticated {
            throw AuthorizationError(
                "refusing to serve on \(open) without a token file: give --tokens FILE, or --allow-unauthenticated to accept anyone who can reach it"
            )
        }
        logger.warning(
            "no token file: the inference and management APIs accept every request that reaches \(exposed.joined(separator: ", "))"
        )
    }

    /// Stops the workers of every model (joining their threads) on the blocking pool.
    private static func stop(_ repository: ModelRepository) async {
        do {
            try await BlockingWork.run { repository.shutdown() }
        } catch {
            // The pool no longer runs work: stop them here rather than leave them running.
            repository.shutdown()
        }
    }

    /// The size from which the C allocator maps each block on its own and unmaps it when freed.
    static let largeBlock: Int32 = 256 << 10

    /// Stops accepting connections, answers every request already received, then stops the workers.
    public func shutdown() async {
        logger.info("shutting down: no new connections; finishing the requests already received")
        await management?.shutdown()
        async let inference: Void = http.shutdown()
        await grpc?.shutdown()
        await inference
        await Self.stop(repository)
        await metrics?.shutdown()
        logger.info("stopped")
    }
}
