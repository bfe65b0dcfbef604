import ConfideClient
import ConfideSDK
import ConfideServerTestSupport
import Testing

@Suite("The closed-loop load generator")
struct LoadGeneratorTests {
    @Test func measuresThroughputAndLatencyAgainstARealServer() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let input = try #require(InferTensor(name: "x", dataType: .fp32, shape: [4], values: [Float(1), 2, 3, 4]))
        let good = try KServeClient.request(model: "echo", version: nil, inputs: [input], binary: false)
        let bad = try KServeClient.request(model: "missing", version: nil, inputs: [input], binary: false)
        let generator = LoadGenerator(host: "127.0.0.1", port: server.port, requests: [good, bad])
        let result = try await generator.run(concurrency: 2, duration: .seconds(3), warmup: .zero)
        #expect(result.concurrency == 2)
        #expect(result.succeeded > 0)
        #expect(result.failed > 0, "requests to a missing model must count as failures")
        #expect(abs(result.succeeded - result.failed) <= 2, "each connection alternates good and bad requests")
        #expect(result.latencies == result.latencies.sorted())
        #expect(result.latency(quantile: 0.5) <= result.latency(quantile: 0.99))
        #expect(result.throughput == Double(result.succeeded) / 3)
    }
}
