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

    @Option(help: "Force a kernel plugin by name (default: the best this CPU supports, or $CONFIDE_KERNELS).")
    var kernels: String?

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "confide")
        var configuration = ServerConfiguration(handlersDirectory: handlers, modelsDirectory: models)
        configuration.host = host
        configuration.port = port
        configuration.maxBodySize = maxBodySize
        configuration.kernels = kernels
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
