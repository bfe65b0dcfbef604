// Test helpers shared by the runtime's test targets: temporary folders, built plugin products, handler folders,
// model stores and sample tensors.
public import Foundation

/// Where the package's build put its products (the folder holding this test binary).
public enum BuildProducts {
    public static let directory: URL = {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return executable.deletingLastPathComponent()
    }()

    /// The path of a plugin product, e.g. `library("Echo")` for `libEcho.so`.
    public static func library(_ product: String) -> String {
        directory.appendingPathComponent("lib\(product).so").path
    }
}

/// A fresh temporary folder, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    /// The folder.
    public let url: URL

    /// Creates a new, empty folder under the system's temporary folder.
    public init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("confide-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The folder's path.
    public var path: String { url.path }

    /// Creates (if needed) and returns the folder `name` inside this one.
    public func subdirectory(_ name: String) throws -> URL {
        let folder = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// Removes the folder and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// A handlers folder holding links to built plugin products (linking keeps one loaded image per plugin).
public func makeHandlersDirectory(in root: TemporaryDirectory, plugins: [String]) throws -> String {
    let folder = try root.subdirectory("handlers")
    for plugin in plugins {
        try FileManager.default.createSymbolicLink(
            atPath: folder.appendingPathComponent("lib\(plugin).so").path,
            withDestinationPath: BuildProducts.library(plugin))
    }
    return folder.path
}

/// A handlers folder for a server under test: the given plugins and the kernel plugins. The kernel table
/// is one per process: a server whose folder held no kernel plugin would withdraw it while tests running
/// alongside load models that compute with it, so every test server has them.
public func makeServerHandlersDirectory(in root: TemporaryDirectory, plugins: [String]) throws -> String {
    let kernelPlugins = ["KernelsPortable", "KernelsAVX2", "KernelsAVX512"].filter { !plugins.contains($0) }
    return try makeHandlersDirectory(in: root, plugins: plugins + kernelPlugins)
}

/// A model store with the given models (name → model.json text).
public func makeModelStore(in root: TemporaryDirectory, models: [String: String]) throws -> String {
    let folder = try root.subdirectory("models")
    for (name, config) in models {
        let model = folder.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        try Data(config.utf8).write(to: model.appendingPathComponent("model.json"))
    }
    return folder.path
}

/// The files of a model served by the `slow` fixture handler, for model archives.
public let archiveFiles: [String: [UInt8]] = [
    "model.json": Array(#"{"handler": "slow", "parameters": {"file": "weights/w.bin"}}"#.utf8),
    "weights/w.bin": [0, 1, 2, 3, 254, 255],
]
