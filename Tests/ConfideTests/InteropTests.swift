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

    @Test func pyhpkeObliviousHTTPClient() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let result = try await runPython(
            Self.scripts.appendingPathComponent("pyhpke_ohttp.py").path, "127.0.0.1:\(server.port)", "echo")
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("pyhpke: all checks passed (3 suites)"))
    }

    /// The example client of docs/CLIENTS.md, so that it cannot rot: it attests, encrypts, and decodes the answer.
    @Test func theExamplePythonClientSendsAnEncryptedRequest() async throws {
        let client = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/clients/python/confide_client.py").path
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
}

/// Runs a Python script and returns its exit status and combined output.
func runPython(_ arguments: String...) async throws -> (status: Int32, output: String) {
    try await runProcess("/usr/bin/env", ["python3"] + arguments)
}

/// Runs a program and returns its exit status and combined output.
///
/// The program is waited for on a thread of its own, never on one of the concurrency pool's threads: the server
/// under test needs those to answer the program.
func runProcess(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    return await onOwnThread {
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
