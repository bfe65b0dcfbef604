import CConfide
import ConfideClient
import ConfideHTTPClient
import ConfideHost
import ConfideJSON
import ConfideSDK
import ConfideServer
import ConfideServerTestSupport
import ConfideTensors
import ConfideTestKit
import ConfideTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The example handler in plain C (`examples/handlers/c-echo`), compiled by GCC as a plugin author would, loaded by
/// the real loader and served by a real server: a C plugin needs neither the server's compiler nor Swift.
@Suite("A C handler compiled by GCC loads and serves")
struct CHandlerTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let source = repository.appendingPathComponent("examples/handlers/c-echo/echo.c")
    static let include = repository.appendingPathComponent("sdk/Sources/CConfide/include")
    static let gcc = ["/usr/bin/gcc", "/usr/local/bin/gcc"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Compiles the example with GCC's strictest everyday flags into `folder` and returns the library's path.
    static func compile(into folder: URL) async throws -> String {
        let gcc = try #require(gcc)
        let library = folder.appendingPathComponent("libc-echo.so").path
        let (status, text) = try await runProcess(
            gcc,
            [
                "-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-I", include.path, source.path, "-o",
                library,
            ])
        #expect(status == 0, "gcc refuses the C handler:\n\(text)")
        #expect(text.isEmpty, "gcc warns about the C handler:\n\(text)")
        return library
    }

    @Test(.enabled(if: gcc != nil, "gcc is not installed (scripts/bootstrap installs it)"))
    func theLoaderAcceptsItThoughItsCompilerIsNotTheServers() async throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let plugin = try PluginLoader.open(path: try await Self.compile(into: root.url))
        #expect(plugin.name == "c-echo")
        #expect(plugin.language == CONFIDE_LANGUAGE_C)
        #expect(plugin.compiler.hasPrefix("gcc "))
        #expect(plugin.compiler != PluginLoader.hostCompiler)
        #expect(plugin.abiVersion.major == PluginLoader.hostVersion.major)
    }

    @Test(.enabled(if: gcc != nil, "gcc is not installed (scripts/bootstrap installs it)"))
    func theTestKitRunsItThroughTheABI() async throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let tester = try HandlerTester(library: try await Self.compile(into: root.url))
        let floats = try #require(HostTensor(name: "x", dataType: .fp32, shape: [2], values: [Float(1.5), -2]))
        let texts = try #require(HostTensor(name: "t", strings: ["a", "", "ü"]))
        let outputs = try tester.infer([floats, texts])
        #expect(outputs["x"]?.values(as: Float.self) == [1.5, -2])
        #expect(outputs["t"]?.strings() == ["a", "", "ü"])
        let answer = try #require(try tester.post(body: Array("héllo".utf8), contentType: "text/plain").body)
        #expect(answer.contentType == "text/plain")
        #expect(Array(answer.bytes.bytes) == Array("héllo".utf8))
        let untyped = try #require(try tester.post(body: []).body)
        #expect(untyped.contentType == "application/octet-stream")
        #expect(untyped.bytes.count == 0)
    }

    @Test(.enabled(if: gcc != nil, "gcc is not installed (scripts/bootstrap installs it)"))
    func aServerServesItOverKServeAndTorchServe() async throws {
        let build = try TemporaryDirectory()
        defer { build.remove() }
        let library = try await Self.compile(into: build.url)
        let server = try await TestServer.start(plugins: [], models: ["cecho": #"{"handler": "c-echo"}"#]) {
            configuration in
            let folder = configuration.handlersDirectory as NSString
            try FileManager.default.copyItem(atPath: library, toPath: folder.appendingPathComponent("libc-echo.so"))
        }
        defer { Task { await server.stop() } }
        let infer = try await send(
            server.port, .POST, "/v2/models/cecho/infer", body: int32Request(42, id: "c"),
            headers: ["Content-Type": "application/json"])
        #expect(infer.status == .ok)
        let json = try JSONParser.parse(Array(infer.body.readableBytesView))
        #expect(json.objectValue?["id"] == .string("c"))
        let output = try #require(json.objectValue?["outputs"]?.arrayValue?.first?.objectValue)
        #expect(output["name"] == .string("x"))
        #expect(output["data"]?.arrayValue?.first?.doubleValue == 42)
        let predicted = try await send(
            server.port, .POST, "/predictions/cecho", body: #"{"text": "hi"}"#,
            headers: ["Content-Type": "application/json"])
        #expect(predicted.status == .ok)
        #expect(predicted.text == #"{"text": "hi"}"#)
        #expect(predicted.headers.first(name: "Content-Type") == "application/json")
    }
}
