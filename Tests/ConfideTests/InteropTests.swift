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
}

/// Runs a Python script and returns its exit status and combined output.
func runPython(_ arguments: String...) async throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = await Task.detached { pipe.fileHandleForReading.readDataToEndOfFile() }.value
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
