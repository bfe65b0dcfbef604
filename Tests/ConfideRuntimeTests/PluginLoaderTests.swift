import CConfide
import ConfideHost
import ConfideRuntime
import ConfideSDK
import ConfideTensors
import ConfideTestSupport
import Foundation
import Testing

@Suite("Plugin loading and ABI negotiation, with real shared libraries")
struct PluginLoaderTests {
    @Test func echoLoadsAndNegotiates() throws {
        let plugin = try PluginLoader.open(path: BuildProducts.library("Echo"))
        #expect(plugin.name == "echo")
        #expect(plugin.abiVersion.major == PluginLoader.hostVersion.major)
        #expect(plugin.language == CONFIDE_LANGUAGE_SWIFT)
        #expect(plugin.compiler == PluginLoader.hostCompiler)
        #expect(!plugin.description.isEmpty)
    }

    /// A kernel plugin states its kernel ABI in its table, apart from the plugin ABI; it is C, so its compiler is
    /// not compared.
    @Test func aKernelPluginStatesItsKernelABI() throws {
        let plugin = try PluginLoader.open(path: BuildProducts.library("KernelsPortable"))
        #expect(plugin.language == CONFIDE_LANGUAGE_C)
        #expect(plugin.kernelABIVersion?.major == PluginLoader.kernelsVersion.major)
        #expect(plugin.kernelABIVersion?.minor == PluginLoader.kernelsVersion.minor)
        #expect(try PluginLoader.open(path: BuildProducts.library("Echo")).kernelABIVersion == nil)
    }

    @Test(arguments: [
        ("FixtureBadMajor", PluginLoadError.Code.incompatibleVersion, "built for Confide ABI 3."),
        ("FixtureNewerMinor", .incompatibleVersion, "needs Confide ABI 2.99"),
        ("FixtureWrongCompiler", .compilerMismatch, "a Swift plugin built with 'clang 0.0.0 (another toolchain)'"),
        ("FixtureNoEntry", .missingEntry, "does not export confide_plugin_entry"),
        ("FixtureBadKernelMajor", .incompatibleVersion, "implements Confide kernel ABI 2.0"),
    ])
    func refusals(product: String, code: PluginLoadError.Code, excerpt: String) throws {
        let error = #expect(throws: PluginLoadError.self) {
            try PluginLoader.open(path: BuildProducts.library(product))
        }
        #expect(error?.code == code)
        #expect(error?.message.contains(excerpt) == true, "\(error?.message ?? "")")
    }

    @Test func aFileThatIsNotALibraryIsRefused() throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let path = root.url.appendingPathComponent("junk.so").path
        try Data("not an ELF file".utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: PluginLoadError.self) { try PluginLoader.open(path: path) }
        #expect(error?.code == .notALibrary)
    }

    @Test func aRegistryLoadsTheGoodPluginsAndRefusesTheRestWithReasons() throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let folder = try makeHandlersDirectory(
            in: root,
            plugins: [
                "Echo", "FixtureBadMajor", "FixtureWrongCompiler", "FixtureNoEntry", "FixtureFailingLoad",
                "FixtureBadKernelMajor",
            ])
        try Data("junk".utf8).write(to: URL(fileURLWithPath: folder).appendingPathComponent("junk.so"))
        try Data("ignored".utf8).write(to: URL(fileURLWithPath: folder).appendingPathComponent("README.txt"))
        let registry = HandlerRegistry.scan(directory: folder)
        #expect(Set(registry.plugins.keys) == ["echo", "failing-load"])
        #expect(registry.refusals.count == 5)
        #expect(registry.kernelPlugins.isEmpty)
        #expect(
            Set(registry.refusals.map(\.error.code)) == [
                .incompatibleVersion, .compilerMismatch, .missingEntry, .notALibrary,
            ])
    }

    @Test func aSecondPluginWithTheSameNameIsRefused() throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let folder = try root.subdirectory("handlers")
        for copy in ["libA.so", "libB.so"] {
            try FileManager.default.copyItem(
                atPath: BuildProducts.library("Echo"), toPath: folder.appendingPathComponent(copy).path)
        }
        let registry = HandlerRegistry.scan(directory: folder.path)
        #expect(registry.plugins.keys.sorted() == ["echo"])
        #expect(registry.plugins["echo"]?.origin.hasSuffix("libA.so") == true)
        #expect(registry.refusals.map(\.error.code) == [.duplicateName])
        #expect(registry.refusals.first?.error.message.contains("already loaded") == true)
    }

    @Test func theEchoPluginAnswersThroughTheABI() throws {
        let plugin = try PluginLoader.open(path: BuildProducts.library("Echo"))
        let model = try PluginModel(plugin: plugin, config: ModelLoadConfig(name: "echo"))
        let instance = try model.makeInstance(worker: WorkerInfo())
        let floats = try #require(HostTensor(name: "x", dataType: .fp32, shape: [2], values: [Float(1.5), -2]))
        let texts = try #require(HostTensor(name: "t", strings: ["a", "", "ü"]))
        let results = instance.execute([HostRequest(inputs: [floats, texts]), HostRequest(inputs: [texts])])
        let first = try results[0].get().outputs
        #expect(first.map(\.name) == ["x", "t"])
        #expect(first[0].values(as: Float.self) == [1.5, -2])
        #expect(first[1].strings() == ["a", "", "ü"])
        #expect(try results[1].get().outputs.first?.strings() == ["a", "", "ü"])
    }
}
