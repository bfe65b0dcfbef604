import CConfide
import ConfideHost
import ConfideRuntime
import ConfideSDK
import Foundation
import Testing

/// The products SwiftPM built next to the test bundle.
enum BuildProducts {
    static let directory: URL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent()

    /// The path of a plugin product, e.g. `library("KernelsPortable")` for `libKernelsPortable.so`.
    static func library(_ product: String) -> String {
        directory.appendingPathComponent("lib\(product).so").path
    }
}

/// The kernel plugins that ship with Confide, loaded through the runtime's loader.
enum KernelPlugins {
    static let products = ["KernelsPortable", "KernelsAVX2", "KernelsAVX512", "KernelsAMX"]

    /// This machine's usable features.
    static let cpu = CPUProbe.detect().features

    /// Whether this CPU runs the plugin in `product`.
    static func runsHere(_ product: String) -> Bool {
        guard let plugin = try? PluginLoader.open(path: BuildProducts.library(product)) else { return false }
        return CPUFeatures(rawValue: plugin.requiredFeatures).isSubset(of: cpu)
    }

    /// The plugin in `product`, initialised with the host table.
    static func kernels(_ product: String) throws -> Kernels {
        let plugin = try PluginLoader.open(path: BuildProducts.library(product))
        return Kernels(table: try HostAPI.initialize(kernels: plugin), host: HostAPI.table)
    }

    /// The products this CPU runs; AMX is left out (with the reason printed) where the CPU lacks it.
    static let runnable: [String] = products.filter { product in
        if runsHere(product) { return true }
        print("skipping \(product): this CPU (\(cpu)) lacks its required features")
        return false
    }
}

/// Deterministic pseudo-random numbers in [-1, 1].
struct Random {
    private var state: UInt64

    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    mutating func next() -> Float {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Double(state >> 40) / Double(1 << 24)) * 2 - 1
    }

    mutating func values(_ count: Int, scale: Float = 1) -> [Float] { (0..<count).map { _ in next() * scale } }
}

/// What a GEMM fuses into its output.
struct EpilogueCase: Sendable, CustomTestStringConvertible {
    var bias = false
    var gelu = false
    var residual = false

    var testDescription: String {
        let parts = [bias ? "bias" : nil, gelu ? "gelu" : nil, residual ? "residual" : nil].compactMap { $0 }
        return parts.isEmpty ? "none" : parts.joined(separator: "+")
    }

    static let all: [EpilogueCase] = [
        EpilogueCase(), EpilogueCase(bias: true), EpilogueCase(bias: true, gelu: true),
        EpilogueCase(residual: true), EpilogueCase(bias: true, gelu: true, residual: true),
    ]
}

/// Straightforward references, in Double.
enum Reference {
    /// Rounds to BF16 (nearest, ties to even), as the kernels do.
    static func bf16(_ x: Float) -> Float {
        Float(BFloat16(x))
    }

    /// Symmetric int8 quantization of `values` with scale max|v| / 127; returns the integers and the scale.
    static func quantize(_ values: [Float]) -> (q: [Int32], scale: Float) {
        let largest = values.reduce(Float(0)) { max($0, abs($1)) }
        let inverse: Float = largest > 0 ? 127 / largest : 0
        let q = values.map { Int32(max(-127, min(127, ($0 * inverse).rounded(.toNearestOrEven)))) }
        return (q, largest / 127)
    }

    static func gelu(_ x: Double) -> Double { 0.5 * x * (1 + erf(x / 2.0.squareRoot())) }

    /// The reference result and a per-element error bound for a GEMM of a [m][k] · w [k][n].
    static func gemm(
        _ a: [Float], _ w: [Float], m: Int, k: Int, n: Int, precision: Kernels.Precision, epilogue: EpilogueCase,
        bias: [Float], residual: [Float]
    ) -> (value: [Double], bound: [Double]) {
        var value = [Double](repeating: 0, count: m * n)
        var bound = [Double](repeating: 0, count: m * n)
        switch precision {
        case .fp32, .bf16:
            let ar = precision == .bf16 ? a.map(bf16) : a
            let wr = precision == .bf16 ? w.map(bf16) : w
            for i in 0..<m {
                for j in 0..<n {
                    var sum = 0.0
                    var magnitude = 0.0
                    for p in 0..<k {
                        let product = Double(ar[i * k + p]) * Double(wr[p * n + j])
                        sum += product
                        magnitude += abs(product)
                    }
                    value[i * n + j] = sum
                    // FP32 accumulation: 1e-5 of the sum of magnitudes (bound on float rounding for K ≤ 1000).
                    bound[i * n + j] = 1e-5 * magnitude + 1e-6
                }
            }
        case .int8:
            let columns = (0..<n).map { j in quantize((0..<k).map { w[$0 * n + j] }) }
            for i in 0..<m {
                let row = quantize(Array(a[(i * k)..<(i * k + k)]))
                for j in 0..<n {
                    var dot: Int64 = 0
                    var magnitude: Int64 = 0
                    for p in 0..<k {
                        let product = Int64(row.q[p]) * Int64(columns[j].q[p])
                        dot += product
                        magnitude += abs(product)
                    }
                    let scale = Double(row.scale) * Double(columns[j].scale)
                    value[i * n + j] = Double(dot) * scale
                    // Integer sums are exact; scaling and per-chunk FP32 accumulation add ~1e-6 relative.
                    bound[i * n + j] = 1e-5 * Double(magnitude) * scale + 1e-6
                }
            }
        }
        for index in 0..<(m * n) {
            let j = index % n
            if epilogue.bias { value[index] += Double(bias[j]) }
            if epilogue.gelu {
                value[index] = gelu(value[index])
                bound[index] = 1.2 * bound[index] + 1e-6 * (1 + abs(value[index]))
            }
            if epilogue.residual { value[index] += Double(residual[index]) }
        }
        return (value, bound)
    }
}

extension Kernels {
    /// Packs `w` ([k][n]) and runs one GEMM with the given epilogue.
    func run(
        _ a: [Float], _ w: [Float], m: Int, k: Int, n: Int, precision: Kernels.Precision, epilogue: EpilogueCase,
        bias: [Float], residual: [Float]
    ) throws -> [Float] {
        let packed = try w.withUnsafeBufferPointer { try pack($0, k: k, n: n, layout: .kn, precision: precision) }
        var c = [Float](repeating: .nan, count: m * n)
        try a.withUnsafeBufferPointer { a in
            try bias.withUnsafeBufferPointer { bias in
                try residual.withUnsafeBufferPointer { residual in
                    try c.withUnsafeMutableBufferPointer { c in
                        try gemm(
                            a, rows: m, weights: packed, into: c, bias: epilogue.bias ? bias : nil, gelu: epilogue.gelu,
                            residual: epilogue.residual ? residual : nil)
                    }
                }
            }
        }
        return c
    }
}
