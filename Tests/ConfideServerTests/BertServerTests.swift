import ConfideClient
import ConfideHTTPClient
import ConfideJSON
import ConfideServer
import ConfideServerTestSupport
import Foundation
import MiniLMCache
import NIOHTTP1
import Testing

/// The `bert` handler served end to end: all-MiniLM-L6-v2 (from `scripts/fetch-minilm --cache-only`'s cache)
/// behind a real server, asked through KServe v2 and TorchServe over HTTP.
@Suite("all-MiniLM-L6-v2 served over HTTP", .enabled(if: MiniLMCache.testsEnabled, MiniLMCache.absent))
struct BertServerTests {
    @Test func kserveAndTorchServeRequests() async throws {
        let server = try await TestServer.start(
            plugins: ["Echo", "Bert"], models: ["minilm": #"{"handler": "bert", "parameters": {"precision": "fp32"}}"#]
        ) { configuration in
            try MiniLMCache.link(into: (configuration.modelsDirectory as NSString).appendingPathComponent("minilm"))
        }
        defer { Task { await server.stop() } }

        let kserve = try await send(
            server.port, .POST, "/v2/models/minilm/infer",
            body: #"{"inputs":[{"name":"text","datatype":"BYTES","shape":[2],"data":["Hello, world!",""]}]}"#)
        #expect(kserve.status == .ok, "\(kserve.text)")
        let outputs = try JSONParser.parse(kserve.text).objectValue?["outputs"]?.arrayValue
        let output = try #require(outputs?.first?.objectValue)
        #expect(output["name"]?.stringValue == "embedding")
        #expect(output["datatype"]?.stringValue == "FP32")
        #expect(output["shape"] == .array([.integer(2), .integer(384)]))
        let values = try #require(output["data"]?.arrayValue).compactMap(\.doubleValue)
        #expect(values.count == 768)
        let first = Array(values[0..<384])
        #expect(abs(first.reduce(0) { $0 + $1 * $1 } - 1) < 1e-4)

        let torch = try await send(
            server.port, .POST, "/predictions/minilm", body: #"{"text": "Hello, world!"}"#,
            headers: ["Content-Type": "application/json"])
        #expect(torch.status == .ok, "\(torch.text)")
        #expect(torch.headers.first(name: "Content-Type") == "application/json")
        let embedding = try #require(try JSONParser.parse(torch.text).arrayValue).compactMap(\.doubleValue)
        #expect(embedding.count == 384)
        #expect(zip(embedding, first).allSatisfy { abs($0 - $1) < 1e-6 })

        let plain = try await send(server.port, .POST, "/predictions/minilm", body: "Hello, world!")
        #expect(try JSONParser.parse(plain.text).arrayValue?.count == 384)

        let malformed = try await send(
            server.port, .POST, "/predictions/minilm", body: #"{"text": "#,
            headers: ["Content-Type": "application/json"])
        #expect(malformed.status == .badRequest, "\(malformed.text)")
    }

    /// The issue's bar: tritonclient.http, tritonclient.grpc and openai, unchanged, get the same embeddings for the
    /// same texts from one server (bit for bit), each within cosine 0.99999 of the reference.
    @Test func threeClientsGetTheSameEmbeddingsFromOneServer() async throws {
        let server = try await TestServer.start(
            plugins: ["Bert"], models: ["minilm": #"{"handler": "bert", "parameters": {"precision": "fp32"}}"#],
            grpc: true
        ) { configuration in
            try MiniLMCache.link(into: (configuration.modelsDirectory as NSString).appendingPathComponent("minilm"))
        }
        defer { Task { await server.stop() } }
        let result = try await runPython(
            InteropTests.scripts.appendingPathComponent("three_clients.py").path, "127.0.0.1:\(server.port)",
            "127.0.0.1:\(server.grpcPort)", "minilm", MiniLMCache.referencePath)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("three clients: 197 texts, identical vectors"), "\(result.output)")
    }

    /// tritonclient.grpc, unchanged, sends the reference texts as BYTES and gets their embeddings over gRPC.
    @Test func tritonclientGRPCEmbeddingsMatchTheReference() async throws {
        let server = try await TestServer.start(
            plugins: ["Echo", "Bert"],
            models: [
                "echo": #"{"handler": "echo"}"#, "minilm": #"{"handler": "bert", "parameters": {"precision": "fp32"}}"#,
            ],
            grpc: true
        ) { configuration in
            try MiniLMCache.link(into: (configuration.modelsDirectory as NSString).appendingPathComponent("minilm"))
        }
        defer { Task { await server.stop() } }
        let result = try await runPython(
            InteropTests.scripts.appendingPathComponent("tritonclient_grpc.py").path, "127.0.0.1:\(server.grpcPort)",
            "echo", "minilm", MiniLMCache.referencePath)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("embeddings: 198 texts"), "\(result.output)")
        #expect(result.output.contains("tritonclient.grpc: all checks passed"), "\(result.output)")
    }
}

extension MiniLMCache {
    static let absent = Comment(rawValue: absentReason)

    /// Links the model's files into a model-store entry, as `scripts/fetch-minilm` does.
    static func link(into entry: String) throws {
        for file in files {
            let target = (entry as NSString).appendingPathComponent(file)
            try FileManager.default.createDirectory(
                atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                atPath: target, withDestinationPath: (folder as NSString).appendingPathComponent(file))
        }
    }
}
