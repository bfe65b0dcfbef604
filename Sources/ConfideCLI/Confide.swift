import ArgumentParser

/// The `confide` command line.
@main
struct Confide: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "confide",
        abstract: "A confidential model-serving runtime.",
        subcommands: [Serve.self, Handlers.self, Infer.self, KernelsCommand.self, BenchKernelsCommand.self]
    )
}

/// `confide bench-kernels`: ``BenchKernels`` registered at the top level until the `bench` command group
/// exists (it then moves there as `confide bench kernels`).
struct BenchKernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-kernels", abstract: BenchKernels.configuration.abstract)

    @OptionGroup var bench: BenchKernels

    func run() throws { try bench.run() }
}
