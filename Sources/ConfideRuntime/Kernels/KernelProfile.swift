public import CConfide
public import ConfideHost
public import ConfideSDK
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Where the kernel calls of a run spent their time, by category, as ``KernelProfiler`` counted them since its
/// last reset. Times are nanoseconds; ``breakdown(forwardNanoseconds:)`` turns them into the rows of a forward
/// pass.
public struct KernelProfile: Sendable, Equatable {
    /// What a kernel call did.
    public enum Category: Int, CaseIterable, Sendable, Hashable {
        /// A GEMM with neither GELU nor a residual fused (with or without a bias).
        case gemm
        /// A GEMM with GELU fused (with or without a bias or a residual).
        case gemmGELU
        /// A GEMM with a residual fused and no GELU.
        case gemmResidual
        /// Fused multi-head attention.
        case attention
        /// A batch of small matrix products.
        case batchedMatmul
        /// A masked row softmax.
        case softmax
        /// Layer normalisation.
        case layerNorm
        /// Packing weights for GEMMs: done when a model loads, not in a forward pass.
        case weightPacking
        /// Any other call of the table (freeing packed weights, `init`).
        case other

        /// Whether calls of this category are GEMMs.
        public var isGEMM: Bool { self == .gemm || self == .gemmGELU || self == .gemmResidual }
    }

    /// One category's counters.
    public struct Entry: Sendable, Equatable {
        /// Calls made.
        public var calls: Int
        /// Wall time of the calls on the calling thread.
        public var nanoseconds: UInt64
        /// Parallel regions (`parallel_for` loops) the calls ran.
        public var regions: Int
        /// Σ over the regions of region wall time × the team's threads: the thread time the regions held.
        public var regionThreadNanoseconds: UInt64
        /// Σ over the regions and the team's threads of region wall time − the thread's time in the loop's body:
        /// the thread time spent waiting inside parallel regions. At most ``regionThreadNanoseconds``.
        public var waitingThreadNanoseconds: UInt64
        /// ``waitingThreadNanoseconds`` of each region divided by its team's threads, summed: the waiting as a share
        /// of wall time.
        public var waitingNanoseconds: UInt64
        /// For GEMMs: wall time of the parallel regions before a call's last one (the shipped kernel plugins pack,
        /// round or quantise the activations there; the last region runs the micro-kernels and the epilogue),
        /// less their waiting.
        public var activationPackingNanoseconds: UInt64
        /// For GEMMs: floating-point operations, 2·M·N·K per call (0 for weights packed before profiling began).
        public var flops: UInt64

        /// Creates counters.
        public init(
            calls: Int = 0, nanoseconds: UInt64 = 0, regions: Int = 0, regionThreadNanoseconds: UInt64 = 0,
            waitingThreadNanoseconds: UInt64 = 0, waitingNanoseconds: UInt64 = 0,
            activationPackingNanoseconds: UInt64 = 0, flops: UInt64 = 0
        ) {
            self.calls = calls
            self.nanoseconds = nanoseconds
            self.regions = regions
            self.regionThreadNanoseconds = regionThreadNanoseconds
            self.waitingThreadNanoseconds = waitingThreadNanoseconds
            self.waitingNanoseconds = waitingNanoseconds
            self.activationPackingNanoseconds = activationPackingNanoseconds
            self.flops = flops
        }
    }

    /// The counters of every category that was called.
    public var entries: [Category: Entry]

    /// Creates a profile from counters.
    public init(entries: [Category: Entry] = [:]) {
        self.entries = entries
    }

    /// The counters of `category` (all zero when it was not called).
    public subscript(category: Category) -> Entry { entries[category] ?? Entry() }

    /// One row of a forward pass's breakdown.
    public struct Row: Sendable, Equatable {
        /// A stable identifier, for JSON.
        public var key: String
        /// The row's name, for people.
        public var name: String
        /// Time attributed to the row.
        public var nanoseconds: UInt64
        /// Kernel calls behind the row (0 for the rows that are not a kernel category).
        public var calls: Int
        /// For GEMM rows: the floating-point operations of the row's calls.
        public var flops: UInt64
        /// For GEMM rows: the calls' whole wall time (activation packing and waiting included), which
        /// ``gigaflopsPerSecond`` rates the operations against.
        public var callNanoseconds: UInt64

        /// For GEMM rows: the achieved rate, operations over the calls' whole wall time; nil for other rows.
        public var gigaflopsPerSecond: Double? {
            flops > 0 && callNanoseconds > 0 ? Double(flops) / Double(callNanoseconds) : nil
        }
    }

    /// Splits `forwardNanoseconds` (the wall time of the handler calls the profile covers) into rows that add up to
    /// it: each GEMM kind's own work (micro-kernels and epilogue), the GEMMs' activation packing, each other kernel
    /// category's work, other kernel calls, the handler's own code outside the kernels, and the waiting inside
    /// parallel regions (as wall time: idle thread time over the team's threads). A kernel call's wall time is
    /// split between its own row, activation packing and waiting. Weight packing is not part of a forward pass:
    /// read it from ``subscript(_:)`` with ``Category/weightPacking``.
    public func breakdown(forwardNanoseconds: UInt64) -> [Row] {
        func work(_ entry: Entry) -> UInt64 {
            entry.nanoseconds.subtractingClamped(entry.waitingNanoseconds)
                .subtractingClamped(entry.activationPackingNanoseconds)
        }
        func row(_ category: Category, _ key: String, _ name: String) -> Row {
            let entry = self[category]
            return Row(
                key: key, name: name, nanoseconds: work(entry), calls: entry.calls, flops: entry.flops,
                callNanoseconds: category.isGEMM ? entry.nanoseconds : 0)
        }
        let gemms: [Category] = [.gemm, .gemmGELU, .gemmResidual]
        let other = [Category.other, .weightPacking].map { self[$0] }
        let kernels = Category.allCases.reduce(UInt64(0)) { $0 &+ self[$1].nanoseconds }
        return [
            row(.gemm, "gemm", "GEMM"),
            row(.gemmGELU, "gemm_gelu", "GEMM + GELU"),
            row(.gemmResidual, "gemm_residual", "GEMM + residual"),
            Row(
                key: "gemm_activation_packing", name: "GEMM: packing A",
                nanoseconds: gemms.reduce(0) { $0 &+ self[$1].activationPackingNanoseconds }, calls: 0, flops: 0,
                callNanoseconds: 0),
            row(.attention, "attention", "attention"),
            row(.batchedMatmul, "batched_matmul", "batched matmul"),
            row(.softmax, "softmax", "softmax"),
            row(.layerNorm, "layer_norm", "layer norm"),
            Row(
                key: "other_kernels", name: "other kernel calls", nanoseconds: other.reduce(0) { $0 &+ work($1) },
                calls: other.reduce(0) { $0 + $1.calls }, flops: 0, callNanoseconds: 0),
            Row(
                key: "outside_kernels", name: "outside the kernels",
                nanoseconds: forwardNanoseconds.subtractingClamped(kernels), calls: 0, flops: 0, callNanoseconds: 0),
            Row(
                key: "waiting", name: "waiting (parallel regions)",
                nanoseconds: Category.allCases.reduce(0) { $0 &+ self[$1].waitingNanoseconds }, calls: 0, flops: 0,
                callNanoseconds: 0),
        ]
    }
}

/// Times every call a handler makes into a kernel plugin, by ``KernelProfile/Category``, and the waiting inside
/// the plugin's parallel regions: `confide bench model --profile`.
///
/// ``table(for:)`` makes a copy of the plugin's table whose functions are shims that time each call and forward it
/// to the plugin's own; the plugin is initialised again with a copy of the host table whose `parallel_for` times
/// each region and, through the loop body, every thread's time in it. Regions outside a profiled call (a handler
/// calling the plugin's own table) are forwarded untimed. Nothing of this runs unless a profiled table is made and
/// served: the host otherwise serves the plugin's own table, unchanged.
///
/// The counters are the process's: one plugin per process can be profiled, and concurrent workers' calls add up.
public enum KernelProfiler {
    /// A kernel table that profiles `plugin`'s: the same functions, timed. The plugin is initialised (again) with the
    /// profiling host table, so its parallel regions are timed too, until something initialises it with another
    /// host table. The table lives for the life of the process; asking again for the same plugin returns the same
    /// table, for another plugin throws.
    public static func table(for plugin: LoadedPlugin) throws(HandlerError) -> UnsafePointer<ConfideKernelApi> {
        guard let api = plugin.kernelAPI, let initialize = api.pointee.`init` else {
            throw HandlerError(.invalidArgument, "'\(plugin.name)' is not a kernel plugin")
        }
        let real = UInt(bitPattern: api)
        let made: Result<UInt, HandlerError> = profiled.withLock { profiled in
            if let current = profiled {
                guard current.real == real else {
                    return .failure(
                        HandlerError(
                            .unavailable, "the kernel profiler already profiles another plugin than '\(plugin.name)'"))
                }
                if let error = initialize(host) { return .failure(handlerError(taking: error)) }
                return .success(current.table)
            }
            if let error = initialize(host) { return .failure(handlerError(taking: error)) }
            target.store(real, ordering: .releasing)
            let table = UInt(bitPattern: makeTable(over: api))
            profiled = (real, table)
            return .success(table)
        }
        guard let table = UnsafePointer<ConfideKernelApi>(bitPattern: try made.get()) else {
            throw HandlerError(.internal, "the kernel profiler made no table")
        }
        return table
    }

    /// Profiles `plugin` and makes its profiled table (``table(for:)``) the one handlers get. Call it before models
    /// load: a model packs its weights with the table it gets then.
    public static func serve(_ plugin: LoadedPlugin) throws(HandlerError) {
        HostAPI.useKernels(table: try table(for: plugin))
    }

    /// Sets every counter to zero.
    public static func reset() {
        for counter in counters { counter.reset() }
    }

    /// The counters since the last reset.
    public static func read() -> KernelProfile {
        var entries: [KernelProfile.Category: KernelProfile.Entry] = [:]
        for category in KernelProfile.Category.allCases {
            let entry = counters[category.rawValue].read()
            if entry.calls > 0 { entries[category] = entry }
        }
        return KernelProfile(entries: entries)
    }

    // MARK: State

    /// The addresses of the profiled plugin's table and of the profiling table over it, once made.
    private static let profiled = Mutex<(real: UInt, table: UInt)?>(nil)
    /// The profiled plugin's table, as an address, for the shims to forward to.
    private static let target = Atomic<UInt>(0)
    private static let counters = KernelProfile.Category.allCases.map { _ in Counters() }
    /// The K and N of the weights packed through a profiled table, by address, for the GEMMs' operation counts.
    private static let shapes = Mutex<[UInt: (k: UInt64, n: UInt64)]>([:])

    /// The calling thread's ``CallFrame`` while it is inside a profiled kernel call.
    private static let frameKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// The host table the profiled plugin is initialised with: the host's own, with `parallel_for` timed.
    nonisolated(unsafe) private static let host: UnsafePointer<ConfideHostApi> = {
        var copy = HostAPI.table.pointee
        copy.parallel_for = { count, grain, context, body in
            KernelProfiler.parallelFor(count: count, grain: grain, context: context, body: body)
        }
        let table = UnsafeMutablePointer<ConfideHostApi>.allocate(capacity: 1)
        table.initialize(to: copy)
        return UnsafePointer(table)
    }()

    /// Turns an error object from the host's `error_new` into a `HandlerError`, freeing it.
    private static func handlerError(taking error: OpaquePointer) -> HandlerError {
        let hostTable = HostAPI.table.pointee
        defer { hostTable.error_delete(error) }
        let message = hostTable.error_message(error).map { String(cString: $0) } ?? ""
        return HandlerError(HandlerError.Code(rawValue: hostTable.error_code(error)) ?? .unknown, message)
    }

    // MARK: Timing

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }

    /// Runs `call` with the profiled plugin's table, timed as `category`.
    private static func forward(
        _ category: KernelProfile.Category, flops: UInt64 = 0,
        _ call: (UnsafePointer<ConfideKernelApi>) -> OpaquePointer?
    ) -> OpaquePointer? {
        guard let real = UnsafePointer<ConfideKernelApi>(bitPattern: target.load(ordering: .acquiring)) else {
            return HostAPI.table.pointee.error_new(
                CONFIDE_ERROR_INTERNAL.rawValue, "the kernel profiler has no kernel table to forward to")
        }
        var frame = CallFrame()
        let previous = pthread_getspecific(frameKey)
        let start = now()
        let result = withUnsafeMutablePointer(to: &frame) { frame in
            pthread_setspecific(frameKey, frame)
            defer { pthread_setspecific(frameKey, previous) }
            return call(real)
        }
        counters[category.rawValue].add(frame, nanoseconds: now() &- start, flops: flops, gemm: category.isGEMM)
        return result
    }

    /// The profiling host's `parallel_for`: inside a profiled call, times the region and each thread's time in the
    /// body; elsewhere, the host's own.
    private static func parallelFor(
        count: UInt64, grain: UInt64, context: UnsafeMutableRawPointer?, body: ConfideParallelBody?
    ) {
        let hostTable = HostAPI.table.pointee
        guard let raw = pthread_getspecific(frameKey), let body else {
            hostTable.parallel_for(count, grain, context, body)
            return
        }
        let threads = UInt64(max(1, hostTable.parallel_thread_count()))
        let region = Region(body: body, context: context)
        let start = now()
        withExtendedLifetime(region) {
            hostTable.parallel_for(count, grain, Unmanaged.passUnretained(region).toOpaque()) { context, begin, end in
                guard let context else { return }
                let region = Unmanaged<Region>.fromOpaque(context).takeUnretainedValue()
                let start = KernelProfiler.now()
                region.body(region.context, begin, end)
                region.busy.add(KernelProfiler.now() &- start, ordering: .releasing)
            }
        }
        let wall = now() &- start
        raw.assumingMemoryBound(to: CallFrame.self).pointee.addRegion(
            wall: wall, busy: region.busy.load(ordering: .acquiring), threads: threads)
    }

    /// 2·m·k·n of a GEMM on weights packed through the profiled table; 0 for others, saturating.
    private static func flops(weights: OpaquePointer?, rows: UInt64) -> UInt64 {
        guard let shape = shapes.withLock({ $0[UInt(bitPattern: weights)] }) else { return 0 }
        var product: UInt64 = 2
        for factor in [rows, shape.k, shape.n] {
            let (next, overflow) = product.multipliedReportingOverflow(by: factor)
            guard !overflow else { return .max }
            product = next
        }
        return product
    }

    // MARK: The profiled table

    private static func makeTable(over real: UnsafePointer<ConfideKernelApi>) -> UnsafePointer<ConfideKernelApi> {
        let table = UnsafeMutablePointer<ConfideKernelApi>.allocate(capacity: 1)
        table.initialize(
            to: ConfideKernelApi(
                struct_size: UInt32(MemoryLayout<ConfideKernelApi>.size),
                abi_major: real.pointee.abi_major,
                abi_minor: min(real.pointee.abi_minor, UInt32(CONFIDE_KERNELS_ABI_MINOR)),
                rank: real.pointee.rank,
                required_features: real.pointee.required_features,
                init: { _ in
                    KernelProfiler.forward(.other) { $0.pointee.`init`(KernelProfiler.host) }
                },
                pack_weights: { desc, out in
                    let error = KernelProfiler.forward(.weightPacking) { $0.pointee.pack_weights(desc, out) }
                    if error == nil, let desc, let packed = out?.pointee {
                        let shape = (k: desc.pointee.k, n: desc.pointee.n)
                        KernelProfiler.shapes.withLock { $0[UInt(bitPattern: packed)] = shape }
                    }
                    return error
                },
                packed_free: { weights in
                    KernelProfiler.shapes.withLock { _ = $0.removeValue(forKey: UInt(bitPattern: weights)) }
                    _ = KernelProfiler.forward(.other) {
                        $0.pointee.packed_free(weights)
                        return nil
                    }
                },
                gemm: { weights, m, a, lda, c, ldc, epilogue in
                    var flags: UInt32 = 0
                    if let epilogue, epilogue.pointee.struct_size >= MemoryLayout<ConfideEpilogue>.size {
                        flags = epilogue.pointee.flags
                    }
                    let category: KernelProfile.Category =
                        flags & CONFIDE_EPILOGUE_GELU.rawValue != 0
                        ? .gemmGELU : flags & CONFIDE_EPILOGUE_RESIDUAL.rawValue != 0 ? .gemmResidual : .gemm
                    let flops = KernelProfiler.flops(weights: weights, rows: m)
                    return KernelProfiler.forward(category, flops: flops) {
                        $0.pointee.gemm(weights, m, a, lda, c, ldc, epilogue)
                    }
                },
                batched_matmul: { desc in
                    KernelProfiler.forward(.batchedMatmul) { $0.pointee.batched_matmul(desc) }
                },
                softmax: { desc in
                    KernelProfiler.forward(.softmax) { $0.pointee.softmax(desc) }
                },
                layer_norm: { rows, cols, x, ldx, gamma, beta, eps, y, ldy in
                    KernelProfiler.forward(.layerNorm) {
                        $0.pointee.layer_norm(rows, cols, x, ldx, gamma, beta, eps, y, ldy)
                    }
                },
                attention: { desc in
                    KernelProfiler.forward(.attention) { $0.pointee.attention(desc) }
                }))
        return UnsafePointer(table)
    }
}

/// What one profiled kernel call's parallel regions took, kept on the calling thread during the call.
private struct CallFrame {
    var regions = 0
    var regionThreadNanoseconds: UInt64 = 0
    var waitingThreadNanoseconds: UInt64 = 0
    var waitingNanoseconds: UInt64 = 0
    /// The latest region's wall time less its waiting, and the same summed over the regions before it.
    var latestWork: UInt64 = 0
    var earlierWork: UInt64 = 0

    mutating func addRegion(wall: UInt64, busy: UInt64, threads: UInt64) {
        let held = wall &* threads
        let idle = held.subtractingClamped(busy)
        let waiting = idle / threads
        regions += 1
        regionThreadNanoseconds &+= held
        waitingThreadNanoseconds &+= idle
        waitingNanoseconds &+= waiting
        earlierWork &+= latestWork
        latestWork = wall.subtractingClamped(waiting)
    }
}

/// One timed parallel region: the kernel's loop body and context, and the threads' summed time in the body.
private final class Region: @unchecked Sendable {
    let body: ConfideParallelBody
    let context: UnsafeMutableRawPointer?
    let busy = Atomic<UInt64>(0)

    init(body: @escaping ConfideParallelBody, context: UnsafeMutableRawPointer?) {
        self.body = body
        self.context = context
    }
}

/// One category's counters, added to by any thread.
private final class Counters: Sendable {
    let calls = Atomic<Int>(0)
    let nanoseconds = Atomic<UInt64>(0)
    let regions = Atomic<Int>(0)
    let regionThreadNanoseconds = Atomic<UInt64>(0)
    let waitingThreadNanoseconds = Atomic<UInt64>(0)
    let waitingNanoseconds = Atomic<UInt64>(0)
    let activationPackingNanoseconds = Atomic<UInt64>(0)
    let flops = Atomic<UInt64>(0)

    func add(_ frame: CallFrame, nanoseconds elapsed: UInt64, flops count: UInt64, gemm: Bool) {
        calls.wrappingAdd(1, ordering: .relaxed)
        nanoseconds.wrappingAdd(elapsed, ordering: .relaxed)
        regions.wrappingAdd(frame.regions, ordering: .relaxed)
        regionThreadNanoseconds.wrappingAdd(frame.regionThreadNanoseconds, ordering: .relaxed)
        waitingThreadNanoseconds.wrappingAdd(frame.waitingThreadNanoseconds, ordering: .relaxed)
        waitingNanoseconds.wrappingAdd(frame.waitingNanoseconds, ordering: .relaxed)
        if gemm { activationPackingNanoseconds.wrappingAdd(frame.earlierWork, ordering: .relaxed) }
        flops.wrappingAdd(count, ordering: .relaxed)
    }

    func read() -> KernelProfile.Entry {
        KernelProfile.Entry(
            calls: calls.load(ordering: .relaxed), nanoseconds: nanoseconds.load(ordering: .relaxed),
            regions: regions.load(ordering: .relaxed),
            regionThreadNanoseconds: regionThreadNanoseconds.load(ordering: .relaxed),
            waitingThreadNanoseconds: waitingThreadNanoseconds.load(ordering: .relaxed),
            waitingNanoseconds: waitingNanoseconds.load(ordering: .relaxed),
            activationPackingNanoseconds: activationPackingNanoseconds.load(ordering: .relaxed),
            flops: flops.load(ordering: .relaxed))
    }

    func reset() {
        calls.store(0, ordering: .relaxed)
        nanoseconds.store(0, ordering: .relaxed)
        regions.store(0, ordering: .relaxed)
        regionThreadNanoseconds.store(0, ordering: .relaxed)
        waitingThreadNanoseconds.store(0, ordering: .relaxed)
        waitingNanoseconds.store(0, ordering: .relaxed)
        activationPackingNanoseconds.store(0, ordering: .relaxed)
        flops.store(0, ordering: .relaxed)
    }
}

extension UInt64 {
    /// `self − other`, or 0 when `other` is larger.
    fileprivate func subtractingClamped(_ other: UInt64) -> UInt64 { self > other ? self - other : 0 }
}
