import ArgumentParser

/// The `confide` command line.
@main
struct Confide: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "confide",
        abstract: "A confidential model-serving runtime.",
        subcommands: [
            Serve.self, Handlers.self, Infer.self, Attest.self, KernelsCommand.self, Bench.self, Archive.self,
            New.self,
        ]
    )
}
