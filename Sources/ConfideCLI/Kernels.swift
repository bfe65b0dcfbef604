import ArgumentParser
import ConfideHost
import ConfideRuntime
import Foundation

/// `confide kernels`: what the CPU probe found, which kernel plugins a folder holds, and which one the
/// server would choose and why.
struct KernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Show the CPU features detected and the kernel plugin the server would choose.")

    @Option(help: "The folder scanned for plugins (*.so).")
    var handlers = "handlers"

    @Option(help: "Force a kernel plugin by name, as `confide serve --kernels` does (default: $CONFIDE_KERNELS).")
    var kernels: String?

    func run() throws {
        let probe = CPUProbe.detect()
        print("CPU       \(probe.brand.isEmpty ? "unknown" : probe.brand)")
        print("usable    \(probe.features)")
        let unusable = probe.reported.subtracting(probe.features)
        if !unusable.isEmpty { print("disabled  \(unusable) (reported by CPUID, but not enabled by the OS)") }
        let permission = probe.amxPermission.map { $0 ? "granted" : "refused" } ?? "not requested (no AMX)"
        print("XCR0      0x\(String(probe.xcr0, radix: 16)); AMX tile permission \(permission)")
        let registry = HandlerRegistry.scan(directory: handlers)
        let forced = KernelSelection.forcedName(explicit: kernels, environment: ProcessInfo.processInfo.environment)
        let plugins = Array(registry.kernelPlugins.values)
        let all = (try? KernelSelection.choose(from: plugins, features: probe.features))?.candidates ?? []
        print("\nKernel plugins in \(handlers):")
        if all.isEmpty { print("  none") }
        for candidate in all {
            let plugin = candidate.plugin
            let status = candidate.missing.isEmpty ? "runs here" : "lacks \(candidate.missing)"
            print("  \(plugin.name.padding(10)) rank \(String(plugin.rank).padding(4)) \(status)")
            print("             requires \(CPUFeatures(rawValue: plugin.requiredFeatures)); \(plugin.origin)")
        }
        for refusal in registry.refusals { print("  refused   \(refusal.path): \(refusal.error.message)") }
        do {
            let choice = try KernelSelection.choose(from: plugins, features: probe.features, forced: forced)
            print("\nchosen    \(choice.plugin?.name ?? "none"): \(choice.reason)")
        } catch {
            print("\nchosen    none: \(error)")
            throw ExitCode.failure
        }
    }
}

extension String {
    /// The string padded with spaces to `width` characters.
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
