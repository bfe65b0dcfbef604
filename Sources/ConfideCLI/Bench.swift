import ArgumentParser

/// `confide bench`: benchmarks; `confide bench http` (the default) is the HTTP load generator.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure throughput and latency.",
        subcommands: [BenchHTTP.self],
        defaultSubcommand: BenchHTTP.self)
}
