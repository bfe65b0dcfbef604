import ArgumentParser

/// `confide bench`: benchmarks; `confide bench http` (the default) is the HTTP load generator,
/// `confide bench kernels` measures the kernel plugins, `confide bench model` a model's handler in-process,
/// `confide bench envelope` the cost of encryption, `confide bench attack` a server under hostile load,
/// `confide bench codec` the memory of decoding KServe v2 requests.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure throughput and latency.",
        subcommands: [
            BenchHTTP.self, BenchKernels.self, BenchModel.self, BenchEnvelope.self, BenchAttack.self, BenchCodec.self,
        ],
        defaultSubcommand: BenchHTTP.self)
}
