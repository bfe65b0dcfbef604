import ArgumentParser
import CCPUFeatures
import CConfide
import ConfideHost
import ConfideRuntime
import ConfideSDK
import Foundation

/// `confide bench kernels`: GFLOP/s of BERT-shaped GEMMs with the
/// chosen kernel plugin, on one core and on all cores, next to the peak measured in the same run; with `--against`,
/// the chosen plugin's speed over another build's, their calls interleaved.
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

    @Option(
        help: ArgumentHelp(
            "Compare with the kernel plugin of the same name in this folder (e.g. another build of it).",
            discussion: """
                Each shape's GEMMs then run on both builds call by call (A then B, then B then A, and so on) for \
                --seconds per build, and each row gives this build's speed over the other's as the median of the pairs' \
                time ratios, with their quartiles: on a shared machine, load that comes and goes then slows both \
                sides of a pair alike. The medians of both builds' GFLOP/s are printed too.
                """))
    var against: String?

    func run() throws {
        let registry = HandlerRegistry.scan(directory: handlers)
        let probe = CPUProbe.detect()
        let choice = try KernelSelection.choose(
            from: Array(registry.kernelPlugins.values), features: probe.features,
            forced: KernelSelection.forcedName(explicit: kernels, environment: ProcessInfo.processInfo.environment))
        guard let plugin = choice.plugin else { throw ValidationError("no kernel plugin: \(choice.reason)") }
        let kernels = Kernels(table: try HostAPI.initialize(kernels: plugin), host: HostAPI.table)
        var other: Kernels?
        if let against {
            guard let otherPlugin = HandlerRegistry.scan(directory: against).kernelPlugins[plugin.name] else {
                throw ValidationError("no kernel plugin '\(plugin.name)' in \(against) to compare with")
            }
            other = Kernels(table: try HostAPI.initialize(kernels: otherPlugin), host: HostAPI.table)
        }
        let selected = try precisions.map { name throws(ValidationError) -> Kernels.Precision in
            guard let precision = Kernels.Precision(name: name) else {
                throw ValidationError("unknown precision \(name)")
            }
            return precision
        }
        let cores = singleCore ? 1 : max(1, ProcessInfo.processInfo.activeProcessorCount)
        // All-core measurements run on a worker whose team has a thread per core, as a server's worker does.
        let worker = try WorkerThread(name: "bench-kernels", threads: cores)
        defer { worker.stop() }
        if let other, let against {
            print(
                "CPU \(probe.brand), \(cores) cores; kernels '\(plugin.name)' from \(handlers) (A) against \(against) "
                    + "(B), calls interleaved")
            try compare(kernels, other, precisions: selected, on: worker)
            return
        }
        print("CPU \(probe.brand), \(cores) cores; kernels '\(plugin.name)' (\(choice.reason))")
        var peaks: [Kernels.Precision: (one: Double, all: Double)] = [:]
        for precision in selected {
            guard let instruction = Peak.Instruction(precision, features: probe.features) else {
                print("peak \(precision.name): this CPU has no instruction to measure it with")
                continue
            }
            let one = Peak.measure(instruction, team: nil, seconds: seconds)
            let all =
                cores > 1
                ? worker.run { Peak.measure(instruction, team: ThreadTeam.current, seconds: seconds) } : one
            peaks[precision] = (one, one * Double(cores))
            print(
                "peak \(precision.name) (\(instruction.name)): \(format(one)) GFLOP/s on one core, \(format(all)) measured "
                    + "on \(cores) (all-core ratios use \(cores) × the one-core peak, which load from other processes "
                    + "cannot lower)")
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
                        let all = try worker.run {
                            try measure(seconds: seconds) { try run(kernels, a, tokens, packed, &c) }
                        }
                        let peak = peaks[precision] ?? (1, 1)
                        let ratio = flops / one / 1e9 / peak.one
                        worst[precision] = min(worst[precision] ?? ratio, ratio)
                        print(
                            "\(precision.name.padding(5)) \(pad(tokens, 6)) \(pad(k, 5)) \(pad(n, 5)) | "
                                + "\(pad(format(flops / one / 1e9), 15)) \(pad(percent(ratio), 6)) | "
                                + "\(pad(format(flops / all / 1e9), 16)) \(pad(percent(flops / all / 1e9 / peak.all), 6))"
                        )
                    }
                }
            }
        }
        print("")
        for precision in selected {
            print("\(precision.name): worst one-core ratio to measured peak \(percent(worst[precision] ?? 0))")
        }
    }

    /// `--against`: every shape on both tables, call by call, on the worker's team.
    private func compare(
        _ kernels: Kernels, _ other: Kernels, precisions: [Kernels.Precision], on worker: WorkerThread
    ) throws {
        print("")
        print("prec  tokens     k     n | A GFLOP/s  B GFLOP/s | A/B speed: median (quartiles)  pairs")
        var medians: [Kernels.Precision: [Double]] = [:]
        for precision in precisions {
            for k in k {
                for n in n {
                    let weights = Self.random(count: k * n, seed: UInt64(k * 31 + n))
                    let packed = try [kernels, other].map { table in
                        try weights.withUnsafeBufferPointer { buffer in
                            try table.pack(buffer, k: k, n: n, layout: .kn, precision: precision)
                        }
                    }
                    for tokens in tokens {
                        let a = Self.random(count: tokens * k, seed: UInt64(tokens))
                        var c = [Float](repeating: 0, count: tokens * n)
                        let times = try worker.run {
                            try PairedTimes.measure(seconds: seconds) { side in
                                try run([kernels, other][side], a, tokens, packed[side], &c)
                            }
                        }
                        let flops = 2.0 * Double(tokens) * Double(k) * Double(n)
                        let ratio = times.ratios
                        medians[precision, default: []].append(ratio.median)
                        print(
                            "\(precision.name.padding(5)) \(pad(tokens, 6)) \(pad(k, 5)) \(pad(n, 5)) | "
                                + "\(pad(format(flops / times.a.median / 1e9), 9)) "
                                + "\(pad(format(flops / times.b.median / 1e9), 10)) | "
                                + "\(pad(String(format: "%.3f (%.3f–%.3f)", ratio.median, ratio.lower, ratio.upper), 30)) "
                                + "\(pad(times.a.values.count, 6))")
                    }
                }
            }
        }
        print("")
        for precision in precisions {
            let shapes = Quartiles(medians[precision] ?? [])
            print(
                "\(precision.name): A/B speed over the shapes: median \(String(format: "%.3f", shapes.median)), "
                    + "range \(String(format: "%.3f–%.3f", shapes.minimum, shapes.maximum))")
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

/// The peak of the fastest instruction this CPU has for a precision, on independent accumulators: 512-bit FMA, else
/// 256-bit FMA; AMX's tdpbf16ps / tdpbusd where the CPU has AMX, else vdpbf16ps / vpdpbusd, else (AVX2 without
/// AVX-512) the 256-bit FMA that BF16 widened to FP32 runs on and the vpmaddubsw sequence of INT8.
enum Peak {
    /// A peak loop: the instruction it runs.
    enum Instruction: UInt32 {
        case fma = 1
        case fma256
        case vpmaddubsw
        case vdpbf16ps
        case vpdpbusd
        case tdpbf16ps
        case tdpbusd

        /// The fastest one `features` offer for `precision`, or nil when the CPU has none.
        init?(_ precision: Kernels.Precision, features: CPUFeatures) {
            let candidates: [(Instruction, CPUFeatures)] =
                switch precision {
                case .fp32: [(.fma, .avx512f), (.fma256, [.avx2, .fma])]
                case .bf16:
                    [
                        (.tdpbf16ps, [.amxTile, .amxBF16]), (.vdpbf16ps, [.avx512f, .avx512bf16]),
                        (.fma256, [.avx2, .fma]),
                    ]
                case .int8:
                    [(.tdpbusd, [.amxTile, .amxInt8]), (.vpdpbusd, [.avx512f, .avx512vnni]), (.vpmaddubsw, .avx2)]
                }
            guard let found = candidates.first(where: { features.isSuperset(of: $0.1) }) else { return nil }
            self = found.0
        }

        /// Rounds of the loop per call: about 30 ms on one core.
        var iterations: UInt64 {
            switch self {
            case .tdpbf16ps, .tdpbusd: 500_000
            case .fma, .fma256, .vpmaddubsw, .vdpbf16ps, .vpdpbusd: 1_000_000
            }
        }

        var name: String {
            switch self {
            case .fma: "vfmadd"
            case .fma256: "vfmadd ymm"
            case .vpmaddubsw: "vpmaddubsw, vpmaddwd, vpaddd"
            case .vdpbf16ps: "vdpbf16ps"
            case .vpdpbusd: "vpdpbusd"
            case .tdpbf16ps: "tdpbf16ps"
            case .tdpbusd: "tdpbusd"
            }
        }
    }

    private struct Loop {
        var instruction: Instruction
        var operations = [Double](repeating: 0, count: 256)
    }

    /// GFLOP/s (GOP/s for INT8) of `instruction` on the calling thread, or on every thread of `team`.
    static func measure(_ instruction: Instruction, team: ThreadTeam?, seconds: Double) -> Double {
        let threads = team?.size ?? 1
        var loop = Loop(instruction: instruction)
        var best = 0.0
        let start = BenchKernels.now()
        while BenchKernels.now() - start < seconds {
            let begin = BenchKernels.now()
            withUnsafeMutablePointer(to: &loop) { pointer in
                let body: ConfideParallelBody = { context, begin, end in
                    guard let loop = context?.assumingMemoryBound(to: Loop.self) else { return }
                    for index in Int(begin)..<Int(end) {
                        let instruction = loop.pointee.instruction
                        let iterations = instruction.iterations
                        loop.pointee.operations[index] =
                            switch instruction {
                            case .fma: confide_peak_fp32(iterations)
                            case .fma256: confide_peak_fp32_avx2(iterations)
                            case .vpmaddubsw: confide_peak_int8_avx2(iterations)
                            case .vdpbf16ps: confide_peak_bf16(iterations)
                            case .vpdpbusd: confide_peak_int8(iterations)
                            case .tdpbf16ps: confide_peak_amx_bf16(iterations)
                            case .tdpbusd: confide_peak_amx_int8(iterations)
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
