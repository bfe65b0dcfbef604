import CConfide
import ConfideHost
import ConfideSDK
import ConfideTensors
import ConfideTestKit
import Testing

/// Answers a request that came with a body with a text body describing what it read (`content type|x-tenant
/// header|authorization header|body`); answers a tensor request with `has_body`; misbehaves on request ids that ask
/// it to.
struct Reflector: Handler, HandlerInstance {
    static let name = "reflector"
    init(model: ModelContext) {}

    func execute(_ batch: Batch) {
        batch.forEachRequest { request in
            switch request.id {
            case "body-on-tensors":
                try request.respond(body: Array("no".utf8), contentType: "text/plain")
            case "outputs-then-body":
                try request.respond("y", strings: ["a"])
                try request.respond(body: Array("no".utf8), contentType: "text/plain")
            case "body-twice":
                try request.respond(body: [1], contentType: "application/octet-stream")
                try request.respond(body: [2], contentType: "application/octet-stream")
            case "header-injection":
                try request.respond(body: [], contentType: "text/plain\r\nSet-Cookie: a=b")
            case "outputs":
                let length = Int64(request.body?.count ?? -1)
                try request.respond("length", dataType: .int64, shape: [1], elements: [length])
            default:
                guard let body = request.body else {
                    return try request.respond("has_body", strings: ["no"])
                }
                let fields = [
                    request.contentType ?? "none", request.header("X-Tenant") ?? "none",
                    request.header("Authorization") ?? "none", String(decoding: body, as: UTF8.self),
                ]
                try request.respond(body: Array(fields.joined(separator: "|").utf8), contentType: "text/plain")
            }
        }
    }
}

/// A handler generic over a tag, so a test can export many handler types from one image.
struct Tagged<Tag>: Handler, HandlerInstance {
    static var name: String { "tagged-\(Tag.self)" }
    let loaded: String

    init(model: ModelContext) { loaded = Self.name }

    func execute(_ batch: Batch) {
        batch.forEachRequest { request in try request.respond("name", strings: [loaded]) }
    }
}

@Suite("Request attributes, body responses and the descriptor's context")
struct RequestAttributesTests {
    @Test func aBodyRequestReadsItsBodyContentTypeAndHeadersButNoCredentials() throws {
        let tester = try HandlerTester(Reflector.self)
        let response = try tester.post(
            body: Array("hello".utf8), contentType: "text/plain; charset=utf-8",
            headers: [("X-Tenant", "a"), ("x-tenant", "b"), ("Authorization", "Bearer secret")])
        let body = try #require(response.body)
        #expect(body.contentType == "text/plain")
        #expect(String(decoding: body.bytes.bytes, as: UTF8.self) == "text/plain; charset=utf-8|a, b|none|hello")
        #expect(response.outputs.isEmpty)
    }

    @Test func anEmptyBodyIsStillABody() throws {
        let response = try HandlerTester(Reflector.self).post(body: [])
        let body = try #require(response.body)
        #expect(String(decoding: body.bytes.bytes, as: UTF8.self) == "none|none|none|")
    }

    @Test func aTensorRequestHasNoBodyAndCannotBeAnsweredWithOne() throws {
        let tester = try HandlerTester(Reflector.self)
        #expect(try tester.infer([])["has_body"]?.strings() == ["no"])
        let refused = #expect(throws: HandlerError.self) { try tester.execute(HostRequest(id: "body-on-tensors")) }
        #expect(refused?.message.contains("only a request that came with a body") == true)
    }

    @Test func aResponseHoldsOutputsOrOneBodyWithAContentTypeThatIsAHeaderValue() throws {
        let tester = try HandlerTester(Reflector.self)
        let body = try #require(TensorBuffer(copying: [UInt8]("x".utf8)))
        let results = tester.execute([
            HostRequest(id: "outputs-then-body", body: body), HostRequest(id: "body-twice", body: body),
            HostRequest(id: "outputs", body: body), HostRequest(id: "header-injection", body: body),
        ])
        let mixed = #expect(throws: HandlerError.self) { try results[0].get() }
        #expect(mixed?.message.contains("has outputs") == true)
        let twice = #expect(throws: HandlerError.self) { try results[1].get() }
        #expect(twice?.message.contains("twice") == true)
        let outputs = try results[2].get()
        #expect(outputs.body == nil)
        #expect(outputs.outputs.first?.values(as: Int64.self) == [1])
        let injected = #expect(throws: HandlerError.self) { try results[3].get() }
        #expect(injected?.message.contains("must be a header value") == true)
    }

    /// More handler types than the eight load slots the SDK once had: each model is loaded by its own type, which
    /// `model_load` finds through the descriptor's context alone.
    @Test func everyExportedTypeLoadsItsOwnModelsThroughTheContext() throws {
        let types: [any Handler.Type] = [
            Tagged<Int8>.self, Tagged<Int16>.self, Tagged<Int32>.self, Tagged<Int64>.self, Tagged<UInt8>.self,
            Tagged<UInt16>.self, Tagged<UInt32>.self, Tagged<UInt64>.self, Tagged<Float>.self, Tagged<Double>.self,
        ]
        for type in types {
            let tester = try Self.tester(type)
            #expect(try tester.infer([])["name"]?.strings() == [type.name])
        }
    }

    @Test func theSDKDescribesASwiftPluginWithItsCompilerAndAContext() throws {
        let (major, minor) = PluginLoader.hostVersion
        let plugin = try PluginLoader.accept(descriptor: Reflector.export(major, minor), origin: "in-process")
        #expect(plugin.language == CONFIDE_LANGUAGE_SWIFT)
        #expect(plugin.compiler == PluginLoader.hostCompiler)
        let raw = try #require(Reflector.export(major, minor))
        let descriptor = raw.assumingMemoryBound(to: ConfidePluginDescriptor.self)
        #expect(descriptor.pointee.context != nil)
        #expect(descriptor.pointee.abi_major == 2)
    }

    private static func tester<H: Handler>(_ type: H.Type) throws -> HandlerTester { try HandlerTester(type) }
}
