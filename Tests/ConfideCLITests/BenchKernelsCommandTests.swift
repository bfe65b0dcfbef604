import ConfideServerTestSupport
import ConfideTestSupport
import Foundation
import Testing

@Suite("confide bench kernels")
struct BenchKernelsCommandTests {
    /// `--against` loads the same-named kernel plugin from a second folder beside the first and prints, per shape,
    /// both builds' GFLOP/s and A's speed over B's with its quartiles and the pairs measured, then a summary per
    /// precision; a folder without that plugin is refused by name.
    @Test func againstComparesTwoBuildsOfAPluginShapeByShape() async throws {
        let first = try TemporaryDirectory()
        let second = try TemporaryDirectory()
        let empty = try TemporaryDirectory()
        defer {
            for root in [first, second, empty] { root.remove() }
        }
        let a = try makeHandlersDirectory(in: first, plugins: ["KernelsPortable"])
        let b = try makeHandlersDirectory(in: second, plugins: ["KernelsPortable"])
        let none = try makeHandlersDirectory(in: empty, plugins: [])
        let shape = ["--tokens", "8", "24", "--k", "32", "--n", "40", "--seconds", "0.01", "--single-core"]
        let compared = try await runProcess(
            ConfideCommand.path,
            [
                "bench", "kernels", "--handlers", a, "--kernels", "portable", "--against", b, "--precisions", "fp32",
                "int8",
            ]
                + shape)
        #expect(compared.status == 0, "\(compared.output)")
        #expect(compared.output.contains("kernels 'portable' from \(a) (A) against \(b) (B)"))
        let rows = compared.output.split(separator: "\n").filter { $0.hasPrefix("fp32 ") || $0.hasPrefix("int8 ") }
        #expect(rows.count == 4, "\(compared.output)")
        for row in rows {
            let fields = row.split(whereSeparator: { " |()–".contains($0) })
            // precision, tokens, k, n, A GFLOP/s, B GFLOP/s, median, lower and upper quartile, pairs
            #expect(fields.count == 10, "\(row)")
            let numbers = fields.dropFirst().compactMap { Double($0) }
            #expect(numbers.count == 9, "\(row)")
            if numbers.count == 9 {
                #expect(numbers[5] > 0, "\(row)")
                #expect(numbers[6] <= numbers[5] && numbers[5] <= numbers[7], "quartiles around the median: \(row)")
                #expect(numbers[8] >= 9, "at least nine pairs: \(row)")
            }
        }
        #expect(compared.output.contains("fp32: A/B speed over the shapes: median"))
        #expect(compared.output.contains("int8: A/B speed over the shapes: median"))
        let refused = try await runProcess(
            ConfideCommand.path,
            ["bench", "kernels", "--handlers", a, "--kernels", "portable", "--against", none] + shape)
        #expect(refused.status != 0)
        #expect(refused.output.contains("no kernel plugin 'portable' in \(none)"))
    }
}
