import NIOCore
import NIOPosix

/// Work that would stall an event loop (decoding a large body, loading or unloading a model, a key fetch, the start-up
/// measurements) runs on the server's blocking pool, never on an event loop or on a thread of the Swift concurrency
/// pool.
///
/// The pool has ``threadCount`` threads, more than a machine has cores: most of this work waits (for a key broker,
/// for a model's workers to start or drain), and a model load that takes minutes must not hold up the decoding of
/// large bodies.
enum BlockingWork {
    /// The number of the pool's threads.
    static let threadCount = max(16, System.coreCount * 2)

    private static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: threadCount)
        pool.start()
        return pool
    }()

    /// Runs `work` on the blocking pool; `reply` gets 503 instead when the pool no longer runs work.
    static func answer(_ reply: @escaping RouteReply, _ work: @escaping @Sendable () -> Void) {
        pool.submit { state in
            guard case .active = state else { return reply(.failure(.overloaded("the server is shutting down"))) }
            work()
        }
    }

    /// Runs `work` on the blocking pool and returns its result to the awaiting task.
    static func run<Result: Sendable>(_ work: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await pool.runIfActive(work)
    }
}
