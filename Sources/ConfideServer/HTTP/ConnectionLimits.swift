import Glibc
import NIOCore
import Synchronization

/// The limits of one HTTP listener's connections: how many may be open and how long each stage of a request
/// may take.
public struct ConnectionLimits: Sendable, Equatable {
    /// The most connections open at once. At the limit a new connection closes the connection idle the longest
    /// (one with no request in progress); when every connection is busy the new one is closed.
    public var maxConnections: Int = 10_000
    /// How long a kept-alive connection may wait for the first byte of its next request.
    public var idleTimeout: Duration = .seconds(60)
    /// How long a request head may take to arrive, from its first byte (from the accept for a new connection).
    public var headerTimeout: Duration = .seconds(10)
    /// How long a request body may take to arrive, from the end of its head; past it the request gets 408.
    public var bodyTimeout: Duration = .seconds(60)
    /// How long writing a response may go without progress before the connection is cut off.
    public var writeTimeout: Duration = .seconds(30)

    /// Creates the default limits.
    public init() {}
}

/// The process's limit on open file descriptors.
enum FileDescriptorLimit {
    /// File descriptors kept for everything but connections: plugins, model files, event loops, pipes.
    static let reserved = 128

    /// Raises the soft limit to the hard limit, as servers do at start, and returns the soft limit then in force.
    static func raiseToHardLimit() -> Int {
        var limits = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 else { return 1024 }
        if limits.rlim_cur < limits.rlim_max {
            var raised = limits
            raised.rlim_cur = limits.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limits = raised }
        }
        return limits.rlim_cur > UInt64(Int.max) ? Int.max : Int(limits.rlim_cur)
    }
}

extension ConnectionLimits {
    /// The most connections the management and the metrics listeners each keep open.
    static let auxiliaryConnections = 64

    /// The limits of the inference, management and metrics listeners: the soft file-descriptor limit is raised to
    /// the hard limit, and the inference listener's `maxConnections` lowered so that the three listeners together
    /// stay below it.
    func forListeners() -> (inference: ConnectionLimits, management: ConnectionLimits, metrics: ConnectionLimits) {
        let descriptors = FileDescriptorLimit.raiseToHardLimit()
        var auxiliary = self
        auxiliary.maxConnections = min(maxConnections, Self.auxiliaryConnections)
        var inference = self
        let room = descriptors - FileDescriptorLimit.reserved - 2 * auxiliary.maxConnections
        inference.maxConnections = max(min(maxConnections, room), 1)
        return (inference, auxiliary, auxiliary)
    }
}

/// The open connections of one listener, with the time each became idle, so that a new connection at the limit
/// can close the one idle the longest.
final class ConnectionRegistry: Sendable {
    /// The most connections open at once.
    let limit: Int
    private let connections = Mutex<[ObjectIdentifier: ConnectionSlot]>([:])

    init(limit: Int) {
        self.limit = max(limit, 1)
    }

    /// The connections open now.
    var count: Int { connections.withLock { $0.count } }

    /// Registers a new connection; at the limit it first closes the connection idle the longest. Returns false,
    /// registering nothing, when every open connection has a request in progress.
    func admit(_ slot: ConnectionSlot) -> Bool {
        let victim: ConnectionSlot? = connections.withLock { open in
            var evicted: ConnectionSlot?
            if open.count >= limit {
                guard let idlest = Self.evictIdlest(open) else { return nil }
                open[ObjectIdentifier(idlest)] = nil
                evicted = idlest
            }
            open[ObjectIdentifier(slot)] = slot
            return evicted ?? slot
        }
        guard let victim else { return false }
        if victim !== slot { victim.channel.close(promise: nil) }
        return true
    }

    /// Forgets a closed connection.
    func remove(_ slot: ConnectionSlot) {
        _ = connections.withLock { $0.removeValue(forKey: ObjectIdentifier(slot)) }
    }

    /// Marks the connection idle the longest as evicted and returns it; nil when none is idle.
    private static func evictIdlest(_ open: [ObjectIdentifier: ConnectionSlot]) -> ConnectionSlot? {
        while true {
            var idlest: ConnectionSlot?
            var since = ConnectionSlot.evicted
            for slot in open.values {
                let value = slot.idleSince.load(ordering: .relaxed)
                if value < since {
                    since = value
                    idlest = slot
                }
            }
            guard let idlest else { return nil }
            let (exchanged, _) = idlest.idleSince.compareExchange(
                expected: since, desired: ConnectionSlot.evicted, ordering: .relaxed)
            if exchanged { return idlest }
        }
    }
}

/// One open connection as its listener's registry sees it.
final class ConnectionSlot: Sendable {
    /// `idleSince` of a connection with a request in progress.
    static let busy = UInt64.max
    /// `idleSince` of a connection chosen to be closed.
    static let evicted = UInt64.max - 1

    /// The connection.
    let channel: any Channel
    /// When the connection last had no request in progress (uptime in nanoseconds), or `busy`, or `evicted`.
    let idleSince: Atomic<UInt64>

    init(channel: any Channel, idleSince: NIODeadline) {
        self.channel = channel
        self.idleSince = Atomic(idleSince.uptimeNanoseconds)
    }
}
