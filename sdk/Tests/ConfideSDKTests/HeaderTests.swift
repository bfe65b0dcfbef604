import Foundation
import Testing

/// `confide.h` and `confide_kernels.h` are the ABI every plugin compiles against, whatever its toolchain: they must
/// compile warning-free as C11 and C++17 with GCC and Clang.
@Suite("confide.h and confide_kernels.h compile with every C and C++ compiler")
struct HeaderTests {
    static let include = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/CConfide/include").path

    static let compilers: [(compiler: String, arguments: [String], suffix: String)] = [
        ("gcc", ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"], "c"),
        ("g++", ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic"], "cpp"),
        ("clang", ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"], "c"),
    ]

    @Test(arguments: compilers.map(\.compiler))
    func compilesWithoutWarnings(compiler: String) throws {
        let (_, arguments, suffix) = try #require(Self.compilers.first { $0.compiler == compiler })
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("confide-header-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = folder.appendingPathComponent("plugin.\(suffix)")
        // The compiler's name, as a plugin reports it, must name the compiler that built it.
        try Data(
            """
            #include "confide.h"
            #include "confide_kernels.h"
            #include <string.h>
            int main(void) { return strlen(confide_compiler_id()) > 4 ? 0 : 1; }

            """.utf8
        ).write(to: source)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let program = folder.appendingPathComponent("a.out")
        process.arguments = [compiler] + arguments + ["-I", Self.include, source.path, "-o", program.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(compiler) refuses confide.h:\n\(text)")
        let run = Process()
        run.executableURL = program
        try run.run()
        run.waitUntilExit()
        #expect(run.terminationStatus == 0)
    }
}
