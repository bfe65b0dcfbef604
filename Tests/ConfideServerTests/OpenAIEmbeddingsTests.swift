import ConfideClient
import ConfideHTTPClient
import ConfideJSON
import ConfideRuntime
import ConfideServerTestSupport
import Foundation
import MiniLMCache
import NIOCore
import NIOHTTP1
import Testing

@testable import ConfideServer

/// The `fake-embeddings` fixture's embedding of a text of `length` UTF-8 bytes (see Tests/Fixtures/Embeddings).
func fakeEmbedding(length: Int, width: Int = 4, unit: Bool = true) -> [Float] {
    let row = (0..<width).map { Float(length + $0 + 1) }
    let norm = unit ? row.reduce(0) { $0 + $1 * $1 }.squareRoot() : 1
    return row.map { $0 / norm }
}

/// The members of an OpenAI error body.
func openAIError(_ response: ClientResponse) throws -> (type: String?, param: String?, message: String) {
    #expect(response.headers.first(name: "Content-Type") == "application/json")
    let error = try #require(try JSONParser.parse(response.text).objectValue?["error"]?.objectValue, "\(response.text)")
    #expect(error["code"] == .null)
    return (error["type"]?.stringValue, error["param"]?.stringValue, error["message"]?.stringValue ?? "")
}

/// The embeddings of an OpenAI response, decoded from numbers or base64, and its usage.
func embeddings(_ response: ClientResponse) throws -> (vectors: [[Float]], promptTokens: Int64?, totalTokens: Int64?) {
    let object = try #require(try JSONParser.parse(response.text).objectValue, "\(response.text)")
    #expect(object["object"] == .string("list"))
    let data = try #require(object["data"]?.arrayValue)
    var vectors: [[Float]] = []
    for (index, item) in data.enumerated() {
        let entry = try #require(item.objectValue)
        #expect(entry["object"] == .string("embedding"))
        #expect(entry["index"] == .integer(Int64(index)))
        switch entry["embedding"] {
        case .array(let values)?:
            vectors.append(values.compactMap { $0.doubleValue.map(Float.init) })
        case .string(let text)?:
            let bytes = try #require(Data(base64Encoded: text))
            vectors.append(
                stride(from: 0, to: bytes.count, by: 4).map { offset in
                    Float(bitPattern: bytes[offset..<offset + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) })
                })
        default:
            Issue.record("no embedding in \(entry)")
        }
    }
    let usage = object["usage"]?.objectValue
    return (vectors, usage?["prompt_tokens"]?.int64Value, usage?["total_tokens"]?.int64Value)
}

/// Whether two vectors are equal within FP32 rounding.
func close(_ left: [Float], _ right: [Float], tolerance: Float = 1e-6) -> Bool {
    left.count == right.count && zip(left, right).allSatisfy { abs($0 - $1) <= tolerance }
}

@Suite("The OpenAI embeddings API: routes, errors and bodies")
struct OpenAIUnitTests {
    let router = Router(surface: .inference)

    @Test func routesOfTheOpenAIAPI() throws {
        let embeddings = try router.route(method: .POST, path: "/v1/embeddings", query: "")
        #expect(embeddings == Route(.embeddings, family: .openAI))
        #expect(embeddings.access == .modelsChosenByAPI)
        let list = try router.route(method: .GET, path: "/v1/models", query: "")
        #expect(list == Route(.openAIModels, family: .openAI))
        #expect(list.access == .modelsChosenByAPI)
        let model = try router.route(method: .GET, path: "/v1/models/mini%20lm", query: "")
        #expect(model == Route(.openAIModel, family: .openAI, model: "mini lm"))
        #expect(model.access == .model("mini lm"))

        let wrongMethod = #expect(throws: RoutingError.self) {
            try router.route(method: .GET, path: "/v1/embeddings", query: "")
        }
        #expect(wrongMethod?.family == .openAI)
        #expect(wrongMethod?.error.status == .methodNotAllowed)
        for path in ["/v1", "/v1/completions", "/v1/models/a/b"] {
            let missing = #expect(throws: RoutingError.self) { try router.route(method: .GET, path: path, query: "") }
            #expect(missing?.family == .openAI && missing?.error.status == .notFound, "\(path)")
        }
    }

    @Test(arguments: [
        (HTTPResponseStatus.badRequest, "invalid_request_error"), (.unauthorized, "authentication_error"),
        (.forbidden, "permission_error"), (.notFound, "not_found_error"), (.methodNotAllowed, "invalid_request_error"),
        (.payloadTooLarge, "invalid_request_error"), (.tooManyRequests, "rate_limit_error"),
        (.internalServerError, "server_error"), (.serviceUnavailable, "server_error"),
        (.gatewayTimeout, "server_error"),
    ])
    func errorsInOpenAIsShape(status: HTTPResponseStatus, type: String) throws {
        let response = ErrorFormat.openAI.response(
            APIError(status, "went wrong", headers: [("Retry-After", "1")], parameter: "input"))
        #expect(response.status == status)
        #expect(response.headers.first(name: "Retry-After") == "1")
        #expect(
            String(buffer: response.body)
                == #"{"error":{"message":"went wrong","type":"\#(type)","param":"input","code":null}}"#)
        let unnamed = ErrorFormat.openAI.response(APIError(status, "x"))
        #expect(String(buffer: unnamed.body).contains(#""param":null"#))
    }

    func parse(_ body: String) throws(APIError) -> EmbeddingsRequest {
        try EmbeddingsRequest(parsing: ByteBuffer(string: body))
    }

    /// The texts of a parsed request.
    func texts(_ request: EmbeddingsRequest) throws -> [String] {
        var texts: [String] = []
        var offset = 0
        let bytes = request.texts
        while offset < bytes.count {
            let length =
                Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16
                | Int(bytes[offset + 3]) << 24
            texts.append(String(decoding: bytes[(offset + 4)..<(offset + 4 + length)], as: UTF8.self))
            offset += 4 + length
        }
        return texts
    }

    @Test func requestsAreReadWithTheirOptions() throws {
        let single = try parse(#"{"input": "héllo \"world\"", "model": "minilm"}"#)
        #expect(single.model == "minilm" && single.count == 1)
        #expect(try texts(single) == ["héllo \"world\""])
        #expect(single.encodingFormat == .float && single.dimensions == nil)

        let list = try parse(
            #"{"model": "m", "input": ["a", "b\u00e9"], "encoding_format": "base64", "dimensions": 128, "user": "u","#
                + #" "extra": {"nested": [1, 2, {"x": null}]}}"#)
        #expect(try texts(list) == ["a", "bé"])
        #expect(list.count == 2 && list.encodingFormat == .base64 && list.dimensions == 128)

        let nulls = try parse(#"{"model": "m", "input": "x", "encoding_format": null, "dimensions": null}"#)
        #expect(nulls.encodingFormat == .float && nulls.dimensions == nil)
    }

    @Test(
        arguments: [
            ("{not json}", nil, "not valid JSON"),
            (#"{"model": "m", "input": "x"} trailing"#, nil, "not valid JSON"),
            (#"["x"]"#, nil, "must be a JSON object"),
            (#"{"input": "x"}"#, "model", "'model' is required"),
            (#"{"model": "m"}"#, "input", "'input' is required"),
            (#"{"model": "m", "input": []}"#, "input", "must not be an empty list"),
            (#"{"model": "m", "input": ""}"#, "input", "'input' is an empty string"),
            (#"{"model": "m", "input": ["a", ""]}"#, "input", "input[1] is an empty string"),
            (#"{"model": "m", "input": [101, 102]}"#, "input", "token ids is not supported"),
            (#"{"model": "m", "input": [[101, 102]]}"#, "input", "token ids is not supported"),
            (#"{"model": "m", "input": 7}"#, "input", "a string or a list of strings"),
            (#"{"model": "m", "input": ["a", null]}"#, "input", "a string or a list of strings"),
            (#"{"model": 7, "input": "x"}"#, "model", "must be a model's name"),
            (#"{"model": "../x", "input": "x"}"#, "model", "not a valid model name"),
            (#"{"model": "m", "input": "x", "encoding_format": "int8"}"#, "encoding_format", "\"float\" or \"base64\""),
            (#"{"model": "m", "input": "x", "dimensions": 0}"#, "dimensions", "positive integer"),
            (#"{"model": "m", "input": "x", "dimensions": 1.5}"#, "dimensions", "positive integer"),
            (#"{"model": "m", "input": "x", "dimensions": "8"}"#, "dimensions", "positive integer"),
            (#"{"model": "m", "model": "n", "input": "x"}"#, "model", "more than once"),
            (#"{"model": "m", "input": "\ud800"}"#, nil, "not valid JSON"),
        ] as [(String, String?, String)])
    func malformedRequestsAre400(body: String, parameter: String?, excerpt: String) {
        let error = #expect(throws: APIError.self) { try parse(body) }
        #expect(error?.status == .badRequest)
        #expect(error?.parameter == parameter)
        #expect(error?.message.contains(excerpt) == true, "\(error?.message ?? "")")
    }

    @Test func atMost2048Inputs() throws {
        let texts = { (count: Int) in "[" + Array(repeating: #""t""#, count: count).joined(separator: ",") + "]" }
        #expect(try parse(#"{"model": "m", "input": \#(texts(2048))}"#).count == 2048)
        let error = #expect(throws: APIError.self) { try parse(#"{"model": "m", "input": \#(texts(2049))}"#) }
        #expect(error?.message.contains("more than 2048 texts") == true)
    }

    @Test func theFuzzEntryPointNeverTrapsOnMutatedBodies() {
        var generator = SystemRandomNumberGenerator()
        let seeds = [
            #"{"input": ["a", "b\u00e9", "\ud83d\ude00"], "model": "m", "encoding_format": "base64", "dimensions": 8}"#,
            #"{"model": "m", "input": "x", "user": "u", "extra": [{"a": [1, 2.5e3, null, true]}]}"#,
        ].map { Array($0.utf8) }
        for iteration in 0..<4000 {
            var bytes = seeds[iteration % seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            ServerFuzz.embeddingsRequest(bytes)
            ServerFuzz.embeddingsRequest(Array(bytes.prefix(iteration % bytes.count)))
        }
        for seed in seeds { #expect((try? parse(String(decoding: seed, as: UTF8.self))) != nil) }
    }

    @Test func base64IsTheLittleEndianFloat32Bytes() {
        let values: [Float] = [1, -2.5, 0.1, .leastNonzeroMagnitude, 3e38]
        let bytes = values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
        #expect(EmbeddingsResponse.base64(values) == Data(bytes).base64EncodedString())
        for count in 0..<7 {
            let data = Array(UInt8(0)..<UInt8(count))
            #expect(EmbeddingsResponse.base64(data) == Data(data).base64EncodedString())
        }
    }

    @Test func shortenedUnitVectorsAreScaledBackToUnitLength() {
        let unit = fakeEmbedding(length: 3)
        var row = [Float](repeating: 0, count: 2)
        unit.withUnsafeBufferPointer { EmbeddingsResponse.shorten($0, into: &row) }
        #expect(close(row, fakeEmbedding(length: 3, width: 2)))
        let raw = fakeEmbedding(length: 3, unit: false)
        raw.withUnsafeBufferPointer { EmbeddingsResponse.shorten($0, into: &row) }
        #expect(row == [4, 5], "vectors that are not unit length are only cut")
    }

    @Test func responsesHaveOpenAIsShape() throws {
        let rows: [Float] = [0.5, -0.25, 1, 0]
        let body = rows.withUnsafeBufferPointer {
            EmbeddingsResponse.encode(
                model: "m", rows: $0, count: 2, width: 2, dimensions: 2, format: .float, promptTokens: 7)
        }
        #expect(
            String(decoding: body, as: UTF8.self) == #"{"object":"list","data":[{"object":"embedding","index":0,"#
                + #""embedding":[0.5,-0.25]},{"object":"embedding","index":1,"embedding":[1,0]}],"model":"m","#
                + #""usage":{"prompt_tokens":7,"total_tokens":7}}"#)
        #expect(body.count <= EmbeddingsResponse.sizeEstimate(count: 2, dimensions: 2, format: .float))
        #expect(EmbeddingsResponse.sizeEstimate(count: .max, dimensions: 2, format: .float) == .max)
    }

    @Test func modelJSONSaysWhichSizesAClientMayAskFor() throws {
        let sizes = try ModelConfig(json: Array(#"{"handler": "bert", "embedding_dimensions": [256, 128]}"#.utf8))
        #expect(sizes.embeddingDimensions == .sizes([128, 256]))
        #expect(sizes.embeddingDimensions.allows(128, of: 384) && sizes.embeddingDimensions.allows(384, of: 384))
        #expect(!sizes.embeddingDimensions.allows(64, of: 384) && !sizes.embeddingDimensions.allows(256, of: 128))
        let any = try ModelConfig(json: Array(#"{"handler": "bert", "embedding_dimensions": true}"#.utf8))
        #expect(any.embeddingDimensions.allows(1, of: 384) && !any.embeddingDimensions.allows(385, of: 384))
        let none = try ModelConfig(json: Array(#"{"handler": "bert"}"#.utf8))
        #expect(none.embeddingDimensions == .full && !none.embeddingDimensions.allows(128, of: 384))
        for bad in [#"[]"#, #"[0]"#, #"["128"]"#, #"128"#] {
            #expect(throws: ModelStoreError.self) {
                try ModelConfig(json: Array(#"{"handler": "bert", "embedding_dimensions": \#(bad)}"#.utf8))
            }
        }
    }
}

@Suite("The OpenAI embeddings API served over HTTP")
struct OpenAIServerTests {
    static let models = [
        "emb": #"{"handler": "fake-embeddings", "workers": 2}"#,
        "short": #"{"handler": "fake-embeddings", "embedding_dimensions": [2]}"#,
        "raw": #"{"handler": "fake-embeddings", "embedding_dimensions": true, "parameters": {"unit": false}}"#,
        "uncounted": #"{"handler": "fake-embeddings", "parameters": {"token_counts": false}}"#,
        "echo": #"{"handler": "echo"}"#,
    ]

    static func start(tokens: TokenStore? = nil) async throws -> TestServer {
        try await TestServer.start(plugins: ["Echo", "FixtureEmbeddings"], models: models, tokens: tokens)
    }

    static func embed(_ port: Int, _ body: String, token: String? = nil) async throws -> ClientResponse {
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        return try await send(port, .POST, "/v1/embeddings", body: body, headers: headers)
    }

    @Test func embeddingsAsNumbersAndAsBase64() async throws {
        let server = try await Self.start()
        defer { Task { await server.stop() } }
        let list = try await Self.embed(server.port, #"{"model": "emb", "input": ["a", "héllo"], "user": "x"}"#)
        #expect(list.status == .ok, "\(list.text)")
        #expect(list.headers.first(name: "Content-Type") == "application/json")
        let (vectors, prompt, total) = try embeddings(list)
        #expect(vectors.count == 2)
        #expect(close(vectors[0], fakeEmbedding(length: 1)) && close(vectors[1], fakeEmbedding(length: 6)))
        #expect(prompt == 11 && total == 11, "token counts come from the handler: (1 + 2) + (6 + 2)")
        #expect(try JSONParser.parse(list.text).objectValue?["model"] == .string("emb"))

        let single = try await Self.embed(
            server.port, #"{"model": "emb", "input": "héllo", "encoding_format": "base64"}"#)
        #expect(single.status == .ok, "\(single.text)")
        let decoded = try embeddings(single)
        #expect(decoded.vectors == [vectors[1]], "base64 carries the same FP32 values exactly")
        #expect(decoded.promptTokens == 8)

        let uncounted = try await Self.embed(server.port, #"{"model": "uncounted", "input": "abc"}"#)
        #expect(try embeddings(uncounted).promptTokens == 0, "a handler that reports no counts gets usage 0")
    }

    @Test func dimensionsOnlyWhereTheModelAllowsThem() async throws {
        let server = try await Self.start()
        defer { Task { await server.stop() } }
        let short = try await Self.embed(server.port, #"{"model": "short", "input": "abc", "dimensions": 2}"#)
        #expect(short.status == .ok, "\(short.text)")
        let vector = try #require(try embeddings(short).vectors.first)
        #expect(close(vector, fakeEmbedding(length: 3, width: 2)), "shortened unit vectors are unit again")
        #expect(abs(vector.reduce(0) { $0 + $1 * $1 } - 1) < 1e-6)

        let full = try await Self.embed(server.port, #"{"model": "emb", "input": "abc", "dimensions": 4}"#)
        #expect(full.status == .ok, "its own size is always allowed")
        let refused = try await Self.embed(server.port, #"{"model": "emb", "input": "abc", "dimensions": 2}"#)
        #expect(refused.status == .badRequest)
        let error = try openAIError(refused)
        #expect(error.type == "invalid_request_error" && error.param == "dimensions")
        #expect(
            error.message.contains("produces embeddings of 4 values and cannot shorten them to 2"), "\(error.message)")
        let notListed = try await Self.embed(server.port, #"{"model": "short", "input": "abc", "dimensions": 3}"#)
        #expect(try openAIError(notListed).message.contains("can shorten them to 2 only"))

        let raw = try await Self.embed(server.port, #"{"model": "raw", "input": "abc", "dimensions": 3}"#)
        #expect(try embeddings(raw).vectors == [[4, 5, 6]], "vectors that are not unit length are only cut")
        let tooLarge = try await Self.embed(server.port, #"{"model": "raw", "input": "abc", "dimensions": 5}"#)
        #expect(try openAIError(tooLarge).message.contains("must be from 1 to 4"))
    }

    @Test func modelsListsTheEmbeddingsModelsOnly() async throws {
        let server = try await Self.start()
        defer { Task { await server.stop() } }
        let list = try await send(server.port, .GET, "/v1/models")
        #expect(list.status == .ok)
        let object = try #require(try JSONParser.parse(list.text).objectValue)
        #expect(object["object"] == .string("list"))
        let data = try #require(object["data"]?.arrayValue)
        #expect(data.compactMap { $0.objectValue?["id"]?.stringValue } == ["emb", "raw", "short", "uncounted"])
        #expect(
            data.first
                == .object(
                    JSONObject([
                        "id": .string("emb"), "object": .string("model"), "created": .integer(0),
                        "owned_by": .string("confide"),
                    ])))

        let one = try await send(server.port, .GET, "/v1/models/emb")
        #expect(one.status == .ok)
        #expect(try JSONParser.parse(one.text).objectValue?["id"] == .string("emb"))
        let echo = try await send(server.port, .GET, "/v1/models/echo")
        #expect(echo.status == .notFound)
        #expect(try openAIError(echo).message.contains("does not produce embeddings"))
        let unknown = try await send(server.port, .GET, "/v1/models/nothing")
        #expect(try openAIError(unknown).type == "not_found_error")
    }

    @Test func errorsInOpenAIsShapeOverHTTP() async throws {
        let server = try await Self.start()
        defer { Task { await server.stop() } }
        let unknown = try await Self.embed(server.port, #"{"model": "nothing", "input": "x"}"#)
        #expect(unknown.status == .notFound)
        let error = try openAIError(unknown)
        #expect(error.type == "not_found_error" && error.param == "model")
        #expect(error.message == "the model 'nothing' does not exist")

        let echo = try await Self.embed(server.port, #"{"model": "echo", "input": "x"}"#)
        #expect(echo.status == .notFound)
        #expect(try openAIError(echo).message.contains("does not produce embeddings"))

        let malformed = try await Self.embed(server.port, "{")
        #expect(malformed.status == .badRequest)
        #expect(try openAIError(malformed).type == "invalid_request_error")

        let wrongMethod = try await send(server.port, .GET, "/v1/embeddings")
        #expect(wrongMethod.status == .methodNotAllowed && wrongMethod.headers.first(name: "Allow") == "POST")
        #expect(try openAIError(wrongMethod).type == "invalid_request_error")
        let missing = try await send(server.port, .POST, "/v1/chat/completions", body: "{}")
        #expect(missing.status == .notFound)
        #expect(try openAIError(missing).type == "not_found_error")

        let kserve = try await send(server.port, .POST, "/v2/models/emb/infer", body: int32Request(1))
        #expect(kserve.status == .badRequest, "the other APIs still answer in their own shape")
        #expect(try JSONParser.parse(kserve.text).objectValue?["error"]?.stringValue != nil)
    }

    static let tokens = """
        [{"name": "all", "sha256": "\(sha256Hex("secret-all"))", "scopes": ["inference"]},
         {"name": "emb-only", "sha256": "\(sha256Hex("secret-emb"))", "scopes": ["inference"], "models": ["emb"]},
         {"name": "ops", "sha256": "\(sha256Hex("secret-ops"))", "scopes": ["management"]}]
        """

    @Test func tokensAndTheirModelLimits() async throws {
        let server = try await Self.start(tokens: try TokenStore(json: Array(Self.tokens.utf8)))
        defer { Task { await server.stop() } }
        func embed(_ model: String, _ token: String?) async throws -> ClientResponse {
            try await Self.embed(server.port, #"{"model": "\#(model)", "input": "x"}"#, token: token)
        }
        let anonymous = try await embed("emb", nil)
        #expect(anonymous.status == .unauthorized && anonymous.headers.first(name: "WWW-Authenticate") == "Bearer")
        #expect(try openAIError(anonymous).type == "authentication_error")
        #expect(try await embed("emb", "wrong").status == .unauthorized)
        let noScope = try await embed("emb", "secret-ops")
        #expect(noScope.status == .forbidden)
        #expect(try openAIError(noScope).type == "permission_error")
        #expect(try await embed("emb", "secret-emb").status == .ok)
        #expect(try await embed("emb", "secret-all").status == .ok)
        #expect(try await embed("short", "secret-all").status == .ok)

        let otherModel = try await embed("short", "secret-emb")
        #expect(otherModel.status == .forbidden, "the body's model is held to the token's models")
        let error = try openAIError(otherModel)
        #expect(error.type == "permission_error" && error.param == "model")
        #expect(error.message == "token 'emb-only' may not use model 'short'")
        #expect(try await embed("nothing", "secret-emb").status == .forbidden, "no probing for names past the limit")

        func models(_ token: String) async throws -> [String] {
            let response = try await send(
                server.port, .GET, "/v1/models", headers: ["Authorization": "Bearer \(token)"])
            #expect(response.status == .ok)
            return try JSONParser.parse(response.text).objectValue?["data"]?.arrayValue?
                .compactMap { $0.objectValue?["id"]?.stringValue } ?? []
        }
        #expect(try await models("secret-emb") == ["emb"])
        #expect(try await models("secret-all") == ["emb", "raw", "short", "uncounted"])
        #expect(try await send(server.port, .GET, "/v1/models").status == .unauthorized)
        let retrieve = try await send(
            server.port, .GET, "/v1/models/short", headers: ["Authorization": "Bearer secret-emb"])
        #expect(retrieve.status == .forbidden)
    }

    @Test func embeddingsInsideTheObliviousGateway() async throws {
        let server = try await Self.start(tokens: try TokenStore(json: Array(Self.tokens.utf8)))
        defer { Task { await server.stop() } }
        let client = try await ObliviousClient.connect(host: "127.0.0.1", port: server.port, policy: simulatedPolicy())
        defer { Task { await client.close() } }
        func embed(_ model: String, token: String) async throws -> ClientResponse {
            let request = ClientRequest(
                method: .POST, uri: "/v1/embeddings",
                headers: ["Content-Type": "application/json", "Authorization": "Bearer \(token)"],
                body: ByteBuffer(
                    string: #"{"model": "\#(model)", "input": ["a", "héllo"], "encoding_format": "base64"}"#))
            return try await client.send(request)
        }
        let response = try await embed("emb", token: "secret-emb")
        #expect(response.status == .ok, "\(response.text)")
        let decoded = try embeddings(response)
        #expect(decoded.vectors == [fakeEmbedding(length: 1), fakeEmbedding(length: 6)])
        #expect(decoded.promptTokens == 11)
        let refused = try await embed("short", token: "secret-emb")
        #expect(refused.status == .forbidden, "the token's model limit holds inside encrypted requests")
        #expect(try openAIError(refused).type == "permission_error")
        let models = try await client.send(
            ClientRequest(
                method: .GET, uri: "/v1/models", headers: ["Authorization": "Bearer secret-emb"], body: ByteBuffer()))
        #expect(models.status == .ok && models.text.contains(#""id":"emb""#) && !models.text.contains("short"))
    }

    @Test func bodiesBeyondTheMemoryBudgetAre503() async throws {
        let server = try await TestServer.start(plugins: ["Echo", "FixtureEmbeddings"], models: Self.models) {
            $0.memoryBudget = 10_000
        }
        defer { Task { await server.stop() } }
        let response = try await Self.embed(server.port, #"{"model": "emb", "input": "x"}"#)
        #expect(response.status == .serviceUnavailable)
        #expect(response.headers.first(name: "Retry-After") == "1")
        #expect(try openAIError(response).type == "server_error")
    }
}

/// all-MiniLM-L6-v2 through the OpenAI API, asked by clients nobody here wrote: the `openai` Python package
/// (plaintext), and the example Python client of docs/CLIENTS.md (encrypted).
@Suite(
    "The OpenAI API with all-MiniLM-L6-v2 and third-party clients",
    .enabled(if: MiniLMCache.testsEnabled, MiniLMCache.absent))
struct OpenAIInteropTests {
    static let tokens = #"[{"name": "client", "sha256": "\#(sha256Hex("openai-key"))", "scopes": ["inference"]}]"#

    static func start() async throws -> TestServer {
        try await TestServer.start(
            plugins: ["Bert"], models: ["minilm": #"{"handler": "bert", "parameters": {"precision": "fp32"}}"#],
            maxBodySize: 16 << 20, tokens: try TokenStore(json: Array(tokens.utf8))
        ) { configuration in
            try MiniLMCache.link(into: (configuration.modelsDirectory as NSString).appendingPathComponent("minilm"))
        }
    }

    @Test func theOpenAIPythonPackageUnchanged() async throws {
        let server = try await Self.start()
        defer { Task { await server.stop() } }
        let result = try await runPython(
            InteropTests.scripts.appendingPathComponent("openai_embeddings.py").path,
            "http://127.0.0.1:\(server.port)/v1", "minilm", MiniLMCache.referencePath, "openai-key")
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("all checks passed"), "\(result.output)")
    }

    /// The `bert` handler fills `token_count` (its tokenizer's tokens, [CLS] and [SEP] included) only when a request
    /// names it, so KServe clients that ask for every output get the embeddings alone, as before.
    @Test func theBertHandlerReportsTokenCountsOnlyWhenAsked() async throws {
        let server = try await Self.start()
        defer { Task { await server.stop() } }
        let inputs = #""inputs":[{"name":"text","datatype":"BYTES","shape":[2],"data":["","A cat sat on the mat."]}]"#
        func infer(_ outputs: String) async throws -> [JSONObject] {
            let response = try await send(
                server.port, .POST, "/v2/models/minilm/infer", body: "{\(inputs)\(outputs)}",
                headers: ["Authorization": "Bearer openai-key"])
            #expect(response.status == .ok, "\(response.text)")
            let outputs = try JSONParser.parse(response.text).objectValue?["outputs"]?.arrayValue
            return outputs?.compactMap(\.objectValue) ?? []
        }
        let all = try await infer("")
        #expect(all.map { $0["name"]?.stringValue } == ["embedding"])
        let asked = try await infer(#","outputs":[{"name":"embedding"},{"name":"token_count"}]"#)
        let counts = try #require(asked.first { $0["name"] == .string("token_count") })
        #expect(counts["datatype"] == .string("INT64") && counts["shape"] == .array([.integer(2)]))
        #expect(
            counts["data"] == .array([.integer(2), .integer(9)]), "[CLS] [SEP]; [CLS] a cat sat on the mat . [SEP]")
    }

    @Test func anEncryptedRoundTripThroughTheExamplePythonClient() async throws {
        let server = try await Self.start()
        defer { Task { await server.stop() } }
        let reference = try String(contentsOfFile: MiniLMCache.referencePath, encoding: .utf8).split(separator: "\n")
            .prefix(8).map { try JSONParser.parse(String($0)).objectValue ?? JSONObject() }
        let texts = reference.compactMap { $0["text"]?.stringValue }.filter { !$0.isEmpty }.prefix(3)
        let body = JSONValue.object(
            JSONObject([
                "model": .string("minilm"), "input": .array(texts.map { .string($0) }),
            ]))
        let result = try await runPython(
            InteropTests.exampleClient, "--url", "http://127.0.0.1:\(server.port)", "--accept-simulated",
            "--token", "openai-key", "--path", "/v1/embeddings",
            "--body", String(decoding: body.serialized, as: UTF8.self))
        #expect(result.status == 0, "\(result.output)")
        let line = try #require(result.output.split(separator: "\n").first { $0.hasPrefix("{") }, "\(result.output)")
        let response = try #require(try JSONParser.parse(String(line)).objectValue)
        #expect(response["model"] == .string("minilm"))
        let data = try #require(response["data"]?.arrayValue)
        #expect(data.count == texts.count)
        for (item, text) in zip(data, texts) {
            let vector = try #require(item.objectValue?["embedding"]?.arrayValue).compactMap(\.doubleValue)
            let expected = try #require(reference.first { $0["text"]?.stringValue == text }?["embedding"]?.arrayValue)
                .compactMap(\.doubleValue)
            let dot = zip(vector, expected).reduce(0) { $0 + $1.0 * $1.1 }
            let norms = (vector.reduce(0) { $0 + $1 * $1 } * expected.reduce(0) { $0 + $1 * $1 }).squareRoot()
            #expect(dot / norms >= 0.99999, "\(text)")
        }
        let tokens = texts.compactMap { text in
            reference.first { $0["text"]?.stringValue == text }?["input_ids"]?.arrayValue?.count
        }.reduce(0, +)
        let usage = try #require(response["usage"]?.objectValue)
        #expect(tokens > 0 && usage["prompt_tokens"] == .integer(Int64(tokens)), "the tokenizer's own counts")
    }
}
