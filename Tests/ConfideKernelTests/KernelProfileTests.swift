import CConfide
import ConfideHost
import ConfideRuntime
import ConfideSDK
import Foundation
import Testing

/// The kernel profiler over the portable plugin: exact call and operation counts per category, the waiting
/// invariants, and the same outputs as the plugin's own table.
@Suite("Kernel profiler", .serialized)
struct KernelProfileTests {
    /// A copy of the portable plugin under another path: the loader gives it globals of its own, so the profiler
    /// initialising it with the profiling host does not touch the plugin the other kernel suites run beside this one.
    static let plugin: Result<LoadedPlugin, any Error> = Result {
        try copy(of: "KernelsPortable")
    }

    static func copy(of product: String) throws -> LoadedPlugin {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("profile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("lib\(product).so").path
        try FileManager.default.copyItem(atPath: BuildProducts.library(product), toPath: path)
        return try PluginLoader.open(path: path)
    }

    /// One BERT-like layer's weights, packed by one table.
    struct Layer {
        let qkv, attentionOutput, up, down: PackedWeights

        init(_ kernels: Kernels, precision: Kernels.Precision, weights: [[Float]], shapes: [(k: Int, n: Int)])
            throws
        {
            let packed = try zip(weights, shapes).map { values, shape in
                try values.withUnsafeBufferPointer {
                    try kernels.pack($0, k: shape.k, n: shape.n, layout: .kn, precision: precision)
                }
            }
            (qkv, attentionOutput, up, down) = (packed[0], packed[1], packed[2], packed[3])
        }
    }

    static let (tokens, hidden, heads, inner) = (40, 32, 2, 64)
    static let lengths = [24, 16]
    static let shapes = [
        (k: hidden, n: 3 * hidden), (k: hidden, n: hidden), (k: hidden, n: inner), (k: inner, n: hidden),
    ]

    /// An encoder layer's calls: layer norm, GEMM (QKV), attention, GEMM + residual, layer norm, GEMM + GELU,
    /// GEMM + residual, layer norm. Returns every buffer written.
    static func layer(_ kernels: Kernels, _ weights: Layer, input: [Float], precision: Kernels.Precision) throws
        -> [[Float]]
    {
        let (tokens, hidden) = (Self.tokens, Self.hidden)
        var random = Random(seed: 3)
        let gamma = UnsafeMutableBufferPointer<Float>.allocate(capacity: hidden)
        let beta = UnsafeMutableBufferPointer<Float>.allocate(capacity: hidden)
        let bias = UnsafeMutableBufferPointer<Float>.allocate(capacity: 3 * hidden + inner)
        let x = UnsafeMutableBufferPointer<Float>.allocate(capacity: tokens * hidden)
        let qkv = UnsafeMutableBufferPointer<Float>.allocate(capacity: tokens * 3 * hidden)
        let context = UnsafeMutableBufferPointer<Float>.allocate(capacity: tokens * hidden)
        let mid = UnsafeMutableBufferPointer<Float>.allocate(capacity: tokens * hidden)
        let up = UnsafeMutableBufferPointer<Float>.allocate(capacity: tokens * inner)
        let out = UnsafeMutableBufferPointer<Float>.allocate(capacity: tokens * hidden)
        let written = [x, qkv, context, mid, up, out]
        defer { for buffer in written + [gamma, beta, bias] { buffer.deallocate() } }
        for buffer in [gamma, beta, bias] { _ = buffer.initialize(from: random.values(buffer.count)) }
        for buffer in written { buffer.initialize(repeating: 0) }
        let (g, b) = (UnsafeBufferPointer(gamma), UnsafeBufferPointer(beta))
        try input.withUnsafeBufferPointer { input in
            try kernels.layerNorm(input, rows: tokens, cols: hidden, gamma: g, beta: b, eps: 1e-12, into: x)
        }
        try kernels.gemm(
            UnsafeBufferPointer(x), rows: tokens, weights: weights.qkv, into: qkv, bias: UnsafeBufferPointer(bias))
        let q = UnsafeBufferPointer(qkv)
        try kernels.attention(
            q: q, k: UnsafeBufferPointer(rebasing: q[hidden...]), v: UnsafeBufferPointer(rebasing: q[(2 * hidden)...]),
            ld: 3 * hidden, lengths: lengths, heads: heads, headSize: hidden / heads, scale: 0.25,
            precision: precision == .bf16 ? .bf16 : .fp32, into: context, ldOut: hidden)
        try kernels.gemm(
            UnsafeBufferPointer(context), rows: tokens, weights: weights.attentionOutput, into: mid,
            bias: UnsafeBufferPointer(bias),
            residual: UnsafeBufferPointer(x))
        try kernels.layerNorm(
            UnsafeBufferPointer(mid), rows: tokens, cols: hidden, gamma: g, beta: b, eps: 1e-12, into: mid)
        try kernels.gemm(
            UnsafeBufferPointer(mid), rows: tokens, weights: weights.up, into: up, bias: UnsafeBufferPointer(bias),
            gelu: true)
        try kernels.gemm(
            UnsafeBufferPointer(up), rows: tokens, weights: weights.down, into: out, bias: UnsafeBufferPointer(bias),
            residual: UnsafeBufferPointer(mid))
        try kernels.layerNorm(
            UnsafeBufferPointer(out), rows: tokens, cols: hidden, gamma: g, beta: b, eps: 1e-12, into: out)
        return written.map { Array($0) }
    }

    @Test(arguments: Kernels.Precision.allCases)
    func aProfiledLayerCountsEveryCallAndComputesTheSame(precision: Kernels.Precision) throws {
        let plugin = try Self.plugin.get()
        let threads = 2
        let real = Kernels(table: try HostAPI.initialize(kernels: plugin), host: HostAPI.table)
        let profiled = Kernels(table: try KernelProfiler.table(for: plugin), host: HostAPI.table)
        var random = Random(seed: UInt64(precision.rawValue))
        let weights = Self.shapes.map { random.values($0.k * $0.n, scale: 0.3) }
        let input = random.values(Self.tokens * Self.hidden)
        let team = ThreadTeam(size: threads)
        ThreadTeam.setCurrent(team)
        defer {
            ThreadTeam.setCurrent(nil)
            team.stop()
        }
        let expected = try Self.layer(
            real, Layer(real, precision: precision, weights: weights, shapes: Self.shapes), input: input,
            precision: precision)
        KernelProfiler.reset()
        let packed = try Layer(profiled, precision: precision, weights: weights, shapes: Self.shapes)
        let outputs = try Self.layer(profiled, packed, input: input, precision: precision)
        let profile = KernelProfiler.read()

        #expect(outputs == expected, "the profiled table computes what the plugin's own does")
        let calls: [KernelProfile.Category: Int] = [
            .gemm: 1, .gemmResidual: 2, .gemmGELU: 1, .attention: 1, .layerNorm: 3, .weightPacking: 4,
        ]
        #expect(profile.entries.mapValues(\.calls) == calls)
        for (category, entry) in profile.entries {
            #expect(entry.nanoseconds > 0, "\(category) took time")
            #expect(entry.waitingThreadNanoseconds <= entry.regionThreadNanoseconds, "\(category)")
            #expect(entry.regionThreadNanoseconds <= entry.nanoseconds * UInt64(threads), "\(category)")
            #expect(entry.waitingNanoseconds <= entry.nanoseconds, "\(category)")
            #expect(
                entry.activationPackingNanoseconds + entry.waitingNanoseconds <= entry.nanoseconds, "\(category)")
        }
        for category in [KernelProfile.Category.gemm, .gemmResidual, .gemmGELU, .attention, .layerNorm] {
            #expect(profile[category].regions >= profile[category].calls, "\(category) ran parallel regions")
        }
        // The portable plugin packs A in a region of its own before the micro-kernels' region.
        for category in [KernelProfile.Category.gemm, .gemmResidual, .gemmGELU] {
            #expect(profile[category].activationPackingNanoseconds > 0, "\(category) packed its activations")
        }
        let (tokens, hidden, inner) = (UInt64(Self.tokens), UInt64(Self.hidden), UInt64(Self.inner))
        #expect(profile[.gemm].flops == 2 * tokens * hidden * 3 * hidden)
        #expect(profile[.gemmResidual].flops == 2 * tokens * hidden * hidden + 2 * tokens * inner * hidden)
        #expect(profile[.gemmGELU].flops == 2 * tokens * hidden * inner)
        for category in [KernelProfile.Category.batchedMatmul, .softmax, .other] {
            #expect(profile[category] == KernelProfile.Entry(), "\(category) was not called")
        }
    }

    @Test func theSameTableServesAgainAndAnotherPluginIsRefused() throws {
        let plugin = try Self.plugin.get()
        let table = try KernelProfiler.table(for: plugin)
        #expect(try KernelProfiler.table(for: plugin) == table)
        let other = try Self.copy(of: "KernelsPortable")
        #expect(throws: HandlerError.self) { try KernelProfiler.table(for: other) }
    }

    @Test func theBreakdownAddsUpToTheForwardPass() {
        let profile = KernelProfile(entries: [
            .gemm: KernelProfile.Entry(
                calls: 4, nanoseconds: 1_000, regions: 8, regionThreadNanoseconds: 1_800, waitingThreadNanoseconds: 200,
                waitingNanoseconds: 100, activationPackingNanoseconds: 150, flops: 5_000),
            .layerNorm: KernelProfile.Entry(
                calls: 2, nanoseconds: 300, regions: 2, regionThreadNanoseconds: 500, waitingThreadNanoseconds: 100,
                waitingNanoseconds: 50),
        ])
        let rows = profile.breakdown(forwardNanoseconds: 2_000)
        let byKey = Dictionary(uniqueKeysWithValues: rows.map { ($0.key, $0) })
        #expect(rows.reduce(0) { $0 + $1.nanoseconds } == 2_000)
        #expect(byKey["gemm"]?.nanoseconds == 750)
        #expect(byKey["gemm_activation_packing"]?.nanoseconds == 150)
        #expect(byKey["layer_norm"]?.nanoseconds == 250)
        #expect(byKey["waiting"]?.nanoseconds == 150)
        #expect(byKey["outside_kernels"]?.nanoseconds == 700)
        #expect(byKey["gemm"]?.gigaflopsPerSecond == 5)
        #expect(byKey["layer_norm"]?.gigaflopsPerSecond == nil)
        #expect(byKey["attention"]?.nanoseconds == 0)
    }
}
