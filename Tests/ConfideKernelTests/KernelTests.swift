import CConfide
import ConfideHost
import ConfideRuntime
import ConfideSDK
import Foundation
import Testing

/// Shapes (m × k · k × n) that are not multiples of any tile (8 or 32 rows, 32 columns, 16/128 k-units),
/// tiny and skinny ones, K = 1, K long enough to cross the FP32, BF16 and INT8 K chunks, and K a multiple of 16
/// with rows past the last full 8 (FP32 reads those panels of A in place and copies only the last).
let gemmShapes: [(m: Int, k: Int, n: Int)] = [
    (1, 1, 1), (3, 1, 5), (1, 1, 33), (7, 13, 9), (1, 64, 1), (17, 33, 65), (8, 64, 32), (33, 129, 47),
    (65, 300, 97), (2, 600, 3), (41, 1100, 35), (21, 64, 40), (19, 512, 70), (5, 4200, 37),
]

@Suite("Kernel plugins against straightforward references")
struct GEMMTests {
    /// Error bounds, per precision, against the reference in Double:
    /// - FP32: |c − ref| ≤ 1e-5 · Σ|a·w| + 1e-6.
    /// - BF16: the same, against a reference whose inputs are rounded to BF16 like the kernels'.
    /// - INT8: the same relative bound on the dequantized exact integer reference (same quantization),
    ///   and against FP32 the quantization bound ½(s_a·Σ|w| + s_w·Σ|a|) + ¼·K·s_a·s_w.
    /// GELU widens a bound by 1.2× (its slope is below 1.13) plus 1e-6 relative for its erf.
    @Test(arguments: KernelPlugins.runnable, Kernels.Precision.allCases)
    func gemmMatchesTheReference(product: String, precision: Kernels.Precision) throws {
        let kernels = try KernelPlugins.kernels(product)
        var random = Random(seed: UInt64(precision.rawValue))
        for (index, shape) in gemmShapes.enumerated() {
            let (m, k, n) = shape
            let a = random.values(m * k)
            let w = random.values(k * n, scale: 0.5)
            let bias = random.values(n)
            let residual = random.values(m * n)
            let epilogue = EpilogueCase.all[index % EpilogueCase.all.count]
            let c = try kernels.run(
                a, w, m: m, k: k, n: n, precision: precision, epilogue: epilogue, bias: bias, residual: residual)
            let reference = Reference.gemm(
                a, w, m: m, k: k, n: n, precision: precision, epilogue: epilogue, bias: bias, residual: residual)
            var worst = 0.0
            for e in 0..<(m * n) {
                let error = abs(Double(c[e]) - reference.value[e]) / reference.bound[e]
                if !worst.isNaN, !(error <= worst) { worst = error }  // a NaN (never written) sticks and fails
            }
            #expect(
                worst <= 1, "\(product) \(precision) \(m)×\(k)×\(n) \(epilogue.testDescription): error \(worst) × bound"
            )
        }
    }

    @Test(arguments: KernelPlugins.runnable, EpilogueCase.all)
    func everyEpilogueOnAnOddShape(product: String, epilogue: EpilogueCase) throws {
        let kernels = try KernelPlugins.kernels(product)
        var random = Random(seed: 7)
        let (m, k, n) = (19, 70, 45)
        let a = random.values(m * k)
        let w = random.values(k * n)
        let bias = random.values(n)
        let residual = random.values(m * n)
        let c = try kernels.run(
            a, w, m: m, k: k, n: n, precision: .fp32, epilogue: epilogue, bias: bias, residual: residual)
        let reference = Reference.gemm(
            a, w, m: m, k: k, n: n, precision: .fp32, epilogue: epilogue, bias: bias, residual: residual)
        for e in 0..<(m * n) { #expect(abs(Double(c[e]) - reference.value[e]) <= reference.bound[e]) }
    }

    /// GELU over the whole float range: exact products (k = 1, weights 1) feed the epilogue values from −1e30 to
    /// 1e30, and each result is within 1e-6 · max(1, |GELU(x)|) of GELU in Double: large negative values give 0,
    /// never a NaN or a multiple of x.
    @Test(arguments: KernelPlugins.runnable)
    func geluHoldsOverTheWholeRange(product: String) throws {
        let kernels = try KernelPlugins.kernels(product)
        let values: [Float] = [
            -1e30, -3e4, -100, -20, -10, -6, -3, -1, -1e-3, 0, 1e-3, 1, 3, 6, 10, 20, 100, 3e4, 1e30,
        ]
        let n = 40
        let c = try kernels.run(
            values, [Float](repeating: 1, count: n), m: values.count, k: 1, n: n, precision: .fp32,
            epilogue: EpilogueCase(gelu: true), bias: [], residual: [])
        for (i, x) in values.enumerated() {
            let want = Reference.gelu(Double(x))
            let worst = c[(i * n)..<(i * n + n)].map { abs(Double($0) - want) }.max() ?? .nan
            #expect(worst <= 1e-6 * max(1, abs(want)), "\(product): GELU(\(x)) is off by \(worst)")
        }
    }

    @Test func int8StaysWithinItsQuantizationBoundOfFP32() throws {
        for product in KernelPlugins.runnable {
            let kernels = try KernelPlugins.kernels(product)
            var random = Random(seed: 11)
            let (m, k, n) = (23, 384, 50)
            let a = random.values(m * k)
            let w = random.values(k * n, scale: 0.1)
            let c = try kernels.run(
                a, w, m: m, k: k, n: n, precision: .int8, epilogue: EpilogueCase(), bias: [], residual: [])
            let exact = Reference.gemm(
                a, w, m: m, k: k, n: n, precision: .fp32, epilogue: EpilogueCase(), bias: [], residual: [])
            for i in 0..<m {
                let row = Array(a[(i * k)..<(i * k + k)])
                let sa = Double(Reference.quantize(row).scale)
                let sumA = row.reduce(0.0) { $0 + Double(abs($1)) }
                for j in 0..<n {
                    let column = (0..<k).map { w[$0 * n + j] }
                    let sw = Double(Reference.quantize(column).scale)
                    let sumW = column.reduce(0.0) { $0 + Double(abs($1)) }
                    let bound = 0.5 * (sa * sumW + sw * sumA) + 0.25 * Double(k) * sa * sw + 1e-5
                    #expect(abs(Double(c[i * n + j]) - exact.value[i * n + j]) <= bound)
                }
            }
        }
    }

    /// The portable plugin is the reference for the others: on a BERT-sized shape with every epilogue,
    /// each plugin agrees with it to within 1e-5 · Σ|a·w| (INT8: the same quantization, so the same bound).
    @Test(arguments: Kernels.Precision.allCases)
    func everyPluginAgreesWithThePortableOne(precision: Kernels.Precision) throws {
        let portable = try KernelPlugins.kernels("KernelsPortable")
        var random = Random(seed: 3)
        let (m, k, n) = (128, 384, 400)
        let a = random.values(m * k)
        let w = random.values(k * n, scale: 0.2)
        let bias = random.values(n)
        let residual = random.values(m * n)
        let epilogue = EpilogueCase(bias: true, gelu: true, residual: true)
        let expected = try portable.run(
            a, w, m: m, k: k, n: n, precision: precision, epilogue: epilogue, bias: bias, residual: residual)
        let magnitude = 1e-5 * Double(k) * 0.2 + 1e-5
        for product in KernelPlugins.runnable where product != "KernelsPortable" {
            let kernels = try KernelPlugins.kernels(product)
            let c = try kernels.run(
                a, w, m: m, k: k, n: n, precision: precision, epilogue: epilogue, bias: bias, residual: residual)
            let worst = zip(c, expected).reduce(0.0) { worst, pair in
                let difference = abs(Double(pair.0) - Double(pair.1))
                return worst.isNaN || difference <= worst ? worst : difference  // a NaN sticks and fails
            }
            #expect(worst <= magnitude, "\(product) \(precision): differs from portable by \(worst)")
        }
    }

    /// Work split across a worker's cores gives bit-identical results: every tile is computed once, the same
    /// way. The row counts give one row group per thread, groups of unequal size, fewer row tiles than
    /// threads, and long groups.
    @Test(arguments: KernelPlugins.runnable)
    func theWorkersTeamGivesTheSameResult(product: String) throws {
        let kernels = try KernelPlugins.kernels(product)
        var random = Random(seed: 5)
        let (k, n) = (200, 300)
        for (m, threads) in [(150, 3), (300, 2), (37, 4), (1100, 2)] {
            let a = random.values(m * k)
            let w = random.values(k * n)
            for precision in Kernels.Precision.allCases {
                let alone = try kernels.run(
                    a, w, m: m, k: k, n: n, precision: precision, epilogue: EpilogueCase(), bias: [], residual: [])
                let team = ThreadTeam(size: threads)
                ThreadTeam.setCurrent(team)
                let together = try kernels.run(
                    a, w, m: m, k: k, n: n, precision: precision, epilogue: EpilogueCase(), bias: [], residual: [])
                ThreadTeam.setCurrent(nil)
                team.stop()
                #expect(alone == together, "\(product) \(precision), \(m) rows on \(threads) threads")
            }
        }
    }

    @Test func pyTorchLayoutPacksTheTranspose() throws {
        for product in KernelPlugins.runnable {
            let kernels = try KernelPlugins.kernels(product)
            var random = Random(seed: 9)
            let (m, k, n) = (5, 37, 41)
            let a = random.values(m * k)
            let w = random.values(k * n)
            let transposed = (0..<(n * k)).map { w[($0 % k) * n + $0 / k] }
            let packed = try transposed.withUnsafeBufferPointer {
                try kernels.pack($0, k: k, n: n, layout: .nk, precision: .fp32)
            }
            var c = [Float](repeating: 0, count: m * n)
            try a.withUnsafeBufferPointer { a in
                try c.withUnsafeMutableBufferPointer { try kernels.gemm(a, rows: m, weights: packed, into: $0) }
            }
            let expected = try kernels.run(
                a, w, m: m, k: k, n: n, precision: .fp32, epilogue: EpilogueCase(), bias: [], residual: [])
            #expect(c == expected, "\(product)")
        }
    }
}

@Suite("Attention, softmax and layer norm kernels")
struct AttentionTests {
    /// Q·Kᵀ and P·V per (sequence, head) addressed in place in a fused [tokens][3·hidden] QKV tensor;
    /// bound 1e-5 · Σ|a·b| + 1e-6 as for FP32 GEMM.
    @Test(arguments: KernelPlugins.runnable)
    func batchedMatmulPerSequenceAndHead(product: String) throws {
        let kernels = try KernelPlugins.kernels(product)
        var random = Random(seed: 13)
        for (sequences, heads, tokens, dimension) in [(2, 3, 5, 7), (1, 2, 33, 64), (3, 1, 1, 1), (2, 2, 40, 17)] {
            let hidden = heads * dimension
            let qkv = random.values(sequences * tokens * 3 * hidden)
            let alpha: Float = 0.125
            var scores = [Float](repeating: .nan, count: sequences * heads * tokens * tokens)
            let qkvLayout = { (part: Int) in
                Kernels.BatchLayout(ld: 3 * hidden, outerStride: tokens * 3 * hidden, innerStride: dimension)
            }
            let scoreLayout = Kernels.BatchLayout(
                ld: tokens, outerStride: heads * tokens * tokens, innerStride: tokens * tokens)
            try qkv.withUnsafeBufferPointer { qkv in
                try scores.withUnsafeMutableBufferPointer { scores in
                    let q = UnsafeBufferPointer(rebasing: qkv[0...])
                    let keys = UnsafeBufferPointer(rebasing: qkv[hidden...])
                    try kernels.batchedMatmul(
                        outer: sequences, inner: heads, m: tokens, n: tokens, k: dimension, alpha: alpha,
                        a: q, qkvLayout(0), b: keys, qkvLayout(1), transposeB: true, c: scores, scoreLayout)
                }
            }
            var context = [Float](repeating: .nan, count: sequences * tokens * hidden)
            let contextLayout = Kernels.BatchLayout(ld: hidden, outerStride: tokens * hidden, innerStride: dimension)
            try scores.withUnsafeBufferPointer { scores in
                try qkv.withUnsafeBufferPointer { qkv in
                    try context.withUnsafeMutableBufferPointer { context in
                        try kernels.batchedMatmul(
                            outer: sequences, inner: heads, m: tokens, n: dimension, k: tokens,
                            a: scores, scoreLayout, b: UnsafeBufferPointer(rebasing: qkv[(2 * hidden)...]),
                            qkvLayout(2),
                            transposeB: false, c: context, contextLayout)
                    }
                }
            }
            func at(_ s: Int, _ t: Int, _ part: Int, _ h: Int, _ d: Int) -> Double {
                Double(qkv[(s * tokens + t) * 3 * hidden + part * hidden + h * dimension + d])
            }
            for s in 0..<sequences {
                for h in 0..<heads {
                    for i in 0..<tokens {
                        for j in 0..<tokens {
                            var sum = 0.0
                            var magnitude = 0.0
                            for d in 0..<dimension {
                                let product = at(s, i, 0, h, d) * at(s, j, 1, h, d)
                                sum += product
                                magnitude += abs(product)
                            }
                            let got = Double(scores[((s * heads + h) * tokens + i) * tokens + j])
                            #expect(abs(got - Double(alpha) * sum) <= 1e-5 * magnitude + 1e-6)
                        }
                        for d in 0..<dimension {
                            var sum = 0.0
                            var magnitude = 0.0
                            for j in 0..<tokens {
                                let product =
                                    Double(scores[((s * heads + h) * tokens + i) * tokens + j]) * at(s, j, 2, h, d)
                                sum += product
                                magnitude += abs(product)
                            }
                            let got = Double(context[(s * tokens + i) * hidden + h * dimension + d])
                            #expect(abs(got - sum) <= 1e-5 * magnitude + 1e-6)
                        }
                    }
                }
            }
        }
    }

    /// Masked softmax: bound 2e-6 absolute per probability; a row masked entirely with -inf becomes zeros.
    @Test(arguments: KernelPlugins.runnable)
    func maskedSoftmax(product: String) throws {
        let kernels = try KernelPlugins.kernels(product)
        var random = Random(seed: 17)
        for cols in [1, 7, 16, 33, 128] {
            let (sequences, heads, rows) = (3, 2, 4)
            var x = random.values(sequences * heads * rows * cols, scale: 8)
            let original = x
            var mask = [Float](repeating: 0, count: sequences * cols)
            for j in 0..<cols where j % 3 == 2 { mask[j] = -10000 }
            for j in 0..<cols where j % 2 == 1 { mask[cols + j] = -.infinity }
            for j in 0..<cols { mask[2 * cols + j] = -.infinity }
            let layout = Kernels.BatchLayout(ld: cols, outerStride: heads * rows * cols, innerStride: rows * cols)
            try mask.withUnsafeBufferPointer { mask in
                try x.withUnsafeMutableBufferPointer { x in
                    try kernels.softmax(
                        outer: sequences, inner: heads, rows: rows, cols: cols, x: x, layout, mask: mask,
                        maskStride: cols)
                }
            }
            for s in 0..<sequences {
                for r in 0..<(heads * rows) {
                    let base = (s * heads * rows + r) * cols
                    let shifted = (0..<cols).map { Double(original[base + $0]) + Double(mask[s * cols + $0]) }
                    let top = shifted.max() ?? 0
                    let exps = shifted.map { top == -.infinity ? 0 : exp($0 - top) }
                    let sum = exps.reduce(0, +)
                    for j in 0..<cols {
                        let expected = sum > 0 ? exps[j] / sum : 0
                        #expect(
                            abs(Double(x[base + j]) - expected) <= 2e-6, "\(product) cols \(cols) row \(r) col \(j)")
                    }
                }
            }
        }
    }

    /// Layer norm, in place and not: bound 2e-5 · (1 + |y|).
    @Test(arguments: KernelPlugins.runnable)
    func layerNorm(product: String) throws {
        let kernels = try KernelPlugins.kernels(product)
        var random = Random(seed: 19)
        for cols in [1, 7, 384, 1000] {
            let rows = 5
            let x = random.values(rows * cols, scale: 3).map { $0 + 2 }
            let gamma = random.values(cols)
            let beta = random.values(cols)
            var y = [Float](repeating: .nan, count: rows * cols)
            var inPlace = x
            try x.withUnsafeBufferPointer { x in
                try gamma.withUnsafeBufferPointer { gamma in
                    try beta.withUnsafeBufferPointer { beta in
                        try y.withUnsafeMutableBufferPointer { y in
                            try kernels.layerNorm(
                                x, rows: rows, cols: cols, gamma: gamma, beta: beta, eps: 1e-12, into: y)
                        }
                        try inPlace.withUnsafeMutableBufferPointer { buffer in
                            try kernels.layerNorm(
                                UnsafeBufferPointer(buffer), rows: rows, cols: cols, gamma: gamma, beta: beta,
                                eps: 1e-12, into: buffer)
                        }
                    }
                }
            }
            #expect(y == inPlace)
            for r in 0..<rows {
                let row = x[(r * cols)..<(r * cols + cols)].map(Double.init)
                let mean = row.reduce(0, +) / Double(cols)
                let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(cols)
                for j in 0..<cols {
                    let expected =
                        (row[j] - mean) / (variance + 1e-12).squareRoot() * Double(gamma[j]) + Double(beta[j])
                    #expect(
                        abs(Double(y[r * cols + j]) - expected) <= 2e-5 * (1 + abs(expected)), "\(product) cols \(cols)"
                    )
                }
            }
        }
    }
}

@Suite("Kernel calls refuse bad arguments")
struct KernelArgumentTests {
    @Test func bufferTooSmallIsRefusedBeforeTheKernelRuns() throws {
        let kernels = try KernelPlugins.kernels("KernelsPortable")
        let w = [Float](repeating: 1, count: 12)
        let packed = try w.withUnsafeBufferPointer { try kernels.pack($0, k: 3, n: 4, precision: .fp32) }
        let a = [Float](repeating: 1, count: 5)
        var c = [Float](repeating: 0, count: 8)
        let error = #expect(throws: HandlerError.self) {
            try a.withUnsafeBufferPointer { a in
                try c.withUnsafeMutableBufferPointer { try kernels.gemm(a, rows: 2, weights: packed, into: $0) }
            }
        }
        #expect(error?.code == .invalidArgument)
        #expect(throws: HandlerError.self) {
            try w.withUnsafeBufferPointer { _ = try kernels.pack($0, k: 4, n: 4, precision: .int8) }
        }
    }

    @Test func theCKernelRefusesInvalidOperandsWithAnError() throws {
        let plugin = try PluginLoader.open(path: BuildProducts.library("KernelsPortable"))
        let table = try HostAPI.initialize(kernels: plugin)
        var desc = ConfideWeightsDesc(
            struct_size: UInt32(MemoryLayout<ConfideWeightsDesc>.size), precision: 9, layout: 0, reserved: 0, k: 2,
            n: 2,
            data: nil, ld: 2)
        var packed: OpaquePointer?
        let error = try #require(table.pointee.pack_weights(&desc, &packed))
        #expect(packed == nil)
        #expect(HostAPI.table.pointee.error_code(error) == CONFIDE_ERROR_INVALID_ARGUMENT.rawValue)
        HostAPI.table.pointee.error_delete(error)
        let gemmError = try #require(table.pointee.gemm(nil, 1, nil, 0, nil, 0, nil))
        let message = HostAPI.table.pointee.error_message(gemmError).map { String(cString: $0) } ?? ""
        #expect(message.contains("not packed by this kernel plugin"))
        HostAPI.table.pointee.error_delete(gemmError)
    }

    @Test func weightsPackedByAnotherTableAreRefused() throws {
        guard KernelPlugins.runsHere("KernelsAVX512") else { return }
        let portable = try KernelPlugins.kernels("KernelsPortable")
        let avx512 = try KernelPlugins.kernels("KernelsAVX512")
        let w = [Float](repeating: 1, count: 4)
        let packed = try w.withUnsafeBufferPointer { try portable.pack($0, k: 2, n: 2, precision: .fp32) }
        var c = [Float](repeating: 0, count: 2)
        #expect(throws: HandlerError.self) {
            try w.withUnsafeBufferPointer { a in
                try c.withUnsafeMutableBufferPointer { try avx512.gemm(a, rows: 1, weights: packed, into: $0) }
            }
        }
    }
}
