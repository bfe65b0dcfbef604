import ConfideClient
import ConfideHTTPClient
import ConfideHost
import ConfideJSON
import ConfideSDK
import ConfideServer
import ConfideServerTestSupport
import ConfideTensors
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@testable import ConfideRuntime

/// The data of each output of a KServe JSON response, by name.
func outputData(_ response: ClientResponse) throws -> [String: [JSONValue]] {
    let json = try JSONParser.parse(Array(response.body.readableBytesView))
    var result: [String: [JSONValue]] = [:]
    for output in json.objectValue?["outputs"]?.arrayValue ?? [] {
        if let name = output.objectValue?["name"]?.stringValue, let data = output.objectValue?["data"]?.arrayValue {
            result[name] = data
        }
    }
    return result
}

/// Waits (up to 30 s, for a CI machine saturated by other suites) until `condition` holds for the default version's
/// scheduler of `model`.
func waitFor(_ server: TestServer, _ model: String, _ condition: (Scheduler) -> Bool) async throws {
    let scheduler = try #require(server.server.repository.model(model)?.version(nil)?.scheduler)
    let deadline = ContinuousClock.now + .seconds(30)
    while !condition(scheduler) {
        try #require(ContinuousClock.now < deadline, "timed out waiting for the scheduler")
        try await Task.sleep(for: .milliseconds(5))
    }
}

func slowModel(delayMs: Int, _ settings: String) -> String {
    #"{"handler": "slow", "parameters": {"delay_ms": \#(delayMs)}, \#(settings)}"#
}

@Suite("Dynamic batching, bounded queues and deadlines")
struct BatchingTests {
    @Test func everyRequestGetsItsOwnResponseAndBatchesFormUnderLoad() async throws {
        let server = try await TestServer.start(
            plugins: ["FixtureSlow"], models: ["slow": slowModel(delayMs: 100, #""max_batch_size": 4"#)])
        defer { Task { await server.stop() } }
        let results = try await withThrowingTaskGroup(of: (Int32, ClientResponse).self) { group in
            for value in Int32(0)..<24 {
                group.addTask {
                    (value, try await send(server.port, .POST, "/v2/models/slow/infer", body: int32Request(value)))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        var sizes: [Int64] = []
        for (value, response) in results {
            #expect(response.status == .ok)
            let outputs = try outputData(response)
            #expect(outputs["x"] == [.integer(Int64(value))], "request \(value) got another request's answer")
            sizes.append(outputs["batch_size"]?.first?.int64Value ?? 0)
        }
        #expect(sizes.allSatisfy { (1...4).contains($0) })
        #expect(sizes.contains { $0 > 1 }, "24 concurrent requests on one worker should form batches: \(sizes)")
    }

    /// The batch delay is the longest a model may set (10 s), well past what a request takes while the other suites
    /// load both cores (one took 3.2 s in CI against a 3 s delay and a 2 s bound): only a request held for the delay
    /// fails the 6 s bound.
    @Test func aLoneRequestDoesNotWaitForTheBatchDelay() async throws {
        let server = try await TestServer.start(
            plugins: ["FixtureSlow"],
            models: ["slow": slowModel(delayMs: 0, #""max_batch_size": 8, "max_batch_delay_us": 10000000"#)])
        defer { Task { await server.stop() } }
        let start = ContinuousClock.now
        let response = try await send(server.port, .POST, "/v2/models/slow/infer", body: int32Request(1))
        #expect(response.status == .ok)
        #expect(ContinuousClock.now - start < .seconds(6), "a lone request was held for the 10 s batch delay")
    }

    @Test func theBatchDelayHoldsABatchOpenOnceRequestsQueue() async throws {
        let server = try await TestServer.start(
            plugins: ["FixtureSlow"],
            models: ["slow": slowModel(delayMs: 3000, #""max_batch_size": 3, "max_batch_delay_us": 10000000"#)])
        defer { Task { await server.stop() } }
        // The first request occupies the worker for 3 s; the next three queue behind it (sending them can take over
        // several seconds when other suites saturate the machine). When the worker is free, the waiting requests are
        // held open until the batch is full, for up to the longest delay a model may set (10 s).
        let first = Task { try await send(server.port, .POST, "/v2/models/slow/infer", body: int32Request(0)) }
        try await waitFor(server, "slow") { $0.busyWorkers == 1 }
        let rest = try await withThrowingTaskGroup(of: ClientResponse.self) { group in
            for value in Int32(1)...3 {
                group.addTask { try await send(server.port, .POST, "/v2/models/slow/infer", body: int32Request(value)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(try outputData(try await first.value)["batch_size"] == [.integer(1)])
        for response in rest {
            let outputs = try outputData(response)
            #expect(outputs["batch_size"] == [.integer(3)], "\(outputs)")
        }
    }

    @Test func aFullQueueIsRefusedAtOnceWith503AndRetryAfter() async throws {
        let server = try await TestServer.start(
            plugins: ["FixtureSlow"],
            models: ["slow": slowModel(delayMs: 2000, #""max_batch_size": 1, "max_queue_size": 2"#)])
        defer { Task { await server.stop() } }
        let busy = Task { try await send(server.port, .POST, "/v2/models/slow/infer", body: int32Request(0)) }
        try await waitFor(server, "slow") { $0.busyWorkers == 1 }
        // The worker is busy for two seconds: two of the next seven requests queue, the rest are refused.
        let responses = try await withThrowingTaskGroup(of: ClientResponse.self) { group in
            for value in Int32(1)..<8 {
                group.addTask { try await send(server.port, .POST, "/v2/models/slow/infer", body: int32Request(value)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(try await busy.value.status == .ok)
        let refused = responses.filter { $0.status == .serviceUnavailable }
        #expect(responses.filter { $0.status == .ok }.count >= 2)
        #expect(refused.count >= 3, "\(responses.map(\.status.code))")
        for response in refused {
            #expect(response.headers.first(name: "Retry-After") == "1")
            #expect(response.text.contains("queue is full"))
        }
    }

    @Test func aRequestPastItsDeadlineGets504AndNeverReachesTheHandler() async throws {
        let server = try await TestServer.start(
            plugins: ["FixtureSlow"], models: ["slow": slowModel(delayMs: 4000, #""max_batch_size": 1"#)])
        defer { Task { await server.stop() } }
        // The worker is busy for 4 s, so the late request still finds it busy when a saturated machine was slow to
        // send it.
        let busy = Task { try await send(server.port, .POST, "/v2/models/slow/infer", body: int32Request(0)) }
        try await waitFor(server, "slow") { $0.busyWorkers == 1 }
        let late = try await send(
            server.port, .POST, "/v2/models/slow/infer", body: int32Request(1, parameters: #"{"timeout": 50000}"#))
        #expect(late.status == .gatewayTimeout)
        #expect(late.text.contains("deadline passed"))
        #expect(try outputData(try await busy.value)["seen"] == [.integer(1)])
        let next = try await send(server.port, .POST, "/v2/models/slow/infer", body: int32Request(2))
        #expect(try outputData(next)["seen"] == [.integer(2)], "the expired request must not have run")
    }

    @Test func aFailedBatchFailsOnlyItsRequestsAndTheWorkerContinues() async throws {
        let server = try await TestServer.start(
            plugins: ["FixtureSlow"], models: ["slow": slowModel(delayMs: 0, #""max_batch_size": 1"#)])
        defer { Task { await server.stop() } }
        let failed = try await send(
            server.port, .POST, "/v2/models/slow/infer", body: int32Request(1, id: "fail-batch"))
        #expect(failed.status == .internalServerError)
        #expect(failed.text.contains("failed on purpose"))
        let next = try await send(server.port, .POST, "/v2/models/slow/infer", body: int32Request(2))
        #expect(next.status == .ok)
    }

    /// Four parts of one request on two workers of a model that batches up to 8: no two parts share a batch, the two
    /// workers run parts at the same time, and the answers come back in the parts' order.
    @Test func thePartsOfASplitRequestRunSideBySideInBatchesOfTheirOwn() async throws {
        let server = try await TestServer.start(
            plugins: ["FixtureSlow"],
            models: ["slow": slowModel(delayMs: 1500, #""max_batch_size": 8, "workers": 2"#)])
        defer { Task { await server.stop() } }
        let scheduler = try #require(server.server.repository.model("slow")?.version(nil)?.scheduler)
        let parts = try (Int32(0)..<4).map { value in
            HostRequest(
                inputs: [try #require(HostTensor(name: "x", dataType: .int32, shape: [1], values: [value]))],
                requestedOutputs: ["x", "batch_size"])
        }
        let answers = Task {
            await withCheckedContinuation { continuation in
                scheduler.submit(parts: parts, deadline: .now + .seconds(120)) { continuation.resume(returning: $0) }
            }
        }
        try await waitFor(server, "slow") { $0.busyWorkers == 2 }
        let responses = try await answers.value.get()
        #expect(responses.count == 4)
        for (index, response) in responses.enumerated() {
            let outputs = Dictionary(response.outputs.map { ($0.name, $0.values(as: Int64.self) ?? []) }) { a, _ in a }
            #expect(response.outputs.first { $0.name == "x" }?.values(as: Int32.self) == [Int32(index)])
            #expect(outputs["batch_size"] == [1], "part \(index) shared a batch")
        }
    }

    @Test func aFailingPartFailsTheWholeSplitRequestOnce() async throws {
        let server = try await TestServer.start(
            plugins: ["FixtureSlow"], models: ["slow": slowModel(delayMs: 0, #""max_batch_size": 8, "workers": 2"#)])
        defer { Task { await server.stop() } }
        let scheduler = try #require(server.server.repository.model("slow")?.version(nil)?.scheduler)
        let parts = try ["ok", "fail-batch", "ok"].map { id in
            HostRequest(
                id: id, inputs: [try #require(HostTensor(name: "x", dataType: .int32, shape: [1], values: [Int32(1)]))])
        }
        let calls = Mutex(0)
        let result = await withCheckedContinuation { continuation in
            scheduler.submit(parts: parts, deadline: .now + .seconds(120)) { result in
                calls.withLock { $0 += 1 }
                continuation.resume(returning: result)
            }
        }
        guard case .failure(.handler(let error)) = result else {
            Issue.record("a split request with a failing part answered \(result)")
            return
        }
        #expect(error.message.contains("failed on purpose"))
        try await Task.sleep(for: .milliseconds(200))
        #expect(calls.withLock { $0 } == 1)
    }

    @Test func preferredBatchSizesChooseTheLargestThatFits() {
        let policy = BatchingPolicy(maxBatchSize: 16, preferredBatchSizes: [4, 8])
        #expect(policy.take(from: 3) == 3)
        #expect(policy.take(from: 5) == 4)
        #expect(policy.take(from: 12) == 8)
        #expect(policy.take(from: 40) == 8)
        #expect(BatchingPolicy(maxBatchSize: 16).take(from: 40) == 16)
    }
}
