import ConfideClient
import ConfideHTTPClient
import ConfideJSON
import ConfideRuntime
import ConfideSDK
import ConfideServer
import ConfideServerTestSupport
import ConfideTensors
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@Suite("The echo handler through the real HTTP server on loopback")
struct ServerTests {
    @Test func kserveJSONInference() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let body =
            #"{"id":"r1","inputs":[{"name":"x","datatype":"FP32","shape":[2,2],"data":[[1,2],[3,4.5]]},"#
            + #"{"name":"t","datatype":"BYTES","shape":[2],"data":["héllo",""]},"#
            + #"{"name":"b","datatype":"BOOL","shape":[1],"data":[true]}]}"#
        let response = try await send(server.port, .POST, "/v2/models/echo/infer", body: body)
        #expect(response.status == .ok)
        let json = try JSONParser.parse(Array(response.body.readableBytesView))
        #expect(json.objectValue?["model_name"] == .string("echo"))
        #expect(json.objectValue?["model_version"] == .string("1"))
        #expect(json.objectValue?["id"] == .string("r1"))
        let outputs = try #require(json.objectValue?["outputs"]?.arrayValue)
        #expect(outputs[0].objectValue?["data"] == .array([.integer(1), .integer(2), .integer(3), .double(4.5)]))
        #expect(outputs[0].objectValue?["shape"] == .array([.integer(2), .integer(2)]))
        #expect(outputs[1].objectValue?["data"] == .array([.string("héllo"), .string("")]))
        #expect(outputs[2].objectValue?["data"] == .array([.bool(true)]))
    }

    @Test func kserveBinaryInferenceThroughTheSwiftClient() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try await KServeClient.connect(host: "127.0.0.1", port: server.port)
        let values: [Int64] = [-5, 0, 1 << 50]
        let input = try #require(InferTensor(name: "ids", dataType: .int64, shape: [1, 3], values: values))
        for binary in [true, false] {
            let outputs = try await client.infer(model: "echo", version: "1", inputs: [input], binary: binary)
            #expect(outputs.first?.values(as: Int64.self) == values)
            #expect(outputs.first?.shape == [1, 3])
        }
        await client.connection.close()
    }

    @Test func torchServePredictionsAndPing() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let ping = try await send(server.port, .GET, "/ping")
        #expect(ping.status == .ok)
        #expect(ping.text.contains("Healthy"))
        let response = try await send(
            server.port, .POST, "/predictions/echo", body: #"{"text": "hi"}"#,
            headers: ["Content-Type": "application/json"])
        #expect(response.status == .ok)
        #expect(response.text == #"{"text": "hi"}"#)
        #expect(response.headers.first(name: "Content-Type") == "application/json")
        let versioned = try await send(server.port, .POST, "/predictions/echo/1", body: "plain")
        #expect(versioned.text == "plain")
        let missing = try await send(server.port, .POST, "/predictions/nope", body: "x")
        #expect(missing.status == .notFound)
        #expect(missing.text.contains("ModelNotFoundException"))
    }

    @Test func healthAndMetadata() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        #expect(try await send(server.port, .GET, "/v2/health/live").status == .ok)
        #expect(try await send(server.port, .GET, "/v2/health/ready").status == .ok)
        #expect(try await send(server.port, .GET, "/v2/models/echo/ready").status == .ok)
        #expect(try await send(server.port, .GET, "/v2/models/echo/versions/1/ready").status == .ok)
        let metadata = try JSONParser.parse(
            Array(try await send(server.port, .GET, "/v2/models/echo").body.readableBytesView))
        #expect(metadata.objectValue?["name"] == .string("echo"))
        #expect(metadata.objectValue?["versions"] == .array([.string("1")]))
        let server2 = try JSONParser.parse(Array(try await send(server.port, .GET, "/v2").body.readableBytesView))
        #expect(server2.objectValue?["extensions"]?.arrayValue?.contains(.string("binary_tensor_data")) == true)
    }

    @Test(arguments: [
        ("/v2/models/echo/infer", "{not json", HTTPResponseStatus.badRequest, "malformed request"),
        (
            "/v2/models/echo/infer", #"{"inputs":[{"name":"x","datatype":"FP32","shape":[3],"data":[1,2]}]}"#,
            .badRequest,
            "has 2 values but shape [3] needs 3"
        ),
        (
            "/v2/models/echo/infer", #"{"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[300]}]}"#,
            .badRequest,
            "not a valid INT8"
        ),
        (
            "/v2/models/echo/infer", #"{"inputs":[{"name":"x","datatype":"FP99","shape":[1],"data":[1]}]}"#,
            .badRequest,
            "unknown datatype"
        ),
        (
            "/v2/models/echo/infer", #"{"inputs":[{"name":"x","datatype":"FP32","shape":[-1],"data":[]}]}"#,
            .badRequest,
            "non-negative"
        ),
        ("/v2/models/echo/infer", #"{"inputs":[]}"#, .badRequest, "empty"),
        (
            "/v2/models/echo/infer",
            #"{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]}],"outputs":[{"name":"y"}]}"#,
            .badRequest, "no output named 'y'"
        ),
        ("/v2/models/nope/infer", #"{"inputs":[]}"#, .notFound, "unknown model 'nope'"),
        ("/v2/models/echo/versions/9/infer", #"{"inputs":[]}"#, .notFound, "has no version '9'"),
        ("/v2/nowhere", "", .notFound, "no route"),
    ])
    func badRequestsGetAClearErrorAndTheServerKeepsServing(
        uri: String, body: String, status: HTTPResponseStatus, excerpt: String
    ) async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let response = try await send(server.port, .POST, uri, body: body)
        #expect(response.status == status)
        let message = try JSONParser.parse(Array(response.body.readableBytesView)).objectValue?["error"]?.stringValue
        #expect(message?.contains(excerpt) == true, "\(message ?? response.text)")
        #expect(try await send(server.port, .GET, "/v2/health/live").status == .ok)
    }

    @Test func binaryDataThatDoesNotMatchItsShapeIsRefused() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let header = #"{"inputs":[{"name":"x","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":4}}]}"#
        var body = ByteBuffer(string: header)
        body.writeBytes([0, 0, 128, 63])
        let connection = try await server.connect()
        let response = try await connection.send(
            ClientRequest(
                method: .POST, uri: "/v2/models/echo/infer",
                headers: ["Inference-Header-Content-Length": String(header.utf8.count)], body: body))
        #expect(response.status == .badRequest)
        #expect(response.text.contains("holds 4 bytes but shape [2] of FP32 needs 8"))
        let single = header.replacingOccurrences(of: "[2]", with: "[1]")
        let extra = ByteBuffer(string: single + "12345")
        let trailing = try await connection.send(
            ClientRequest(
                method: .POST, uri: "/v2/models/echo/infer",
                headers: ["Inference-Header-Content-Length": String(single.utf8.count)], body: extra))
        #expect(trailing.status == .badRequest)
        #expect(trailing.text.contains("no input claims"))
        await connection.close()
    }

    @Test func anOversizedBodyGets413AndTheServerKeepsServing() async throws {
        let server = try await TestServer.start(maxBodySize: 1024)
        defer { Task { await server.stop() } }
        let big = String(repeating: "x", count: 4096)
        let response = try await send(server.port, .POST, "/v2/models/echo/infer", body: big)
        #expect(response.status == .payloadTooLarge)
        #expect(response.text.contains("exceeds the limit of 1024 bytes"))
        let small = #"{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[7]}]}"#
        #expect(try await send(server.port, .POST, "/v2/models/echo/infer", body: small).status == .ok)
    }

    @Test func wrongMethodsGet405() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let response = try await send(server.port, .GET, "/v2/models/echo/infer")
        #expect(response.status == .methodNotAllowed)
        #expect(response.headers.first(name: "Allow") == "POST")
    }

    @Test func modelsWithoutTheirHandlerOrThatFailToLoadAreReportedAndTheRestServe() async throws {
        let server = try await TestServer.start(
            plugins: ["Echo", "FixtureFailingLoad"],
            models: [
                "echo": #"{"handler": "echo"}"#,
                "broken": #"{"handler": "failing-load"}"#,
                "orphan": #"{"handler": "missing"}"#,
                "typo": #"{"handler": "echo", "max_batch_sise": 4}"#,
            ])
        defer { Task { await server.stop() } }
        let failures = Dictionary(
            uniqueKeysWithValues: server.server.repository.failures.map { ($0.model, $0.message) })
        #expect(failures["broken"]?.contains("weights not found") == true)
        #expect(failures["orphan"]?.contains("no handler named 'missing'") == true)
        #expect(failures["typo"]?.contains("unknown key \"max_batch_sise\"") == true)
        #expect(try await send(server.port, .GET, "/v2/health/ready").status == .serviceUnavailable)
        #expect(try await send(server.port, .GET, "/v2/models/broken").status == .serviceUnavailable)
        let body = #"{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[7]}]}"#
        #expect(try await send(server.port, .POST, "/v2/models/echo/infer", body: body).status == .ok)
    }
}

@Suite("Fuzz entry points")
struct ServerFuzzTests {
    @Test func inferRequestDecodingNeverTraps() {
        var generator = SystemRandomNumberGenerator()
        let seeds = [
            [0]
                + Array(
                    #"{"inputs":[{"name":"x","datatype":"FP32","shape":[2,1],"data":[[1],[2.5]]}],"outputs":[{"name":"x"}]}"#
                        .utf8),
            [200]
                + Array(
                    #"{"inputs":[{"name":"t","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":7}}]}"#
                        .utf8)
                + [3, 0, 0, 0, 97, 98, 99],
        ]
        for iteration in 0..<3000 {
            var bytes = seeds[iteration % seeds.count]
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                let position = Int.random(in: 0..<bytes.count, using: &generator)
                bytes[position] = UInt8.random(in: 0...255, using: &generator)
            }
            ServerFuzz.inferRequest(bytes)
        }
    }
}
