import ConfideServerTestSupport
import ConfideTestSupport
import Foundation
import Testing

@Suite("confide bench model")
struct BenchModelCommandTests {
    /// A tiny random-weight BERT, loaded by the built `bert` handler.
    static let config = """
        {"model_type": "bert", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
         "intermediate_size": 64, "max_position_embeddings": 32, "vocab_size": 200}
        """

    /// A model folder `name` under `root` with the tiny config and `parameters`.
    static func model(_ name: String, in root: TemporaryDirectory, parameters: String) throws -> String {
        let folder = try root.subdirectory(name)
        try Data(config.utf8).write(to: folder.appendingPathComponent("config.json"))
        try Data(#"{"handler": "bert", "parameters": \#(parameters)}"#.utf8)
            .write(to: folder.appendingPathComponent("model.json"))
        return folder.path
    }

    /// The result lines of a paired run: precision, batch, A and B sequences per second, the median ratio, its
    /// quartiles and the pairs, each checked for shape.
    static func pairedRows(_ output: String, precisions: Set<String>) -> [[Double]] {
        output.split(separator: "\n").filter { line in precisions.contains { line.hasPrefix($0 + " ") } }.map {
            line in
            let numbers = line.split(whereSeparator: { " |()–".contains($0) }).dropFirst().compactMap { Double($0) }
            #expect(numbers.count == 7, "\(line)")
            if numbers.count == 7 {
                #expect(numbers[1] > 0 && numbers[2] > 0 && numbers[3] > 0, "\(line)")
                #expect(numbers[4] <= numbers[3] && numbers[3] <= numbers[5], "quartiles around the median: \(line)")
                #expect(numbers[6] >= 9, "at least nine pairs: \(line)")
            }
            return numbers
        }
    }

    /// `--against-model-dir` runs a second model folder beside the first, and `--against-kernels` the same model on the
    /// same-named kernel plugin from another folder; each prints a line per precision and batch size with both
    /// sides' speed and A's over B's. A folder without that plugin, and `--profile` with either, are refused.
    @Test func againstComparesTwoModelsOrTwoKernelBuildsCallByCall() async throws {
        let root = try TemporaryDirectory()
        let otherRoot = try TemporaryDirectory()
        defer {
            root.remove()
            otherRoot.remove()
        }
        let handlers = try makeHandlersDirectory(in: root, plugins: ["Bert", "KernelsPortable"])
        let otherKernels = try makeHandlersDirectory(in: otherRoot, plugins: ["KernelsPortable"])
        let a = try Self.model("a", in: root, parameters: #"{"random_weights": true, "seed": 1}"#)
        let b = try Self.model(
            "b", in: root, parameters: #"{"random_weights": true, "seed": 1, "attention_precision": "bf16"}"#)
        let common = [
            "bench", "model", "--model-dir", a, "--handlers", handlers, "--kernels", "portable", "--batch", "1,2",
            "--sequence", "8", "--seconds", "0.02",
        ]

        let models = try await runProcess(ConfideCommand.path, common + ["--against-model-dir", b])
        #expect(models.status == 0, "\(models.output)")
        #expect(models.output.contains("B: \(b) with the kernels of \(handlers)"))
        #expect(Self.pairedRows(models.output, precisions: ["default"]).map { $0[0] } == [1, 2], "\(models.output)")

        let kernels = try await runProcess(
            ConfideCommand.path, common + ["--against-kernels", otherKernels, "--precisions", "fp32,int8"])
        #expect(kernels.status == 0, "\(kernels.output)")
        #expect(kernels.output.contains("B: \(a) with the kernels of \(otherKernels)"))
        #expect(Self.pairedRows(kernels.output, precisions: ["fp32", "int8"]).count == 4, "\(kernels.output)")

        let missing = try await runProcess(ConfideCommand.path, common + ["--against-kernels", root.url.path])
        #expect(missing.status != 0)
        #expect(missing.output.contains("no kernel plugin 'portable' in \(root.url.path)"))
        let profiled = try await runProcess(ConfideCommand.path, common + ["--against-model-dir", b, "--profile"])
        #expect(profiled.status != 0)
        #expect(profiled.output.contains("cannot be combined"))
    }
}
