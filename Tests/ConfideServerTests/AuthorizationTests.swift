import ConfideClient
import ConfideHTTPClient
import ConfideServer
import ConfideServerTestSupport
import ConfideTestSupport
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing

func sha256Hex(_ token: String) -> String {
    SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
}

@Suite("Bearer tokens with scopes")
struct AuthorizationTests {
    static let tokens = """
        [{"name": "all", "sha256": "\(sha256Hex("secret-all"))", "scopes": ["inference", "management"]},
         {"name": "echo-only", "sha256": "\(sha256Hex("secret-echo"))", "scopes": ["inference"], "models": ["echo"]},
         {"name": "ops", "sha256": "\(sha256Hex("secret-ops"))", "scopes": ["management"]}]
        """

    /// The inference rows of the token matrix: no token or an unknown one is 401; a token without the scope or
    /// the model is 403; one with both is 200.
    static func expectInferenceMatrix(
        _ infer: (_ model: String, _ token: String?) async throws -> HTTPResponseStatus
    ) async throws {
        #expect(try await infer("echo", nil) == .unauthorized)
        #expect(try await infer("echo", "wrong") == .unauthorized)
        #expect(try await infer("echo", "secret-ops") == .forbidden)
        #expect(try await infer("other", "secret-echo") == .forbidden)
        #expect(try await infer("echo", "secret-echo") == .ok)
        #expect(try await infer("other", "secret-all") == .ok)
    }

    @Test func theInferenceAndManagementMatrix() async throws {
        let store = try TokenStore(json: Array(Self.tokens.utf8))
        let server = try await TestServer.start(
            models: ["echo": #"{"handler": "echo"}"#, "other": #"{"handler": "echo"}"#], tokens: store)
        defer { Task { await server.stop() } }
        func infer(_ model: String, _ token: String?) async throws -> HTTPResponseStatus {
            let headers: HTTPHeaders = token.map { ["Authorization": "Bearer \($0)"] } ?? [:]
            return try await send(
                server.port, .POST, "/v2/models/\(model)/infer", body: int32Request(1), headers: headers
            ).status
        }
        try await Self.expectInferenceMatrix(infer)
        let challenge = try await send(server.port, .POST, "/v2/models/echo/infer", body: int32Request(1))
        #expect(challenge.headers.first(name: "WWW-Authenticate") == "Bearer")
        let torchServe = try await send(
            server.port, .POST, "/predictions/other", body: "x", headers: ["Authorization": "Bearer secret-echo"])
        #expect(torchServe.status == .forbidden)
        #expect(try await send(server.port, .GET, "/v2/health/ready").status == .ok, "probes stay open")
        func manage(_ token: String?) async throws -> HTTPResponseStatus {
            let headers: HTTPHeaders = token.map { ["Authorization": "Bearer \($0)"] } ?? [:]
            return try await send(server.managementPort, .GET, "/models", headers: headers).status
        }
        #expect(try await manage(nil) == .unauthorized)
        #expect(try await manage("secret-echo") == .forbidden)
        #expect(try await manage("secret-ops") == .ok)
        #expect(try await manage("secret-all") == .ok)
    }

    @Test func tokensTravelAndAreCheckedInsideEncryptedRequests() async throws {
        let store = try TokenStore(json: Array(Self.tokens.utf8))
        let server = try await TestServer.start(
            models: ["echo": #"{"handler": "echo"}"#, "other": #"{"handler": "echo"}"#], tokens: store)
        defer { Task { await server.stop() } }
        let client = try await ObliviousClient.connect(host: "127.0.0.1", port: server.port, policy: simulatedPolicy())
        defer { Task { await client.close() } }
        func infer(_ model: String, _ token: String?) async throws -> HTTPResponseStatus {
            var headers: HTTPHeaders = ["Content-Type": "application/json"]
            if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
            let request = ClientRequest(
                method: .POST, uri: "/v2/models/\(model)/infer", headers: headers,
                body: ByteBuffer(string: int32Request(1)))
            return try await client.send(request).status
        }
        try await Self.expectInferenceMatrix(infer)
    }

    @Test(arguments: [
        (#"{}"#, "JSON list"),
        (#"[{"name": "a", "sha256": "abc", "scopes": ["inference"]}]"#, "64 hex digits"),
        (#"[{"name": "a", "sha256": "\#(String(repeating: "0", count: 64))", "scopes": ["root"]}]"#, "unknown scope"),
        (
            #"[{"name": "a", "sha256": "\#(String(repeating: "0", count: 64))", "scopes": ["inference"], "extra": 1}]"#,
            "unknown key"
        ),
        (#"[{"sha256": "\#(String(repeating: "0", count: 64))", "scopes": ["inference"]}]"#, "needs a \"name\""),
    ])
    func badTokenFilesAreRefused(text: String, excerpt: String) {
        let error = #expect(throws: AuthorizationError.self) { try TokenStore(json: Array(text.utf8)) }
        #expect(error?.message.contains(excerpt) == true, "\(error?.message ?? "")")
    }

    @Test func servingBeyondLoopbackWithoutTokensNeedsConsent() async throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        var configuration = ServerConfiguration(
            handlersDirectory: try makeServerHandlersDirectory(in: root, plugins: ["Echo"]),
            modelsDirectory: try makeModelStore(in: root, models: [:]))
        configuration.host = "0.0.0.0"
        configuration.port = 0
        configuration.metricsPort = nil
        configuration.grpcPort = nil
        configuration.managementPort = nil
        await #expect(throws: AuthorizationError.self) {
            _ = try await InferenceServer.start(configuration, logger: .init(label: "test"))
        }
    }
}
