import Foundation
import PackagePlugin

/// `swift package --allow-writing-to-package-directory install-handlers [--destination DIR] [--debug]`:
/// builds every handler and kernel plugin whose sources live under `handlers/` (in release mode unless
/// `--debug`) and copies the shared libraries into `handlers/` (or DIR), where the server scans.
@main
struct InstallHandlers: CommandPlugin {
    func performCommand(context: PluginContext, arguments: [String]) async throws {
        var extractor = ArgumentExtractor(arguments)
        let destination =
            extractor.extractOption(named: "destination").last.map { URL(fileURLWithPath: $0) }
            ?? context.package.directoryURL.appendingPathComponent("handlers")
        let configuration: PackageManager.BuildConfiguration =
            extractor.extractFlag(named: "debug") > 0 ? .debug : .release
        let handlersFolder =
            context.package.directoryURL.appendingPathComponent("handlers").standardizedFileURL.path + "/"
        let products = context.package.products.compactMap { $0 as? LibraryProduct }.filter { product in
            guard case .dynamic = product.kind else { return false }
            return product.targets.allSatisfy { $0.directoryURL.standardizedFileURL.path.hasPrefix(handlersFolder) }
        }
        guard !products.isEmpty else { throw InstallError("no dynamic library products under \(handlersFolder)") }
        try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
        for product in products {
            let result = try packageManager.build(
                .product(product.name), parameters: .init(configuration: configuration, logging: .concise))
            guard result.succeeded else {
                print(result.logText)
                throw InstallError("building \(product.name) failed")
            }
            for artifact in result.builtArtifacts where artifact.kind == .dynamicLibrary {
                let target = destination.appendingPathComponent(artifact.url.lastPathComponent)
                try? FileManager.default.removeItem(at: target)
                try FileManager.default.copyItem(at: artifact.url, to: target)
                print("installed \(product.name) → \(target.path)")
            }
        }
    }
}

struct InstallError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
