import ArgumentParser
import ConfideAttestation
import ConfideRuntime
import ConfideServer
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// `confide serve`: load the handlers and models and serve them until SIGTERM or SIGINT, then finish
/// every request already received and exit.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the models of a model store.")

    @Option(help: "The folder scanned for handler plugins (*.so).")
    var handlers = "handlers"

    @Option(help: "The model store: one folder per model, each with a model.json.")
    var models = "models"

    @Option(
        help: ArgumentHelp(
            "Serve the one model this folder is (KServe's /mnt/models) instead of a model store: model.json with its "
                + "files, or a single archive *.cfa.", valueName: "folder"))
    var modelDir: String?

    @Option(help: "The name the model of --model-dir is served as (on KServe, the InferenceService's name).")
    var modelName: String?

    @Option(help: "The address the inference API and metrics bind.")
    var host = "127.0.0.1"

    @Option(help: "The inference API's port.")
    var port = 8080

    @Option(help: "The KServe v2 gRPC port (Triton's default); 0 picks a free port.")
    var grpcPort = 8001

    @Flag(help: "Serve no KServe v2 gRPC.")
    var noGrpc = false

    @Option(help: "The Prometheus metrics port (GET /metrics); 0 picks a free port.")
    var metricsPort = 8082

    @Flag(help: "Serve no metrics.")
    var noMetrics = false

    @Option(help: "The address the management API binds (keep it on loopback unless it is firewalled).")
    var managementHost = "127.0.0.1"

    @Option(help: "The management API's port; 0 picks a free port.")
    var managementPort = 8081

    @Flag(help: "Serve no management API.")
    var noManagement = false

    @Option(help: "The largest request body accepted, in bytes.")
    var maxBodySize = 16 << 20

    @Option(
        help: ArgumentHelp(
            "The bytes of request bodies in flight and responses not yet written the server may hold; beyond, 503.",
            valueName: "bytes"))
    var memoryBudget = 1 << 30

    @Option(help: "The most open connections of the inference API (kept below the file-descriptor limit).")
    var maxConnections = 10_000

    @Option(help: ArgumentHelp("How long a kept-alive connection may wait for its next request.", valueName: "seconds"))
    var idleTimeout = 60

    @Option(help: ArgumentHelp("How long a request head may take to arrive.", valueName: "seconds"))
    var headerTimeout = 10

    @Option(help: ArgumentHelp("How long a request body may take to arrive; beyond, 408.", valueName: "seconds"))
    var bodyTimeout = 60

    @Option(
        help: ArgumentHelp(
            "How long writing a response may go without progress before the connection is cut.", valueName: "seconds"))
    var writeTimeout = 30

    @Option(help: "How long a request may wait for a worker, in milliseconds, unless its model or the request says.")
    var requestTimeoutMs = 60_000

    @Option(help: "The longest wait a request may ask for with KServe's timeout parameter, in milliseconds.")
    var maxRequestTimeoutMs = 600_000

    @Flag(help: "Do not pin worker threads to their cores.")
    var noPin = false

    @Option(
        help:
            "A JSON token file: [{\"name\", \"sha256\" (hex of the token), \"scopes\": [\"inference\", \"management\"], \"models\"}]."
    )
    var tokens: String?

    @Flag(help: "Serve without a token file on an address other than loopback.")
    var allowUnauthenticated = false

    @Option(
        help:
            "Where keys of encrypted model archives come from: file:DIR (key files) or cdh[:HOST:PORT] (the Confidential Data Hub, 127.0.0.1:8006)."
    )
    var keyProvider: String?

    @Flag(help: "Serve only encrypted model archives: refuse every model that is a folder or a plain archive.")
    var requireEncrypted = false

    @Option(
        help: ArgumentHelp(
            "Refuse the named model unless it is an encrypted archive (repeatable).", valueName: "name"))
    var requireEncryptedModel: [String] = []

    @Option(
        help:
            "The name of an X25519 private key, from --key-provider, that every replica uses for the gateway (rotation is then off)."
    )
    var ohttpKey: String?
    @Option(help: "Force a kernel plugin by name (default: the best this CPU supports, or $CONFIDE_KERNELS).")
    var kernels: String?

    @Option(
        help: """
            Where attestation evidence comes from: auto (TDX or SEV-SNP through configfs-tsm when present, otherwise \
            through the Confidential Containers attestation agent at 127.0.0.1:8006 when it answers, otherwise simulated \
            with a warning), simulated (insecure), tdx or snp (configfs-tsm), or coco (the attestation agent, inside a \
            Confidential Containers pod).
            """)
    var attestation: AttestationMode = .auto

    @Option(
        name: .customLong("tdx-collateral"),
        help: ArgumentHelp(
            "Intel PCS collateral for this platform (the JSON dcap-qvl and dstack use), served with the TDX evidence.",
            valueName: "file"))
    var tdxCollateral: String?

    @Option(
        name: .customLong("tdx-collateral-url"),
        help: ArgumentHelp(
            """
            A PCCS or Intel PCS base URL (e.g. https://api.trustedservices.intel.com) to fetch this platform's TDX \
            collateral from at start and before it expires, served with the evidence.
            """,
            valueName: "url"))
    var tdxCollateralURL: String?

    @Option(
        help: ArgumentHelp(
            "The SEV-SNP VCEK or VLEK chain (PEM or DER) served with the evidence when the host attaches none.",
            valueName: "file"))
    var snpCertificates: String?

    @Option(
        name: .customLong("ohttp-rotation"),
        help: ArgumentHelp(
            "Seconds between rotations of the gateway key; 0 keeps the start-up key.", valueName: "seconds"))
    var ohttpRotation = 86_400

    @Option(
        name: .customLong("ohttp-grace"),
        help: ArgumentHelp(
            "Seconds a rotated-out key is still accepted.", valueName: "seconds"))
    var ohttpGrace = 3_600

    @Option(
        name: .customLong("ohttp-date-skew"),
        help: ArgumentHelp(
            "Seconds an encrypted request's Date may differ from the server's clock.", valueName: "seconds"))
    var ohttpDateSkew = 60

    @Flag(name: .customLong("ohttp-require-date"), help: "Refuse encrypted requests without a Date header field.")
    var ohttpRequireDate = false

    /// The evidence providers `--attestation` names.
    enum AttestationMode: String, ExpressibleByArgument, CaseIterable {
        case auto, simulated, tdx, snp, coco

        var source: AttestationSource {
            switch self {
            case .auto: .automatic
            case .simulated: .simulated
            case .tdx: .tdx
            case .snp: .snp
            case .coco: .coco
            }
        }
    }

    func validate() throws {
        guard (modelDir == nil) == (modelName == nil) else {
            throw ValidationError("--model-dir and --model-name go together")
        }
        guard tdxCollateral == nil || tdxCollateralURL == nil else {
            throw ValidationError("give --tdx-collateral or --tdx-collateral-url, not both")
        }
        guard ohttpRotation >= 0, ohttpGrace >= 0 else {
            throw ValidationError("--ohttp-rotation and --ohttp-grace must not be negative")
        }
        guard ohttpDateSkew > 0 else { throw ValidationError("--ohttp-date-skew must be positive") }
        guard maxConnections > 0, idleTimeout > 0, headerTimeout > 0, bodyTimeout > 0, writeTimeout > 0 else {
            throw ValidationError("--max-connections and the --*-timeout options must be positive")
        }
        guard memoryBudget >= maxBodySize else {
            throw ValidationError("--memory-budget (\(memoryBudget)) must be at least --max-body-size (\(maxBodySize))")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "confide")
        var configuration = ServerConfiguration(handlersDirectory: handlers, modelsDirectory: modelDir ?? models)
        if let modelName { configuration.modelLayout = .singleModel(modelName) }
        configuration.host = host
        configuration.port = port
        configuration.grpcPort = noGrpc ? nil : grpcPort
        configuration.metricsPort = noMetrics ? nil : metricsPort
        configuration.managementHost = managementHost
        configuration.managementPort = noManagement ? nil : managementPort
        configuration.maxBodySize = maxBodySize
        configuration.memoryBudget = memoryBudget
        configuration.connections.maxConnections = maxConnections
        configuration.connections.idleTimeout = .seconds(idleTimeout)
        configuration.connections.headerTimeout = .seconds(headerTimeout)
        configuration.connections.bodyTimeout = .seconds(bodyTimeout)
        configuration.connections.writeTimeout = .seconds(writeTimeout)
        configuration.requestTimeout = .milliseconds(requestTimeoutMs)
        configuration.maxRequestTimeout = .milliseconds(maxRequestTimeoutMs)
        configuration.pinWorkers = !noPin
        configuration.tokens = try tokens.map { path throws(AuthorizationError) in try TokenStore(contentsOf: path) }
        configuration.allowUnauthenticated = allowUnauthenticated
        configuration.keyProvider = try keyProvider.map(Self.keyProvider)
        configuration.requiredEncryption = EncryptionRequirement(
            everyModel: requireEncrypted, models: Set(requireEncryptedModel))
        configuration.kernels = kernels
        configuration.attestation = attestation.source
        if let tdxCollateral {
            guard let data = FileManager.default.contents(atPath: tdxCollateral) else {
                throw ValidationError("cannot read the TDX collateral \(tdxCollateral)")
            }
            configuration.tdxCollateral = Array(data)
        }
        configuration.tdxCollateralURL = tdxCollateralURL
        if let snpCertificates {
            guard let data = FileManager.default.contents(atPath: snpCertificates) else {
                throw ValidationError("cannot read the SEV-SNP certificates \(snpCertificates)")
            }
            _ = try SNPCertificateTable.derCertificates(in: Array(data))
            configuration.snpCertificates = Array(data)
        }
        configuration.oblivious.rotationInterval = ohttpRotation == 0 ? nil : .seconds(ohttpRotation)
        configuration.oblivious.gracePeriod = .seconds(ohttpGrace)
        configuration.oblivious.allowedDateSkew = .seconds(ohttpDateSkew)
        configuration.oblivious.requireDate = ohttpRequireDate
        configuration.oblivious.sharedKeyName = ohttpKey
        let service = ConfideService(configuration: configuration, logger: logger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    private static func keyProvider(_ text: String) throws -> any KeyProvider {
        if text.hasPrefix("file:") { return KeyFileProvider(directory: String(text.dropFirst(5))) }
        if text == "cdh" { return ConfidentialDataHubProvider() }
        let parts = text.split(separator: ":")
        if parts.count == 3, parts[0] == "cdh", let port = Int(parts[2]) {
            return ConfidentialDataHubProvider(host: String(parts[1]), port: port)
        }
        throw ValidationError("--key-provider must be file:DIR, cdh or cdh:HOST:PORT")
    }
}
