import ConfideClient
import ConfideHTTPClient
import ConfideJSON
import ConfideServerTestSupport
import Foundation
import MiniLMCache
import NIOCore
import NIOHTTP1
import Testing

@testable import ConfideServer

@Suite("Task routes: parsing")
struct TaskRouteParsingTests {
    @Test func routesOfTheTasks() throws {
        let router = Router(surface: .inference)
        let rerank = try router.route(method: .POST, path: "/v1/rerank", query: "")
        #expect(rerank == Route(.rerank, family: .openAI))
        #expect(rerank.access == .modelsChosenByAPI)
        #expect(try router.route(method: .POST, path: "/v1/classify", query: "") == Route(.classify, family: .openAI))
        let wrongMethod = #expect(throws: RoutingError.self) {
            try router.route(method: .GET, path: "/v1/rerank", query: "")
        }
        #expect(wrongMethod?.family == .openAI)
    }

    @Test func rerankBodies() throws {
        let parsed = try RerankRequest(
            parsing: ByteBuffer(
                string: #"""
                    {"model": "ce", "query": "q", "documents": ["a", {"text": "b"}], "top_n": 1, "return_documents": true,
                     "extra": 1}
                    """#))
        #expect(parsed.model == "ce" && parsed.query == Array("q".utf8) && parsed.documents == [[97], [98]])
        #expect(parsed.topN == 1 && parsed.returnDocuments)
        let bad: [(String, String?)] = [
            (#"{"query": "q", "documents": ["a"]}"#, "model"), (#"{"model": "ce", "documents": ["a"]}"#, "query"),
            (#"{"model": "ce", "query": "q", "documents": []}"#, "documents"),
            (#"{"model": "ce", "query": "q", "documents": [1]}"#, "documents"),
            (#"{"model": "ce", "query": "q", "documents": ["a"], "top_n": 0}"#, "top_n"),
            (#"{"model": "ce", "query": "q", "documents": ["a"], "return_documents": "yes"}"#, "return_documents"),
            (#"{"model": "ce", "model": "x", "query": "q", "documents": ["a"]}"#, nil), ("[1]", nil), ("{", nil),
        ]
        for (body, parameter) in bad {
            let error = #expect(throws: APIError.self, "\(body)") {
                try RerankRequest(parsing: ByteBuffer(string: body))
            }
            #expect(error?.status == .badRequest && error?.parameter == parameter, "\(body)")
        }
        let many = "[" + Array(repeating: #""d""#, count: 2049).joined(separator: ",") + "]"
        #expect(throws: APIError.self) {
            try RerankRequest(parsing: ByteBuffer(string: #"{"model": "ce", "query": "q", "documents": \#(many)}"#))
        }
    }

    @Test func classifyBodies() throws {
        #expect(try ClassifyRequest(parsing: ByteBuffer(string: #"{"model": "c", "input": "a"}"#)).texts == [[97]])
        #expect(
            try ClassifyRequest(parsing: ByteBuffer(string: #"{"model": "c", "input": ["a", "b"]}"#)).texts.count == 2)
        for body in [
            #"{"model": "c"}"#, #"{"model": "c", "input": []}"#, #"{"model": "c", "input": [1]}"#,
            #"{"model": "c", "input": 5}"#, #"{"model": "../x", "input": "a"}"#,
        ] {
            let error = #expect(throws: APIError.self, "\(body)") {
                try ClassifyRequest(parsing: ByteBuffer(string: body))
            }
            #expect(error?.status == .badRequest, "\(body)")
        }
    }

    @Test func theFuzzEntryPointNeverTrapsOnMutatedBodies() {
        var generator = SystemRandomNumberGenerator()
        let seeds = [
            #"{"model": "m", "query": "q\u00e9", "documents": ["a", {"text": "b"}], "top_n": 2, "return_documents": true}"#,
            #"{"model": "m", "input": ["a", "b"], "extra": [{"a": [1, 2.5e3, null, true]}]}"#,
        ].map { Array($0.utf8) }
        for iteration in 0..<4000 {
            var bytes = seeds[iteration % seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            ServerFuzz.taskRequest(bytes)
            ServerFuzz.taskRequest(Array(bytes.prefix(iteration % bytes.count)))
        }
    }

    @Test func rerankResultsAreSortedAndCut() throws {
        let request = try RerankRequest(
            parsing: ByteBuffer(
                string: #"""
                    {"model": "ce", "query": "q", "documents": ["a", "b", "c"], "top_n": 2, "return_documents": true}
                    """#))
        let body = TaskResponses.rerank(model: "ce", scores: [0.1, 0.9, 0.1], request: request, totalTokens: 12)
        let object = try #require(try JSONParser.parse(body).objectValue)
        let results = try #require(object["results"]?.arrayValue).compactMap(\.objectValue)
        #expect(results.map { $0["index"]?.int64Value } == [1, 0])
        #expect(results.map { $0["document"]?.objectValue?["text"]?.stringValue } == ["b", "a"])
        #expect(object["usage"]?.objectValue?["total_tokens"]?.int64Value == 12)
    }
}

/// `/v1/rerank` and `/v1/classify` served by the `bert` handler on the transformers oracle's checkpoints
/// (`scripts/bert-oracle`), plainly and inside the Oblivious HTTP gateway.
@Suite("Task routes over HTTP", .enabled(if: TaskModels.available, TaskModels.skipReason))
struct TasksAPITests {
    static let tokens = #"""
        [{"name": "ce", "sha256": "\#(sha256Hex("secret-ce"))", "scopes": ["inference"], "models": ["ce"]}]
        """#

    static func start(tokens: TokenStore? = nil) async throws -> TestServer {
        // Two workers for the task models: the routes split a request's items between them, and the tests compare
        // with the same items answered whole (KServe) or one by one.
        let models = [
            "ce": #"{"handler": "bert", "workers": 2}"#, "classifier": #"{"handler": "bert", "workers": 2}"#,
            "embedder": #"{"handler": "bert"}"#,
        ]
        let folders = [
            "ce": "bert-cross-encoder", "classifier": "bert-classification", "embedder": "bert-embedding-mean",
        ]
        return try await TestServer.start(plugins: ["Bert"], models: models, tokens: tokens) { configuration in
            for (name, folder) in folders {
                try TaskModels.link(
                    folder, into: (configuration.modelsDirectory as NSString).appendingPathComponent(name))
            }
        }
    }

    static func post(_ port: Int, _ path: String, _ body: String, token: String? = nil) async throws -> ClientResponse {
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        return try await send(port, .POST, path, body: body, headers: headers)
    }

    @Test func rerankSortsTheDocumentsByTheCrossEncodersScore() async throws {
        let server = try await Self.start()
        defer { Task { await server.stop() } }
        let documents = ["the cat sat on the mat", "stock markets fell", "a dog barked", "", "the cat"]
        let list = "[" + documents.map { "\"\($0)\"" }.joined(separator: ",") + "]"
        let response = try await Self.post(
            server.port, "/v1/rerank", #"{"model": "ce", "query": "where is the cat?", "documents": \#(list)}"#)
        #expect(response.status == .ok, "\(response.text)")
        let object = try #require(try JSONParser.parse(Array(response.text.utf8)).objectValue)
        let results = try #require(object["results"]?.arrayValue).compactMap(\.objectValue)
        let scores = results.compactMap { $0["relevance_score"]?.doubleValue }
        #expect(Set(results.compactMap { $0["index"]?.int64Value }) == Set(0..<5))
        #expect(scores == scores.sorted(by: >))
        #expect(results.allSatisfy { $0["document"] == nil })
        #expect((object["usage"]?.objectValue?["total_tokens"]?.int64Value ?? 0) > 10)
        // The same pairs through KServe v2 give the same scores.
        let pairs = documents.map { "\"\($0)\"" }.joined(separator: ",")
        let queries = Array(repeating: #""where is the cat?""#, count: documents.count).joined(separator: ",")
        let kserve = try await Self.post(
            server.port, "/v2/models/ce/infer",
            #"""
            {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [5], "data": [\#(queries)]},
                        {"name": "text_pair", "datatype": "BYTES", "shape": [5], "data": [\#(pairs)]}],
             "outputs": [{"name": "score"}]}
            """#)
        let outputs = try #require(try JSONParser.parse(Array(kserve.text.utf8)).objectValue?["outputs"]?.arrayValue)
        let direct = try #require(outputs.first?.objectValue?["data"]?.arrayValue).compactMap(\.doubleValue)
        for result in results {
            let index = Int(result["index"]?.int64Value ?? -1)
            #expect(abs((result["relevance_score"]?.doubleValue ?? .nan) - direct[index]) < 1e-6)
        }
        let top = try await Self.post(
            server.port, "/v1/rerank",
            #"""
            {"model": "ce", "query": "cat", "documents": \#(list), "top_n": 2, "return_documents": true}
            """#)
        let topResults = try #require(try JSONParser.parse(Array(top.text.utf8)).objectValue?["results"]?.arrayValue)
        #expect(topResults.count == 2)
        #expect(topResults.allSatisfy { $0.objectValue?["document"]?.objectValue?["text"]?.stringValue != nil })
    }

    @Test func classifyLabelsTheTexts() async throws {
        let server = try await Self.start()
        defer { Task { await server.stop() } }
        let response = try await Self.post(
            server.port, "/v1/classify", #"{"model": "classifier", "input": ["good", "bad", "so-so"]}"#)
        #expect(response.status == .ok, "\(response.text)")
        let object = try #require(try JSONParser.parse(Array(response.text.utf8)).objectValue)
        let data = try #require(object["data"]?.arrayValue).compactMap(\.objectValue)
        #expect(data.count == 3)
        for (index, item) in data.enumerated() {
            #expect(item["index"]?.int64Value == Int64(index))
            #expect(item["num_classes"]?.int64Value == 3)
            let probabilities = (item["probs"]?.arrayValue ?? []).compactMap(\.doubleValue)
            #expect(abs(probabilities.reduce(0, +) - 1) < 1e-5)
            let labels = ["negative", "neutral", "positive"]
            let best = probabilities.indices.max { probabilities[$0] < probabilities[$1] } ?? -1
            #expect(item["label"]?.stringValue == labels[best])
        }
        #expect(object["model"]?.stringValue == "classifier")
        // Alone, a text gets the probabilities it got among the others (split between the two workers).
        let single = try await Self.post(server.port, "/v1/classify", #"{"model": "classifier", "input": "so-so"}"#)
        #expect(single.status == .ok && single.text.contains(#""num_classes":3"#))
        let alone = try #require(try JSONParser.parse(Array(single.text.utf8)).objectValue?["data"]?.arrayValue)
        let aloneProbabilities = (alone.first?.objectValue?["probs"]?.arrayValue ?? []).compactMap(\.doubleValue)
        let together = (data[2]["probs"]?.arrayValue ?? []).compactMap(\.doubleValue)
        #expect(aloneProbabilities.count == 3 && together.count == 3)
        #expect(zip(aloneProbabilities, together).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func modelsWithoutTheTaskAndBadBodiesAreRefusedInOpenAIsShape() async throws {
        let server = try await Self.start()
        defer { Task { await server.stop() } }
        // A long query paired with many documents would multiply the body: refused before any copy.
        let longQuery = String(repeating: "q", count: 300_000)
        let manyDocuments = Array(repeating: #""d""#, count: 2000).joined(separator: ",")
        let cases: [(String, String, HTTPResponseStatus, String?)] = [
            ("/v1/rerank", #"{"model": "embedder", "query": "q", "documents": ["a"]}"#, .notFound, "model"),
            ("/v1/rerank", #"{"model": "classifier", "query": "q", "documents": ["a"]}"#, .notFound, "model"),
            ("/v1/classify", #"{"model": "embedder", "input": "a"}"#, .notFound, "model"),
            ("/v1/classify", #"{"model": "nope", "input": "a"}"#, .notFound, "model"),
            ("/v1/rerank", #"{"model": "ce", "query": 1, "documents": ["a"]}"#, .badRequest, "query"),
            ("/v1/classify", #"{"model": "classifier", "input": [\u0000]}"#, .badRequest, nil),
            (
                "/v1/rerank", #"{"model": "ce", "query": "\#(longQuery)", "documents": [\#(manyDocuments)]}"#,
                .badRequest,
                "query"
            ),
        ]
        for (path, body, status, parameter) in cases {
            let response = try await Self.post(server.port, path, body)
            #expect(response.status == status, "\(path) \(body): \(response.text)")
            let error = try openAIError(response)
            #expect(error.param == parameter, "\(path) \(body)")
            #expect(!error.message.isEmpty)
        }
    }

    @Test func tasksInsideTheObliviousGatewayKeepTheTokensLimits() async throws {
        let server = try await Self.start(tokens: try TokenStore(json: Array(Self.tokens.utf8)))
        defer { Task { await server.stop() } }
        let client = try await ObliviousClient.connect(host: "127.0.0.1", port: server.port, policy: simulatedPolicy())
        defer { Task { await client.close() } }
        func post(_ path: String, _ body: String) async throws -> ClientResponse {
            try await client.send(
                ClientRequest(
                    method: .POST, uri: path,
                    headers: ["Content-Type": "application/json", "Authorization": "Bearer secret-ce"],
                    body: ByteBuffer(string: body)))
        }
        let rerank = try await post("/v1/rerank", #"{"model": "ce", "query": "q", "documents": ["a", "b"]}"#)
        #expect(rerank.status == .ok, "\(rerank.text)")
        #expect(rerank.text.contains(#""results":[{"index":"#))
        let refused = try await post("/v1/classify", #"{"model": "classifier", "input": "a"}"#)
        #expect(refused.status == .forbidden)
        #expect(try openAIError(refused).type == "permission_error")
        let anonymous = try await send(
            server.port, .POST, "/v1/rerank", body: #"{"model": "ce", "query": "q", "documents": ["a"]}"#)
        #expect(anonymous.status == .unauthorized)
    }

    /// The Bar's measurement (`CONFIDE_BENCH_RERANK=1`; about two minutes): one rerank request over 32 documents
    /// against 32 single embedding requests of the same documents, one after the other on one connection, for an
    /// embedding model and a cross-encoder of all-MiniLM-L6-v2's shape (the oracle's bench models), FP32; medians of
    /// five rounds. docs/PERFORMANCE.md records the result; the test fails only when reranking is far slower.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CONFIDE_BENCH_RERANK"] != nil))
    func rerankingThirtyTwoDocumentsAgainstThirtyTwoEmbeddingRequests() async throws {
        let models = [
            "ce": #"{"handler": "bert", "cores_per_worker": 2}"#,
            "embedder": #"{"handler": "bert", "cores_per_worker": 2}"#,
        ]
        let server = try await TestServer.start(plugins: ["Bert"], models: models) { configuration in
            let store = configuration.modelsDirectory as NSString
            try TaskModels.link("bench-cross-encoder", into: store.appendingPathComponent("ce"))
            try TaskModels.link("bench-embedding", into: store.appendingPathComponent("embedder"))
        }
        defer { Task { await server.stop() } }
        let texts = try TaskModels.referenceTexts().filter { $0.utf8.count > 100 }.prefix(32)
        try #require(texts.count == 32)
        func quoted(_ text: String) -> String { String(decoding: JSONValue.string(text).serialized, as: UTF8.self) }
        let rerankBody =
            #"{"model": "ce", "query": "history", "documents": [\#(texts.map(quoted).joined(separator: ","))]}"#
        let connection = try await HTTPConnection.connect(host: "127.0.0.1", port: server.port)
        defer { Task { await connection.close() } }
        func request(_ path: String, _ body: String) async throws {
            let response = try await connection.send(
                ClientRequest(
                    method: .POST, uri: path, headers: ["Content-Type": "application/json"],
                    body: ByteBuffer(string: body)))
            #expect(response.status == .ok, "\(response.text)")
        }
        func rerank() async throws { try await request("/v1/rerank", rerankBody) }
        func embedEach() async throws {
            for text in texts {
                try await request("/v1/embeddings", #"{"model": "embedder", "input": \#(quoted(text))}"#)
            }
        }
        try await rerank()
        try await embedEach()
        let clock = ContinuousClock()
        var rerankTimes: [Duration] = []
        var embedTimes: [Duration] = []
        for _ in 0..<5 {
            rerankTimes.append(try await clock.measure { try await rerank() })
            embedTimes.append(try await clock.measure { try await embedEach() })
        }
        let rerankMedian = rerankTimes.sorted()[2]
        let embedMedian = embedTimes.sorted()[2]
        print(
            "rerank of 32 documents: median \(rerankMedian); 32 single embedding requests: median \(embedMedian); "
                + "ratio \(embedMedian / rerankMedian)")
        #expect(rerankMedian < embedMedian * 1.25)
    }
}

/// The oracle's checkpoints, prepared by `scripts/bert-oracle` (cached; the suite is skipped when its venv cannot
/// be created).
enum TaskModels {
    static let prepared: Result<String, any Error> = Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [(MiniLMCache.packageRoot as NSString).appendingPathComponent("scripts/bert-oracle")]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw Unavailable(status: process.terminationStatus) }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    struct Unavailable: Error {
        let status: Int32
    }

    static var available: Bool {
        if case .failure(let error) = prepared, (error as? Unavailable)?.status == 3 { return false }
        return true
    }

    static let skipReason = Comment(
        rawValue: "the transformers oracle is unavailable: scripts/bert-oracle cannot create its Python venv "
            + "(run scripts/bootstrap --test)")

    /// Links the files of the oracle's model `name` into the model-store entry `folder`.
    static func link(_ name: String, into folder: String) throws {
        let source = (try prepared.get() as NSString).appendingPathComponent(name)
        for entry in try FileManager.default.contentsOfDirectory(atPath: source) {
            try FileManager.default.createSymbolicLink(
                atPath: (folder as NSString).appendingPathComponent(entry),
                withDestinationPath: (source as NSString).appendingPathComponent(entry))
        }
    }

    /// The texts of the oracle (the reference texts).
    static func referenceTexts() throws -> [String] {
        let path = (try prepared.get() as NSString).appendingPathComponent("expected.json")
        let data = try #require(FileManager.default.contents(atPath: path))
        return (try JSONParser.parse([UInt8](data)).objectValue?["texts"]?.arrayValue ?? []).compactMap(\.stringValue)
    }
}
