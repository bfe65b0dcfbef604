public import CConfide

/// The compute kernels the host chose for this machine (the kernel ABI of `confide_kernels.h`): GEMM on weights packed
/// once, in FP32, BF16 or INT8, with fused bias, GELU and residual; fused multi-head attention, and the batched
/// matmul and masked softmax it is made of; layer norm. Every call runs on the calling worker's cores through
/// the host's parallel-for, so call them from ``HandlerInstance/execute(_:)``; pack weights when the model loads.
///
/// ```swift
/// guard let kernels = worker.kernels else { ... }          // or model.kernels at load time
/// let w = try kernels.pack(weights, k: 384, n: 1536, precision: .int8)
/// try kernels.gemm(x, rows: tokens, weights: w, into: h, bias: b, gelu: true)
/// ```
///
/// Buffers are row-major FP32. Sizes are checked before the kernel runs: a call with buffers too small
/// for its shape throws instead of reading or writing out of bounds.
public struct Kernels: @unchecked Sendable {
    /// The arithmetic of a GEMM, chosen when weights are packed (see `ConfideKernelPrecision`).
    public enum Precision: UInt32, Sendable, CaseIterable {
        /// FP32 products, FP32 accumulation.
        case fp32 = 1
        /// Inputs rounded to BF16, FP32 accumulation.
        case bf16 = 2
        /// Weights quantized per column, activations per row; int32 accumulation, FP32 output.
        case int8 = 3
    }

    /// How FP32 weights handed to ``pack(_:k:n:layout:precision:)`` are laid out.
    public enum WeightLayout: UInt32, Sendable {
        /// `k` rows of `n`.
        case kn = 0
        /// `n` rows of `k`: PyTorch's `nn.Linear.weight`, as safetensors stores it.
        case nk = 1
    }

    /// How a batch of matrices lies in one buffer: item (outer, inner) starts at
    /// `outer * outerStride + inner * innerStride`, and its rows are `ld` elements apart.
    public struct BatchLayout: Sendable {
        /// Elements between consecutive rows of one matrix.
        public var ld: Int
        /// Elements between consecutive outer items (e.g. sequences).
        public var outerStride: Int
        /// Elements between consecutive inner items (e.g. heads).
        public var innerStride: Int

        /// Creates a layout.
        public init(ld: Int, outerStride: Int = 0, innerStride: Int = 0) {
            self.ld = ld
            self.outerStride = outerStride
            self.innerStride = innerStride
        }

        /// The elements a buffer must hold for `outer × inner` items of `rows × cols`, or nil when the
        /// layout is invalid (negative strides, rows shorter than `cols`, overflow).
        func extent(outer: Int, inner: Int, rows: Int, cols: Int) -> Int? {
            guard ld >= cols, outerStride >= 0, innerStride >= 0, outer > 0, inner > 0, rows > 0, cols > 0 else {
                return nil
            }
            let (a, o1) = (outer - 1).multipliedReportingOverflow(by: outerStride)
            let (b, o2) = (inner - 1).multipliedReportingOverflow(by: innerStride)
            let (c, o3) = (rows - 1).multipliedReportingOverflow(by: ld)
            guard !o1, !o2, !o3 else { return nil }
            let (ab, o4) = a.addingReportingOverflow(b)
            let (abc, o5) = ab.addingReportingOverflow(c)
            let (total, o6) = abc.addingReportingOverflow(cols)
            return o4 || o5 || o6 ? nil : total
        }
    }

    /// The plugin's C table.
    public let table: UnsafePointer<ConfideKernelApi>
    let host: UnsafePointer<ConfideHostApi>

    /// Wraps a kernel table that was initialised with `host`.
    public init(table: UnsafePointer<ConfideKernelApi>, host: UnsafePointer<ConfideHostApi>) {
        self.table = table
        self.host = host
    }

    /// Whether the plugin computes BF16 products with BF16 instructions (AVX-512 BF16 or AMX BF16 among its
    /// required CPU features). Without them a plugin still computes BF16 exactly, but widens it to FP32 in software,
    /// so BF16 mainly saves memory there: a handler that chooses BF16 for speed alone may keep FP32.
    public var hasBF16Instructions: Bool {
        let bf16 = UInt64(CONFIDE_CPU_AVX512_BF16.rawValue) | UInt64(CONFIDE_CPU_AMX_BF16.rawValue)
        return table.pointee.required_features & bf16 != 0
    }

    /// The table a host serves, if it has one of the kernel ABI major this SDK was built against.
    init?(host: UnsafePointer<ConfideHostApi>) {
        guard let table = host.pointee.kernels?(), table.pointee.abi_major == UInt32(CONFIDE_KERNELS_ABI_MAJOR) else {
            return nil
        }
        self.init(table: table, host: host)
    }

    /// Packs FP32 weights (`k` inputs × `n` outputs) once, for GEMMs in `precision`.
    public func pack(
        _ weights: UnsafeBufferPointer<Float>, k: Int, n: Int, layout: WeightLayout = .nk, precision: Precision
    ) throws(HandlerError) -> PackedWeights {
        guard k > 0, n > 0, let base = weights.baseAddress, let count = Self.product(k, n), weights.count >= count
        else {
            throw .invalidArgument("pack: \(weights.count) weights cannot hold \(k) × \(n)")
        }
        var desc = ConfideWeightsDesc(
            struct_size: UInt32(MemoryLayout<ConfideWeightsDesc>.size), precision: precision.rawValue,
            layout: layout.rawValue, reserved: 0, k: UInt64(k), n: UInt64(n), data: base,
            ld: UInt64(layout == .kn ? n : k))
        var packed: OpaquePointer?
        try check(table.pointee.pack_weights(&desc, &packed))
        guard let packed else { throw .internal("pack: the kernel plugin returned no weights") }
        return PackedWeights(pointer: packed, kernels: self, k: k, n: n, precision: precision)
    }

    /// `c[rows][n] = a[rows][k] · weights`, then `+ bias[n]`, then GELU, then `+ residual[rows][n]`
    /// (each when given), in the precision the weights were packed for. `c` must not overlap `a`;
    /// `residual` must not be `c`: the kernels store partial sums in `c` before adding it.
    public func gemm(
        _ a: UnsafeBufferPointer<Float>, rows: Int, weights: PackedWeights, into c: UnsafeMutableBufferPointer<Float>,
        bias: UnsafeBufferPointer<Float>? = nil, gelu: Bool = false, residual: UnsafeBufferPointer<Float>? = nil
    ) throws(HandlerError) {
        guard weights.kernels.table == table else {
            throw .invalidArgument("gemm: weights were packed by another kernel table")
        }
        guard rows >= 0, let inputs = Self.product(rows, weights.k), let outputs = Self.product(rows, weights.n),
            a.count >= inputs, c.count >= outputs
        else { throw .invalidArgument("gemm: buffers too small for \(rows) × \(weights.k) → \(weights.n)") }
        guard rows > 0 else { return }
        var flags: UInt32 = gelu ? CONFIDE_EPILOGUE_GELU.rawValue : 0
        if let bias {
            guard bias.count >= weights.n else {
                throw .invalidArgument("gemm: bias of \(bias.count) for \(weights.n) columns")
            }
            flags |= CONFIDE_EPILOGUE_BIAS.rawValue
        }
        if let residual {
            guard residual.count >= outputs else {
                throw .invalidArgument("gemm: residual of \(residual.count) for \(outputs)")
            }
            guard UnsafeRawPointer(residual.baseAddress) != UnsafeRawPointer(c.baseAddress) else {
                throw .invalidArgument("gemm: the residual must not be the output buffer")
            }
            flags |= CONFIDE_EPILOGUE_RESIDUAL.rawValue
        }
        var epilogue = ConfideEpilogue(
            struct_size: UInt32(MemoryLayout<ConfideEpilogue>.size), flags: flags, bias: bias?.baseAddress,
            residual: residual?.baseAddress, ld_residual: UInt64(weights.n))
        try check(
            table.pointee.gemm(
                weights.pointer, UInt64(rows), a.baseAddress, UInt64(weights.k), c.baseAddress, UInt64(weights.n),
                &epilogue))
    }

    /// For every (outer, inner) item: `c = alpha · a · b` (`a` is `m × k`; `b` is `k × n`, or `n × k`
    /// with `transposeB`), e.g. attention's `Q·Kᵀ` and `P·V` per sequence and head.
    public func batchedMatmul(
        outer: Int, inner: Int, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafeBufferPointer<Float>, _ aLayout: BatchLayout,
        b: UnsafeBufferPointer<Float>, _ bLayout: BatchLayout, transposeB: Bool,
        c: UnsafeMutableBufferPointer<Float>, _ cLayout: BatchLayout
    ) throws(HandlerError) {
        guard outer > 0, inner > 0, m > 0, n > 0 else { return }
        guard k > 0,
            let aExtent = aLayout.extent(outer: outer, inner: inner, rows: m, cols: k), a.count >= aExtent,
            let bExtent = bLayout.extent(
                outer: outer, inner: inner, rows: transposeB ? n : k, cols: transposeB ? k : n),
            b.count >= bExtent,
            let cExtent = cLayout.extent(outer: outer, inner: inner, rows: m, cols: n), c.count >= cExtent
        else {
            throw .invalidArgument(
                "batchedMatmul: buffers or layouts do not fit \(outer) × \(inner) × (\(m) × \(k) · \(k) × \(n))")
        }
        var desc = ConfideBatchedMatmul(
            struct_size: UInt32(MemoryLayout<ConfideBatchedMatmul>.size), trans_b: transposeB ? 1 : 0,
            outer_count: UInt64(outer), inner_count: UInt64(inner), m: UInt64(m), n: UInt64(n), k: UInt64(k),
            a: a.baseAddress, lda: UInt64(aLayout.ld), a_outer_stride: UInt64(aLayout.outerStride),
            a_inner_stride: UInt64(aLayout.innerStride),
            b: b.baseAddress, ldb: UInt64(bLayout.ld), b_outer_stride: UInt64(bLayout.outerStride),
            b_inner_stride: UInt64(bLayout.innerStride),
            c: c.baseAddress, ldc: UInt64(cLayout.ld), c_outer_stride: UInt64(cLayout.outerStride),
            c_inner_stride: UInt64(cLayout.innerStride), alpha: alpha, reserved: 0)
        try check(table.pointee.batched_matmul(&desc))
    }

    /// In place, for every (outer, inner) item and each of its `rows` rows: `x = softmax(x + mask)`,
    /// where `mask` holds one additive row of `cols` per outer item, `maskStride` apart (0 to share one).
    public func softmax(
        outer: Int, inner: Int, rows: Int, cols: Int, x: UnsafeMutableBufferPointer<Float>, _ layout: BatchLayout,
        mask: UnsafeBufferPointer<Float>? = nil, maskStride: Int = 0
    ) throws(HandlerError) {
        guard outer > 0, inner > 0, rows > 0, cols > 0 else { return }
        guard let extent = layout.extent(outer: outer, inner: inner, rows: rows, cols: cols), x.count >= extent else {
            throw .invalidArgument("softmax: buffer or layout does not fit \(outer) × \(inner) × \(rows) × \(cols)")
        }
        if let mask {
            let maskLayout = BatchLayout(ld: cols, outerStride: maskStride)
            guard let needed = maskLayout.extent(outer: outer, inner: 1, rows: 1, cols: cols), mask.count >= needed
            else {
                throw .invalidArgument("softmax: mask of \(mask.count) does not fit \(outer) rows of \(cols)")
            }
        }
        var desc = ConfideSoftmax(
            struct_size: UInt32(MemoryLayout<ConfideSoftmax>.size), reserved: 0, outer_count: UInt64(outer),
            inner_count: UInt64(inner), rows: UInt64(rows), cols: UInt64(cols), x: x.baseAddress,
            ldx: UInt64(layout.ld), x_outer_stride: UInt64(layout.outerStride),
            x_inner_stride: UInt64(layout.innerStride),
            mask: mask?.baseAddress, mask_outer_stride: UInt64(maskStride))
        try check(table.pointee.softmax(&desc))
    }

    /// Multi-head self-attention over sequences packed one after another without padding (`lengths[i]`
    /// rows each): for each sequence and head, `out = softmax(scale · q·kᵀ) · v` on the head's `headSize`
    /// columns (head `h` starts at column `h · headSize`; rows are `ld` apart in `q`, `k` and `v`, `ldOut`
    /// in `out`). Tokens attend only within their sequence. The products run in `precision`: `.fp32`, or
    /// `.bf16` (inputs and probabilities rounded to BF16, FP32 sums); the softmax is FP32. The kernel fuses the
    /// three steps, so the scores stay in the cache.
    public func attention(
        q: UnsafeBufferPointer<Float>, k: UnsafeBufferPointer<Float>, v: UnsafeBufferPointer<Float>, ld: Int,
        lengths: [Int], heads: Int, headSize: Int, scale: Float, precision: Precision,
        into out: UnsafeMutableBufferPointer<Float>, ldOut: Int
    ) throws(HandlerError) {
        guard precision != .int8 else { throw .invalidArgument("attention: runs in FP32 or BF16, not INT8") }
        guard heads > 0, headSize > 0, let width = Self.product(heads, headSize), ld >= width, ldOut >= width,
            lengths.allSatisfy({ $0 >= 0 })
        else {
            throw .invalidArgument("attention: \(heads) heads of \(headSize) do not fit rows of \(ld) and \(ldOut)")
        }
        let (tokens, overflow) = lengths.reduce((0, false)) { sum, length in
            let (total, carry) = sum.0.addingReportingOverflow(length)
            return (total, sum.1 || carry)
        }
        guard tokens > 0 else { return }
        let layout = BatchLayout(ld: ld)
        let outLayout = BatchLayout(ld: ldOut)
        guard !overflow, let extent = layout.extent(outer: 1, inner: 1, rows: tokens, cols: width),
            q.count >= extent, k.count >= extent, v.count >= extent,
            let outExtent = outLayout.extent(outer: 1, inner: 1, rows: tokens, cols: width), out.count >= outExtent
        else {
            throw .invalidArgument("attention: buffers too small for \(tokens) rows of \(heads) heads of \(headSize)")
        }
        let counts = lengths.map { UInt64($0) }
        try counts.withUnsafeBufferPointer { (counts) throws(HandlerError) in
            var desc = ConfideAttention(
                struct_size: UInt32(MemoryLayout<ConfideAttention>.size), precision: precision.rawValue,
                sequence_count: UInt64(counts.count), lengths: counts.baseAddress, heads: UInt64(heads),
                head_size: UInt64(headSize), q: q.baseAddress, k: k.baseAddress, v: v.baseAddress, ld_qkv: UInt64(ld),
                out: out.baseAddress, ld_out: UInt64(ldOut), scale: scale, reserved: 0)
            try check(table.pointee.attention(&desc))
        }
    }

    /// `y[r] = (x[r] - mean) / sqrt(variance + eps) · gamma + beta` for `rows` rows of `cols`.
    /// `y` may be the same memory as `x`.
    public func layerNorm(
        _ x: UnsafeBufferPointer<Float>, rows: Int, cols: Int, gamma: UnsafeBufferPointer<Float>,
        beta: UnsafeBufferPointer<Float>, eps: Float, into y: UnsafeMutableBufferPointer<Float>
    ) throws(HandlerError) {
        guard rows > 0, cols > 0 else { return }
        guard let count = Self.product(rows, cols), x.count >= count, y.count >= count, gamma.count >= cols,
            beta.count >= cols
        else { throw .invalidArgument("layerNorm: buffers too small for \(rows) × \(cols)") }
        try check(
            table.pointee.layer_norm(
                UInt64(rows), UInt64(cols), x.baseAddress, UInt64(cols), gamma.baseAddress, beta.baseAddress, eps,
                y.baseAddress, UInt64(cols)))
    }

    func check(_ error: OpaquePointer?) throws(HandlerError) {
        if let error { throw HostErrors.take(error, host: host) }
    }

    private static func product(_ a: Int, _ b: Int) -> Int? {
        guard a >= 0, b >= 0 else { return nil }
        let (value, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? nil : value
    }
}

/// Weights packed by one kernel table; freed with it when the last reference goes.
public final class PackedWeights: @unchecked Sendable {
    let pointer: OpaquePointer
    let kernels: Kernels
    /// Input features (the reduction dimension).
    public let k: Int
    /// Output features (columns of the result).
    public let n: Int
    /// The arithmetic GEMMs on these weights use.
    public let precision: Kernels.Precision

    init(pointer: OpaquePointer, kernels: Kernels, k: Int, n: Int, precision: Kernels.Precision) {
        self.pointer = pointer
        self.kernels = kernels
        self.k = k
        self.n = n
        self.precision = precision
    }

    deinit { kernels.table.pointee.packed_free(pointer) }
}

extension WorkerContext {
    /// The kernels the host chose for this machine; nil without a kernel plugin of the SDK's kernel ABI major.
    public var kernels: Kernels? { Kernels(host: host) }
}

extension ModelContext {
    /// The kernels the host chose for this machine, for packing weights at load time; nil without a kernel
    /// plugin of the SDK's kernel ABI major.
    public var kernels: Kernels? { Kernels(host: host) }
}
