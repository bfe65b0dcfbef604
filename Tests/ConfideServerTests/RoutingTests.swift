import ConfideClient
import ConfideHTTPClient
import ConfideRuntime
import ConfideServer
import ConfideServerTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@Suite("One router for every front end")
struct RouterTests {
    let inference = Router(surface: .inference)
    let management = Router(surface: .management)

    func route(_ router: Router, _ method: HTTPMethod, _ target: String) throws(RoutingError) -> Route {
        let request = ServerRequest(method: method, uri: target)
        return try router.route(method: method, path: request.path, query: request.query)
    }

    func status(_ router: Router, _ method: HTTPMethod, _ target: String) -> UInt? {
        do {
            _ = try route(router, method, target)
            return nil
        } catch {
            return error.error.status.code
        }
    }

    @Test(arguments: [
        (HTTPMethod.GET, "/v2", RouteAction.serverMetadata, nil as String?, nil as String?),
        (.GET, "/v2/health/live", .live, nil, nil),
        (.GET, "/v2/health/ready", .ready, nil, nil),
        (.GET, "/ping", .ping, nil, nil),
        (.GET, "/v2/models/echo", .modelMetadata, "echo", nil),
        (.GET, "/v2/models/echo/versions/2", .modelMetadata, "echo", "2"),
        (.GET, "/v2/models/echo/ready", .modelReady, "echo", nil),
        (.POST, "/v2/models/echo/infer", .infer, "echo", nil),
        (.POST, "/v2/models/echo/versions/2/infer", .infer, "echo", "2"),
        (.POST, "//v2//models//echo//infer/", .infer, "echo", nil),
        (.POST, "/v2/models/e%63ho/infer", .infer, "echo", nil),
        (.POST, "/v2/models/%2565cho/infer", .infer, "%65cho", nil),
        (.POST, "/v2/models/caf%C3%A9/infer", .infer, "café", nil),
        (.POST, "/predictions/echo", .predict, "echo", nil),
        (.PUT, "/predictions/echo/3", .predict, "echo", "3"),
        (.GET, "/.well-known/ohttp-gateway", .gatewayKeys, nil, nil),
        (.POST, "/.well-known/ohttp-gateway", .gatewayRequest, nil, nil),
        (.GET, "/attestation?nonce=00", .attestation, nil, nil),
    ])
    func inferenceRoutes(method: HTTPMethod, target: String, action: RouteAction, model: String?, version: String?)
        throws
    {
        let route = try route(inference, method, target)
        #expect(route.action == action)
        #expect(route.model == model)
        #expect(route.version == version)
    }

    @Test(arguments: [
        (HTTPMethod.GET, "/models?limit=5", RouteAction.listModels, nil as String?, nil as String?),
        (.POST, "/models?url=echo&initial_workers=1", .registerModel, "echo", nil),
        (.GET, "/models/echo", .describeModel, "echo", nil),
        (.GET, "/models/echo/all", .describeModel, "echo", "all"),
        (.PUT, "/models/echo?min_worker=2", .scaleModel, "echo", nil),
        (.PUT, "/models/echo/1/set-default", .setDefaultVersion, "echo", "1"),
        (.DELETE, "/models/echo", .unregisterModel, "echo", nil),
        (.DELETE, "/models/echo/1", .unregisterVersion, "echo", "1"),
        (.POST, "/v2/repository/index", .repositoryIndex, nil, nil),
        (.POST, "/v2/repository/models/echo/load", .repositoryLoad, "echo", nil),
        (.POST, "/v2/repository/models/e%63ho/unload", .repositoryUnload, "echo", nil),
    ])
    func managementRoutes(method: HTTPMethod, target: String, action: RouteAction, model: String?, version: String?)
        throws
    {
        let route = try route(management, method, target)
        #expect(route.action == action)
        #expect(route.model == model)
        #expect(route.version == version)
    }

    /// Encoded characters in fixed segments match nothing, for everyone.
    @Test(arguments: [
        "/v2/%6Dodels/secret/infer", "/%762/models/secret/infer", "/v2/models/secret/%69nfer",
        "/V2/models/secret/infer",
        "/v2/models/secret/versions", "/v2/models/secret/infer/more", "/%70redictions/secret", "/predictions/a/b/c",
        "/v2/models", "/.well-known/ohttp%2Dgateway", "/v2/health%2Flive", "/attestation/x",
    ])
    func fixedSegmentsMatchOnlyAsWritten(target: String) {
        #expect(status(inference, .POST, target) == 404)
    }

    @Test(arguments: [
        "/v2/models/%2F/infer", "/v2/models/a%2Fb/infer", "/v2/models/%2E%2E/infer", "/v2/models/../infer",
        "/v2/models/%00secret/infer", "/v2/models/%zz/infer", "/v2/models/%4/infer", "/v2/models/%FF/infer",
        "/predictions/%0Aecho", "/v2/models/echo/versions/%2E/infer",
    ])
    func malformedNamesAre400(target: String) {
        #expect(status(inference, .POST, target) == 400)
    }

    @Test func wrongMethodsAre405AndNameTheAllowedOnes() {
        do {
            _ = try route(management, .PATCH, "/models/echo")
            Issue.record("PATCH was routed")
        } catch {
            #expect(error.error.status == .methodNotAllowed)
            #expect(error.error.headers.first(where: { $0.0 == "Allow" })?.1 == "GET, PUT, DELETE")
            #expect(error.family == .torchServe)
        }
    }

    @Test(
        arguments: ["a=1&a=2", "a=%zz", "=%FF"] + [
            (0...QueryParameters.maximumCount).map { "p\($0)=1" }.joined(separator: "&")
        ])
    func ambiguousOrMalformedQueriesAre400(query: String) {
        #expect(status(management, .GET, "/models?\(query)") == 400)
    }

    @Test func theRouteDecidesWhoMayCallIt() throws {
        #expect(try route(inference, .GET, "/v2/health/live").access == .public)
        #expect(try route(inference, .POST, "/.well-known/ohttp-gateway").access == .public)
        #expect(try route(inference, .POST, "/v2/models/echo/infer").access == .model("echo"))
        #expect(try route(inference, .GET, "/v2").access == .server)
        #expect(try route(management, .GET, "/models").access == .server)
        #expect(try route(management, .POST, "/models?url=x").access == .model("x"))
        #expect(try route(management, .POST, "/v2/repository/models/x/unload").changesState)
        #expect(try !route(management, .POST, "/v2/repository/index").changesState)
    }

    @Test func theFuzzEntryPointsNeverTrapOnMutatedRoutes() {
        var generator = SystemRandomNumberGenerator()
        let seeds = [
            [0] + Array("/v2/models/echo/versions/1/infer?x=%41".utf8), [5] + Array("/predictions/e%63ho/2".utf8),
            [1] + Array("/models/echo/1/set-default".utf8), [13] + Array("/v2/repository/models/echo/unload".utf8),
        ]
        let queries = [
            Array("limit=10&next_page_token=20".utf8), Array("url=echo&initial_workers=%32&min_worker=+3".utf8),
        ]
        for iteration in 0..<4000 {
            var bytes = seeds[iteration % seeds.count]
            var query = queries[iteration % queries.count]
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                query[Int.random(in: 0..<query.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            ServerFuzz.route(bytes)
            ServerFuzz.managementQuery(query)
        }
    }

    @Test func loopbackIsAnAddressNotAPrefix() {
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"] {
            #expect(SitePolicy.isLoopback(host), "\(host)")
        }
        for host in [
            "127.0.0.1.example.com", "0.0.0.0", "10.0.0.1", "::", "128.0.0.1", "localhost.evil", "127.0.0.256", "",
        ] {
            #expect(!SitePolicy.isLoopback(host), "\(host)")
        }
    }
}

/// Percent-encodings of a path: each segment in turn with one, every or a doubly encoded character, in upper and
/// lower case hex.
func spellings(of segments: [String]) -> [String] {
    func encode(_ text: String, all: Bool, lower: Bool, double: Bool) -> String {
        var out = ""
        for (index, byte) in text.utf8.enumerated() {
            guard all || index == 0 else {
                out += String(UnicodeScalar(byte))
                continue
            }
            let hex = String(format: lower ? "%02x" : "%02X", byte)
            out += double ? "%25\(hex)" : "%\(hex)"
        }
        return out
    }
    var results: Set<String> = ["/" + segments.joined(separator: "/"), "//" + segments.joined(separator: "//") + "/"]
    for index in segments.indices {
        for all in [false, true] {
            for lower in [false, true] {
                for double in [false, true] {
                    var copy = segments
                    copy[index] = encode(segments[index], all: all, lower: lower, double: double)
                    results.insert("/" + copy.joined(separator: "/"))
                }
            }
        }
        var upper = segments
        upper[index] = segments[index].uppercased()
        results.insert("/" + upper.joined(separator: "/"))
    }
    return results.sorted()
}

@Suite("Token limits hold for every spelling of every route")
struct RouteSpellingTests {
    static let tokens = """
        [{"name": "echo-only", "sha256": "\(sha256Hex("secret-echo"))", "scopes": ["inference", "management"], "models": ["echo"]}]
        """

    /// The routes that reach model `secret`, with their method and body.
    static let secretRoutes: [(HTTPMethod, [String], String)] = [
        (.POST, ["v2", "models", "secret", "infer"], int32Request(1)),
        (.POST, ["v2", "models", "secret", "versions", "1", "infer"], int32Request(1)),
        (.GET, ["v2", "models", "secret"], ""),
        (.GET, ["v2", "models", "secret", "ready"], ""),
        (.POST, ["predictions", "secret"], "x"),
        (.POST, ["predictions", "secret", "1"], "x"),
    ]

    static func expectRefused(_ status: HTTPResponseStatus, _ target: String) {
        #expect([.badRequest, .forbidden, .notFound, .methodNotAllowed].contains(status), "\(target) → \(status.code)")
    }

    @Test func plaintextAndEncrypted() async throws {
        let store = try TokenStore(json: Array(Self.tokens.utf8))
        let server = try await TestServer.start(
            models: ["echo": #"{"handler": "echo"}"#, "secret": #"{"handler": "echo"}"#], tokens: store)
        defer { Task { await server.stop() } }
        let headers: HTTPHeaders = ["Authorization": "Bearer secret-echo", "Content-Type": "application/json"]
        let connection = try await server.connect()
        defer { Task { await connection.close() } }
        let client = try await ObliviousClient.connect(host: "127.0.0.1", port: server.port, policy: simulatedPolicy())
        defer { Task { await client.close() } }
        var tried = 0
        for (method, segments, body) in Self.secretRoutes {
            for target in spellings(of: segments) + spellings(of: segments).map({ $0 + "?x=1" }) {
                let request = ClientRequest(
                    method: method, uri: target, headers: headers, body: ByteBuffer(string: body))
                Self.expectRefused(try await connection.send(request).status, target)
                Self.expectRefused(try await client.send(request).status, "encrypted \(target)")
                tried += 1
            }
        }
        #expect(tried > 200)
        let allowed = ClientRequest(
            method: .POST, uri: "/v2/models/e%63ho/infer", headers: headers, body: ByteBuffer(string: int32Request(1)))
        #expect(try await connection.send(allowed).status == .ok, "the token still works for its own model")
        #expect(try await client.send(allowed).status == .ok)
        let noModel = ClientRequest(method: .GET, uri: "/v2", headers: headers)
        #expect(
            try await connection.send(noModel).status == .forbidden, "a model-limited token on a route naming no model")
    }

    @Test func managementRoutes() async throws {
        let store = try TokenStore(json: Array(Self.tokens.utf8))
        let server = try await TestServer.start(
            models: ["echo": #"{"handler": "echo"}"#, "secret": #"{"handler": "echo"}"#], tokens: store)
        defer { Task { await server.stop() } }
        let headers: HTTPHeaders = ["Authorization": "Bearer secret-echo"]
        let routes: [(HTTPMethod, [String])] = [
            (.GET, ["models", "secret"]), (.PUT, ["models", "secret"]), (.DELETE, ["models", "secret"]),
            (.POST, ["v2", "repository", "models", "secret", "unload"]),
        ]
        for (method, segments) in routes {
            for target in spellings(of: segments) {
                Self.expectRefused(
                    try await send(server.managementPort, method, target, headers: headers).status, target)
            }
        }
        for target in ["/models", "/models?url=secret", "/v2/repository/index"] {
            let method: HTTPMethod = target == "/models" ? .GET : .POST
            #expect(
                try await send(server.managementPort, method, target, headers: headers).status == .forbidden,
                "\(target)")
        }
        #expect(try await send(server.managementPort, .GET, "/models/echo", headers: headers).status == .ok)
        #expect(server.server.repository.model("secret") != nil, "no spelling unloaded it")
    }
}

@Suite("Loopback listeners refuse cross-site requests")
struct CrossSiteTests {
    @Test func foreignOriginsHostsAndSimpleContentTypesAreRefused() async throws {
        let server = try await TestServer.start(models: [
            "echo": #"{"handler": "echo"}"#, "other": #"{"handler": "echo"}"#,
        ])
        defer { Task { await server.stop() } }
        let port = server.managementPort
        let own = "127.0.0.1:\(port)"
        let unload = "/v2/repository/models/other/unload"
        let foreign = try await send(port, .POST, unload, headers: ["Host": own, "Origin": "https://evil.example"])
        #expect(foreign.status == .forbidden)
        #expect(foreign.text.contains("cross-origin"))
        #expect(try await send(port, .POST, unload, headers: ["Host": own, "Origin": "null"]).status == .forbidden)
        let rebound = try await send(port, .POST, unload, headers: ["Host": "attacker.example:\(port)"])
        #expect(rebound.status == .forbidden, "DNS rebinding: a foreign Host on a loopback listener")
        #expect(
            try await send(server.port, .GET, "/v2/health/live", headers: ["Host": "127.0.0.1.example.com"]).status
                == .forbidden)
        for type in [
            "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
            "Text/Plain; charset=utf-8",
        ] {
            let simple = try await send(port, .POST, unload, body: "{}", headers: ["Host": own, "Content-Type": type])
            #expect(simple.status == .unsupportedMediaType, "\(type)")
        }
        #expect(server.server.repository.model("other") != nil, "nothing above unloaded the model")
        let sameOrigin = try await send(port, .POST, unload, headers: ["Host": own, "Origin": "http://\(own)"])
        #expect(sameOrigin.status == .ok, "a same-origin call with no body is allowed")
        #expect(server.server.repository.model("other") == nil)
        #expect(try await send(port, .GET, "/models", headers: ["Host": "localhost:\(port)"]).status == .ok)
        let inference = try await send(
            server.port, .POST, "/predictions/echo", body: "hi", headers: ["Content-Type": "text/plain"])
        #expect(inference.status == .ok, "inference keeps accepting simple content types")
    }
}

@Suite("Management queries from the network are bounded")
struct ManagementQueryTests {
    @Test(arguments: [
        "/models?limit=1&next_page_token=9223372036854775807", "/models?limit=9223372036854775807&next_page_token=1",
        "/models?limit=-1", "/models?limit=0", "/models?next_page_token=-5", "/models?limit=1e3",
        "/models?limit=%31%30%30%30%30",
    ])
    func outOfRangePagesAre400AndTheServerKeepsServing(target: String) async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let response = try await send(server.managementPort, .GET, target)
        #expect(response.status == .badRequest, "\(target): \(response.text)")
        #expect(try await send(server.managementPort, .GET, "/models?limit=1").status == .ok)
    }

    @Test func scalingAndRegisteringRefuseAbsurdWorkerCounts() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        for target in ["/models/echo?min_worker=99999999999999999999", "/models/echo?min_worker=100000"] {
            #expect(try await send(server.managementPort, .PUT, target).status == .badRequest, "\(target)")
        }
        let register = try await send(server.managementPort, .POST, "/models?url=echo&initial_workers=1000000")
        #expect(register.status == .badRequest)
    }
}
