import ConfideClient
import ConfideHTTPClient
import ConfideRuntime
import ConfideServer
import ConfideServerTestSupport
import Foundation
import NIOHTTP1
import Testing

/// A handler's settings are its own: `model.json`'s `"parameters"` reach it as written and it checks them; the
/// `bert` handler's `precision` among them (still read at the top level for one release, with a warning).
@Suite("Handler-owned settings, served")
struct HandlerParametersTests {
    /// A BERT small enough to build from seeded random weights in milliseconds.
    static let tinyConfig = """
        {"model_type": "bert", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
         "intermediate_size": 128, "max_position_embeddings": 64, "vocab_size": 400}
        """

    /// Starts a server on one random-weight `bert` model named `tiny` with `modelJSON`.
    static func serve(_ modelJSON: String, logs: LogRecorder) async throws -> TestServer {
        try await TestServer.start(plugins: ["Bert"], models: ["tiny": modelJSON], logs: logs) { configuration in
            let folder = URL(fileURLWithPath: configuration.modelsDirectory).appendingPathComponent("tiny")
            try Data(Self.tinyConfig.utf8).write(to: folder.appendingPathComponent("config.json"))
        }
    }

    @Test func aTopLevelPrecisionStillLoadsWithAWarning() async throws {
        let logs = LogRecorder()
        let server = try await Self.serve(
            #"{"handler": "bert", "precision": "bf16", "parameters": {"random_weights": true}}"#, logs: logs)
        defer { Task { await server.stop() } }
        #expect(server.server.repository.failures.isEmpty)
        let lines = logs.recorded
        #expect(
            lines.contains { $0.hasPrefix("warning") && $0.contains(#"top-level "precision" is deprecated"#) },
            "\(lines)")
        let response = try await send(
            server.port, .POST, "/v2/models/tiny/infer",
            body: #"{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["hello world"]}]}"#)
        #expect(response.status == .ok, "\(response.text)")
    }

    @Test func parametersPrecisionLoadsWithoutAWarning() async throws {
        let logs = LogRecorder()
        let server = try await Self.serve(
            #"{"handler": "bert", "parameters": {"random_weights": true, "precision": "int8"}}"#, logs: logs)
        defer { Task { await server.stop() } }
        #expect(server.server.repository.failures.isEmpty)
        let lines = logs.recorded
        #expect(!lines.contains { $0.hasPrefix("warning") && $0.contains("precision") }, "\(lines)")
    }

    /// The runtime no longer knows the values: the handler refuses one it does not know, and the load failure says
    /// so in the handler's words. A top-level value reaches the handler the same way.
    @Test(arguments: [
        #"{"handler": "bert", "parameters": {"random_weights": true, "precision": "fp16"}}"#,
        #"{"handler": "bert", "precision": "fp16", "parameters": {"random_weights": true}}"#,
    ])
    func anUnknownPrecisionIsALoadErrorInTheHandlersWords(modelJSON: String) async throws {
        let server = try await Self.serve(modelJSON, logs: LogRecorder())
        defer { Task { await server.stop() } }
        let failure = try #require(server.server.repository.failures.first)
        #expect(failure.model == "tiny")
        #expect(
            failure.message.contains(#"parameters: "precision" must be one of "fp32", "bf16", "int8", not "fp16""#),
            "\(failure.message)")
    }
}
