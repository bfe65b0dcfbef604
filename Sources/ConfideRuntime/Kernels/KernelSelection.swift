public import ConfideHost
public import Foundation

/// Why no kernel table could be chosen as asked.
public struct KernelSelectionError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, for people.
    public let message: String
    public var description: String { message }
}

/// The outcome of choosing a kernel plugin for this machine.
public struct KernelChoice: Sendable {
    /// A kernel plugin and whether this CPU can run it.
    public struct Candidate: Sendable {
        /// The plugin.
        public let plugin: LoadedPlugin
        /// The features it requires that the CPU lacks; empty when it can run.
        public let missing: CPUFeatures
    }

    /// The chosen plugin; nil when none is available.
    public let plugin: LoadedPlugin?
    /// Why it was chosen, for people.
    public let reason: String
    /// Every kernel plugin considered, best first.
    public let candidates: [Candidate]
}

/// Picks the kernel plugin handlers get: the highest-ranked plugin whose required CPU features are all
/// present, unless one is forced by name (`confide serve --kernels NAME`, or `CONFIDE_KERNELS`).
public enum KernelSelection {
    /// The environment variable that forces a kernel plugin by name when no explicit setting does.
    public static let environmentVariable = "CONFIDE_KERNELS"

    /// The forced plugin name: `explicit` if given, else the environment variable, else nil. An empty
    /// value forces nothing.
    public static func forcedName(explicit: String?, environment: [String: String]) -> String? {
        let name = explicit ?? environment[environmentVariable]
        return name?.isEmpty == false ? name : nil
    }

    /// Chooses among `plugins` for a CPU with `features`. Forcing a plugin that is not loaded, or whose
    /// required features this CPU lacks, is refused with an error that says why.
    public static func choose(
        from plugins: [LoadedPlugin], features: CPUFeatures, forced: String? = nil
    ) throws(KernelSelectionError) -> KernelChoice {
        let candidates =
            plugins
            .map {
                KernelChoice.Candidate(
                    plugin: $0, missing: CPUFeatures(rawValue: $0.requiredFeatures).subtracting(features))
            }
            .sorted { ($0.plugin.rank, $1.plugin.name) > ($1.plugin.rank, $0.plugin.name) }
        if let forced {
            guard let candidate = candidates.first(where: { $0.plugin.name == forced }) else {
                let names = candidates.map(\.plugin.name).sorted()
                throw KernelSelectionError(
                    message:
                        "no kernel plugin named '\(forced)' is loaded (available: \(names.isEmpty ? "none" : names.joined(separator: ", ")))"
                )
            }
            guard candidate.missing.isEmpty else {
                throw KernelSelectionError(
                    message:
                        "kernel plugin '\(forced)' needs \(candidate.missing) which this CPU lacks; refusing to force it"
                )
            }
            return KernelChoice(plugin: candidate.plugin, reason: "forced by name", candidates: candidates)
        }
        guard let best = candidates.first(where: { $0.missing.isEmpty }) else {
            let reason =
                candidates.isEmpty
                ? "no kernel plugin is loaded" : "no kernel plugin runs on this CPU (each lacks a required feature)"
            return KernelChoice(plugin: nil, reason: reason, candidates: candidates)
        }
        let reason =
            "highest rank (\(best.plugin.rank)) among the \(candidates.filter { $0.missing.isEmpty }.count) plugins this CPU supports"
        return KernelChoice(plugin: best.plugin, reason: reason, candidates: candidates)
    }

    /// Chooses for this machine (CPU probe, `explicit` name or `CONFIDE_KERNELS`) and makes the choice
    /// the table `ConfideHostApi.kernels` serves.
    public static func activate(
        from plugins: [LoadedPlugin], explicit: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> KernelChoice {
        let choice = try choose(
            from: plugins, features: CPUProbe.detect().features,
            forced: forcedName(explicit: explicit, environment: environment))
        try HostAPI.useKernels(choice.plugin)
        return choice
    }
}
