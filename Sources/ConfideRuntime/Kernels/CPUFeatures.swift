import CCPUFeatures

/// CPU features as the kernel ABI names them (`ConfideCpuFeature` bits in `confide.h`).
public struct CPUFeatures: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let avx2 = CPUFeatures(rawValue: 1 << 0)
    public static let fma = CPUFeatures(rawValue: 1 << 1)
    public static let avx512f = CPUFeatures(rawValue: 1 << 2)
    public static let avx512bw = CPUFeatures(rawValue: 1 << 3)
    public static let avx512vl = CPUFeatures(rawValue: 1 << 4)
    public static let avx512dq = CPUFeatures(rawValue: 1 << 5)
    public static let avx512bf16 = CPUFeatures(rawValue: 1 << 6)
    public static let avx512vnni = CPUFeatures(rawValue: 1 << 7)
    public static let amxTile = CPUFeatures(rawValue: 1 << 8)
    public static let amxBF16 = CPUFeatures(rawValue: 1 << 9)
    public static let amxInt8 = CPUFeatures(rawValue: 1 << 10)

    /// Every feature with its name, in bit order.
    public static let named: [(CPUFeatures, String)] = [
        (.avx2, "AVX2"), (.fma, "FMA"), (.avx512f, "AVX512F"), (.avx512bw, "AVX512BW"), (.avx512vl, "AVX512VL"),
        (.avx512dq, "AVX512DQ"), (.avx512bf16, "AVX512_BF16"), (.avx512vnni, "AVX512_VNNI"), (.amxTile, "AMX_TILE"),
        (.amxBF16, "AMX_BF16"), (.amxInt8, "AMX_INT8"),
    ]

    /// The names of the features in the set, plus `bit N` for bits this runtime does not know.
    public var names: [String] {
        var names = Self.named.filter { contains($0.0) }.map(\.1)
        let unknown = rawValue & ~Self.named.reduce(0) { $0 | $1.0.rawValue }
        for bit in 0..<64 where unknown & (1 << UInt64(bit)) != 0 { names.append("bit \(bit)") }
        return names
    }

    public var description: String { names.isEmpty ? "none" : names.joined(separator: " ") }
}

/// What the CPU probe found on this machine.
public struct CPUProbe: Sendable {
    /// The features usable now: reported by CPUID, enabled by the OS (XCR0) and, for AMX on Linux,
    /// permitted (`arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`).
    public let features: CPUFeatures
    /// The features CPUID reports, usable or not.
    public let reported: CPUFeatures
    /// XCR0 (0 when the OS does not enable XSAVE).
    public let xcr0: UInt64
    /// Whether Linux granted the AMX tile state; nil when it was not asked (no AMX reported or enabled).
    public let amxPermission: Bool?
    /// The CPU's brand string.
    public let brand: String

    /// Probes this machine (CPUID leaves 1, 7/0, 7/1; XGETBV; on Linux the AMX permission request).
    public static func detect() -> CPUProbe {
        var probe = ConfideCPUProbe()
        confide_cpu_probe(&probe)
        let brand = withUnsafeBytes(of: probe.brand) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return CPUProbe(
            features: CPUFeatures(rawValue: probe.features), reported: CPUFeatures(rawValue: probe.cpuid_features),
            xcr0: probe.xcr0, amxPermission: probe.amx_permission < 0 ? nil : probe.amx_permission == 1,
            brand: brand.trimmingSpaces())
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while scalars.first == " " { scalars.removeFirst() }
        while scalars.last == " " { scalars.removeLast() }
        return String(scalars)
    }
}
