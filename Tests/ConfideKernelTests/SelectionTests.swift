import CConfide
import ConfideHost
import ConfideRuntime
import Foundation
import Testing

@Suite("Kernel plugins load through the runtime's loader and are chosen by CPU features")
struct SelectionTests {
    static let plugins: [LoadedPlugin] = KernelPlugins.products.compactMap {
        try? PluginLoader.open(path: BuildProducts.library($0))
    }
    static let avx2: CPUFeatures = [.fma, .avx2]
    static let avx512: CPUFeatures = [.fma, .avx2, .avx512f, .avx512bw, .avx512vl, .avx512dq, .avx512bf16, .avx512vnni]
    static let sapphireRapids: CPUFeatures = avx512.union([.amxTile, .amxBF16, .amxInt8])

    @Test func theShippedKernelPluginsLoad() throws {
        #expect(Self.plugins.map(\.name).sorted() == ["amx", "avx2", "avx512", "portable"])
        for plugin in Self.plugins {
            #expect(plugin.kind == CONFIDE_PLUGIN_KERNELS)
            #expect(plugin.kernelAPI != nil)
        }
        let portable = try #require(Self.plugins.first { $0.name == "portable" })
        #expect(portable.requiredFeatures == 0)
        let amx = try #require(Self.plugins.first { $0.name == "amx" })
        #expect(CPUFeatures(rawValue: amx.requiredFeatures).isSuperset(of: [.amxTile, .amxBF16, .amxInt8]))
    }

    @Test func theRegistryKeepsKernelPluginsApartFromHandlers() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "confide-kernels-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for product in KernelPlugins.products {
            try FileManager.default.createSymbolicLink(
                at: folder.appendingPathComponent("lib\(product).so"),
                withDestinationURL: URL(fileURLWithPath: BuildProducts.library(product)))
        }
        let registry = HandlerRegistry.scan(directory: folder.path)
        #expect(registry.plugins.isEmpty)
        #expect(registry.kernelPlugins.keys.sorted() == ["amx", "avx2", "avx512", "portable"])
        #expect(registry.refusals.isEmpty)
    }

    @Test(arguments: [
        (CPUFeatures(), "portable"), (avx2, "avx2"), (avx2.subtracting(.fma), "portable"), (avx512, "avx512"),
        (sapphireRapids, "amx"), (avx512.subtracting(.avx512bf16), "avx2"),
    ])
    func theBestSupportedPluginIsChosen(features: CPUFeatures, expected: String) throws {
        let choice = try KernelSelection.choose(from: Self.plugins, features: features)
        #expect(choice.plugin?.name == expected)
        #expect(choice.candidates.count == 4)
    }

    @Test func forcingAPluginWhoseFeaturesAreMissingIsRefused() {
        let error = #expect(throws: KernelSelectionError.self) {
            try KernelSelection.choose(from: Self.plugins, features: Self.avx512, forced: "amx")
        }
        #expect(error?.message.contains("AMX_TILE") == true)
        #expect(error?.message.contains("refusing") == true)
    }

    @Test func forcingAnUnknownPluginIsRefusedWithTheAvailableNames() {
        let error = #expect(throws: KernelSelectionError.self) {
            try KernelSelection.choose(from: Self.plugins, features: Self.avx512, forced: "sse")
        }
        #expect(error?.message.contains("amx, avx2, avx512, portable") == true)
    }

    @Test func forcingASupportedPluginWins() throws {
        let choice = try KernelSelection.choose(from: Self.plugins, features: Self.sapphireRapids, forced: "portable")
        #expect(choice.plugin?.name == "portable")
        #expect(choice.reason.contains("forced"))
    }

    @Test func withoutPluginsNothingIsChosen() throws {
        let choice = try KernelSelection.choose(from: [], features: Self.avx512)
        #expect(choice.plugin == nil)
        #expect(choice.reason.contains("no kernel plugin"))
    }

    @Test func theSettingBeatsTheEnvironmentVariable() {
        let environment = [KernelSelection.environmentVariable: "portable"]
        #expect(KernelSelection.forcedName(explicit: "avx512", environment: environment) == "avx512")
        #expect(KernelSelection.forcedName(explicit: nil, environment: environment) == "portable")
        #expect(KernelSelection.forcedName(explicit: nil, environment: [:]) == nil)
        #expect(KernelSelection.forcedName(explicit: "", environment: environment) == nil)
    }

    @Test func theProbeReportsOnlyWhatTheCPUReports() {
        let probe = CPUProbe.detect()
        #expect(probe.features.isSubset(of: probe.reported))
        if probe.features.contains(.avx512f) { #expect(probe.xcr0 & 0xe0 == 0xe0) }
        if !probe.reported.contains(.amxTile) { #expect(probe.amxPermission == nil) }
        #expect(CPUFeatures(rawValue: 1 << 40 | 1).names == ["AVX2", "bit 40"])
    }

    @Test func theHostServesTheChosenTable() throws {
        let portable = try #require(Self.plugins.first { $0.name == "portable" })
        let table = try HostAPI.initialize(kernels: portable)
        #expect(table == portable.kernelAPI)
        #expect(table.pointee.abi_major == UInt32(CONFIDE_KERNELS_ABI_MAJOR))
        #expect(table.pointee.abi_minor == UInt32(CONFIDE_KERNELS_ABI_MINOR))
        #expect(HostAPI.table.pointee.kernels != nil)
    }
}
