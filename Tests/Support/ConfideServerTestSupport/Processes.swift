import ConfideTestSupport
import Foundation
import Testing

/// The `confide` executable that the test build produces next to the test bundle.
public enum ConfideCommand {
    /// Its path.
    public static let path = BuildProducts.directory.appendingPathComponent("confide").path

    /// Runs it with `arguments` and returns its exit status and combined output.
    public static func run(_ arguments: String...) async throws -> (status: Int32, output: String) {
        try #require(FileManager.default.isExecutableFile(atPath: path), "build the confide product first: \(path)")
        return try await runProcess(path, arguments)
    }
}

/// Runs a Python script; the example client's HTTP calls may wait up to 5 minutes, since the suites running alongside
/// can keep a 2-core CI machine saturated for longer than its default minute.
public func runPython(_ arguments: String...) async throws -> (status: Int32, output: String) {
    try await runProcess("/usr/bin/env", ["CONFIDE_CLIENT_TIMEOUT=300", "python3"] + arguments)
}

/// Runs a program and returns its exit status and combined output.
///
/// The program is waited for on a thread of its own, never on one of the concurrency pool's threads: the server
/// under test needs those to answer the program.
public func runProcess(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
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
