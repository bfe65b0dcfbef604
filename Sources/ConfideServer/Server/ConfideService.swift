import ConfideEnvelope
public import Logging
public import ServiceLifecycle
import Synchronization

/// The inference server as a service of a `ServiceGroup`, which owns its whole life.
///
/// `run()` starts the server (loads the plugins and models and binds the inference, gRPC, management and metrics
/// listeners), then rotates the gateway's keys as a child task until a graceful shutdown (SIGTERM or SIGINT in
/// `confide serve`). Then it stops accepting connections, answers every request already received, stops the
/// workers and returns. ``waitUntilListening()`` tells a caller when the listeners are bound and on which ports.
///
/// ```swift
/// let service = ConfideService(configuration: configuration, logger: logger)
/// let group = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
public final class ConfideService: Service, Sendable {
    private let configuration: ServerConfiguration
    private let logger: Logger
    private let phase = Mutex(Phase.starting([]))

    private enum Phase {
        case starting([CheckedContinuation<InferenceServer, any Error>])
        case started(Result<InferenceServer, any Error>)
    }

    /// A service that serves with `configuration` and logs to `logger` once it runs.
    public init(configuration: ServerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Starts the server, serves until a graceful shutdown or cancellation, then drains and stops it. Throws why the
    /// server did not start.
    public func run() async throws {
        let server: InferenceServer
        do {
            server = try await InferenceServer.start(configuration, logger: logger)
        } catch {
            publish(.failure(error))
            throw error
        }
        publish(.success(server))
        let oblivious = configuration.oblivious
        // A key shared by replicas comes from the key broker and is never rotated here.
        let rotation = oblivious.sharedKeyName == nil ? oblivious.rotationInterval : nil
        let logger = logger
        await withDiscardingTaskGroup { group in
            if let rotation {
                group.addTask { await Self.rotateKeys(of: server, every: rotation, logger: logger) }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        await server.shutdown()
    }

    /// Waits until ``run()`` has bound every listener and returns the started server (its ports, models and keys);
    /// throws why it did not start.
    public func waitUntilListening() async throws -> InferenceServer {
        try await withCheckedThrowingContinuation { continuation in
            let started: Result<InferenceServer, any Error>? = phase.withLock { phase in
                switch phase {
                case .starting(var waiting):
                    waiting.append(continuation)
                    phase = .starting(waiting)
                    return nil
                case .started(let result):
                    return result
                }
            }
            if let started { continuation.resume(with: started) }
        }
    }

    private func publish(_ result: Result<InferenceServer, any Error>) {
        let waiting = phase.withLock { phase in
            let waiting: [CheckedContinuation<InferenceServer, any Error>]
            if case .starting(let list) = phase { waiting = list } else { waiting = [] }
            phase = .started(result)
            return waiting
        }
        for continuation in waiting { continuation.resume(with: result) }
    }

    /// Replaces the gateway's current key every `interval` (the previous one stays valid for the grace period) until
    /// the task is cancelled.
    private static func rotateKeys(of server: InferenceServer, every interval: Duration, logger: Logger) async {
        while (try? await Task.sleep(for: interval)) != nil {
            let rotated = server.keyStore.rotate()
            logger.info("gateway key rotated", metadata: ["key_id": "\(rotated.keyID)"])
        }
    }
}
