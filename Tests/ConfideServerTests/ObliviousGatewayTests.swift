import ConfideClient
import ConfideEnvelope
import ConfideHTTPClient
import ConfideJSON
import ConfideServer
import ConfideServerTestSupport
import ConfideTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// Builds encapsulated requests by hand, so that every refusal can be provoked over real HTTP.
struct GatewayProbe {
    let port: Int

    /// The keys the gateway advertises.
    func keys() async throws -> [OHTTPKeyConfiguration] {
        let response = try await send(port, .GET, ObliviousGatewayAPI.path)
        #expect(response.status == .ok)
        #expect(response.headers.first(name: "Content-Type") == "application/ohttp-keys")
        return try OHTTPKeyConfiguration.decodeList(Array(response.body.readableBytesView))
    }

    /// Posts raw bytes as `message/ohttp-req`.
    func post(_ bytes: [UInt8], contentType: String = "message/ohttp-req") async throws -> ClientResponse {
        let connection = try await HTTPConnection.connect(host: "127.0.0.1", port: port)
        defer { Task { await connection.close() } }
        return try await connection.send(
            ClientRequest(
                method: .POST, uri: ObliviousGatewayAPI.path, headers: ["Content-Type": contentType],
                body: ByteBuffer(bytes: bytes)))
    }

    /// Sends `method path` with no body encrypted to `configuration` and decrypts the inner response.
    func exchange(_ method: String, _ path: String, to configuration: OHTTPKeyConfiguration) async throws
        -> BinaryHTTPResponse
    {
        try await exchange(BinaryHTTPRequest(method: method, path: path), to: configuration)
    }

    /// Encrypts `request` to `configuration`, posts it and decrypts the inner response.
    func exchange(
        _ request: BinaryHTTPRequest, to configuration: OHTTPKeyConfiguration, suite: SymmetricSuite? = nil
    ) async throws -> BinaryHTTPResponse {
        let sealed = try OHTTPClientRequest(sealing: try request.encoded(), for: configuration, suite: suite)
        let response = try await post(sealed.encapsulatedRequest)
        #expect(response.status == .ok, "\(response.text)")
        #expect(response.headers.first(name: "Content-Type") == "message/ohttp-res")
        return try BinaryHTTPResponse(decoding: try sealed.openResponse(Array(response.body.readableBytesView)))
    }
}

/// A KServe v2 infer request for the echo model, in binary HTTP form.
func echoInfer(_ text: String, date: Date? = Date()) -> BinaryHTTPRequest {
    var fields = [BinaryHTTPField(name: "content-type", value: "application/json")]
    if let date { fields.append(BinaryHTTPField(name: "date", value: HTTPDate.format(date))) }
    let body = #"{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["\#(text)"]}]}"#
    return BinaryHTTPRequest(
        method: "POST", path: "/v2/models/echo/infer", headerFields: fields, content: Array(body.utf8))
}

/// The `problem+json` members of an outer refusal.
func problem(_ response: ClientResponse) throws -> (type: String?, detail: String?) {
    #expect(response.headers.first(name: "Content-Type") == "application/problem+json")
    let object = try JSONParser.parse(Array(response.body.readableBytesView)).objectValue
    return (object?["type"]?.stringValue, object?["detail"]?.stringValue)
}

@Suite("The Oblivious HTTP gateway over real HTTP on loopback")
struct ObliviousGatewayTests {
    @Test func advertisesTheCurrentKeyWithEverySuite() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let keys = try await GatewayProbe(port: server.port).keys()
        #expect(keys == [server.server.keyStore.currentConfiguration])
        #expect(keys.first?.symmetricSuites == SymmetricSuite.allImplemented)
        let put = try await send(server.port, .PUT, ObliviousGatewayAPI.path)
        #expect(put.status == .methodNotAllowed)
        #expect(put.headers.first(name: "Allow") == "GET, POST")
    }

    @Test(arguments: SymmetricSuite.allImplemented)
    func encryptedKServeInferenceInEverySuite(suite: SymmetricSuite) async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let probe = GatewayProbe(port: server.port)
        let configuration = try #require(try await probe.keys().first)
        let response = try await probe.exchange(echoInfer("héllo"), to: configuration, suite: suite)
        #expect(response.status == 200)
        #expect(response.headerValue("content-type") == "application/json")
        let json = try JSONParser.parse(response.content)
        let outputs = try #require(json.objectValue?["outputs"]?.arrayValue)
        #expect(outputs.first?.objectValue?["data"] == .array([.string("héllo")]))
    }

    @Test func everyAPIWorksEncrypted() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let probe = GatewayProbe(port: server.port)
        let configuration = try #require(try await probe.keys().first)
        let torchServe = try await probe.exchange(
            BinaryHTTPRequest(method: "POST", path: "/predictions/echo", content: Array("plain text".utf8)),
            to: configuration)
        #expect(torchServe.status == 200)
        #expect(torchServe.content == Array("plain text".utf8))
        let ready = try await probe.exchange("GET", "/v2/health/ready", to: configuration)
        #expect(ready.status == 200)
        let metadata = try await probe.exchange("GET", "/v2/models/echo", to: configuration)
        #expect(try JSONParser.parse(metadata.content).objectValue?["name"] == .string("echo"))
        let nonce = String(repeating: "ab", count: 16)
        let attestation = try await probe.exchange(
            BinaryHTTPRequest(method: "GET", path: "/attestation?nonce=\(nonce)"), to: configuration)
        #expect(attestation.status == 200)
    }

    @Test func errorsOfTheInnerRequestComeBackEncrypted() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let probe = GatewayProbe(port: server.port)
        let configuration = try #require(try await probe.keys().first)
        let missing = try await probe.exchange("GET", "/v2/models/nope", to: configuration)
        #expect(missing.status == 404)
        #expect(String(decoding: missing.content, as: UTF8.self).contains("unknown model 'nope'"))
        let malformed = try await probe.exchange(
            BinaryHTTPRequest(method: "POST", path: "/v2/models/echo/infer", content: Array("{not json".utf8)),
            to: configuration)
        #expect(malformed.status == 400)
        let wrongMethod = try await probe.exchange(
            BinaryHTTPRequest(method: "DELETE", path: "/v2/models/echo/infer"), to: configuration)
        #expect(wrongMethod.status == 405)
        let relative = try await probe.exchange(BinaryHTTPRequest(method: "GET", path: "relative"), to: configuration)
        #expect(relative.status == 400)
        // The gateway does not nest: inside, its path is an unknown route.
        let nested = try await probe.exchange(
            BinaryHTTPRequest(method: "GET", path: ObliviousGatewayAPI.path), to: configuration)
        #expect(nested.status == 404)
    }

    @Test func malformedInnerBinaryHTTPIsAnsweredEncrypted() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let probe = GatewayProbe(port: server.port)
        let configuration = try #require(try await probe.keys().first)
        for inner: [UInt8] in [[], [0x00, 0x04], [0x01, 0x40, 0xC8], [0x00, 0x03, 0x47, 0x45, 0x54, 0x05]] {
            let sealed = try OHTTPClientRequest(sealing: inner, for: configuration)
            let response = try await probe.post(sealed.encapsulatedRequest)
            #expect(response.status == .ok)
            let body = Array(response.body.readableBytesView)
            let opened = try BinaryHTTPResponse(decoding: try sealed.openResponse(body))
            #expect(opened.status == 400)
            #expect(opened.headerValue("content-type") == "application/problem+json")
        }
    }

    @Test func malformedOuterMessagesAre400WithoutDetail() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let probe = GatewayProbe(port: server.port)
        let configuration = try #require(try await probe.keys().first)
        let sealed = try OHTTPClientRequest(sealing: try echoInfer("x").encoded(), for: configuration)
        let whole = sealed.encapsulatedRequest
        // Empty, inside the header, inside enc, and a ciphertext shorter than the AEAD tag.
        for bytes in [[], Array(whole.prefix(3)), Array(whole.prefix(20)), Array(whole.prefix(7 + 32 + 15))] {
            let response = try await probe.post(bytes)
            #expect(response.status == .badRequest)
            let (type, detail) = try problem(response)
            #expect(type == "about:blank")
            #expect(detail == "the encapsulated request is malformed")
        }
        let wrongType = try await probe.post(whole, contentType: "application/octet-stream")
        #expect(wrongType.status == .unsupportedMediaType)
        #expect(try await send(server.port, .GET, "/v2/health/live").status == .ok)
    }

    @Test func unknownKeyIDAndUnsupportedSuitesAskForNewKeys() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let probe = GatewayProbe(port: server.port)
        let configuration = try #require(try await probe.keys().first)
        var unknown = configuration
        unknown.keyID &+= 1
        let toUnknown = try OHTTPClientRequest(sealing: try echoInfer("x").encoded(), for: unknown)
        let valid = try OHTTPClientRequest(sealing: try echoInfer("x").encoded(), for: configuration)
        var badKEM = valid.encapsulatedRequest
        badKEM[1] = 0x00
        badKEM[2] = 0x10
        var badKDF = valid.encapsulatedRequest
        badKDF[4] = 0x02
        var badAEAD = valid.encapsulatedRequest
        badAEAD[6] = 0xFF
        for bytes in [toUnknown.encapsulatedRequest, badKEM, badKDF, badAEAD] {
            let response = try await probe.post(bytes)
            #expect(response.status == .badRequest)
            #expect(try problem(response).type == ObliviousGatewayAPI.keyProblemType)
        }
    }

    @Test func tamperedRequestsFailToDecrypt() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let probe = GatewayProbe(port: server.port)
        let configuration = try #require(try await probe.keys().first)
        let sealed = try OHTTPClientRequest(sealing: try echoInfer("x").encoded(), for: configuration)
            .encapsulatedRequest
        // A byte of enc, of the ciphertext, of the tag; and a header byte that the HPKE info covers.
        for index in [7, 7 + 32 + 3, sealed.count - 1] {
            var tampered = sealed
            tampered[index] ^= 0x01
            let response = try await probe.post(tampered)
            #expect(response.status == .badRequest)
            #expect(try problem(response).detail == "the request could not be decrypted")
        }
        var otherSuite = sealed
        otherSuite[6] = 0x03
        let response = try await probe.post(otherSuite)
        #expect(response.status == .badRequest)
        #expect(try problem(response).detail == "the request could not be decrypted")
    }

    @Test func replayedRequestsAreRefused() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let probe = GatewayProbe(port: server.port)
        let configuration = try #require(try await probe.keys().first)
        let sealed = try OHTTPClientRequest(sealing: try echoInfer("once").encoded(), for: configuration)
        let first = try await probe.post(sealed.encapsulatedRequest)
        #expect(first.status == .ok)
        let again = try await probe.post(sealed.encapsulatedRequest)
        #expect(again.status == .badRequest)
        #expect(try problem(again).detail == "this encapsulated request was already received")
    }

    @Test func innerDatesOutsideTheSkewAreRefusedEncrypted() async throws {
        let server = try await TestServer.start { $0.oblivious.allowedDateSkew = .seconds(30) }
        defer { Task { await server.stop() } }
        let probe = GatewayProbe(port: server.port)
        let configuration = try #require(try await probe.keys().first)
        for offset in [-120.0, 120.0] {
            let response = try await probe.exchange(echoInfer("x", date: Date() + offset), to: configuration)
            #expect(response.status == 400)
            #expect(response.headerValue("date") != nil)
            let type = try JSONParser.parse(response.content).objectValue?["type"]?.stringValue
            #expect(type == ObliviousGatewayAPI.dateProblemType)
        }
        let garbled = BinaryHTTPRequest(
            method: "GET", path: "/v2/health/live", headerFields: [BinaryHTTPField(name: "date", value: "yesterday")])
        #expect(try await probe.exchange(garbled, to: configuration).status == 400)
        #expect(try await probe.exchange(echoInfer("x", date: Date() - 10), to: configuration).status == 200)
        #expect(try await probe.exchange(echoInfer("x", date: nil), to: configuration).status == 200)
    }

    @Test func aMissingDateIsRefusedWhenRequired() async throws {
        let server = try await TestServer.start { $0.oblivious.requireDate = true }
        defer { Task { await server.stop() } }
        let probe = GatewayProbe(port: server.port)
        let configuration = try #require(try await probe.keys().first)
        #expect(try await probe.exchange(echoInfer("x", date: nil), to: configuration).status == 400)
        #expect(try await probe.exchange(echoInfer("x"), to: configuration).status == 200)
    }

    @Test func aRotatedKeyIsAcceptedForTheGracePeriodOnly() async throws {
        let clock = ManualClock()
        let server = try await TestServer.start {
            $0.oblivious.gracePeriod = .seconds(5)
            $0.oblivious.clock = GatewayClock(monotonic: clock.now)
        }
        defer { Task { await server.stop() } }
        let probe = GatewayProbe(port: server.port)
        let old = try #require(try await probe.keys().first)
        let new = server.server.keyStore.rotate()
        #expect(try await probe.keys() == [new])
        #expect(new.keyID != old.keyID)
        #expect(try await probe.exchange(echoInfer("old"), to: old).status == 200)
        #expect(try await probe.exchange(echoInfer("new"), to: new).status == 200)
        clock.advance(by: .milliseconds(5_001))
        let sealed = try OHTTPClientRequest(sealing: try echoInfer("late").encoded(), for: old)
        let refused = try await probe.post(sealed.encapsulatedRequest)
        #expect(refused.status == .badRequest)
        #expect(try problem(refused).type == ObliviousGatewayAPI.keyProblemType)
        #expect(try await probe.exchange(echoInfer("new"), to: new).status == 200)
    }

    @Test func keysRotateOnTheConfiguredInterval() async throws {
        let server = try await TestServer.start { $0.oblivious.rotationInterval = .milliseconds(200) }
        defer { Task { await server.stop() } }
        let probe = GatewayProbe(port: server.port)
        let first = try await probe.keys()
        var rotated = false
        for _ in 0..<50 where !rotated {
            try await Task.sleep(for: .milliseconds(100))
            rotated = try await probe.keys() != first
        }
        #expect(rotated)
    }

    @Test func noPlaintextReachesTheLogs() async throws {
        let logs = LogRecorder()
        let server = try await TestServer.start(logs: logs)
        defer { Task { await server.stop() } }
        let probe = GatewayProbe(port: server.port)
        let configuration = try #require(try await probe.keys().first)
        let secret = "SECRET-PLAINTEXT-7f3a"
        #expect(try await probe.exchange(echoInfer(secret), to: configuration).status == 200)
        let missing = BinaryHTTPRequest(method: "GET", path: "/v2/models/\(secret)")
        #expect(try await probe.exchange(missing, to: configuration).status == 404)
        let skewed = try await probe.exchange(echoInfer(secret, date: Date() - 3_600), to: configuration)
        #expect(skewed.status == 400)
        let sealed = try OHTTPClientRequest(sealing: try echoInfer(secret).encoded(), for: configuration)
        _ = try await probe.post(sealed.encapsulatedRequest)
        _ = try await probe.post(sealed.encapsulatedRequest)
        #expect(!logs.recorded.isEmpty)
        #expect(logs.recorded.allSatisfy { !$0.contains(secret) }, "\(logs.recorded)")
    }
}
