import Synchronization

/// Remembers the encapsulated keys (`enc`) of requests seen within a time window and rejects repeats.
///
/// Memory is bounded: when ``capacity`` unexpired entries are held, new requests are refused with
/// ``EnvelopeError/Code/replayGuardFull`` rather than forgetting entries early, which would let replays through.
/// Pair the guard with ``BinaryHTTPRequest/checkDate(now:allowedSkew:)`` reading the same ``GatewayClock`` so that
/// requests older than the window are refused by their date. Thread-safe.
public final class ReplayGuard: Sendable {
    private struct Entry {
        let enc: [UInt8]
        let expiry: ContinuousClock.Instant
    }

    private struct State {
        var seen: Set<[UInt8]> = []
        var entries: [Entry] = []
        var head = 0
    }

    /// How long a seen `enc` is remembered.
    public let window: Duration

    /// The most entries remembered at once.
    public let capacity: Int

    private let state = Mutex(State())
    /// The clock the window is measured on.
    public let clock: GatewayClock

    /// Creates a guard that remembers each `enc` for `window` of `clock`'s time, holding at most `capacity` entries.
    public init(window: Duration, capacity: Int = 100_000, clock: GatewayClock = GatewayClock()) {
        self.window = window
        self.capacity = max(1, capacity)
        self.clock = clock
    }

    /// Records `enc`, or throws ``EnvelopeError/Code/replayedRequest`` if it was seen within the window.
    public func check(_ enc: [UInt8]) throws(EnvelopeError) {
        enum Outcome { case fresh, replayed, full }
        let now = self.clock.instant
        let outcome = self.state.withLock { state -> Outcome in
            Self.prune(&state, now: now)
            if state.seen.contains(enc) {
                return .replayed
            }
            guard state.seen.count < self.capacity else {
                return .full
            }
            state.seen.insert(enc)
            state.entries.append(Entry(enc: enc, expiry: now + self.window))
            return .fresh
        }
        switch outcome {
        case .fresh:
            return
        case .replayed:
            throw .replayedRequest(reason: "this encapsulated key was already used within the replay window")
        case .full:
            throw .replayGuardFull(reason: "the replay guard holds \(self.capacity) unexpired entries")
        }
    }

    /// How many entries are remembered now.
    public var count: Int {
        let now = self.clock.instant
        return self.state.withLock { state in
            Self.prune(&state, now: now)
            return state.seen.count
        }
    }

    private static func prune(_ state: inout State, now: ContinuousClock.Instant) {
        while state.head < state.entries.count, state.entries[state.head].expiry <= now {
            state.seen.remove(state.entries[state.head].enc)
            state.head += 1
        }
        if state.head > 1024, state.head * 2 > state.entries.count {
            state.entries.removeFirst(state.head)
            state.head = 0
        }
    }
}
