import Crypto
import Synchronization

/// Why an event could not be recorded or a log could not be read.
public struct MeasurementError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What happened, for people.
    public let message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Somewhere an event is anchored as it is recorded, so that evidence vouches for the log: a TDX runtime
/// measurement register, the Confidential Containers attestation agent's event log, or a simulated register.
public protocol MeasurementAnchor: Sendable {
    /// Records `event` (extends a register with its ``MeasurementEvent/eventDigest``, or appends it to a log).
    /// Called once per event, in log order, before the event takes effect.
    func anchor(_ event: MeasurementEvent) throws(MeasurementError)
}

/// A runtime measurement register replayed in software: starts at 48 zero bytes and is extended by
/// `SHA-384(register || eventDigest)`, as TDX extends RTMRs.
public enum MeasurementRegister {
    /// The register's value before any extension.
    public static let initial = [UInt8](repeating: 0, count: 48)

    /// The register after extending `register` with `digest`.
    public static func extend(_ register: [UInt8], with digest: [UInt8]) -> [UInt8] {
        var hasher = SHA384()
        hasher.update(data: register)
        hasher.update(data: digest)
        return Array(hasher.finalize())
    }

    /// The register after every event of `events`, in order, from ``initial``.
    public static func replay(_ events: some Sequence<MeasurementEvent>) -> [UInt8] {
        events.reduce(initial) { extend($0, with: $1.eventDigest) }
    }
}

/// The events of a log at one moment, and their digest.
public struct MeasurementLogSnapshot: Sendable, Hashable {
    /// The events in the order they were recorded.
    public let events: [MeasurementEvent]

    /// Wraps events.
    public init(events: [MeasurementEvent]) {
        self.events = events
    }

    /// The log's digest: the register that replaying every event gives (see ``MeasurementRegister``), 48 bytes.
    /// On TDX with RTMR3 anchoring, it equals RTMR3.
    public var digest: [UInt8] {
        MeasurementRegister.replay(self.events)
    }
}

/// The server's append-only, in-memory measurement log.
///
/// ``record(_:)`` appends an event and then anchors it with every anchor, under one lock so that the log and the
/// registers see events in the same order. An event whose anchoring fails stays in the log (the registers may
/// hold it already) and the action it describes must not proceed: the caller gets the error.
public final class MeasurementLog: Sendable {
    private let events = Mutex<[MeasurementEvent]>([])
    private let anchors: [any MeasurementAnchor]

    /// Creates an empty log that anchors every event with `anchors`.
    public init(anchors: [any MeasurementAnchor] = []) {
        self.anchors = anchors
    }

    /// Appends `event` and anchors it; throws when an anchor refuses it.
    public func record(_ event: MeasurementEvent) throws(MeasurementError) {
        try self.events.withLock { events throws(MeasurementError) in
            events.append(event)
            for anchor in self.anchors {
                try anchor.anchor(event)
            }
        }
    }

    /// The events recorded so far.
    public var snapshot: MeasurementLogSnapshot {
        MeasurementLogSnapshot(events: self.events.withLock { $0 })
    }

    /// The number of events recorded so far.
    public var count: Int {
        self.events.withLock { $0.count }
    }
}
