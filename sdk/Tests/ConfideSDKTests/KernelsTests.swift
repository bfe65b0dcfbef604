import CConfide
import ConfideSDK
import Testing

@Suite("kernel tables")
struct KernelsTests {
    /// A table has BF16 instructions exactly when its required CPU features name AVX-512 BF16 or AMX BF16.
    @Test(arguments: [
        (UInt64(0), false),
        (UInt64(CONFIDE_CPU_AVX2.rawValue | CONFIDE_CPU_FMA.rawValue), false),
        (UInt64(CONFIDE_CPU_AVX512F.rawValue | CONFIDE_CPU_AVX512_VNNI.rawValue), false),
        (UInt64(CONFIDE_CPU_AVX512F.rawValue | CONFIDE_CPU_AVX512_BF16.rawValue), true),
        (UInt64(CONFIDE_CPU_AMX_TILE.rawValue | CONFIDE_CPU_AMX_BF16.rawValue | CONFIDE_CPU_AMX_INT8.rawValue), true),
    ])
    func bf16InstructionsFollowTheRequiredFeatures(features: UInt64, expected: Bool) {
        var table = ConfideKernelApi()
        table.required_features = features
        var host = ConfideHostApi()
        let hasThem = withUnsafePointer(to: &table) { table in
            withUnsafePointer(to: &host) { Kernels(table: table, host: $0).hasBF16Instructions }
        }
        #expect(hasThem == expected)
    }
}
