import ArgumentParser
import ConfideServer
import Dispatch
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `confide serve`: load the handlers and models and serve them until SIGINT or SIGTERM.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the models of a model store.")

    @Option(help: "The folder scanned for handler plugins (*.so).")
    var handlers = "handlers"

    @Option(help: "The model store: one folder per model, each with a model.json.")
    var models = "models"

    @Option(help: "The address the inference API binds.")
    var host = "127.0.0.1"

    @Option(help: "The inference API's port.")
    var port = 8080

    @Option(help: "The largest request body accepted, in bytes.")
    var maxBodySize = 16 << 20

    @Option(help: """
        Where attestation evidence comes from: auto (TDX or SEV-SNP through configfs-tsm when present, otherwise \
        simulated with a warning), simulated (insecure), tdx or snp.
        """)
    var attestation: AttestationMode = .auto

    @Option(name: .customLong("ohttp-rotation"), help: ArgumentHelp(
        "Seconds between rotations of the gateway key; 0 keeps the start-up key.", valueName: "seconds"))
    var ohttpRotation = 86_400

    @Option(name: .customLong("ohttp-grace"), help: ArgumentHelp(
        "Seconds a rotated-out key is still accepted.", valueName: "seconds"))
    var ohttpGrace = 3_600

    @Option(name: .customLong("ohttp-date-skew"), help: ArgumentHelp(
        "Seconds an encrypted request's Date may differ from the server's clock.", valueName: "seconds"))
    var ohttpDateSkew = 60

    @Flag(name: .customLong("ohttp-require-date"), help: "Refuse encrypted requests without a Date header field.")
    var ohttpRequireDate = false

    /// The evidence providers `--attestation` names.
    enum AttestationMode: String, ExpressibleByArgument, CaseIterable {
        case auto, simulated, tdx, snp

        var source: AttestationSource {
            switch self {
            case .auto: .automatic
            case .simulated: .simulated
            case .tdx: .tdx
            case .snp: .snp
            }
        }
    }

    func validate() throws {
        guard ohttpRotation >= 0, ohttpGrace >= 0 else {
            throw ValidationError("--ohttp-rotation and --ohttp-grace must not be negative")
        }
        guard ohttpDateSkew > 0 else { throw ValidationError("--ohttp-date-skew must be positive") }
    }

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "confide")
        var configuration = ServerConfiguration(handlersDirectory: handlers, modelsDirectory: models)
        configuration.host = host
        configuration.port = port
        configuration.maxBodySize = maxBodySize
        configuration.attestation = attestation.source
        configuration.oblivious.rotationInterval = ohttpRotation == 0 ? nil : .seconds(ohttpRotation)
        configuration.oblivious.gracePeriod = .seconds(ohttpGrace)
        configuration.oblivious.allowedDateSkew = .seconds(ohttpDateSkew)
        configuration.oblivious.requireDate = ohttpRequireDate
        let server = try await InferenceServer.start(configuration, logger: logger)
        let signal = await Signals.wait(for: [SIGINT, SIGTERM])
        logger.info("stopping", metadata: ["signal": "\(signal)"])
        await server.shutdown()
        logger.info("stopped")
    }
}

/// Waiting for a termination signal.
enum Signals {
    /// Returns the first of `signals` the process receives.
    static func wait(for signals: [Int32]) async -> Int32 {
        await withCheckedContinuation { continuation in
            let pending = Mutex<CheckedContinuation<Int32, Never>?>(continuation)
            let sources = signals.map { number in
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler {
                    pending.withLock { waiting in
                        waiting?.resume(returning: number)
                        waiting = nil
                    }
                }
                source.resume()
                return source
            }
            // The sources must outlive this call: they stay for the life of the process.
            _ = Unmanaged.passRetained(SignalSources(sources))
        }
    }

    private final class SignalSources {
        let sources: [any DispatchSourceSignal]

        init(_ sources: [any DispatchSourceSignal]) {
            self.sources = sources
        }
    }
}
