import Synchronization

/// A monotonic clock that moves only when a test advances it.
public final class ManualClock: Sendable {
    private let start = ContinuousClock.now
    private let elapsed = Mutex<Duration>(.zero)

    /// Creates a clock that stands still until ``advance(by:)``.
    public init() {}

    /// Moves the clock forward by `duration`.
    public func advance(by duration: Duration) {
        self.elapsed.withLock { $0 += duration }
    }

    /// The closure to inject where a type takes `now`.
    public var now: @Sendable () -> ContinuousClock.Instant {
        { [start, self] in start + self.elapsed.withLock { $0 } }
    }
}
