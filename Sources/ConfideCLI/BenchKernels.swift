import ArgumentParser
import CCPUFeatures
import CConfide
import ConfideHost
import ConfideRuntime
import ConfideSDK
import Foundation

/// `confide bench kernels`: GFLOP/s of BERT-shaped GEMMs with the
/// chosen kernel plugin, on one core and on all cores, next to the peak measured in the same run.
struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Measure GEMM throughput of the chosen kernel plugin against the CPU's measured peak.")

    @Option(help: "The folder scanned for plugins (*.so).")
    var handlers = "handlers"

    @Option(help: "Force a kernel plugin by name (default: the best this CPU supports, or $CONFIDE_KERNELS).")
    var kernels: String?

    @Option(parsing: .upToNextOption, help: "Token counts (GEMM rows).")
    var tokens: [Int] = [128, 256, 512, 1024]

    @Option(parsing: .upToNextOption, help: "Reduction sizes (hidden sizes).")
    var k: [Int] = [384, 1024]

    @Option(parsing: .upToNextOption, help: "Output sizes.")
    var n: [Int] = [384, 1024, 1536, 4096]

    @Option(parsing: .upToNextOption, help: "Precisions: fp32, bf16, int8.")
    var precisions: [String] = ["fp32", "bf16", "int8"]

    @Option(help: "Seconds per measurement (the best of its repetitions counts).")
    var seconds = 0.25

    @Flag(help: "Measure on one core only.")
    var singleCore = false

    func run() throws {
        let registry = HandlerRegistry.scan(directory: handlers)
        let probe = CPUProbe.detect()
        let choice = try KernelSelection.choose(
            from: Array(registry.kernelPlugins.values), features: probe.features,
            forced: KernelSelection.forcedName(explicit: kernels, environment: ProcessInfo.processInfo.environment))
        guard let plugin = choice.plugin else { throw ValidationError("no kernel plugin: \(choice.reason)") }
        let kernels = Kernels(table: try HostAPI.initialize(kernels: plugin), host: HostAPI.table)
        let selected = try precisions.map { name throws(ValidationError) -> Kernels.Precision in
            guard let precision = Kernels.Precision(name: name) else { throw ValidationError("unknown precision \(name)") }
            return precision
        }
        let cores = singleCore ? 1 : max(1, ProcessInfo.processInfo.activeProcessorCount)
        let team = ThreadTeam(size: cores)
        defer { team.stop() }
        print("CPU \(probe.brand), \(cores) cores; kernels '\(plugin.name)' (\(choice.reason))")
        var peaks: [Kernels.Precision: (one: Double, all: Double)] = [:]
        for precision in selected {
            let one = Peak.measure(precision, features: probe.features, team: nil, seconds: seconds)
            let all = cores > 1 ? Peak.measure(precision, features: probe.features, team: team, seconds: seconds) : one
            peaks[precision] = (one, one * Double(cores))
            print(
                "peak \(precision.name): \(format(one)) GFLOP/s on one core, \(format(all)) measured on \(cores) "
                    + "(all-core ratios use \(cores) × the one-core peak, which load from other processes cannot lower)")
        }
        print("")
        print("prec  tokens     k     n |  1 core GFLOP/s  ratio | \(cores) cores GFLOP/s  ratio")
        var worst: [Kernels.Precision: Double] = [:]
        for precision in selected {
            for k in k {
                for n in n {
                    let weights = Self.random(count: k * n, seed: UInt64(k * 31 + n))
                    let packed = try weights.withUnsafeBufferPointer { buffer in
                        try kernels.pack(buffer, k: k, n: n, layout: .kn, precision: precision)
                    }
                    for tokens in tokens {
                        let a = Self.random(count: tokens * k, seed: UInt64(tokens))
                        var c = [Float](repeating: 0, count: tokens * n)
                        let flops = 2.0 * Double(tokens) * Double(k) * Double(n)
                        let one = try measure(seconds: seconds) {
                            try run(kernels, a, tokens, packed, &c)
                        }
                        ThreadTeam.setCurrent(team)
                        let all = try measure(seconds: seconds) {
                            try run(kernels, a, tokens, packed, &c)
                        }
                        ThreadTeam.setCurrent(nil)
                        let peak = peaks[precision] ?? (1, 1)
                        let ratio = flops / one / 1e9 / peak.one
                        worst[precision] = min(worst[precision] ?? ratio, ratio)
                        print(
                            "\(precision.name.padding(5)) \(pad(tokens, 6)) \(pad(k, 5)) \(pad(n, 5)) | "
                                + "\(pad(format(flops / one / 1e9), 15)) \(pad(percent(ratio), 6)) | "
                                + "\(pad(format(flops / all / 1e9), 16)) \(pad(percent(flops / all / 1e9 / peak.all), 6))")
                    }
                }
            }
        }
        print("")
        for precision in selected {
            print("\(precision.name): worst one-core ratio to measured peak \(percent(worst[precision] ?? 0))")
        }
    }

    private func run(
        _ kernels: Kernels, _ a: [Float], _ tokens: Int, _ packed: PackedWeights, _ c: inout [Float]
    ) throws {
        try a.withUnsafeBufferPointer { a in
            try c.withUnsafeMutableBufferPointer { c in
                try kernels.gemm(a, rows: tokens, weights: packed, into: c)
            }
        }
    }

    /// The best time of one call, over repetitions lasting about `seconds` after a warm-up call.
    private func measure(seconds: Double, _ body: () throws -> Void) throws -> Double {
        try body()
        var best = Double.infinity
        let start = Self.now()
        var elapsed = 0.0
        var runs = 0
        while elapsed < seconds || runs < 3 {
            let begin = Self.now()
            try body()
            let end = Self.now()
            best = min(best, end - begin)
            elapsed = end - start
            runs += 1
        }
        return best
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }

    static func random(count: Int, seed: UInt64) -> [Float] {
        var state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
        }
    }

    private func format(_ value: Double) -> String { String(format: "%.1f", value) }
    private func percent(_ value: Double) -> String { String(format: "%.0f%%", value * 100) }
    private func pad(_ value: Int, _ width: Int) -> String { pad(String(value), width) }
    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }
}

extension Kernels.Precision {
    init?(name: String) {
        switch name.lowercased() {
        case "fp32": self = .fp32
        case "bf16": self = .bf16
        case "int8": self = .int8
        default: return nil
        }
    }

    var name: String {
        switch self {
        case .fp32: "fp32"
        case .bf16: "bf16"
        case .int8: "int8"
        }
    }
}

/// The peak of the instruction a precision's kernels are built on: 512-bit FMA, vdpbf16ps or vpdpbusd
/// on independent registers.
enum Peak {
    private struct Loop {
        var precision: UInt32
        var iterations: UInt64
        var operations = [Double](repeating: 0, count: 256)
    }

    /// GFLOP/s (GOP/s for INT8) on the calling thread, or on every thread of `team`; 0 when the CPU
    /// lacks the instruction.
    static func measure(_ precision: Kernels.Precision, features: CPUFeatures, team: ThreadTeam?, seconds: Double) -> Double {
        let needed: CPUFeatures = switch precision {
        case .fp32: .avx512f
        case .bf16: [.avx512f, .avx512bf16]
        case .int8: [.avx512f, .avx512vnni]
        }
        guard features.isSuperset(of: needed) else { return 0 }
        let threads = team?.size ?? 1
        var loop = Loop(precision: precision.rawValue, iterations: 1_000_000)
        var best = 0.0
        let start = BenchKernels.now()
        while BenchKernels.now() - start < seconds {
            let begin = BenchKernels.now()
            withUnsafeMutablePointer(to: &loop) { pointer in
                let body: ConfideParallelBody = { context, begin, end in
                    guard let loop = context?.assumingMemoryBound(to: Loop.self) else { return }
                    for index in Int(begin)..<Int(end) {
                        let iterations = loop.pointee.iterations
                        loop.pointee.operations[index] = switch loop.pointee.precision {
                        case 1: confide_peak_fp32(iterations)
                        case 2: confide_peak_bf16(iterations)
                        default: confide_peak_int8(iterations)
                        }
                    }
                }
                if let team {
                    team.parallelFor(count: threads, grain: 1, context: UnsafeMutableRawPointer(pointer), body: body)
                } else {
                    body(UnsafeMutableRawPointer(pointer), 0, 1)
                }
            }
            let elapsed = BenchKernels.now() - begin
            best = max(best, loop.operations.prefix(threads).reduce(0, +) / elapsed / 1e9)
        }
        return best
    }
}
