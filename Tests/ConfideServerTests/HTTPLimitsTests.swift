import ConfideClient
import ConfideHTTPClient
import ConfideServerTestSupport
import Foundation
import Glibc
import NIOCore
import NIOHTTP1
import Testing

@testable import ConfideServer

/// Hostile clients against the HTTP layer's limits: the memory budget, the connection limit and the timeouts.
/// The misbehaving clients are blocking sockets driven from threads of their own.
@Suite("HTTP limits: memory budget, connection limit, timeouts", .serialized)
struct HTTPLimitsTests {
    @Test func headersOnlyRequestsDeclaringLargeBodiesReserveNothingAndTimeOut() async throws {
        let server = try await TestServer.start(maxBodySize: 16 << 20) {
            $0.memoryBudget = 64 << 20
            $0.connections.bodyTimeout = .seconds(1)
        }
        defer { Task { await server.stop() } }
        let before = try MemoryUsage.current()
        let sockets = try (0..<128).map { _ in try RawSocket(port: server.port) }
        for socket in sockets {
            try socket.send(requestHead("POST", "/v2/models/echo/infer", "Content-Length: 16777216"))
        }
        try await Task.sleep(for: .milliseconds(300))
        let during = try MemoryUsage.current()
        // Allocating the declared lengths would take 2 GiB of address space. The bounds leave room for other tests
        // running in this process at the same time (a model loading, servers starting).
        #expect(during.virtualBytes - before.virtualBytes < 768 << 20, "\(before) → \(during)")
        #expect(during.residentBytes - before.residentBytes < 256 << 20, "\(before) → \(during)")
        let answers = await onOwnThread { sockets.map { $0.readUntilClosed(timeout: .seconds(20)) } }
        for answer in answers {
            #expect(answer.closed)
            #expect(answer.text.hasPrefix("HTTP/1.1 408"), "\(answer.text)")
        }
        for socket in sockets { socket.close() }
        #expect(try await eventually { server.server.http.budget.inUse == 0 })
    }

    @Test func nonReadingClientsOfLargeResponsesAreCutOffAndTheBudgetReturnsToZero() async throws {
        let server = try await TestServer.start(maxBodySize: 16 << 20) {
            $0.memoryBudget = 128 << 20
            $0.connections.writeTimeout = .seconds(3)
        }
        defer { Task { await server.stop() } }
        // A 2 MiB BYTES element of 0x01 comes back as JSON, "\u0001" per byte: a 12 MiB response.
        let size = 2 << 20
        let header =
            #"{"inputs":[{"name":"x","datatype":"BYTES","shape":[1],"#
            + #""parameters":{"binary_data_size":\#(size + 4)}}]}"#
        let body = Array(header.utf8) + [0, 0, 32, 0] + [UInt8](repeating: 1, count: size)
        let head =
            "POST /v2/models/echo/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(body.count)\r\n"
            + "Inference-Header-Content-Length: \(header.utf8.count)\r\n\r\n"
        // Tiny receive buffers: the server's writes stall once its own send buffer (at most 4 MiB) is full.
        let sockets = try (0..<3).map { _ in try RawSocket(port: server.port, receiveBuffer: 4096) }
        let sent = await onOwnThread { sockets.allSatisfy { (try? $0.send(Array(head.utf8) + body)) != nil } }
        #expect(sent)
        let budget = server.server.http.budget
        // More than the three bodies could ever hold (3 × 4 MiB): the unwritten responses are charged.
        #expect(try await eventually { budget.inUse >= 3 * 5 * size }, "responses not charged: \(budget.inUse)")
        #expect(try await eventually(within: .seconds(60)) { budget.inUse == 0 }, "\(budget.inUse) bytes still held")
        #expect(try await eventually { server.server.http.connectionCount == 0 })
        let answers = await onOwnThread { sockets.map { $0.readUntilClosed(timeout: .seconds(20)) } }
        for answer in answers {
            #expect(answer.closed)
            #expect(answer.bytes.count < 6 * size, "the whole response arrived")
        }
        for socket in sockets { socket.close() }
    }

    @Test func overBudgetRequestsGet503WithRetryAfterWhileHealthKeepsAnswering() async throws {
        let server = try await TestServer.start(maxBodySize: 4 << 20) {
            $0.memoryBudget = 4 << 20
        }
        defer { Task { await server.stop() } }
        let budget = server.server.http.budget
        // A body of 3 MiB that never completes holds its buffer (4 MiB, a power of two) against the budget.
        let holder = try RawSocket(port: server.port)
        let head = "POST /predictions/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(3 << 20)\r\n\r\n"
        let request = Array(head.utf8) + [UInt8](repeating: 1, count: (3 << 20) - 1)
        let sent = await onOwnThread { (try? holder.send(request)) != nil }
        #expect(sent)
        #expect(try await eventually { budget.inUse >= 3 << 20 })
        let refused = try RawSocket(port: server.port)
        try refused.send("POST /predictions/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1024\r\n\r\n")
        let answer = await onOwnThread { refused.readUntilClosed(timeout: .seconds(10)) }
        #expect(answer.text.hasPrefix("HTTP/1.1 503"), "\(answer.text)")
        #expect(answer.text.lowercased().contains("retry-after: 1"), "\(answer.text)")
        #expect(answer.text.contains("memory budget"), "\(answer.text)")
        #expect(answer.closed)
        var latencies: [Duration] = []
        for _ in 0..<20 {
            let start = ContinuousClock.now
            #expect(try await send(server.port, .GET, "/v2/health/live").status == .ok)
            latencies.append(ContinuousClock.now - start)
        }
        latencies.sort()
        let median = latencies[latencies.count / 2]
        let slowest = latencies[latencies.count - 1]
        print("health latency while over budget: median \(median), max \(slowest)")
        #expect(median < .milliseconds(250), "\(latencies)")
        #expect(slowest < .seconds(2), "\(latencies)")
        holder.close()
        refused.close()
        #expect(try await eventually { budget.inUse == 0 }, "\(budget.inUse) bytes still held")
    }

    @Test func aBodyThatOutgrowsTheBudgetGets503AndItsConnectionCloses() async throws {
        let server = try await TestServer.start(maxBodySize: 4 << 20) {
            $0.memoryBudget = 3 << 20
        }
        defer { Task { await server.stop() } }
        let budget = server.server.http.budget
        let head = "POST /predictions/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(2 << 20)\r\n\r\n"
        let first = try RawSocket(port: server.port)
        let second = try RawSocket(port: server.port)
        // Both heads fit the empty budget; the two bodies together do not.
        try first.send(head)
        try second.send(head)
        try await Task.sleep(for: .milliseconds(200))
        let firstSent = await onOwnThread { (try? first.send([UInt8](repeating: 1, count: (2 << 20) - 1))) != nil }
        #expect(firstSent)
        #expect(try await eventually { budget.inUse >= 2 << 20 })
        _ = await onOwnThread { try? second.send([UInt8](repeating: 1, count: (2 << 20) - 1)) }
        let answer = await onOwnThread { second.readUntilClosed(timeout: .seconds(10)) }
        #expect(answer.text.hasPrefix("HTTP/1.1 503"), "\(answer.text)")
        #expect(answer.closed)
        #expect(budget.inUse <= 3 << 20)
        first.close()
        second.close()
        #expect(try await eventually { budget.inUse == 0 }, "\(budget.inUse) bytes still held")
    }

    @Test func silentConnectionsBeyondTheLimitDoNotBlockAHealthProbe() async throws {
        let server = try await TestServer.start {
            $0.connections.maxConnections = 8
            $0.connections.headerTimeout = .seconds(60)
        }
        defer { Task { await server.stop() } }
        let silent = try (0..<20).map { _ in try RawSocket(port: server.port) }
        #expect(try await eventually { server.server.http.connectionCount == 8 })
        let start = ContinuousClock.now
        let probe = try await send(server.port, .GET, "/v2/health/live")
        let elapsed = ContinuousClock.now - start
        #expect(probe.status == .ok)
        #expect(elapsed < .seconds(2), "\(elapsed)")
        #expect(server.server.http.connectionCount <= 8)
        // The oldest silent connections made room for the newer ones.
        let oldest = await onOwnThread { silent[0].readUntilClosed(timeout: .seconds(5)) }
        #expect(oldest.closed)
        for socket in silent { socket.close() }
    }

    @Test func atTheLimitWithEveryConnectionBusyANewConnectionIsClosed() async throws {
        let server = try await TestServer.start {
            $0.connections.maxConnections = 2
        }
        defer { Task { await server.stop() } }
        let busy = try (0..<2).map { _ in try RawSocket(port: server.port) }
        for socket in busy {
            try socket.send("POST /predictions/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nabc")
        }
        #expect(try await eventually { server.server.http.budget.inUse > 0 })
        try await Task.sleep(for: .milliseconds(100))
        let refused = try RawSocket(port: server.port)
        let answer = await onOwnThread { refused.readUntilClosed(timeout: .seconds(5)) }
        #expect(answer.closed)
        #expect(answer.bytes.isEmpty)
        #expect(server.server.http.connectionCount == 2)
        for socket in busy + [refused] { socket.close() }
        let http = server.server.http
        #expect(try await eventually { http.connectionCount == 0 && http.budget.inUse == 0 })
    }

    @Test func idleConnectionsAreClosed() async throws {
        let server = try await TestServer.start { $0.connections.idleTimeout = .milliseconds(500) }
        defer { Task { await server.stop() } }
        let socket = try RawSocket(port: server.port)
        defer { socket.close() }
        let start = ContinuousClock.now
        try socket.send("GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let answer = await onOwnThread { socket.readUntilClosed(timeout: .seconds(10)) }
        #expect(answer.text.hasPrefix("HTTP/1.1 200"), "\(answer.text)")
        #expect(answer.closed)
        #expect(ContinuousClock.now - start >= .milliseconds(400))
    }

    @Test func incompleteHeadsAreClosed() async throws {
        let server = try await TestServer.start { $0.connections.headerTimeout = .milliseconds(500) }
        defer { Task { await server.stop() } }
        let silent = try RawSocket(port: server.port)
        let partial = try RawSocket(port: server.port)
        defer {
            silent.close()
            partial.close()
        }
        let start = ContinuousClock.now
        try partial.send("GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        let answers = await onOwnThread { [silent, partial].map { $0.readUntilClosed(timeout: .seconds(10)) } }
        for answer in answers {
            #expect(answer.closed)
            #expect(answer.bytes.isEmpty, "\(answer.text)")
        }
        #expect(ContinuousClock.now - start >= .milliseconds(400))
    }

    @Test func lateBodiesGet408AndAreClosed() async throws {
        let server = try await TestServer.start { $0.connections.bodyTimeout = .milliseconds(500) }
        defer { Task { await server.stop() } }
        let socket = try RawSocket(port: server.port)
        defer { socket.close() }
        try socket.send(requestHead("POST", "/v2/models/echo/infer", "Content-Length: 100") + #"{"inputs":"#)
        let answer = await onOwnThread { socket.readUntilClosed(timeout: .seconds(10)) }
        #expect(answer.text.hasPrefix("HTTP/1.1 408"), "\(answer.text)")
        #expect(answer.text.contains("did not arrive within"), "\(answer.text)")
        #expect(answer.closed)
        #expect(try await eventually { server.server.http.budget.inUse == 0 })
    }

    @Test func slowReadersThatKeepReadingAreNotCutOff() async throws {
        let server = try await TestServer.start(maxBodySize: 16 << 20) {
            $0.connections.writeTimeout = .milliseconds(500)
        }
        defer { Task { await server.stop() } }
        let size = 12 << 20
        let socket = try RawSocket(port: server.port, receiveBuffer: 65536)
        defer { socket.close() }
        let head = requestHead("POST", "/predictions/echo", "Content-Length: \(size)", "Connection: close")
        let request = Array(head.utf8) + [UInt8](repeating: 0x62, count: size)
        let answer = await onOwnThread {
            guard (try? socket.send(request)) != nil else { return RawSocket.Answer(bytes: [], closed: true) }
            // 16 KiB every 2 ms or so: the whole response takes several write timeouts.
            return socket.readSlowly(until: .max, pause: .milliseconds(2), timeout: .seconds(60))
        }
        #expect(answer.closed)
        #expect(answer.bytes.count > size, "\(answer.bytes.count) bytes")
        #expect(try await eventually { server.server.http.budget.inUse == 0 })
    }

    @Test func chunkedBodiesAreCollectedAndReleased() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let socket = try RawSocket(port: server.port)
        defer { socket.close() }
        let chunk = String(repeating: "c", count: 100_000)
        try socket.send(requestHead("POST", "/predictions/echo", "Transfer-Encoding: chunked", "Connection: close"))
        for _ in 0..<3 { try socket.send(String(100_000, radix: 16) + "\r\n" + chunk + "\r\n") }
        try socket.send("0\r\n\r\n")
        let answer = await onOwnThread { socket.readUntilClosed(timeout: .seconds(10)) }
        #expect(answer.text.hasPrefix("HTTP/1.1 200"))
        #expect(answer.text.hasSuffix(String(repeating: "c", count: 300_000)))
        #expect(try await eventually { server.server.http.budget.inUse == 0 })
    }

    @Test func theFileDescriptorLimitIsRaisedAndConnectionsFitBelowIt() {
        var configured = ConnectionLimits()
        configured.maxConnections = .max
        let limits = configured.forListeners()
        var descriptors = rlimit()
        #expect(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &descriptors) == 0)
        #expect(descriptors.rlim_cur == descriptors.rlim_max)
        let total = limits.inference.maxConnections + limits.management.maxConnections + limits.metrics.maxConnections
        #expect(UInt64(total) < descriptors.rlim_cur)
        #expect(limits.management.maxConnections == 64)
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let socket = try RawSocket(port: server.port)
        defer { socket.close() }
        let one = "POST /predictions/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\none"
        let two = requestHead("POST", "/predictions/echo", "Content-Length: 3", "Connection: close") + "two"
        try socket.send(one + two)
        let answer = await onOwnThread { socket.readUntilClosed(timeout: .seconds(10)) }
        let first = try #require(answer.text.range(of: "one"))
        let second = try #require(answer.text.range(of: "two"))
        #expect(first.lowerBound < second.lowerBound)
        #expect(answer.closed)
        #expect(try await eventually { server.server.http.budget.inUse == 0 })
    }
}

@Suite("Memory budget")
struct MemoryBudgetTests {
    @Test func reservationsStopAtTheLimitAndChargesPassIt() {
        let budget = MemoryBudget(limit: 100)
        #expect(budget.tryReserve(60))
        #expect(!budget.tryReserve(41))
        #expect(budget.tryReserve(40))
        #expect(budget.available == 0)
        budget.charge(10)
        #expect(budget.inUse == 110)
        #expect(!budget.tryReserve(1))
        #expect(!budget.tryReserve(-1))
        #expect(budget.tryReserve(0))
        budget.release(110)
        #expect(budget.inUse == 0)
        #expect(!budget.tryReserve(.max))
    }

    @Test func concurrentReservationsNeverPassTheLimit() async {
        let budget = MemoryBudget(limit: 1000)
        let granted = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask { (0..<1000).reduce(0) { count, _ in count + (budget.tryReserve(1) ? 1 : 0) } }
            }
            return await group.reduce(0, +)
        }
        #expect(granted == 1000)
        #expect(budget.inUse == 1000)
    }
}

/// A request head for the loopback server with the given header fields.
private func requestHead(_ method: String, _ path: String, _ fields: String...) -> String {
    "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n" + fields.map { $0 + "\r\n" }.joined() + "\r\n"
}

/// Polls `condition` until it holds or `within` passes.
private func eventually(within: Duration = .seconds(10), _ condition: () -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + within
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try await Task.sleep(for: .milliseconds(20))
    }
    return true
}

/// This process's address space and resident memory, from `/proc/self/statm`.
private struct MemoryUsage: CustomStringConvertible {
    let virtualBytes: Int
    let residentBytes: Int

    static func current() throws -> MemoryUsage {
        let fields = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
        let page = sysconf(Int32(_SC_PAGESIZE))
        guard fields.count >= 2, let size = Int(fields[0]), let resident = Int(fields[1]) else {
            throw RawSocketError(message: "unreadable /proc/self/statm")
        }
        return MemoryUsage(virtualBytes: size * page, residentBytes: resident * page)
    }

    var description: String { "\(virtualBytes >> 20) MiB virtual, \(residentBytes >> 20) MiB resident" }
}

private struct RawSocketError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// A blocking TCP client on loopback that can misbehave: send part of a request, stay silent, or never read.
/// Its blocking calls belong on a thread of their own (`onOwnThread`).
private final class RawSocket: @unchecked Sendable {
    /// What a client received, and whether the server closed (or reset) the connection.
    struct Answer: Sendable {
        let bytes: [UInt8]
        let closed: Bool
        var text: String { String(decoding: bytes, as: UTF8.self) }
    }

    private let descriptor: Int32

    init(port: Int, receiveBuffer: Int32? = nil) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw RawSocketError(message: "socket: errno \(errno)") }
        if var size = receiveBuffer {
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            Glibc.close(descriptor)
            throw RawSocketError(message: "connect: errno \(errno)")
        }
    }

    func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw RawSocketError(message: "send: errno \(errno)") }
            offset += sent
        }
    }

    /// Reads until the server closes the connection or `timeout` passes.
    func readUntilClosed(timeout: Duration) -> Answer {
        readSlowly(until: .max, pause: .zero, timeout: timeout)
    }

    /// Reads until `count` bytes arrived, the server closes, or `timeout` passes, pausing between reads.
    func readSlowly(until count: Int, pause: Duration, timeout: Duration) -> Answer {
        let deadline = ContinuousClock.now + timeout
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while bytes.count < count {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { return Answer(bytes: bytes, closed: false) }
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(min(remaining.components.seconds * 1000 + 1, 60_000))
            guard poll(&entry, 1, milliseconds) > 0 else { continue }
            let received = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard received > 0 else { return Answer(bytes: bytes, closed: true) }
            bytes += chunk[..<received]
            if pause > .zero {
                let components = pause.components
                Thread.sleep(forTimeInterval: Double(components.seconds) + Double(components.attoseconds) / 1e18)
            }
        }
        return Answer(bytes: bytes, closed: false)
    }

    func close() {
        Glibc.close(descriptor)
    }
}
