import ConfideClient
import ConfideEnvelope
import ConfideHTTPClient
import ConfideJSON
import ConfideServer
import ConfideServerTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@Suite("The gateway's one clock, over real HTTP on loopback")
struct ObliviousGatewayClockTests {
    /// A monotonic time source that runs with the real one and jumps ahead when the test advances it, so that a
    /// slow (loaded) test run does not move the gateway's clock away from the requests' `Date`s.
    final class SteppedClock: Sendable {
        private let offset = Mutex<Duration>(.zero)

        func advance(by duration: Duration) {
            offset.withLock { $0 += duration }
        }

        var now: @Sendable () -> ContinuousClock.Instant {
            { [self] in ContinuousClock.now + self.offset.withLock { $0 } }
        }
    }

    /// A request accepted once, refused as a replay, and once its `enc` is forgotten refused by its `Date`, which the
    /// gateway compares with the clock its replay window runs on.
    @Test func aRequestOlderThanTheReplayWindowIsRefusedByItsDate() async throws {
        let monotonic = SteppedClock()
        let server = try await TestServer.start { configuration in
            configuration.oblivious.allowedDateSkew = .seconds(30)
            configuration.oblivious.clock = GatewayClock(monotonic: monotonic.now)
        }
        defer { Task { await server.stop() } }
        let probe = GatewayProbe(port: server.port)
        let configuration = try #require(try await probe.keys().first)
        let sealed = try OHTTPClientRequest(sealing: try echoInfer("once").encoded(), for: configuration)
        func inner() async throws -> BinaryHTTPResponse {
            let response = try await probe.post(sealed.encapsulatedRequest)
            #expect(response.status == .ok, "\(response.text)")
            return try BinaryHTTPResponse(decoding: try sealed.openResponse(Array(response.body.readableBytesView)))
        }
        #expect(try await inner().status == 200)
        #expect(try await probe.post(sealed.encapsulatedRequest).status == .badRequest)

        monotonic.advance(by: .seconds(61))
        let replayed = try await inner()
        #expect(replayed.status == 400)
        let type = try JSONParser.parse(replayed.content).objectValue?["type"]?.stringValue
        #expect(type == ObliviousGatewayAPI.dateProblemType)
        let gatewayDate = try HTTPDate.parse(try #require(replayed.headerValue("date")))
        #expect(gatewayDate.timeIntervalSinceNow > 50, "the gateway's Date must be its own clock's, 61 s ahead")
    }
}
