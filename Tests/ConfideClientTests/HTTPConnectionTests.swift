import ConfideClient
import ConfideHTTPClient
import ConfideServer
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

@Suite("The client's HTTP connection")
struct HTTPConnectionTests {
    /// A server that closes every connection as soon as it accepts it, as a server at its connection limit does.
    @Test func aRequestOnAConnectionTheServerClosedFailsInsteadOfWaiting() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in channel.close() }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { server.close(promise: nil) }
        let connection = try await HTTPConnection.connect(host: "127.0.0.1", port: server.localAddress?.port ?? 0)
        try await Task.sleep(for: .milliseconds(200))
        let outcome = Mutex<String?>(nil)
        connection.sending(ClientRequest(method: .GET, uri: "/")).whenComplete { result in
            outcome.withLock { $0 = (try? result.get()) == nil ? "failed" : "answered" }
        }
        for _ in 0..<50 where outcome.withLock({ $0 }) == nil {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(outcome.withLock { $0 } == "failed")
    }

    /// A body of exactly the limit arrives; one byte more fails the request instead of being held.
    @Test func aResponseBodyOverTheLimitFailsItsRequest() async throws {
        let server = try await HTTPServer.start(
            host: "127.0.0.1", port: 0, responder: FixedBody(size: 1000), maxBodySize: 1024)
        defer { Task { await server.shutdown() } }
        let atLimit = try await HTTPConnection.connecting(
            host: "127.0.0.1", port: server.port, maxResponseBodySize: 1000
        ).get()
        defer { atLimit.closeNow() }
        #expect(try await atLimit.send(ClientRequest(method: .GET, uri: "/")).body.readableBytes == 1000)
        let below = try await HTTPConnection.connecting(host: "127.0.0.1", port: server.port, maxResponseBodySize: 999)
            .get()
        defer { below.closeNow() }
        await #expect(throws: ResponseTooLarge.self) {
            _ = try await below.send(ClientRequest(method: .GET, uri: "/"))
        }
    }
}

/// Answers every request with `size` bytes.
private struct FixedBody: RequestResponder {
    let size: Int

    func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        respond(ServerResponse(body: ByteBuffer(repeating: 0x61, count: size)))
    }
}
