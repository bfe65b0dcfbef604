#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// The gateway's one clock: the wall-clock time read once when the clock is made, advanced by the monotonic clock.
///
/// The host sets the wall clock and may move it at any time; the monotonic clock only goes forward. The replay
/// guard's window and the `Date` check (``BinaryHTTPRequest/checkDate(now:allowedSkew:)``) both read this clock,
/// so moving the host's wall clock after the clock is made changes neither: a request whose encapsulated key the
/// replay guard has forgotten stays too old for the `Date` check.
public struct GatewayClock: Sendable {
    private let startDate: Date
    private let startInstant: ContinuousClock.Instant
    private let monotonic: @Sendable () -> ContinuousClock.Instant

    /// Reads `wallClock` once, now, and from then on counts monotonic time from `monotonic`; inject both in tests.
    public init(
        wallClock: () -> Date = { Date() },
        monotonic: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.startDate = wallClock()
        self.startInstant = monotonic()
        self.monotonic = monotonic
    }

    /// The monotonic time now, for windows and expiries.
    public var instant: ContinuousClock.Instant { monotonic() }

    /// The wall-clock time now: the time read at start plus the monotonic time elapsed since.
    public var date: Date {
        let elapsed = (monotonic() - startInstant).components
        return startDate + (Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18)
    }
}
