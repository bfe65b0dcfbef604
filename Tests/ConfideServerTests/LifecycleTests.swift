import ConfideClient
import ConfideHTTPClient
import ConfideRuntime
import ConfideServer
import ConfideServerTestSupport
import ConfideTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@Suite("Graceful shutdown and metrics")
struct LifecycleTests {
    @Test func shutdownAnswersEveryAcceptedRequest() async throws {
        let server = try await TestServer.start(
            plugins: ["FixtureSlow"], models: ["slow": slowModel(delayMs: 100, #""max_batch_size": 2"#)])
        let connections = try await withThrowingTaskGroup(of: HTTPConnection.self) { group in
            for _ in 0..<16 { group.addTask { try await server.connect() } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let responses = Task {
            try await withThrowingTaskGroup(of: ClientResponse.self) { group in
                for (index, connection) in connections.enumerated() {
                    group.addTask {
                        try await connection.send(
                            ClientRequest(
                                method: .POST, uri: "/v2/models/slow/infer",
                                body: ByteBuffer(string: int32Request(Int32(index)))))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        // Shut down once the server has received every request, while most of them still wait.
        try await waitFor(server, "slow") { $0.submittedCount == 16 }
        await server.stop()
        let answered = try await responses.value
        #expect(answered.count == 16)
        #expect(answered.allSatisfy { $0.status == .ok }, "\(answered.map(\.status.code))")
        await #expect(throws: (any Error).self) { try await server.connect() }
    }

    @Test func sigtermStopsTheServerAfterItAnswersInFlightRequests() async throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let handlers = try makeHandlersDirectory(in: root, plugins: ["FixtureSlow"])
        // 4 s per request, so that the three are still one running and two queued when a loaded machine was slow to
        // send them.
        let models = try makeModelStore(in: root, models: ["slow": slowModel(delayMs: 4000, #""max_batch_size": 1"#)])
        let process = Process()
        process.executableURL = BuildProducts.directory.appendingPathComponent("confide")
        process.arguments = [
            "serve", "--handlers", handlers, "--models", models, "--port", "0", "--metrics-port", "0", "--grpc-port",
            "0",
            "--no-management",
        ]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let ports = await listeningPorts(in: errors.fileHandleForReading)
        let port = try #require(ports.inference, "the server never said where it listens")
        let metricsPort = try #require(ports.metrics, "the server never said where its metrics are")
        let inFlight = (0..<3).map { value in
            Task { try await send(port, .POST, "/v2/models/slow/infer", body: int32Request(Int32(value))) }
        }
        // Terminate once the server has received all three: one running, two queued (30 s: other suites may
        // saturate the machine).
        let deadline = ContinuousClock.now + .seconds(30)
        while try await !send(metricsPort, .GET, "/metrics").text.contains(
            #"confide_queue_depth{model="slow",version="1"} 2"#)
        {
            try #require(ContinuousClock.now < deadline, "the requests never queued")
            try await Task.sleep(for: .milliseconds(10))
        }
        process.terminate()
        for request in inFlight { #expect(try await request.value.status == .ok) }
        await onOwnThread { process.waitUntilExit() }
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
    }

    @Test func metricsCountRequestsAndBatches() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        for value in Int32(0)..<3 {
            #expect(
                try await send(server.port, .POST, "/v2/models/echo/infer", body: int32Request(value)).status == .ok)
        }
        #expect(try await send(server.port, .POST, "/v2/models/echo/infer", body: "{").status == .badRequest)
        let metrics = try await send(server.metricsPort, .GET, "/metrics")
        #expect(metrics.status == .ok)
        let text = metrics.text
        #expect(text.contains(#"confide_requests_total{model="echo",version="1",outcome="success"} 3"#), "\(text)")
        #expect(text.contains("confide_batch_size_bucket"))
        #expect(text.contains("confide_queue_duration_seconds_bucket"))
        #expect(text.contains("confide_handler_duration_seconds_count"))
        #expect(text.contains("confide_request_duration_seconds_count"))
        #expect(text.contains("confide_queue_depth"))
        #expect(text.contains("confide_busy_workers"))
    }
}

/// Reads a server's log until it says where the inference API and the metrics listen.
func listeningPorts(
    in log: FileHandle, management: Bool = false
) async -> (inference: Int?, management: Int?, metrics: Int?) {
    await onOwnThread {
        var text = ""
        func port(after marker: String) -> Int? {
            let line = text.split(separator: "\n").first { $0.contains(marker) }
            return line?.split(separator: ":").last.flatMap { Int($0.prefix { $0.isNumber }) }
        }
        let markers =
            ["inference API listening", "metrics listening"] + (management ? ["management API listening"] : [])
        while markers.contains(where: { port(after: $0) == nil }) {
            let data = log.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        return (
            port(after: "inference API listening"), port(after: "management API listening"),
            port(after: "metrics listening")
        )
    }
}
