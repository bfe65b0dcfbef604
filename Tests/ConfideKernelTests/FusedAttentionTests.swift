import CConfide
import ConfideHost
import ConfideSDK
import Foundation
import Testing

/// Multi-head self-attention over packed sequences of a fused `[tokens][3·hidden]` QKV tensor, as the bert handler
/// lays it out.
struct AttentionCase: Sendable, CustomTestStringConvertible {
    var lengths: [Int]
    var heads: Int
    var headSize: Int

    var hidden: Int { heads * headSize }
    var tokens: Int { lengths.reduce(0, +) }
    /// Output rows are wider than the heads, so a kernel that writes past a row's heads is caught.
    var ldOut: Int { hidden + 3 }
    var testDescription: String { "\(heads) heads of \(headSize), lengths \(lengths)" }

    static let all: [AttentionCase] = [
        AttentionCase(lengths: [1, 7, 33, 64, 130], heads: 3, headSize: 32),
        AttentionCase(lengths: [0, 5, 17, 9], heads: 2, headSize: 40),
        AttentionCase(lengths: [3], heads: 1, headSize: 8),
        AttentionCase(lengths: [40, 24], heads: 2, headSize: 64),
    ]

    /// Seeded Q, K and V with values in [-2, 2], so some rows' softmax is peaked and some flat.
    func qkv(seed: UInt64) -> [Float] {
        var random = Random(seed: seed)
        return random.values(tokens * 3 * hidden, scale: 2)
    }

    /// Runs `kernels.attention` and returns the output rows (`ldOut` apart, NaN where nothing may be written).
    func run(_ kernels: Kernels, qkv: [Float], precision: Kernels.Precision) throws -> [Float] {
        var out = [Float](repeating: .nan, count: tokens * ldOut)
        try qkv.withUnsafeBufferPointer { qkv in
            try out.withUnsafeMutableBufferPointer { out in
                try kernels.attention(
                    q: qkv, k: UnsafeBufferPointer(rebasing: qkv[hidden...]),
                    v: UnsafeBufferPointer(rebasing: qkv[(2 * hidden)...]), ld: 3 * hidden, lengths: lengths,
                    heads: heads, headSize: headSize, scale: AttentionCase.scale, precision: precision, into: out,
                    ldOut: ldOut)
            }
        }
        return out
    }

    static let scale: Float = 0.5

    /// The reference, in Double: per sequence and head, softmax(scale · Q·Kᵀ)·V. With `bf16`, Q, K, V and the
    /// exponentials exp(score − max) are rounded to BF16 first (the division by their exact sum follows), as the
    /// BF16 products are defined.
    func reference(qkv: [Float], bf16: Bool) -> [Double] {
        let round: (Float) -> Double = { bf16 ? Double(Reference.bf16($0)) : Double($0) }
        var out = [Double](repeating: .nan, count: tokens * ldOut)
        var start = 0
        for length in lengths {
            func at(_ token: Int, _ part: Int, _ head: Int, _ d: Int) -> Double {
                round(qkv[(start + token) * 3 * hidden + part * hidden + head * headSize + d])
            }
            for head in 0..<heads {
                for i in 0..<length {
                    var scores = (0..<length).map { j in
                        Double(Self.scale) * (0..<headSize).reduce(0.0) { $0 + at(i, 0, head, $1) * at(j, 1, head, $1) }
                    }
                    let largest = scores.max() ?? 0
                    scores = scores.map { exp($0 - largest) }
                    let sum = scores.reduce(0, +)
                    let probabilities = scores.map { (bf16 ? Double(Reference.bf16(Float($0))) : $0) / sum }
                    for d in 0..<headSize {
                        out[(start + i) * ldOut + head * headSize + d] =
                            (0..<length).reduce(0.0) { $0 + probabilities[$1] * at($1, 2, head, d) }
                    }
                }
            }
            start += length
        }
        return out
    }
}

@Suite("Fused multi-head attention")
struct FusedAttentionTests {
    /// FP32 within 1e-5 of the reference (outputs are averages of values in [-2, 2]); BF16 within 2e-3 of the
    /// reference that rounds as BF16 does (an exponential that rounds the other way moves an output by at most
    /// 2⁻⁸ of its share). Padding columns stay untouched.
    @Test(arguments: KernelPlugins.runnable, [Kernels.Precision.fp32, .bf16])
    func attentionMatchesTheReference(product: String, precision: Kernels.Precision) throws {
        let kernels = try KernelPlugins.kernels(product)
        for (index, shape) in AttentionCase.all.enumerated() {
            let qkv = shape.qkv(seed: UInt64(index + 1))
            let got = try shape.run(kernels, qkv: qkv, precision: precision)
            let want = shape.reference(qkv: qkv, bf16: precision == .bf16)
            let tolerance = precision == .fp32 ? 1e-5 : 2e-3
            var worst = 0.0
            for (g, w) in zip(got, want) {
                if w.isNaN {
                    #expect(g.isNaN, "\(shape): a kernel wrote outside the heads")
                } else if !worst.isNaN, !(abs(Double(g) - w) <= worst) {
                    worst = abs(Double(g) - w)  // a NaN (an output never written) sticks and fails
                }
            }
            #expect(worst <= tolerance, "\(shape) \(precision): largest error \(worst)")
        }
    }

    /// The host refuses a kernel table that ends before a function of its kernel ABI version (the copy here is exactly
    /// that long, so reading past it is an overflow the address sanitizer reports).
    @Test func theLoaderRefusesAnIncompleteKernelTable() throws {
        let plugin = try PluginLoader.open(path: BuildProducts.library("KernelsPortable"))
        let size = try #require(MemoryLayout<ConfideKernelApi>.offset(of: \ConfideKernelApi.attention))
        let raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: MemoryLayout<ConfideKernelApi>.alignment)
        defer { raw.deallocate() }
        raw.copyMemory(from: UnsafeRawPointer(try #require(plugin.kernelAPI)), byteCount: size)
        raw.storeBytes(of: UInt32(size), as: UInt32.self)
        "shorter".withCString { name in
            var descriptor = ConfidePluginDescriptor(
                struct_size: UInt32(MemoryLayout<ConfidePluginDescriptor>.size), abi_major: UInt32(CONFIDE_ABI_MAJOR),
                abi_minor: UInt32(CONFIDE_ABI_MINOR), kind: CONFIDE_PLUGIN_KERNELS.rawValue, name: name, version: name,
                description: name, min_host_abi_minor: 0, language: CONFIDE_LANGUAGE_C.rawValue, compiler: name,
                api: UnsafeRawPointer(raw), context: nil)
            let error = #expect(throws: PluginLoadError.self) {
                try PluginLoader.accept(descriptor: &descriptor, origin: "shorter.so")
            }
            #expect(error?.code == .invalidDescriptor)
            #expect(error?.message.contains("no complete kernel table") == true)
        }
    }

    /// Items split across a worker's threads give bit-identical results: each (sequence, head) is computed the same
    /// way on whichever thread runs it.
    @Test(arguments: KernelPlugins.runnable)
    func theWorkersTeamGivesTheSameResult(product: String) throws {
        let kernels = try KernelPlugins.kernels(product)
        let shape = AttentionCase(lengths: [9, 70, 1, 33, 128, 17], heads: 4, headSize: 32)
        let qkv = shape.qkv(seed: 21)
        for precision in [Kernels.Precision.fp32, .bf16] {
            let alone = try shape.run(kernels, qkv: qkv, precision: precision)
            let team = ThreadTeam(size: 3)
            ThreadTeam.setCurrent(team)
            let together = try shape.run(kernels, qkv: qkv, precision: precision)
            ThreadTeam.setCurrent(nil)
            team.stop()
            let same = zip(alone, together).allSatisfy { $0.bitPattern == $1.bitPattern }
            #expect(same, "\(product) \(precision)")
        }
    }

    @Test func badArgumentsAreRefused() throws {
        let kernels = try KernelPlugins.kernels("KernelsPortable")
        let shape = AttentionCase(lengths: [4, 3], heads: 2, headSize: 8)
        let qkv = shape.qkv(seed: 5)
        let int8 = #expect(throws: HandlerError.self) { _ = try shape.run(kernels, qkv: qkv, precision: .int8) }
        #expect(int8?.code == .invalidArgument)
        let short = #expect(throws: HandlerError.self) {
            _ = try shape.run(kernels, qkv: Array(qkv.dropLast()), precision: .fp32)
        }
        #expect(short?.code == .invalidArgument)
        let negative = AttentionCase(lengths: [4, -1], heads: 2, headSize: 8)
        #expect(throws: HandlerError.self) { _ = try negative.run(kernels, qkv: qkv, precision: .fp32) }

        let table = kernels.table
        var desc = ConfideAttention(
            struct_size: UInt32(MemoryLayout<ConfideAttention>.size), precision: CONFIDE_PRECISION_INT8.rawValue,
            sequence_count: 1, lengths: nil, heads: 1, head_size: 1, q: nil, k: nil, v: nil, ld_qkv: 1, out: nil,
            ld_out: 1, scale: 1, reserved: 0)
        let unsupported = try #require(table.pointee.attention(&desc))
        #expect(HostAPI.table.pointee.error_code(unsupported) == CONFIDE_ERROR_UNSUPPORTED.rawValue)
        HostAPI.table.pointee.error_delete(unsupported)
        desc.precision = CONFIDE_PRECISION_FP32.rawValue
        let invalid = try #require(table.pointee.attention(&desc))
        #expect(HostAPI.table.pointee.error_code(invalid) == CONFIDE_ERROR_INVALID_ARGUMENT.rawValue)
        HostAPI.table.pointee.error_delete(invalid)
    }
}
