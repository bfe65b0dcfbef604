import NIOPosix

/// Work that would stall an event loop (decoding a large body, loading or unloading a model, a key fetch) runs on
/// NIO's shared blocking pool (`NIOThreadPool.singleton`, one thread per core), never on an event loop or on a
/// thread of the Swift concurrency pool.
enum BlockingWork {
    /// Runs `work` on the blocking pool; `reply` gets 503 instead when the pool no longer runs work.
    static func answer(_ reply: @escaping RouteReply, _ work: @escaping @Sendable () -> Void) {
        NIOThreadPool.singleton.submit { state in
            guard case .active = state else { return reply(.failure(.overloaded("the server is shutting down"))) }
            work()
        }
    }

    /// Runs `work` on the blocking pool and returns its result to the awaiting task.
    static func run<Result: Sendable>(_ work: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await NIOThreadPool.singleton.runIfActive(work)
    }
}
