import ConfideClient
import ConfideHTTPClient
import ConfideJSON
import ConfideKServeGRPC
import ConfideRuntime
import ConfideSDK
import ConfideServerTestSupport
import ConfideTensors
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import NIOHTTP1
import SwiftProtobuf
import Testing

@testable import ConfideServer

/// Calls the test server's gRPC listener with a grpc-swift client on one HTTP/2 connection.
func withInferenceClient<Result: Sendable>(
    _ server: TestServer,
    _ body: (Inference_GRPCInferenceService.Client<HTTP2ClientTransport.Posix>) async throws -> Result
) async throws -> Result {
    let transport = try HTTP2ClientTransport.Posix(
        target: .ipv4(address: "127.0.0.1", port: server.grpcPort), transportSecurity: .plaintext)
    return try await withGRPCClient(transport: transport) { client in
        try await body(Inference_GRPCInferenceService.Client(wrapping: client))
    }
}

/// The error a call throws, as an `RPCError`.
func rpcError(_ call: () async throws -> Void) async -> RPCError? {
    do {
        try await call()
        return nil
    } catch let error as RPCError {
        return error
    } catch {
        Issue.record("not an RPCError: \(error)")
        return nil
    }
}

@Suite("KServe v2 over gRPC")
struct GRPCTests {
    @Test func healthAndMetadata() async throws {
        let server = try await TestServer.start(grpc: true)
        defer { Task { await server.stop() } }
        #expect(server.grpcPort > 0)
        try await withInferenceClient(server) { client async throws in
            #expect(try await client.serverLive(Inference_ServerLiveRequest()).live)
            #expect(try await client.serverReady(Inference_ServerReadyRequest()).ready)
            let metadata = try await client.serverMetadata(Inference_ServerMetadataRequest())
            #expect(metadata.name == "confide")
            var ready = Inference_ModelReadyRequest()
            ready.name = "echo"
            #expect(try await client.modelReady(ready).ready)
            ready.name = "nope"
            #expect(try await !client.modelReady(ready).ready)
            var model = Inference_ModelMetadataRequest()
            model.name = "echo"
            let described = try await client.modelMetadata(model)
            #expect(described.name == "echo")
            #expect(described.platform == "confide_echo")
            #expect(described.versions == ["1"])
        }
    }

    @Test(arguments: [false, true]) func echoFP32(raw: Bool) async throws {
        let server = try await TestServer.start(grpc: true)
        defer { Task { await server.stop() } }
        let values: [Float] = [1.5, -2, 0, 3.25, .greatestFiniteMagnitude, -0.125]
        let input = try #require(HostTensor(name: "INPUT0", dataType: .fp32, shape: [2, 3], values: values))
        let request = KServeGRPCCodec.encodeRequest(model: "echo", id: "request-7", inputs: [input], raw: raw)
        #expect(request.rawInputContents.isEmpty == !raw)
        let response = try await withInferenceClient(server) { try await $0.modelInfer(request) }
        #expect(response.id == "request-7")
        #expect(response.modelName == "echo")
        #expect(response.outputs.map(\.name) == ["INPUT0"])
        #expect(response.outputs.first?.datatype == "FP32")
        #expect(response.outputs.first?.shape == [2, 3])
        #expect(response.rawOutputContents.count == 1, "the answer carries raw_output_contents")
        let outputs = try KServeGRPCCodec.decodeOutputs(response)
        #expect(outputs.first?.values(as: Float.self) == values)
    }

    @Test func bytesRoundTripAndRequestedOutputs() async throws {
        let server = try await TestServer.start(grpc: true)
        defer { Task { await server.stop() } }
        let texts = ["hello", "", "confidential wörld ✓", String(repeating: "x", count: 70_000)]
        let text = try #require(HostTensor(name: "text", strings: texts, shape: [2, 2]))
        let other = try #require(HostTensor(name: "other", dataType: .int32, shape: [1], values: [Int32(9)]))
        let request = KServeGRPCCodec.encodeRequest(model: "echo", inputs: [other, text], outputs: ["text"])
        // Raw BYTES: each element a 4-byte little-endian length, then its bytes.
        #expect(request.rawInputContents[1].prefix(4) == Data([5, 0, 0, 0]))
        let response = try await withInferenceClient(server) { try await $0.modelInfer(request) }
        #expect(response.outputs.map(\.name) == ["text"], "only the output asked for")
        #expect(response.outputs.first?.datatype == "BYTES")
        #expect(response.outputs.first?.shape == [2, 2])
        #expect(response.rawOutputContents.first?.prefix(9) == Data([5, 0, 0, 0] + Array("hello".utf8)))
        #expect(try KServeGRPCCodec.decodeOutputs(response).first?.strings() == texts)
        // Typed bytes_contents arrive the same.
        let typed = KServeGRPCCodec.encodeRequest(model: "echo", inputs: [text], raw: false)
        #expect(typed.inputs.first?.contents.bytesContents.count == 4)
        let typedResponse = try await withInferenceClient(server) { try await $0.modelInfer(typed) }
        #expect(try KServeGRPCCodec.decodeOutputs(typedResponse).first?.strings() == texts)
    }

    @Test func anUnknownModelIsNotFound() async throws {
        let server = try await TestServer.start(grpc: true)
        defer { Task { await server.stop() } }
        let input = try #require(HostTensor(name: "x", dataType: .int32, shape: [1], values: [Int32(1)]))
        try await withInferenceClient(server) { client async throws in
            let error = await rpcError {
                _ = try await client.modelInfer(KServeGRPCCodec.encodeRequest(model: "nope", inputs: [input]))
            }
            #expect(error?.code == .notFound)
            #expect(error?.message == "unknown model 'nope'")
            var metadata = Inference_ModelMetadataRequest()
            metadata.name = "echo"
            metadata.version = "9"
            let version = await rpcError { _ = try await client.modelMetadata(metadata) }
            #expect(version?.code == .notFound)
            #expect(version?.message.contains("has no version '9'") == true)
        }
    }

    @Test func malformedRawDataIsAnInvalidArgumentAndTheServerKeepsServing() async throws {
        let server = try await TestServer.start(grpc: true)
        defer { Task { await server.stop() } }
        func request(_ datatype: String, _ shape: [Int64], _ raw: [UInt8]) -> Inference_ModelInferRequest {
            var input = Inference_ModelInferRequest.InferInputTensor()
            input.name = "x"
            input.datatype = datatype
            input.shape = shape
            var request = Inference_ModelInferRequest()
            request.modelName = "echo"
            request.inputs = [input]
            request.rawInputContents = [Data(raw)]
            return request
        }
        let cases: [(Inference_ModelInferRequest, String)] = [
            (request("BYTES", [1], [5, 0, 0]), "malformed BYTES data"),
            (request("BYTES", [1], [9, 0, 0, 0, 1, 2]), "malformed BYTES data"),
            (
                request("BYTES", [3], [1, 0, 0, 0, 65, 1, 0, 0, 0, 66]),
                "holds 2 BYTES elements but its shape [3] needs 3"
            ),
            (request("FP32", [4], Array(repeating: 0, count: 12)), "holds 12 bytes but shape [4] of FP32 needs 16"),
            (request("FP32", [-1], []), "must be non-negative"),
            (request("FP32", [Int64.max, 4], []), "too large"),
            (request("FLOAT", [1], [0, 0, 0, 0]), "unknown datatype"),
        ]
        try await withInferenceClient(server) { client async throws in
            for (bad, excerpt) in cases {
                let error = await rpcError { _ = try await client.modelInfer(bad) }
                #expect(error?.code == .invalidArgument, "\(excerpt): \(String(describing: error))")
                #expect(error?.message.contains(excerpt) == true, "\(error?.message ?? "")")
            }
            var twoRaw = request("INT8", [1], [1])
            twoRaw.rawInputContents.append(Data([2]))
            #expect(await rpcError { _ = try await client.modelInfer(twoRaw) }?.code == .invalidArgument)
            var tooDeep = request("INT8", Array(repeating: 1, count: 17), [1])
            tooDeep.id = "deep"
            #expect(await rpcError { _ = try await client.modelInfer(tooDeep) }?.code == .resourceExhausted)
            let good = request("INT8", [2], [1, 2])
            #expect(try await client.modelInfer(good).rawOutputContents == [Data([1, 2])])
        }
    }

    @Test func tokensAreCheckedAsForREST() async throws {
        let store = try TokenStore(json: Array(AuthorizationTests.tokens.utf8))
        let server = try await TestServer.start(
            models: ["echo": #"{"handler": "echo"}"#, "echo2": #"{"handler": "echo"}"#], tokens: store, grpc: true)
        defer { Task { await server.stop() } }
        let input = try #require(HostTensor(name: "x", dataType: .int32, shape: [1], values: [Int32(1)]))
        func bearer(_ token: String) -> Metadata { ["authorization": "Bearer \(token)"] }
        try await withInferenceClient(server) { client async throws in
            // Probes need no token.
            #expect(try await client.serverLive(Inference_ServerLiveRequest()).live)
            let echo = KServeGRPCCodec.encodeRequest(model: "echo", inputs: [input])
            let echo2 = KServeGRPCCodec.encodeRequest(model: "echo2", inputs: [input])
            let missing = await rpcError { _ = try await client.modelInfer(echo) }
            #expect(missing?.code == .unauthenticated)
            #expect(missing?.message == "a valid bearer token is required")
            #expect(
                await rpcError { _ = try await client.modelInfer(echo, metadata: bearer("wrong")) }?.code
                    == .unauthenticated)
            let scope = await rpcError { _ = try await client.modelInfer(echo, metadata: bearer("secret-ops")) }
            #expect(scope?.code == .permissionDenied)
            #expect(scope?.message == "token 'ops' lacks the inference scope")
            let other = await rpcError { _ = try await client.modelInfer(echo2, metadata: bearer("secret-echo")) }
            #expect(other?.code == .permissionDenied)
            #expect(other?.message == "token 'echo-only' may not use model 'echo2'")
            let server = await rpcError {
                _ = try await client.serverMetadata(Inference_ServerMetadataRequest(), metadata: bearer("secret-echo"))
            }
            #expect(server?.code == .permissionDenied)
            #expect(try await client.modelInfer(echo, metadata: bearer("secret-echo")).outputs.count == 1)
            #expect(try await client.modelInfer(echo2, metadata: bearer("secret-all")).outputs.count == 1)
        }
    }

    /// The worker stays busy for 2 minutes: on a CI machine whose concurrency pool the suites alongside hold for about
    /// as long, the calls below must still find it busy.
    @Test func deadlinesFromTheTimeoutParameterAndGRPCTimeout() async throws {
        let server = try await TestServer.start(
            plugins: ["FixtureSlow"], models: ["slow": slowModel(delayMs: 120_000, #""max_batch_size": 1"#)], grpc: true
        )
        defer { Task { await server.stop() } }
        let input = try #require(HostTensor(name: "x", dataType: .int32, shape: [1], values: [Int32(1)]))
        let busy = Task { try await send(server.port, .POST, "/v2/models/slow/infer", body: int32Request(0)) }
        try await waitFor(server, "slow") { $0.busyWorkers == 1 }
        try await withInferenceClient(server) { client async throws in
            var late = KServeGRPCCodec.encodeRequest(model: "slow", inputs: [input])
            var timeout = Inference_InferParameter()
            timeout.int64Param = 50_000
            late.parameters["timeout"] = timeout
            let error = await rpcError { _ = try await client.modelInfer(late) }
            #expect(error?.code == .deadlineExceeded)
            #expect(error?.message == "the request's deadline passed while it waited for a worker")
            var options = CallOptions.defaults
            options.timeout = .milliseconds(200)
            let timedOut = await rpcError {
                _ = try await client.modelInfer(
                    KServeGRPCCodec.encodeRequest(model: "slow", inputs: [input]), options: options)
            }
            #expect(timedOut?.code == .deadlineExceeded)
        }
        #expect(try await busy.value.status == .ok)
    }

    @Test func shutdownFinishesTheCallsInProgress() async throws {
        let server = try await TestServer.start(
            plugins: ["FixtureSlow"], models: ["slow": slowModel(delayMs: 1000, #""max_batch_size": 1"#)], grpc: true)
        let input = try #require(HostTensor(name: "x", dataType: .int32, shape: [1], values: [Int32(1)]))
        let response = try await withInferenceClient(server) { client async throws in
            let call = Task {
                try await client.modelInfer(KServeGRPCCodec.encodeRequest(model: "slow", inputs: [input]))
            }
            try await waitFor(server, "slow") { $0.busyWorkers == 1 }
            await server.stop()
            return try await call.value
        }
        #expect(response.modelName == "slow")
    }

    /// `confide bench http --protocol grpc` loads the model over gRPC with no errors.
    @Test func theBenchmarkSpeaksGRPC() async throws {
        let server = try await TestServer.start(grpc: true)
        defer { Task { await server.stop() } }
        // One call answered first: while the suites alongside keep this process's concurrency pool busy, the server
        // answers nothing, and a short measurement would count no request.
        let input = try #require(HostTensor(name: "x", dataType: .int32, shape: [1], values: [Int32(1)]))
        let answered = try await withInferenceClient(server) { client async throws in
            try await client.modelInfer(KServeGRPCCodec.encodeRequest(model: "echo", inputs: [input]))
        }
        #expect(answered.modelName == "echo")
        let result = try await ConfideCommand.run(
            "bench", "http", "--url", "http://127.0.0.1:\(server.grpcPort)", "--protocol", "grpc", "--model", "echo",
            "--concurrency", "2", "--duration", "2", "--warmup", "0.1", "--json")
        #expect(result.status == 0, "\(result.output)")
        // The progress lines go to standard error, which the combined output may interleave with the report.
        let start = try #require(result.output.range(of: #"{"url""#), "\(result.output)")
        let json = try #require(result.output[start.lowerBound...].split(separator: "\n").first)
        let report = try JSONParser.parse(String(json))
        let level = try #require(report.objectValue?["results"]?.arrayValue?.first?.objectValue)
        #expect(level["errors"] == .integer(0), "\(result.output)")
        #expect((level["requests"]?.int64Value ?? 0) > 0, "\(result.output)")
    }

    @Test func decodingMutatedMessagesNeverTraps() throws {
        let texts = try #require(HostTensor(name: "text", strings: ["a", "bc"]))
        let floats = try #require(HostTensor(name: "f", dataType: .fp32, shape: [2], values: [Float(1), 2]))
        let seeds = try [
            KServeGRPCCodec.encodeRequest(model: "m", id: "1", inputs: [texts, floats], outputs: ["text"]),
            KServeGRPCCodec.encodeRequest(model: "m", inputs: [texts, floats], raw: false),
        ].map { try Array($0.serializedBytes() as Data) }
        var generator = SystemRandomNumberGenerator()
        for iteration in 0..<3000 {
            var bytes = seeds[iteration % seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            if iteration % 7 == 0 { bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator))) }
            KServeGRPCFuzz.inferRequest(bytes)
        }
    }

    @Test func timeoutMetadataParses() {
        #expect(GRPCTimeout.parse("200m") == .milliseconds(200))
        #expect(GRPCTimeout.parse("3S") == .seconds(3))
        #expect(GRPCTimeout.parse("99999999H") == .seconds(Int64(99_999_999) * 3600))
        #expect(GRPCTimeout.parse("123456789S") == nil, "at most 8 digits")
        #expect(GRPCTimeout.parse("5") == nil)
        #expect(GRPCTimeout.parse("-5m") == nil)
        #expect(GRPCTimeout.parse("5x") == nil)
    }
}
