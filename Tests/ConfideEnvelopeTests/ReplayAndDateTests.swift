import ConfideEnvelope
import ConfideTestSupport
import Foundation
import Synchronization
import Testing

struct ReplayGuardTests {
    @Test func rejectsRepeatsWithinTheWindowOnly() throws {
        let clock = ManualClock()
        let replayGuard = ReplayGuard(window: .seconds(30), clock: GatewayClock(monotonic: clock.now))
        let enc = [UInt8](repeating: 1, count: 32)
        try replayGuard.check(enc)
        #expect(throws: EnvelopeError.replayedRequest(reason: "")) { try replayGuard.check(enc) }
        try replayGuard.check([UInt8](repeating: 2, count: 32))
        clock.advance(by: .seconds(30))
        #expect(replayGuard.count == 0)
        try replayGuard.check(enc)
    }

    @Test func refusesNewEntriesWhenFull() throws {
        let clock = ManualClock()
        let replayGuard = ReplayGuard(window: .seconds(10), capacity: 2, clock: GatewayClock(monotonic: clock.now))
        try replayGuard.check([1])
        try replayGuard.check([2])
        #expect(throws: EnvelopeError.replayGuardFull(reason: "")) { try replayGuard.check([3]) }
        #expect(throws: EnvelopeError.replayedRequest(reason: "")) { try replayGuard.check([1]) }
        clock.advance(by: .seconds(10))
        try replayGuard.check([3])
    }

    @Test func staysBoundedUnderChurn() throws {
        let clock = ManualClock()
        let replayGuard = ReplayGuard(
            window: .milliseconds(10), capacity: 64, clock: GatewayClock(monotonic: clock.now))
        for value in 0..<20_000 {
            try replayGuard.check(withUnsafeBytes(of: value) { Array($0) })
            clock.advance(by: .milliseconds(1))
        }
        #expect(replayGuard.count <= 10)
    }

    @Test func isSafeUnderConcurrency() async throws {
        let replayGuard = ReplayGuard(window: .seconds(60))
        let accepted = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    (try? replayGuard.check([42])) != nil
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(accepted == 1)
    }
}

/// The replay window and the `Date` check read one clock that the host's wall clock cannot move after start.
struct GatewayClockTests {
    private static let start = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT

    @Test func readsTheWallClockOnceAndThenCountsMonotonicTime() {
        let monotonic = ManualClock()
        let hostWallClock = Mutex(Self.start)
        let clock = GatewayClock(wallClock: { hostWallClock.withLock { $0 } }, monotonic: monotonic.now)
        #expect(clock.date == Self.start)
        hostWallClock.withLock { $0 -= 3_600 }
        #expect(clock.date == Self.start)
        monotonic.advance(by: .milliseconds(2_500))
        #expect(clock.date == Self.start + 2.5)
        #expect(clock.instant == monotonic.now())
    }

    /// A request is accepted, its `enc` is forgotten after the replay window, then the host moves its wall clock
    /// back by that much: the replay is still refused, by its `Date`, because the gateway never reads the host's
    /// wall clock again.
    @Test func aForgottenRequestStaysRefusedWhenTheHostMovesItsClockBack() throws {
        let skew = Duration.seconds(60)
        let window = skew * 2 + .seconds(1)
        let monotonic = ManualClock()
        let hostWallClock = Mutex(Self.start)
        let clock = GatewayClock(wallClock: { hostWallClock.withLock { $0 } }, monotonic: monotonic.now)
        let gateway = OHTTPGateway(
            keyStore: try GatewayKeyStore(), replayGuard: ReplayGuard(window: window, clock: clock))
        let request = BinaryHTTPRequest(
            method: "GET", path: "/v2/models/echo",
            headerFields: [BinaryHTTPField(name: "date", value: HTTPDate.format(Self.start))])
        let sealed = try OHTTPClientRequest(sealing: try request.encoded(), for: gateway.keyStore.currentConfiguration)

        func accept() throws {
            let decapsulated = try gateway.decapsulateRequest(sealed.encapsulatedRequest)
            let inner = try BinaryHTTPRequest(decoding: decapsulated.binaryRequest)
            try inner.checkDate(now: clock.date, allowedSkew: skew)
        }
        try accept()
        #expect(throws: EnvelopeError.replayedRequest(reason: "")) { try accept() }

        monotonic.advance(by: window)
        hostWallClock.withLock { $0 += 121 }  // the host's clock kept time with the window...
        hostWallClock.withLock { $0 -= 121 }  // ...and then the host moves it back
        #expect(gateway.replayGuard?.count == 0, "the enc should be forgotten after the window")
        #expect(throws: EnvelopeError.dateOutsideSkew(reason: "")) { try accept() }
        // Read from the host's wall clock, as the gateway once did, the replay would pass the Date check.
        try request.checkDate(now: hostWallClock.withLock { $0 }, allowedSkew: skew)
    }
}

struct DateCheckTests {
    private static let now = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT

    private func request(date: String?) -> BinaryHTTPRequest {
        BinaryHTTPRequest(
            method: "GET",
            path: "/",
            headerFields: date.map { [BinaryHTTPField(name: "date", value: $0)] } ?? []
        )
    }

    @Test func parsesAndFormatsIMFFixdate() throws {
        #expect(try HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == Self.now)
        #expect(HTTPDate.format(Self.now) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(Date(timeIntervalSince1970: 0)) == "Thu, 01 Jan 1970 00:00:00 GMT")
        let leapDay = try HTTPDate.parse("Thu, 29 Feb 2024 23:59:59 GMT")
        #expect(HTTPDate.format(leapDay) == "Thu, 29 Feb 2024 23:59:59 GMT")
        for text in [
            "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 31 Apr 1994 08:49:37 GMT", "Sun, 29 Feb 2023 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:3x GMT", "",
        ] {
            #expect(throws: EnvelopeError.invalidDate(reason: "")) { try HTTPDate.parse(text) }
        }
    }

    @Test func checksTheInnerRequestDateAgainstTheSkew() throws {
        try self.request(date: "Sun, 06 Nov 1994 08:49:37 GMT").checkDate(now: Self.now, allowedSkew: .seconds(0))
        try self.request(date: "Sun, 06 Nov 1994 08:47:37 GMT").checkDate(now: Self.now, allowedSkew: .seconds(120))
        try self.request(date: "Sun, 06 Nov 1994 08:51:37 GMT").checkDate(now: Self.now, allowedSkew: .seconds(120))
        #expect(throws: EnvelopeError.dateOutsideSkew(reason: "")) {
            try self.request(date: "Sun, 06 Nov 1994 08:47:36 GMT").checkDate(now: Self.now, allowedSkew: .seconds(120))
        }
        #expect(throws: EnvelopeError.dateOutsideSkew(reason: "")) {
            try self.request(date: "Sun, 06 Nov 1994 08:51:38 GMT").checkDate(now: Self.now, allowedSkew: .seconds(120))
        }
        #expect(throws: EnvelopeError.missingDate(reason: "")) {
            try self.request(date: nil).checkDate(now: Self.now, allowedSkew: .seconds(120))
        }
        #expect(throws: EnvelopeError.invalidDate(reason: "")) {
            try self.request(date: "yesterday").checkDate(now: Self.now, allowedSkew: .seconds(120))
        }
    }
}

struct DateEdgeTests {
    @Test func formattingAndCheckingNeverTrapOnExtremeDates() throws {
        #expect(HTTPDate.format(Date(timeIntervalSince1970: .infinity)) == "Fri, 31 Dec 9999 23:59:59 GMT")
        #expect(HTTPDate.format(Date(timeIntervalSince1970: -.infinity)) == "Mon, 01 Jan 0001 00:00:00 GMT")
        #expect(HTTPDate.format(Date(timeIntervalSince1970: .nan)) == "Thu, 01 Jan 1970 00:00:00 GMT")
        let request = BinaryHTTPRequest(
            method: "GET",
            path: "/",
            headerFields: [BinaryHTTPField(name: "date", value: "Sun, 06 Nov 1994 08:49:37 GMT")]
        )
        #expect(throws: EnvelopeError.dateOutsideSkew(reason: "")) {
            try request.checkDate(now: Date(timeIntervalSince1970: .infinity), allowedSkew: .seconds(Int64.max))
        }
    }
}
