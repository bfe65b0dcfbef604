import ConfideJSON
import ConfideMeasurement
import ConfideServerTestSupport
import ConfideTestSupport
import Foundation
import Testing

@Suite("Interoperability with clients nobody here wrote")
struct InteropTests {
    /// The folder of the interoperability scripts.
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Interop")

    @Test func tritonclientHTTPWithItsDefaultBinaryTensors() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let result = try await runPython(
            Self.scripts.appendingPathComponent("tritonclient_echo.py").path, "127.0.0.1:\(server.port)", "echo")
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("all checks passed"))
    }

    @Test func tritonclientGRPCWithRawTensorsAndAnError() async throws {
        let server = try await TestServer.start(grpc: true)
        defer { Task { await server.stop() } }
        let result = try await runPython(
            Self.scripts.appendingPathComponent("tritonclient_grpc.py").path, "127.0.0.1:\(server.grpcPort)", "echo")
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("tritonclient.grpc: all checks passed"), "\(result.output)")
    }

    @Test func pyhpkeObliviousHTTPClient() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let result = try await runPython(
            Self.scripts.appendingPathComponent("pyhpke_ohttp.py").path, "127.0.0.1:\(server.port)", "echo")
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("pyhpke: all checks passed (3 suites)"))
    }

    /// The example Python client of docs/CLIENTS.md.
    static let exampleClient = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/clients/python/confide_client.py").path

    /// The example client of docs/CLIENTS.md, so that it cannot rot: it attests, encrypts, and decodes the answer.
    @Test func theExamplePythonClientSendsAnEncryptedRequest() async throws {
        let client = Self.exampleClient
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let url = "http://127.0.0.1:\(server.port)"
        for aead in ["aes128gcm", "chacha20poly1305"] {
            let result = try await runPython(
                client, "--url", url, "--accept-simulated", "--aead", aead, "--pad", "256",
                "--text", "hello", "--text", "confidential world", "echo")
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains(#""data": ["hello", "confidential world"]"#), "\(result.output)")
            #expect(result.output.contains("SIMULATED"), "the client must say the evidence proves nothing")
        }
        // Simulated evidence is refused unless the caller opts in.
        let refused = try await runPython(client, "--url", url, "--text", "hello", "echo")
        #expect(refused.status == 2, "\(refused.output)")
        #expect(refused.output.contains("refused: the server serves SIMULATED evidence"), "\(refused.output)")
    }

    /// The policy file format is implementable outside Swift: the example client accepts the policy that
    /// `confide attest measure` computes offline for the test server's executable, plugins and models, prints what
    /// runs, and refuses a policy that lacks the plugin or requires another setting, naming the entry.
    @Test func theExamplePythonClientEnforcesAPolicyFile() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let url = "http://127.0.0.1:\(server.port)"
        let measured = server.root.url.appendingPathComponent("measured.json").path
        let measure = try await runProcess(
            BuildProducts.directory.appendingPathComponent("confide").path,
            [
                "attest", "measure", "--handlers", server.root.url.appendingPathComponent("handlers").path,
                "--models", server.root.url.appendingPathComponent("models").path,
                "--executable", URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
                "--output", measured,
            ])
        #expect(measure.status == 0, "\(measure.output)")
        let policy = try MeasurementPolicy(json: Array(try Data(contentsOf: URL(fileURLWithPath: measured))))
        #expect(policy.plugins.contains { $0.name == "echo" } && policy.models.contains { $0.name == "echo" })

        func runClient(_ policy: MeasurementPolicy) async throws -> (status: Int32, output: String) {
            let file = server.root.url.appendingPathComponent("policy-\(UUID().uuidString).json")
            try Data(policy.json.serialized).write(to: file)
            return try await runPython(
                Self.exampleClient, "--url", url, "--accept-simulated", "--policy", file.path, "--text", "hello",
                "echo")
        }

        let accepted = try await runClient(policy)
        #expect(accepted.status == 0, "\(accepted.output)")
        #expect(accepted.output.contains(#""data": ["hello"]"#), "\(accepted.output)")
        #expect(accepted.output.contains("plugin:       echo 1.0.0 (handler"), "\(accepted.output)")
        #expect(accepted.output.contains("model:        echo version 1 (echo, folder)"), "\(accepted.output)")
        #expect(accepted.output.contains("setting:      management = 127.0.0.1:0"), "\(accepted.output)")

        var withoutPlugin = policy
        withoutPlugin.plugins.removeAll { $0.name == "echo" }
        let lacking = try await runClient(withoutPlugin)
        #expect(lacking.status == 2, "\(lacking.output)")
        #expect(lacking.output.contains("refused: the server's measurement log breaks the policy: event "))
        #expect(lacking.output.contains("the plugin file libEcho.so (sha384 "), "\(lacking.output)")
        #expect(!lacking.output.contains(#""data""#), "a refused server must not receive the request")

        var managementOn = policy
        managementOn.settings["management"] = "on"
        let setting = try await runClient(managementOn)
        #expect(setting.status == 2, "\(setting.output)")
        #expect(
            setting.output.contains("the setting 'management' is '127.0.0.1:0'; the policy requires 'on'"),
            "\(setting.output)")
    }
}
