import Synchronization

/// A server-wide limit on the bytes held for clients: request bodies in flight, responses not yet written, and
/// whatever a responder charges while it decodes a request. Thread-safe; one per server, shared by its listeners.
///
/// Memory that is about to be allocated is reserved with ``tryReserve(_:)``, which refuses what would pass the
/// limit; memory that already exists (a response handed to a connection) is counted with ``charge(_:)``. Every
/// reservation and every charge is given back with one ``release(_:)`` of the same size.
public final class MemoryBudget: Sendable {
    /// The most bytes that may be held at once.
    public let limit: Int
    private let used = Atomic<Int>(0)

    /// Creates a budget of `limit` bytes (a negative limit counts as 0).
    public init(limit: Int) {
        self.limit = max(limit, 0)
    }

    /// A budget without a limit, for requests that no server counts (built in tests or by hand).
    public static let unlimited = MemoryBudget(limit: .max)

    /// The bytes reserved or charged and not yet released.
    public var inUse: Int { used.load(ordering: .relaxed) }

    /// The bytes that may still be reserved (0 once charges have passed the limit).
    public var available: Int { max(limit - inUse, 0) }

    /// Reserves `bytes` if they fit within the limit, and says whether they did. Reserving 0 bytes always succeeds;
    /// a negative count is refused.
    public func tryReserve(_ bytes: Int) -> Bool {
        guard bytes > 0 else { return bytes == 0 }
        var current = used.load(ordering: .relaxed)
        while true {
            let (total, overflow) = current.addingReportingOverflow(bytes)
            guard !overflow, total <= limit else { return false }
            let (exchanged, original) = used.compareExchange(
                expected: current, desired: total, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    /// Counts `bytes` that are already allocated, even past the limit: the next reservations are refused until
    /// enough is released. A negative count is ignored.
    public func charge(_ bytes: Int) {
        guard bytes > 0 else { return }
        used.wrappingAdd(bytes, ordering: .relaxed)
    }

    /// Gives back `bytes` reserved with ``tryReserve(_:)`` or counted with ``charge(_:)``. A negative count is
    /// ignored.
    public func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        used.wrappingSubtract(bytes, ordering: .relaxed)
    }
}
